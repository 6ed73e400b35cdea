/* test_caption_net.c - the caption nets of nets/ (a CNN encoder, Embed,
 * AttentionLSTM or LSTM with the image as static input, InnerProduct axis 2,
 * SoftmaxWithLoss axis 2 ignoring <pad>) build for TRAIN and TEST, has the documented blob shapes,
 * and on synthetic tops of its caption Data layer (image, input/target words,
 * cont; filled in place as the loader would, batch N, T steps) runs
 * forward and backward: the initial loss is about log(vocabulary), every
 * parameter blob gets a gradient, and plain SGD on one batch lowers the
 * loss to under 0.8 of its start (the net learns through all its layers). */
#include <math.h>
#include <string.h>

#include "dltrain/device.h"
#include "dltrain/error.h"
#include "dltrain/net.h"
#include "dltrain/prototxt.h"
#include "layers/layers.h"
#include "test.h"

enum { N = 4, T = 12, V = 64, PAD = 0, START = 1, END = 2 };

/* Both caption Data layers' data_param batch_size to N. */
static void set_batch(dlt_cfg *root)
{
    for (dlt_cfg *l = root->child; l; l = l->next)
        for (dlt_cfg *p = l->child; p; p = p->next) {
            if (strcmp(p->name, "data_param") != 0)
                continue;
            for (dlt_cfg *b = p->child; b; b = b->next)
                if (strcmp(b->name, "batch_size") == 0) {
                    free(b->text);
                    b->text = dlt_malloc(16);
                    snprintf(b->text, 16, "%d", N);
                }
        }
}

/* Captions of 3..9 words: input <start> w.., target w.. <end>, then <pad>;
 * cont 0 at t = 0. The image is noise with a stripe whose row says which
 * words the caption uses, so there is something to learn. */
static void fill_batch(dlt_net *net, dlt_rng *rng)
{
    dlt_tensor *img = dlt_net_blob(net, "data"), *in = dlt_net_blob(net, "input_words");
    dlt_tensor *tg = dlt_net_blob(net, "target_words"), *cont = dlt_net_blob(net, "cont");
    for (size_t i = 0; i < img->count; i++)
        img->data[i] = (float)(dlt_rng_uniform(rng) * 0.2);
    for (int n = 0; n < N; n++) {
        const int len = 3 + (int)dlt_rng_below(rng, 7), base = 3 + 10 * n;
        for (int x = 0; x < 84; x++)
            img->data[(size_t)n * 84 * 84 + (size_t)(10 + 20 * n) * 84 + x] = 1.0f;
        for (int t = 0; t < T; t++) {
            const int w = base + (int)dlt_rng_below(rng, 10);
            in->data[t * N + n] = t == 0 ? START : t <= len ? (float)w : PAD;
            cont->data[t * N + n] = t > 0;
        }
        for (int t = 0; t < T; t++) /* the next input word, <end> after the last */
            tg->data[t * N + n] = t < len ? in->data[(t + 1) * N + n] : t == len ? END : PAD;
    }
}

typedef struct shape_check {
    const char *blob;
    int n, c, h, w;
} shape_check;

static void test_net(const char *file, const char *decoder, const shape_check *shapes, int nshapes)
{
    dlt_cfg *root = NULL;
    dlt_net *net = NULL, *test_net = NULL;
    char path[1024];
    const char *top = getenv("top_srcdir");
    snprintf(path, sizeof path, "%s/nets/%s", top ? top : ".", file);
    int st = dlt_pt_parse_file(path, &root);
    if (st == 0) {
        set_batch(root);
        st = dlt_net_create_seq(root, DLT_PHASE_TRAIN, 1, 84, 84, T, 7, NULL, &net);
    }
    if (st == 0)
        st = dlt_net_create_seq(root, DLT_PHASE_TEST, 1, 84, 84, T, 7, NULL, &test_net);
    if (st == 0)
        st = dlt_net_share_params(test_net, net);
    int unused = st == 0 ? dlt_cfg_check_unused(root, NULL) : -1;
    TEST_OK(st == 0 && unused == 0, "%s (%s): TRAIN and TEST build, every field used "
            "(status %d)", file, decoder, st);
    if (st) {
        dlt_net_free(test_net);
        dlt_net_free(net);
        dlt_cfg_free(root);
        return;
    }
    for (int i = 0; i < nshapes; i++) {
        const dlt_tensor *b = dlt_net_blob(net, shapes[i].blob);
        TEST_OK(b && b->n == shapes[i].n && b->c == shapes[i].c && b->h == shapes[i].h &&
                b->w == shapes[i].w, "%s: blob %s is (%d,%d,%d,%d)", file, shapes[i].blob,
                shapes[i].n, shapes[i].c, shapes[i].h, shapes[i].w);
    }
    dlt_rng rng;
    dlt_rng_seed(&rng, 3);
    fill_batch(net, &rng);
    dlt_net_zero_grads(net);
    const float loss0 = dlt_net_forward(net);
    dlt_net_backward(net);
    TEST_OK(isfinite(loss0) && fabs(loss0 - log(V)) < 1.0, "%s: initial loss %.3f "
            "is about log(%d) = %.3f", file, loss0, V, log(V));
    int all = 1;
    for (int i = 0; i < dlt_net_num_layers(net); i++) {
        const dlt_layer *l = dlt_net_layer(net, i);
        for (int p = 0; p < l->nparam; p++) {
            double g = 0;
            for (size_t k = 0; k < l->param[p].count; k++)
                g += fabs(l->param[p].diff[k]);
            if (!(g > 0) || !isfinite(g)) {
                printf("#   layer '%s' param %d: gradient sum %g\n", l->name, p, g);
                all = 0;
            }
        }
    }
    TEST_OK(all, "%s: every parameter blob of every layer gets a finite, non-zero "
            "gradient", file);

    /* Plain SGD on this one batch. */
    const size_t np = dlt_net_param_count(net);
    float *w = dlt_net_params(net), *g = dlt_net_grads(net);
    float loss = loss0;
    for (int it = 0; it < 40; it++) {
        for (size_t k = 0; k < np; k++)
            w[k] -= 0.1f * g[k];
        dlt_net_zero_grads(net);
        loss = dlt_net_forward(net);
        dlt_net_backward(net);
    }
    TEST_OK(isfinite(loss) && loss < 0.8f * loss0, "%s: 40 SGD steps on one batch take "
            "the loss from %.3f to %.3f", file, loss0, loss);

    static const char *const inputs[] = {"data", "input_words", "target_words", "cont"};
    for (int i = 0; i < 4; i++) /* the TEST net reads the same batch */
        memcpy(dlt_net_blob(test_net, inputs[i])->data, dlt_net_blob(net, inputs[i])->data,
               dlt_net_blob(net, inputs[i])->count * sizeof(float));
    dlt_net_forward(test_net);
    const dlt_tensor *acc = dlt_net_blob(test_net, "accuracy");
    TEST_OK(acc && acc->data[0] >= 0 && acc->data[0] <= 1, "%s: TEST accuracy over "
            "unpadded words %.3f", file, acc ? acc->data[0] : -1);

    /* A CUDA build has GPU code for every layer of the captioners (each
     * compared with the CPU in tests/test_gpu_recurrent); a build without
     * CUDA refuses the move up front, before anything is allocated. */
    if (dlt_device_built_with_cuda()) {
        int missing = -1;
        for (int i = 0; i < dlt_net_num_layers(test_net) && missing < 0; i++)
            if (!dlt_layer_find_gpu(dlt_net_layer(test_net, i)->ops))
                missing = i;
        TEST_OK(missing < 0, "%s: every layer has GPU code (first without: %s)", file,
                missing < 0 ? "none" : dlt_net_layer(test_net, missing)->name);
    } else {
        TEST_OK(dlt_net_to_device(test_net, DLT_DEVICE_GPU) == DLT_ERR_ARG &&
                    !dlt_net_layer(test_net, 0)->on_gpu,
                "%s: without CUDA, moving it to the GPU is refused at setup, naming the layer", file);
    }
    dlt_net_free(test_net);
    dlt_net_free(net);
    dlt_cfg_free(root);
}

int main(void)
{
    static const shape_check att[] = {
        {"features", N, 64, 3, 3}, {"embedded", T, N, 64, 1}, {"hidden", T, N, 128, 1},
        {"attention", T, N, 9, 1}, {"context", T, N, 64, 1}, {"deep_out", T, N, 256, 1},
        {"scores", T, N, V, 1},
    };
    static const shape_check lrcn[] = {
        {"features", N, 64, 7, 7}, {"image_vec", N, 256, 1, 1}, {"embedded", T, N, 64, 1},
        {"hidden", T, N, 128, 1}, {"scores", T, N, V, 1},
    };
    test_net("caption_attention_train_val.prototxt", "AttentionLSTM", att, 7);
    test_net("caption_lrcn_train_val.prototxt", "LSTM with a static input", lrcn, 5);
    TEST_DONE();
}
