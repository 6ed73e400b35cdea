/* test_relu.c - ReLU and leaky ReLU, in place or not, against a direct
 * loop and finite differences. */
#include "fd_harness.h"

static void test_relu_case(const char *what, double slope, int inplace, const char *text)
{
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 2, 3, 4, 5);
    fill_distinct(t.bot[0].data, t.bot[0].count);
    /* Keep every input at least 0.025 from the kink. */
    for (size_t i = 0; i < t.bot[0].count; i++)
        if (fabsf(t.bot[0].data[i]) < 0.03f)
            t.bot[0].data[i] = 0.5f;
    size_t n = t.bot[0].count;
    double *ref = dlt_malloc(n * sizeof(double));
    float *x0 = dlt_malloc(n * sizeof(float));
    memcpy(x0, t.bot[0].data, n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        ref[i] = x0[i] > 0 ? x0[i] : slope * x0[i];
    int st = make(&t, "ReLU", text, 1, 1, inplace, NULL);
    double e = INFINITY;
    if (st == 0) {
        t.l.ops->forward(&t.l);
        e = max_rel_err_f(t.l.top[0]->data, ref, n);
        memcpy(t.bot[0].data, x0, n * sizeof(float)); /* in place overwrote the input */
    }
    free(ref);
    free(x0);
    TEST_OK(st == 0 && e <= 1e-7, "relu %s: forward (status %d, max rel err %.2g)", what, st, e);
    if (st == 0)
        grad_test(&t, 1, 1e-2, what);
    destroy(&t);
}

static void test_relu(void)
{
    test_relu_case("slope 0", 0, 0, "");
    test_relu_case("slope 0.1 in place", 0.1, 1, "relu_param { negative_slope: 0.1 }");
}

int main(void)
{
    fd_init();
    test_relu();
    TEST_DONE();
}
