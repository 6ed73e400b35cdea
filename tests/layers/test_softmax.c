/* test_softmax.c - Softmax over an axis against a direct loop and finite
 * differences. */
#include "fd_harness.h"

/* Softmax over axis *(int *)arg of an NCHW blob. */
static void ref_softmax(tcase *t, double *r, const void *arg)
{
    const dlt_tensor *x = &t->bot[0];
    int axis = *(const int *)arg, d[4] = {x->n, x->c, x->h, x->w};
    size_t stride = 1;
    for (int k = axis + 1; k < 4; k++)
        stride *= (size_t)d[k];
    for (size_t i = 0; i < x->count; i++) {
        size_t pos = i / stride % (size_t)d[axis], base = i - pos * stride;
        double m = -INFINITY, sum = 0;
        for (int c = 0; c < d[axis]; c++)
            m = fmax(m, x->data[base + c * stride]);
        for (int c = 0; c < d[axis]; c++)
            sum += exp(x->data[base + c * stride] - m);
        r[i] = exp(x->data[i] - m) / sum;
    }
}

static void test_softmax(void)
{
    const int s[1][4] = {{2, 3, 4, 5}}, e[4] = {2, 3, 4, 5};
    int a1 = 1, a3 = 3;
    layer_case("softmax axis 1", "Softmax", "", 1, s, 0, 0, e, ref_softmax, &a1, 1e-6, 1, NULL);
    layer_case("softmax axis -1 (w)", "Softmax", "softmax_param { axis: -1 }", 1, s, 0, 0, e,
               ref_softmax, &a3, 1e-6, 1, NULL);
}

int main(void)
{
    fd_init();
    test_softmax();
    TEST_DONE();
}
