/* eval.c - a checkpoint's TEST net run over a dataset (top-1, top-5,
 * per-class counts, confusion matrix) or over image files (softmax
 * probabilities), both through the TEST data layer's transform and the
 * net's input API. One process: no communicator is needed. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dltrain/ckpt.h"
#include "dltrain/error.h"
#include "dltrain/eval.h"
#include "train/input.h"
#include "dltrain/layer.h"
#include "dltrain/net.h"
#include "dltrain/weights.h"

struct dlt_evaluator {
    dlt_net *net;
    dlt_layer *data;          /* the TEST data layer: batch_size, transform_param */
    float *labels;            /* (B) when the data layer has no label top */
    const dlt_tensor *scores; /* (B, classes) */
    int batch, classes;
    long iter;
};

static const dlt_tensor *find_scores(dlt_net *net)
{
    static const char *const types[] = {"Accuracy", "SoftmaxWithLoss", "Softmax"};
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < dlt_net_num_layers(net); i++) {
            const dlt_layer *l = dlt_net_layer(net, i);
            if (strcmp(l->ops->type, types[t]) == 0 && l->nbottom > 0)
                return l->bottom[0];
        }
    return NULL;
}

/* Weights that are NaN or Inf (a checkpoint written after training
 * diverged, or a damaged one that still passes its CRCs because it was
 * saved that way) make every score NaN and the accuracy meaningless:
 * refused, naming the blob as the checkpoint stores it (/data/LAYER/I). */
static int check_finite_weights(const dlt_net *net, const char *weights)
{
    for (int i = 0; i < dlt_net_num_layers(net); i++) {
        const dlt_layer *l = dlt_net_layer(net, i);
        for (int p = 0; p < l->nparam; p++) {
            const dlt_tensor *t = &l->param[p];
            size_t bad = 0, first = 0;
            for (size_t k = 0; k < t->count; k++)
                if (!isfinite(t->data[k]) && bad++ == 0)
                    first = k;
            if (bad)
                DLT_FAIL(DLT_ERR_FORMAT, "%s: layer '%s' parameter blob %d (/data/%s/%d) holds %zu "
                         "non-finite values of %zu (the first, element %zu, is %g): the "
                         "checkpoint was saved after training diverged; HINT: evaluate an earlier "
                         "checkpoint", weights, l->name, p, l->name, p, bad, t->count, first,
                         (double)t->data[first]);
        }
    }
    return 0;
}

int dlt_evaluator_create(const dlt_cfg *netparam, int c, int h, int w, const char *weights,
                         dlt_evaluator **out)
{
    *out = NULL;
    dlt_net *net;
    DLT_TRY(dlt_net_create(netparam, DLT_PHASE_TEST, c, h, w, 1, NULL, &net));
    dlt_evaluator *ev = dlt_calloc(1, sizeof *ev);
    ev->net = net;
    ev->data = dlt_net_data_layer(net);
    ev->scores = find_scores(net);
    int st = 0;
    if (!ev->data) {
        dlt_error("%s: the TEST phase has no Data layer (dltrain-eval uses its batch_size and "
                  "transform)", netparam->file);
        st = DLT_ERR_PARSE;
    } else if (!ev->scores) {
        dlt_error("%s: the TEST phase has no Accuracy, SoftmaxWithLoss or Softmax layer whose "
                  "input gives the class scores", netparam->file);
        st = DLT_ERR_PARSE;
    }
    if (st == 0) {
        const dlt_data_params *dp = dlt_layer_data_params(ev->data);
        ev->batch = dp->batch_size;
        ev->classes = (int)(ev->scores->count / (size_t)ev->scores->n);
        /* Any kind of weights file (weights.h); every layer with
         * parameters must get its blobs. */
        st = dlt_weights_load(net, weights, DLT_WEIGHTS_COMPLETE, &ev->iter);
        if (st == 0)
            st = check_finite_weights(net, weights);
    }
    if (st < 0) {
        dlt_evaluator_free(ev);
        return st;
    }
    *out = ev;
    return 0;
}

void dlt_evaluator_free(dlt_evaluator *ev)
{
    if (!ev)
        return;
    dlt_net_free(ev->net);
    free(ev->labels);
    free(ev);
}

int dlt_evaluator_batch_size(const dlt_evaluator *ev) { return ev->batch; }
int dlt_evaluator_num_classes(const dlt_evaluator *ev) { return ev->classes; }
long dlt_evaluator_iter(const dlt_evaluator *ev) { return ev->iter; }

/* Caffe's Accuracy rule: correct in the top K when fewer than K other
 * classes score >= the true class. */
static int in_top_k(const float *s, int classes, int label, int k)
{
    int better = 0;
    for (int c = 0; c < classes; c++)
        if (c != label && s[c] >= s[label])
            better++;
    return better < k;
}

static int argmax(const float *s, int classes)
{
    int best = 0;
    for (int c = 1; c < classes; c++)
        if (s[c] > s[best])
            best = c;
    return best;
}

/* Softmax of the K scores S into P (max subtracted, sum in double). */
static void softmax(const float *s, int K, float *p)
{
    float mx = s[argmax(s, K)];
    double sum = 0;
    for (int c = 0; c < K; c++)
        sum += p[c] = expf(s[c] - mx);
    for (int c = 0; c < K; c++)
        p[c] = (float)(p[c] / sum);
}

static void write_probabilities(FILE *f, size_t index, const float *s, int K, float *p)
{
    softmax(s, K, p);
    fprintf(f, "%zu", index);
    for (int c = 0; c < K; c++)
        fprintf(f, " %.9g", p[c]);
    fputc('\n', f);
}

int dlt_evaluate_dataset(dlt_evaluator *ev, const dlt_dataset *ds, FILE *predictions,
                         FILE *probabilities, dlt_eval_result *res)
{
    memset(res, 0, sizeof *res);
    const int K = ev->classes, B = ev->batch;
    dlt_loader *ld;
    /* The TEST phase's transform (centre crop, mean, scale), as in training. */
    DLT_TRY(dlt__loader_for_data_layer(ds, dlt_layer_data_params(ev->data), 0, 1, 0, 0, 0, 0, &ld));
    res->nclasses = K;
    res->confusion = dlt_calloc((size_t)K * K, sizeof(long));
    float *p = dlt_malloc((size_t)K * sizeof *p);
    size_t n = dlt_dataset_size(ds);
    const int top5 = K < 5 ? K : 5;
    int st = 0;
    for (long step = 0; (size_t)step * B < n && st == 0; step++) {
        dlt_batch in; /* the net's input buffers, filled in place */
        st = dlt_net_input(ev->net, &in);
        if (st < 0)
            break;
        if (!in.label) {
            if (!ev->labels)
                ev->labels = dlt_malloc((size_t)B * sizeof *ev->labels);
            in.label = ev->labels;
        }
        if (dlt_loader_fetch_batch(ld, step, &in) < 0) {
            st = DLT_ERR_IO;
            break;
        }
        dlt_net_forward(ev->net);
        /* The last batch wraps around to the start; those samples were counted. */
        for (int k = 0; k < B && (size_t)step * B + k < n; k++) {
            const float *s = ev->scores->data + (size_t)k * K;
            int label = (int)in.label[k];
            if (label < 0 || label >= K) {
                dlt_error("%s: sample %zu has label %d; the net has %d classes",
                          dlt_dataset_path(ds), (size_t)step * B + k, label, K);
                st = DLT_ERR_FORMAT;
                break;
            }
            int pred = argmax(s, K);
            res->count++;
            res->top1 += in_top_k(s, K, label, 1);
            res->top5 += in_top_k(s, K, label, top5);
            res->confusion[(size_t)label * K + pred]++;
            if (predictions)
                fprintf(predictions, "%zu %d %d\n", (size_t)step * B + k, label, pred);
            if (probabilities)
                write_probabilities(probabilities, (size_t)step * B + k, s, K, p);
        }
    }
    free(p);
    dlt_loader_free(ld);
    if (st < 0)
        dlt_eval_result_free(res);
    return st;
}

void dlt_eval_result_free(dlt_eval_result *res)
{
    free(res->confusion);
    res->confusion = NULL;
}

int dlt_evaluator_classify(dlt_evaluator *ev, const float *images, int n, float *probs)
{
    const int K = ev->classes, B = ev->batch;
    dlt_batch in;
    DLT_TRY(dlt_net_input(ev->net, &in));
    const size_t per = (size_t)in.c * in.h * in.w;
    for (int start = 0; start < n; start += B) {
        int m = n - start < B ? n - start : B;
        dlt_batch b = {.n = m, .c = in.c, .h = in.h, .w = in.w,
                       .data = (float *)images + (size_t)start * per};
        DLT_TRY(dlt_net_set_input(ev->net, &b));
        dlt_net_forward(ev->net);
        for (int k = 0; k < m; k++)
            softmax(ev->scores->data + (size_t)k * K, K, probs + (size_t)(start + k) * K);
    }
    return DLT_OK;
}

int dlt_evaluator_classify_files(dlt_evaluator *ev, const dlt_input_spec *spec,
                                 char *const *files, int n, float *probs)
{
    dlt_transform *tf;
    DLT_TRY(dlt__transform_for_data_layer(dlt_layer_data_params(ev->data), spec, &tf));
    int c, h, w;
    dlt_transform_output_shape(tf, &c, &h, &w);
    size_t per = (size_t)c * h * w;
    float *images = dlt_malloc((size_t)(n > 0 ? n : 1) * per * sizeof *images);
    int st = DLT_OK;
    for (int i = 0; i < n && st == DLT_OK; i++)
        st = dlt_transform_image_file(tf, files[i], images + (size_t)i * per);
    if (st == DLT_OK)
        st = dlt_evaluator_classify(ev, images, n, probs);
    free(images);
    dlt_transform_free(tf);
    return st;
}

int dlt_run_dir_latest(const char *run_dir, char *net, size_t net_size, char *ckpt,
                       size_t ckpt_size)
{
    char dir[4096];
    snprintf(net, net_size, "%s/config/net.prototxt", run_dir);
    snprintf(dir, sizeof dir, "%s/checkpoints", run_dir);
    int found = dlt_ckpt_find_latest(dir, ckpt, ckpt_size);
    DLT_TRY(found);
    if (found == 0)
        DLT_FAIL(DLT_ERR_IO, "%s: no checkpoint in %s", run_dir, dir);
    return 0;
}

int dlt_run_dir_input_spec(const char *run_dir, dlt_input_spec *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config/input.txt", run_dir);
    if (access(path, F_OK) != 0)
        return 0;
    DLT_TRY(dlt_input_spec_read(path, out));
    return 1;
}

int dlt_run_dir_of(const char *ckpt, char *out, size_t size)
{
    snprintf(out, size, "%s", ckpt);
    char *slash = strrchr(out, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    const char *parent = strrchr(out, '/');
    if (strcmp(parent ? parent + 1 : out, "checkpoints") != 0)
        return 0;
    if (parent)
        out[parent - out] = '\0';
    else
        snprintf(out, size, ".");
    return 1;
}

int dlt_run_dir_labels(const char *run_dir, char ***names)
{
    char path[4096], line[1024];
    *names = NULL;
    snprintf(path, sizeof path, "%s/config/labels.txt", run_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        *names = dlt_realloc(*names, (size_t)(n + 1) * sizeof **names);
        (*names)[n++] = dlt_strdup(line);
    }
    fclose(f);
    return n;
}
