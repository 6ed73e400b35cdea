/* test_scale.c - Scale (with and without bias, second bottom) against a direct
 * loop and finite differences. */
#include "fd_harness.h"

static void ref_scale(tcase *t, double *r, const void *arg)
{
    const dlt_tensor *x = &t->bot[0];
    const dlt_layer *l = &t->l;
    int bias = *(const int *)arg;
    size_t P = (size_t)x->h * x->w;
    for (size_t i = 0; i < x->count; i++) {
        int c = (int)(i / P % (size_t)x->c);
        r[i] = (double)x->data[i] * l->param[0].data[c] + (bias ? l->param[1].data[c] : 0);
    }
}

static void test_scale(void)
{
    const int s[1][4] = {{3, 4, 2, 3}}, e[4] = {3, 4, 2, 3};
    int b0 = 0, b1 = 1;
    layer_case("scale", "Scale", "", 1, s, 0, 0, e, ref_scale, &b0, 1e-6, 1, NULL);
    layer_case("scale bias_term in place", "Scale", "scale_param { bias_term: true }", 1, s, 0, 1,
               e, ref_scale, &b1, 1e-6, 1, NULL);
    /* Default fillers: scale 1, bias 0 (Caffe). */
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 1, 2, 1, 1);
    int st = make(&t, "Scale", "scale_param { bias_term: true }", 1, 1, 0, NULL);
    TEST_OK(st == 0 && t.l.param_filler[0].type == DLT_FILLER_CONSTANT &&
            t.l.param_filler[0].value == 1 && t.l.param_filler[1].value == 0,
            "scale: default fillers constant 1 (scale) and 0 (bias)");
    destroy(&t);
}

int main(void)
{
    fd_init();
    test_scale();
    TEST_DONE();
}
