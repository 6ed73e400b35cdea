/* eval.c - a checkpoint's TEST net run over a dataset (top-1, top-5,
 * per-class counts, confusion matrix) or over given images (softmax
 * probabilities). One process: no communicator is needed. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/ckpt.h"
#include "dltrain/error.h"
#include "dltrain/eval.h"
#include "train/input.h"
#include "dltrain/layer.h"
#include "dltrain/net.h"

struct dlt_evaluator {
    dlt_net *net;
    dlt_layer *data;          /* tops (B,C,H,W) images and (B) labels */
    const dlt_tensor *scores; /* (B, classes) */
    int batch, classes;
    float scale;
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
        ev->scale = dp->scale;
        ev->classes = (int)(ev->scores->count / (size_t)ev->scores->n);
        dlt_ckpt_meta meta;
        st = dlt_ckpt_load(weights, net, NULL, &meta);
        free(meta.rng);
        ev->iter = meta.iter;
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
    free(ev);
}

int dlt_evaluator_batch_size(const dlt_evaluator *ev) { return ev->batch; }
int dlt_evaluator_num_classes(const dlt_evaluator *ev) { return ev->classes; }
float dlt_evaluator_scale(const dlt_evaluator *ev) { return ev->scale; }
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

int dlt_evaluate_dataset(dlt_evaluator *ev, const dlt_dataset *ds, FILE *predictions,
                         dlt_eval_result *res)
{
    memset(res, 0, sizeof *res);
    const int K = ev->classes, B = ev->batch;
    dlt_loader *ld;
    /* The TEST phase's transform (centre crop, mean, scale), as in training. */
    DLT_TRY(dlt__loader_for_data_layer(ds, dlt_layer_data_params(ev->data), 0, 1, 0, 0, 0, 0, &ld));
    res->nclasses = K;
    res->confusion = dlt_calloc((size_t)K * K, sizeof(long));
    size_t n = dlt_dataset_size(ds);
    const int top5 = K < 5 ? K : 5;
    int st = 0;
    for (long step = 0; (size_t)step * B < n && st == 0; step++) {
        float *labels = ev->data->top[1]->data;
        if (dlt_loader_fetch(ld, step, ev->data->top[0]->data, labels) < 0) {
            st = DLT_ERR_IO;
            break;
        }
        dlt_net_forward(ev->net);
        /* The last batch wraps around to the start; those samples were counted. */
        for (int k = 0; k < B && (size_t)step * B + k < n; k++) {
            const float *s = ev->scores->data + (size_t)k * K;
            int label = (int)labels[k];
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
        }
    }
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

void dlt_evaluator_classify(dlt_evaluator *ev, const float *images, int n, float *probs)
{
    const int K = ev->classes, B = ev->batch;
    dlt_tensor *x = ev->data->top[0];
    const size_t per = x->count / (size_t)B;
    for (int start = 0; start < n; start += B) {
        int m = n - start < B ? n - start : B;
        memset(x->data, 0, x->count * sizeof(float));
        memcpy(x->data, images + (size_t)start * per, (size_t)m * per * sizeof(float));
        memset(ev->data->top[1]->data, 0, ev->data->top[1]->count * sizeof(float));
        dlt_net_forward(ev->net);
        for (int k = 0; k < m; k++) {
            const float *s = ev->scores->data + (size_t)k * K;
            float *p = probs + (size_t)(start + k) * K;
            float mx = s[argmax(s, K)];
            double sum = 0;
            for (int c = 0; c < K; c++)
                sum += p[c] = expf(s[c] - mx);
            for (int c = 0; c < K; c++)
                p[c] = (float)(p[c] / sum);
        }
    }
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
