/* test_gpu_emulated.cc - the GPU code of the caption layers (src/cuda/
 * embed.cu, bias.cu, slice.cu, flatten.cu (Reshape), lstm.cu,
 * attention_lstm.cu) compiled as C++ for the CPU through cuda/gpu.h in this
 * directory (what the emulation is, and what it does not check, is said
 * there), and run against the CPU layers on test_gpu_recurrent_net.h's net and both
 * captioners of nets/: layer by layer, each emulated layer fed the CPU
 * layer's inputs as test_gpu_recurrent does on a GPU; every top after
 * forward, every parameter and bottom gradient after backward, max |emu -
 * cpu| / max |cpu| per blob <= 1e-5 (the same formulas on the same CPU;
 * the products are summed in another order). Built only without CUDA: a
 * CUDA build links the real kernels, and test_gpu_recurrent runs them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cuda/attention_lstm.cu"
#include "cuda/bias.cu"
#include "cuda/embed.cu"
#include "cuda/flatten.cu"
#include "cuda/lstm.cu"
#include "cuda/slice.cu"

extern "C" {
#include "dltrain/net.h"
#include "dltrain/prototxt.h"
#include "blob_err.h"
#include "net_files.h"
#include "test_gpu_recurrent_net.h"
#include "test.h"
}

typedef struct emu_ops {
    const char *type;
    int (*setup)(dlt_layer *);
    void (*forward)(dlt_layer *);
    void (*backward)(dlt_layer *);
    void (*destroy)(dlt_layer *);
} emu_ops;

static const emu_ops table[] = {
    {"Embed", dlt__embed_setup_gpu, dlt__embed_forward_gpu, dlt__embed_backward_gpu, dlt__embed_destroy_gpu},
    {"Bias", dlt__bias_setup_gpu, dlt__bias_forward_gpu, dlt__bias_backward_gpu, dlt__bias_destroy_gpu},
    {"Slice", dlt__slice_setup_gpu, dlt__slice_forward_gpu, dlt__slice_backward_gpu, dlt__slice_destroy_gpu},
    {"Reshape", NULL, dlt__flatten_forward_gpu, dlt__flatten_backward_gpu, NULL},
    {"LSTM", dlt__lstm_setup_gpu, dlt__lstm_forward_gpu, dlt__lstm_backward_gpu, dlt__lstm_destroy_gpu},
    {"AttentionLSTM", dlt__attention_lstm_setup_gpu, dlt__attention_lstm_forward_gpu,
     dlt__attention_lstm_backward_gpu, dlt__attention_lstm_destroy_gpu},
};

static const emu_ops *find_ops(const char *type)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].type, type) == 0)
            return &table[i];
    return NULL;
}

/* Each tensor's "device" buffers. They are attached to the tensor (gdata,
 * gdiff) only while emulated GPU code runs: the library takes a tensor with
 * gdiff for one on the device (split sums, downloads). */
typedef struct emu_buf {
    dlt_tensor *t;
    float *gdata, *gdiff;
} emu_buf;
static emu_buf bufs[4096];
static int nbufs;

static emu_buf *dev(dlt_tensor *t)
{
    for (int i = 0; i < nbufs; i++)
        if (bufs[i].t == t)
            return &bufs[i];
    if (nbufs == (int)(sizeof bufs / sizeof bufs[0]))
        dlt_fatal("test_gpu_emulated: more than %d tensors", nbufs);
    emu_buf *b = &bufs[nbufs++];
    b->t = t;
    b->gdata = (float *)dlt_calloc(t->count + 1, sizeof(float));
    b->gdiff = (float *)dlt_calloc(t->count + 1, sizeof(float));
    return b;
}

/* Attach (1) or detach (0) the buffers of L's tensors. */
static void attach(dlt_layer *l, int on)
{
    dlt_tensor *ts[3 * DLT_MAX_BLOBS + 64];
    int n = 0;
    for (int k = 0; k < l->nbottom; k++)
        ts[n++] = l->bottom[k];
    for (int k = 0; k < l->ntop; k++)
        ts[n++] = l->top[k];
    for (int p = 0; p < l->nparam; p++)
        ts[n++] = &l->param[p];
    for (int i = 0; i < n; i++) {
        emu_buf *b = dev(ts[i]);
        ts[i]->gdata = on ? b->gdata : NULL;
        ts[i]->gdiff = on ? b->gdiff : NULL;
    }
}

static void free_dev(void)
{
    for (int i = 0; i < nbufs; i++)
        free(bufs[i].gdata), free(bufs[i].gdiff);
    nbufs = 0;
}

static void check(const char *what, const dlt_layer *l, const char *kind, int k, const float *emu, const float *cpu,
                  size_t n)
{
    const double e = blob_err(emu, cpu, n);
    TEST_OK(e <= 1e-5, "%s: emulated %s '%s' %s %d (%zu values): err %.2g <= 1e-5", what, l->ops->type, l->name,
            kind, k, n, e);
}

/* Build ROOT (TRAIN, T steps, C x H x W images), fill a batch, and compare
 * the emulated GPU code with the CPU layer by layer. */
static void compare(const char *what, const dlt_cfg *root, int c, int h, int w, int steps, int classes)
{
    dlt_net *net = NULL;
    int st = dlt_net_create_seq(root, DLT_PHASE_TRAIN, c, h, w, steps, 7, NULL, &net);
    TEST_OK(st == 0, "%s: the net builds (status %d)", what, st);
    if (st)
        return;
    rn_fill_captions(net, net, classes, 11);
    const int nl = dlt_net_num_layers(net);
    int emulated = 0;
    for (int i = 0; i < nl; i++) {
        dlt_layer *l = dlt_net_layer(net, i);
        const emu_ops *e = find_ops(l->ops->type);
        if (e) { /* the CPU's inputs, before an in-place layer overwrites them */
            for (int k = 0; k < l->nbottom; k++)
                memcpy(dev(l->bottom[k])->gdata, l->bottom[k]->data, l->bottom[k]->count * sizeof(float));
            for (int p = 0; p < l->nparam; p++)
                memcpy(dev(&l->param[p])->gdata, l->param[p].data, l->param[p].count * sizeof(float));
            attach(l, 1);
            if (e->setup)
                e->setup(l);
            attach(l, 0);
            emulated++;
        }
        dlt_layer_forward(l);
        if (!e)
            continue;
        attach(l, 1);
        e->forward(l);
        attach(l, 0);
        for (int k = 0; k < l->ntop; k++)
            check(what, l, "top", k, dev(l->top[k])->gdata, l->top[k]->data, l->top[k]->count);
    }
    TEST_OK(emulated > 0, "%s: %d layers have emulated GPU code", what, emulated);
    dlt_net_zero_grads(net);
    for (int i = nl - 1; i >= 0; i--) {
        dlt_layer *l = dlt_net_layer(net, i);
        if (!dlt_net_sum_split_diffs(net, i))
            continue;
        const emu_ops *e = find_ops(l->ops->type);
        if (e) { /* the CPU's values and top gradients */
            for (int k = 0; k < l->nbottom; k++)
                memcpy(dev(l->bottom[k])->gdata, l->bottom[k]->data, l->bottom[k]->count * sizeof(float));
            for (int k = 0; k < l->ntop; k++) {
                memcpy(dev(l->top[k])->gdata, l->top[k]->data, l->top[k]->count * sizeof(float));
                memcpy(dev(l->top[k])->gdiff, l->top[k]->diff, l->top[k]->count * sizeof(float));
            }
            for (int p = 0; p < l->nparam; p++)
                memset(dev(&l->param[p])->gdiff, 0, l->param[p].count * sizeof(float));
        }
        dlt_layer_backward(l);
        if (!e)
            continue;
        attach(l, 1);
        e->backward(l);
        attach(l, 0);
        for (int p = 0; p < l->nparam; p++)
            check(what, l, "param gradient", p, dev(&l->param[p])->gdiff, l->param[p].diff, l->param[p].count);
        for (int k = 0; k < l->nbottom; k++)
            if (l->propagate_down[k])
                check(what, l, "bottom gradient", k, dev(l->bottom[k])->gdiff, l->bottom[k]->diff,
                      l->bottom[k]->count);
    }
    for (int i = 0; i < nl; i++) {
        dlt_layer *l = dlt_net_layer(net, i);
        const emu_ops *e = find_ops(l->ops->type);
        if (e && e->destroy) {
            attach(l, 1);
            e->destroy(l);
            attach(l, 0);
        }
        l->gpu_state = NULL;
    }
    free_dev();
    dlt_net_free(net);
}

int main(void)
{
    dlt_cfg *root = NULL;
    int st = dlt_pt_parse_string(rn_net_text, "test_gpu_recurrent_net.h", &root);
    TEST_OK(st == 0, "the recurrent test net parses (status %d)", st);
    if (st == 0)
        compare("recurrent layers", root, 2, 3, 3, RN_STEPS, 7);
    dlt_cfg_free(root);
    for (int i = 0; i < RN_NCAPTIONERS; i++) {
        root = NULL;
        st = tn_load(rn_captioners[i], RN_CAPTION_BATCH, &root);
        TEST_OK(st == 0, "%s parses", rn_captioners[i]);
        if (st == 0)
            compare(rn_captioners[i], root, 1, 84, 84, RN_CAPTION_STEPS, RN_CAPTION_VOCAB);
        dlt_cfg_free(root);
    }
    TEST_DONE();
}
