/* test_setup_limits.c - every layer type of layers.def set up with extreme
 * integer values in each of its integer fields (0, negative, INT_MAX,
 * 2^31, values that wrap to small ones, beyond 64 bits) and with shapes
 * whose products overflow int: each is refused with a status (a message
 * on stderr) or accepted with a sane shape and then runs forward and
 * backward once; nothing crashes (run it under ./configure --enable-asan
 * to check memory too). */
#include <stdio.h>
#include <stdlib.h>

#include "fd_harness.h"
#include "layers/layers.h"

/* Integer values to try; the ones beyond int must always be refused. */
static const struct { const char *text; int beyond_int; } values[] = {
    {"0", 0}, {"-1", 0}, {"1", 0}, {"3", 0}, {"1073741824", 0}, {"2147483647", 0},
    {"2147483648", 1}, {"4294967316", 1}, {"-2147483649", 1}, {"9223372036854775807", 1},
    {"99999999999999999999", 1},
};
#define NVALUES ((int)(sizeof values / sizeof values[0]))

/* A layer body with %s where the value goes; bottoms of SHAPE (labels of
 * shape (N,1,1,1) for a second bottom of loss layers). */
typedef struct tmpl {
    const char *type;
    int nb, nt, labels;
    const char *body;
} tmpl;

static const tmpl tmpls[] = {
    {"Data", 0, 2, 0, "data_param { batch_size: %s }"},
    {"Data", 0, 2, 0, "data_param { batch_size: 2 } transform_param { crop_size: %s }"},
    {"HDF5Data", 0, 2, 0, "hdf5_data_param { batch_size: %s }"},
    {"Convolution", 1, 1, 0, "convolution_param { num_output: %s kernel_size: 3 }"},
    {"Convolution", 1, 1, 0, "convolution_param { num_output: 2 kernel_size: %s }"},
    {"Convolution", 1, 1, 0, "convolution_param { num_output: 2 kernel_size: 3 stride: %s }"},
    {"Convolution", 1, 1, 0, "convolution_param { num_output: 2 kernel_size: 3 pad: %s }"},
    {"Convolution", 1, 1, 0, "convolution_param { num_output: 2 kernel_size: 3 dilation: %s }"},
    {"Convolution", 1, 1, 0, "convolution_param { num_output: 2 kernel_size: 1 group: %s }"},
    {"Convolution", 1, 1, 0, "convolution_param { num_output: 2 kernel_h: %s kernel_w: 1 }"},
    {"Convolution", 1, 1, 0, "convolution_param { num_output: 2 kernel_size: 1 axis: %s }"},
    {"Pooling", 1, 1, 0, "pooling_param { pool: MAX kernel_size: %s }"},
    {"Pooling", 1, 1, 0, "pooling_param { pool: MAX kernel_size: 2 stride: %s }"},
    {"Pooling", 1, 1, 0, "pooling_param { pool: AVE kernel_size: 1 stride: %s }"},
    {"Pooling", 1, 1, 0, "pooling_param { pool: AVE kernel_size: 3 pad: %s }"},
    {"Pooling", 1, 1, 0, "pooling_param { pool: MAX kernel_size: %s pad: 1073741823 }"},
    {"InnerProduct", 1, 1, 0, "inner_product_param { num_output: %s }"},
    {"InnerProduct", 1, 1, 0, "inner_product_param { num_output: 2 axis: %s }"},
    {"ReLU", 1, 1, 0, "relu_param { negative_slope: %s }"},
    {"SoftmaxWithLoss", 2, 1, 1, "loss_param { ignore_label: %s }"},
    {"SoftmaxWithLoss", 2, 1, 1, "softmax_param { axis: %s }"},
    {"Accuracy", 2, 1, 1, "accuracy_param { top_k: %s }"},
    {"Accuracy", 2, 1, 1, "accuracy_param { ignore_label: %s }"},
    {"Accuracy", 2, 1, 1, "accuracy_param { axis: %s }"},
    {"Sigmoid", 1, 1, 0, "sigmoid_param { engine: CAFFE } name: \"%s\""},
    {"TanH", 1, 1, 0, "tanh_param { engine: CAFFE } name: \"%s\""},
    {"Dropout", 1, 1, 0, "dropout_param { dropout_ratio: %s }"},
    {"Softmax", 1, 1, 0, "softmax_param { axis: %s }"},
    {"Concat", 2, 1, 0, "concat_param { axis: %s }"},
    {"Eltwise", 2, 1, 0, "eltwise_param { coeff: %s coeff: 1 }"},
    {"Flatten", 1, 1, 0, "flatten_param { axis: %s }"},
    {"Flatten", 1, 1, 0, "flatten_param { end_axis: %s }"},
    {"LRN", 1, 1, 0, "lrn_param { local_size: %s }"},
    {"LRN", 1, 1, 0, "lrn_param { local_size: %s norm_region: WITHIN_CHANNEL }"},
    {"BatchNorm", 1, 1, 0, "batch_norm_param { eps: %s }"},
    {"Scale", 1, 1, 0, "scale_param { axis: %s }"},
    {"Scale", 1, 1, 0, "scale_param { num_axes: %s }"},
    {"Bias", 1, 1, 0, "bias_param { axis: %s }"},
    {"Bias", 1, 1, 0, "bias_param { axis: 1 num_axes: %s }"},
    {"Embed", 1, 1, 1, "embed_param { num_output: %s input_dim: 4 }"},
    {"Embed", 1, 1, 1, "embed_param { num_output: 3 input_dim: %s }"},
    {"Reshape", 1, 1, 0, "reshape_param { shape { dim: %s dim: -1 } }"},
    {"Reshape", 1, 1, 0, "reshape_param { shape { dim: 0 } axis: %s }"},
    {"Reshape", 1, 1, 0, "reshape_param { shape { dim: 0 } num_axes: %s }"},
    {"Slice", 1, 2, 0, "slice_param { slice_point: %s }"},
    {"Slice", 1, 2, 0, "slice_param { axis: %s }"},
    {"LSTM", 2, 1, 0, "recurrent_param { num_output: %s }"},
    {"AttentionLSTM", 3, 1, 0, "attention_lstm_param { num_output: %s }"},
    {"AttentionLSTM", 3, 1, 0, "attention_lstm_param { num_output: 2 attention_dim: %s }"},
};
#define NTMPLS ((int)(sizeof tmpls / sizeof tmpls[0]))

/* Fields read as floats or names: a value beyond int is not an error there. */
static int int_field(const tmpl *t)
{
    return !strstr(t->body, "negative_slope") && !strstr(t->body, "dropout_ratio") &&
           !strstr(t->body, "coeff") && !strstr(t->body, "eps") && !strstr(t->body, "name:");
}

/* Forward and backward once on an accepted layer whose buffers are small;
 * returns 0 when it was too big to run (its setup was still exercised). */
static int run_once(tcase *t)
{
    size_t total = 0;
    for (int i = 0; i < t->nt; i++)
        total += t->l.top[i]->count;
    for (int i = 0; i < t->l.nparam; i++)
        total += t->l.param[i].count;
    if (total > (1u << 22))
        return 0;
    for (int i = 0; i < t->nt; i++)
        fill_uniform(t->l.top[i]->diff, t->l.top[i]->count, -1, 1);
    for (int i = 0; i < t->nb; i++)
        t->l.propagate_down[i] = !(t->l.is_loss || !strcmp(t->l.ops->type, "Accuracy")) || i == 0;
    if (dlt_layer_data_params(&t->l))
        return 1; /* data layers have no forward work */
    t->l.ops->forward(&t->l);
    t->l.ops->backward(&t->l);
    return 1;
}

/* Setup only, parameters not allocated unless small (make() would fill them). */
static int build(tcase *t, const tmpl *tp, const char *text, const dlt_layer_context *ctx)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < tp->nb; i++) {
        if (tp->labels && i == 1) {
            dlt_tensor_reshape(&t->bot[i], 2, 1, 1, 1);
            for (int k = 0; k < 2; k++)
                t->bot[i].data[k] = (float)k;
        } else {
            dlt_tensor_reshape(&t->bot[i], 2, tp->labels ? 5 : 3, tp->labels ? 1 : 6,
                               tp->labels ? 1 : 7);
            fill_distinct(t->bot[i].data, t->bot[i].count);
            if (!strcmp(tp->type, "Embed")) /* indices: 0 is in range for any input_dim */
                memset(t->bot[i].data, 0, t->bot[i].count * sizeof(float));
        }
    }
    dlt_layer *l = &t->l;
    snprintf(t->name, sizeof t->name, "limits");
    l->ops = dlt_layer_find(tp->type);
    l->name = t->name;
    l->compute = &compute;
    t->nb = tp->nb, t->nt = tp->nt;
    for (int i = 0; i < tp->nb; i++)
        l->bottom[i] = &t->bot[i];
    for (int i = 0; i < tp->nt; i++)
        l->top[i] = &t->top[i];
    l->nbottom = tp->nb, l->ntop = tp->nt;
    l->loss_weight[0] = 1;
    if (!l->ops || dlt_pt_parse_string(text, "limits.prototxt", &t->root) != 0)
        return -100;
    int st = l->ops->setup(l, t->root, ctx);
    if (st)
        return st;
    size_t pc = 0;
    for (int i = 0; i < l->nparam; i++)
        pc += l->param[i].count;
    for (int i = 0; i < l->nparam && pc <= (1u << 22); i++) {
        dlt_tensor *p = &l->param[i];
        dlt_tensor_reshape(p, p->n, p->c, p->h, p->w);
        fill_uniform(p->data, p->count, -1, 1);
    }
    return 0;
}

static void release(tcase *t)
{
    if (t->l.ops && t->l.ops->destroy && t->l.state)
        t->l.ops->destroy(&t->l);
    else
        free(t->l.state);
    for (int i = 0; i < t->l.nparam; i++)
        if (t->l.param[i].owned)
            dlt_tensor_release(&t->l.param[i]);
    for (int i = 0; i < MAXB; i++) {
        dlt_tensor_release(&t->bot[i]);
        dlt_tensor_release(&t->top[i]);
    }
    dlt_cfg_free(t->root);
}

static void test_values(void)
{
    const dlt_layer_context dctx = {DLT_PHASE_TRAIN, 1, 2, 2, 0};
    for (int i = 0; i < NTMPLS; i++) {
        const tmpl *tp = &tmpls[i];
        int refused = 0, accepted = 0, ran = 0, bad = 0;
        char badv[64] = "";
        for (int v = 0; v < NVALUES; v++) {
            char body[512], text[600];
            snprintf(body, sizeof body, tp->body, values[v].text);
            snprintf(text, sizeof text, "%s", body);
            tcase t;
            int st = build(&t, tp, text, tp->nb ? &ctx0 : &dctx);
            if (st == 0) {
                accepted++;
                ran += run_once(&t);
            } else {
                refused++;
            }
            /* Refused means a status of the library (a message was printed),
             * not the harness's -100 (bad prototxt text). */
            if (st == -100 || (st == 0 && values[v].beyond_int && int_field(tp))) {
                bad++;
                snprintf(badv, sizeof badv, "%s (status %d)", values[v].text, st);
            }
            release(&t);
        }
        TEST_OK(bad == 0, "%s { %s }: %d values refused, %d accepted (%d run), none wrapped%s%s",
                tp->type, tp->body, refused, accepted, ran, bad ? "; wrong for " : "", badv);
    }
}

/* Specific findings: each is refused by setup, not by a crash later. */
static void expect_refused(const char *what, const char *type, const char *text, int nb,
                           const int (*shapes)[4])
{
    tcase t;
    memset(&t, 0, sizeof t);
    static float dummy[8];
    for (int i = 0; i < nb; i++) /* views: setup reads shapes, never the values */
        dlt_tensor_view(&t.bot[i], shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], dummy,
                        dummy);
    int st = make(&t, type, text, nb, 1, 0, NULL);
    TEST_OK(st < 0 && st != -100, "%s: refused by setup (status %d)", what, st);
    destroy(&t);
}

static void test_products(void)
{
    static const int small[1][4] = {{2, 3, 8, 8}};
    expect_refused("dilation 1073741824 with kernel 3 (overflowed int in conv.c)", "Convolution",
                   "convolution_param { num_output: 2 kernel_size: 3 dilation: 1073741824 }", 1,
                   small);
    expect_refused("num_output 4294967316 (wrapped to 20)", "InnerProduct",
                   "inner_product_param { num_output: 4294967316 }", 1, small);
    static const int wide[1][4] = {{1, 65536, 1, 1}};
    expect_refused("InnerProduct 65536 inputs x 2^20 outputs (2^36 weights)", "InnerProduct",
                   "inner_product_param { num_output: 1048576 }", 1, wide);
    static const int chan[1][4] = {{1, 1 << 20, 1, 1}};
    expect_refused("Convolution patch rows 2^20 channels x 47 x 47 beyond int", "Convolution",
                   "convolution_param { num_output: 1 kernel_size: 47 pad: 23 }", 1, chan);
    static const int big3[3][4] = {{1, 1 << 30, 1, 1}, {1, 1 << 30, 1, 1}, {1, 1 << 30, 1, 1}};
    expect_refused("Concat of 3 x 2^30 channels (int sum)", "Concat", "concat_param { axis: 1 }",
                   3, big3);
    static const int tall[1][4] = {{1, 1, 1 << 20, 1}};
    expect_refused("Pooling pad 2^30-1 on a 2^20-high input (H + 2 pad beyond int)", "Pooling",
                   "pooling_param { kernel_size: 1073741824 pad: 1073741823 }", 1, tall);
    static const int deep[1][4] = {{1 << 12, 1 << 12, 1 << 9, 1}};
    expect_refused("Softmax over axis 3 of (4096, 4096, 512, 1): outer beyond int", "Softmax",
                   "softmax_param { axis: 3 }", 1, deep);
}

int main(void)
{
    fd_init();
    test_values();
    test_products();
    TEST_DONE();
}
