/* test_bias.c - Bias (Caffe's bias_param axis, num_axes, filler) against a
 * direct loop and finite differences: per channel, a position embedding
 * over C,H,W, a middle axis, in place; the default filler; refusals. */
#include "fd_harness.h"

/* The bias covers axes [axis, end) of the bottom; its flat index is the
 * element's index over those axes. */
typedef struct { int axis, end; } span;

static void ref_bias(tcase *t, double *r, const void *arg)
{
    const span *sp = arg;
    const dlt_tensor *x = &t->bot[0];
    const int d[4] = {x->n, x->c, x->h, x->w};
    size_t inner = 1, dim = 1;
    for (int a = sp->end; a < 4; a++)
        inner *= (size_t)d[a];
    for (int a = sp->axis; a < sp->end; a++)
        dim *= (size_t)d[a];
    for (size_t i = 0; i < x->count; i++)
        r[i] = (double)x->data[i] + t->l.param[0].data[i / inner % dim];
}

static void refused(const char *text, int nb, const char *what)
{
    tcase t;
    memset(&t, 0, sizeof t);
    for (int i = 0; i < nb; i++)
        dlt_tensor_reshape(&t.bot[i], 2, 3, 4, 5);
    int st = make(&t, "Bias", text, nb, 1, 0, NULL);
    TEST_OK(st < 0 && st > -100, "bias refuses %s (status %d)", what, st);
    destroy(&t);
}

int main(void)
{
    fd_init();
    const int s[1][4] = {{3, 4, 3, 5}}, e[4] = {3, 4, 3, 5};
    const span per_channel = {1, 2}, position = {1, 4}, rows = {2, 3}, tail = {2, 4};
    layer_case("bias per channel", "Bias", "", 1, s, 0, 0, e, ref_bias, &per_channel, 1e-6, 1,
               NULL);
    layer_case("bias position embedding (axis 1, num_axes -1)", "Bias",
               "bias_param { axis: 1 num_axes: -1 }", 1, s, 0, 0, e, ref_bias, &position, 1e-6,
               1, NULL);
    layer_case("bias axis 2 num_axes 1", "Bias", "bias_param { axis: 2 }", 1, s, 0, 0, e,
               ref_bias, &rows, 1e-6, 1, NULL);
    layer_case("bias axis -2 num_axes 2 in place", "Bias", "bias_param { axis: -2 num_axes: 2 }",
               1, s, 0, 1, e, ref_bias, &tail, 1e-6, 1, NULL);

    /* Caffe's default filler is constant 0; the parameter has the covered axes' shape. */
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 2, 6, 7, 7);
    int st = make(&t, "Bias", "bias_param { axis: 1 num_axes: -1 }", 1, 1, 0, NULL);
    TEST_OK(st == 0 && t.l.param_filler[0].type == DLT_FILLER_CONSTANT &&
            t.l.param_filler[0].value == 0 && t.l.param[0].count == 6 * 7 * 7 &&
            t.l.param[0].c == 6 && t.l.param[0].h == 7 && t.l.param[0].w == 7,
            "bias: default filler constant 0, parameter shaped (1,6,7,7) (status %d)", st);
    destroy(&t);

    refused("bias_param { axis: 4 }", 1, "axis 4");
    refused("bias_param { axis: 2 num_axes: 3 }", 1, "axis 2 num_axes 3 (past the last axis)");
    refused("bias_param { num_axes: -2 }", 1, "num_axes -2");
    refused("", 2, "a second bottom");
    TEST_DONE();
}
