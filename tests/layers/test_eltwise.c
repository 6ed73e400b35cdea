/* test_eltwise.c - Eltwise PROD, SUM (coefficients) and MAX against a direct
 * loop and finite differences; mismatched shapes fail at setup. */
#include "fd_harness.h"

typedef struct elt_arg {
    int op; /* 0 prod, 1 sum, 2 max */
    double coeff[3];
} elt_arg;

static void ref_eltwise(tcase *t, double *r, const void *arg)
{
    const elt_arg *a = arg;
    for (size_t i = 0; i < t->bot[0].count; i++) {
        double v = a->op == 1 ? a->coeff[0] * t->bot[0].data[i] : t->bot[0].data[i];
        for (int b = 1; b < t->nb; b++) {
            double x = t->bot[b].data[i];
            v = a->op == 0 ? v * x : a->op == 1 ? v + a->coeff[b] * x : fmax(v, x);
        }
        r[i] = v;
    }
}

static void test_eltwise(void)
{
    const int s[3][4] = {{2, 3, 3, 2}, {2, 3, 3, 2}, {2, 3, 3, 2}}, e[4] = {2, 3, 3, 2};
    elt_arg sum = {1, {1, 1, 1}}, sumc = {1, {0.5, -2, 3}}, prod = {0, {0}}, max = {2, {0}};
    layer_case("eltwise SUM (default)", "Eltwise", "", 2, s, 0, 0, e, ref_eltwise, &sum, 1e-6, 3,
               NULL);
    layer_case("eltwise SUM coeff 0.5 -2 3", "Eltwise",
               "eltwise_param { operation: SUM coeff: 0.5 coeff: -2 coeff: 3 }", 3, s, 0, 0, e,
               ref_eltwise, &sumc, 1e-6, 7, NULL);
    layer_case("eltwise SUM in place on bottom 0", "Eltwise", "", 2, s, 0, 1, e, ref_eltwise,
               &sum, 1e-6, 3, NULL);
    layer_case("eltwise PROD (3 bottoms)", "Eltwise", "eltwise_param { operation: PROD }", 3, s,
               0, 0, e, ref_eltwise, &prod, 1e-6, 7, NULL);
    /* Distinct values: every max is unique and stays so under the +-1e-2 step. */
    layer_case("eltwise MAX", "Eltwise", "eltwise_param { operation: MAX }", 3, s, 1, 0, e,
               ref_eltwise, &max, 0, 7, NULL);
}

/* A shape that does not fit fails at setup naming the layer and the shapes. */
static void test_eltwise_bad_shape(void)
{
    tcase t;
    int st;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 2, 3, 4, 4);
    dlt_tensor_reshape(&t.bot[1], 2, 4, 4, 4);
    st = make(&t, "Eltwise", "", 2, 1, 0, NULL);
    TEST_OK(st == DLT_ERR_PARSE, "eltwise of 3 and 4 channels is a setup error (status %d)", st);
    destroy(&t);
}

int main(void)
{
    fd_init();
    test_eltwise();
    test_eltwise_bad_shape();
    TEST_DONE();
}
