/* test_net_precision.c - where the net's mixed-precision reference rounds:
 * with amp every stored activation and gradient is an FP16 value (bf16: a
 * bfloat16 value) while the input, the loss, the weights and BatchNorm's
 * statistics stay FP32; and a loss scale multiplies every gradient by
 * exactly the scale while the reported loss stays the same. */
#include <math.h>
#include <string.h>

#include "dltrain/compute.h"
#include "dltrain/half.h"
#include "dltrain/net.h"
#include "dltrain/prototxt.h"
#include "test.h"

static const char *net_text =
    "name: 'mixed'\n"
    "layer { name: 'd' type: 'Data' top: 'data' top: 'label' data_param { batch_size: 8 } }\n"
    "layer { name: 'ip1' type: 'InnerProduct' bottom: 'data' top: 'ip1'\n"
    "        inner_product_param { num_output: 6 weight_filler { type: 'gaussian' std: 0.3 } } }\n"
    "layer { name: 'bn' type: 'BatchNorm' bottom: 'ip1' top: 'bn' }\n"
    "layer { name: 'relu' type: 'ReLU' bottom: 'bn' top: 'bn' }\n"
    "layer { name: 'ip2' type: 'InnerProduct' bottom: 'bn' top: 'ip2'\n"
    "        inner_product_param { num_output: 4 weight_filler { type: 'gaussian' std: 0.3 } } }\n"
    "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'ip2' bottom: 'label' top: 'loss' }\n";

enum { N = 8, C = 5 };
static float input[N * C], labels[N];

/* Values of X (N of them) that 16-bit storage of P would not keep. */
static int not_half(const float *x, size_t n, dlt_precision p)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float r = x[i];
        dlt_round_half(&r, 1, p);
        bad += r != x[i];
    }
    return bad;
}

static dlt_net *build(dlt_cfg *root, dlt_precision p)
{
    dlt_compute_ctx ctx;
    dlt_compute_ctx_init(&ctx);
    ctx.precision = p;
    dlt_net *net = NULL;
    if (dlt_net_create(root, DLT_PHASE_TRAIN, C, 1, 1, 11, &ctx, &net) < 0)
        return NULL;
    dlt_batch b = {N, C, 1, 1, input, labels};
    dlt_net_set_input(net, &b);
    return net;
}

static const float *param(dlt_net *net, const char *layer, int k, int diff, size_t *count)
{
    for (int i = 0; i < dlt_net_num_layers(net); i++) {
        dlt_layer *l = dlt_net_layer(net, i);
        if (strcmp(l->name, layer) == 0) {
            *count = l->param[k].count;
            return diff ? l->param[k].diff : l->param[k].data;
        }
    }
    *count = 0;
    return NULL;
}

static void check_precision(dlt_cfg *root, dlt_precision p, float loss32)
{
    const char *name = dlt_precision_name(p);
    dlt_net *net = build(root, p);
    TEST_OK(net != NULL, "%s: the net builds", name);
    if (!net)
        return;
    dlt_net_zero_grads(net);
    float loss = dlt_net_forward(net);
    dlt_net_backward(net);
    static const char *const acts[] = {"ip1", "bn", "ip2"};
    for (int i = 0; i < 3; i++) {
        const dlt_tensor *t = dlt_net_blob(net, acts[i]);
        ASSERT_EQ(not_half(t->data, t->count, p), 0, "%s: every value of activation '%s' is a 16-bit one",
                  name, acts[i]);
    }
    const dlt_tensor *d = dlt_net_blob(net, "data");
    TEST_OK(memcmp(d->data, input, sizeof input) == 0, "%s: the input is not rounded", name);
    TEST_OK(not_half(&loss, 1, p) == 1, "%s: the loss %.9g stays FP32 (not a 16-bit value)", name, loss);
    ASSERT_NEAR(loss, loss32, 0.02 * loss32, "%s: the loss is near FP32's", name);
    size_t n;
    const float *g = param(net, "ip1", 0, 1, &n);
    ASSERT_EQ(not_half(g, n, p), 0, "%s: every weight gradient of ip1 is a 16-bit value", name);
    g = param(net, "ip2", 1, 1, &n);
    ASSERT_EQ(not_half(g, n, p), 0, "%s: every bias gradient of ip2 is a 16-bit value", name);
    const float *mean = param(net, "bn", 0, 0, &n);
    TEST_OK(not_half(mean, n, p) > 0, "%s: BatchNorm's running mean stays FP32 (%d of %zu values not 16-bit)",
            name, not_half(mean, n, p), n);
    const float *w = param(net, "ip1", 0, 0, &n);
    TEST_OK(not_half(w, n, p) > 0, "%s: the master weights stay FP32", name);
    dlt_net_free(net);
}

int main(void)
{
    for (int i = 0; i < N * C; i++)
        input[i] = (float)sin(1.7 * i + 0.3) * 1.3f;
    for (int i = 0; i < N; i++)
        labels[i] = (float)(i % 4);
    dlt_cfg *root;
    ASSERT_EQ(dlt_pt_parse_string(net_text, "mixed.prototxt", &root), 0, "parse the net");

    /* FP32: the reference loss and gradients; then the loss scale. */
    dlt_net *net = build(root, DLT_PRECISION_FP32);
    TEST_OK(net != NULL, "fp32: the net builds");
    if (!net)
        TEST_DONE();
    size_t n = dlt_net_param_count(net);
    dlt_net_zero_grads(net);
    float loss32 = dlt_net_forward(net);
    dlt_net_backward(net);
    TEST_OK(not_half(dlt_net_blob(net, "ip1")->data, 48, DLT_PRECISION_AMP) > 0,
            "fp32: activations are not rounded");
    float *g1 = malloc(n * sizeof *g1);
    memcpy(g1, dlt_net_grads(net), n * sizeof *g1);
    dlt_net_set_loss_scale(net, 1024);
    dlt_net_zero_grads(net);
    float loss_s = dlt_net_forward(net);
    dlt_net_backward(net);
    TEST_OK(loss_s == loss32, "loss scale 1024: the reported loss is unchanged (%.9g vs %.9g)", loss_s, loss32);
    int exact = 0, moved = 0;
    for (size_t i = 0; i < n; i++) {
        exact += dlt_net_grads(net)[i] == 1024 * g1[i];
        moved += g1[i] != 0;
    }
    TEST_OK(exact == (int)n && moved > 0, "loss scale 1024: every gradient is exactly 1024x (%d of %zu)", exact, n);
    dlt_net_set_loss_scale(net, 1);
    dlt_net_zero_grads(net);
    dlt_net_forward(net);
    dlt_net_backward(net);
    TEST_OK(memcmp(dlt_net_grads(net), g1, n * sizeof *g1) == 0, "loss scale back to 1: the gradients are as before");
    free(g1);
    dlt_net_free(net);

    check_precision(root, DLT_PRECISION_AMP, loss32);
    check_precision(root, DLT_PRECISION_BF16, loss32);
    dlt_cfg_free(root);
    TEST_DONE();
}
