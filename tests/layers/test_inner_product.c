/* test_inner_product.c - InnerProduct against a direct loop and finite differences,
 * including axis and transpose. */
#include "fd_harness.h"

static void test_ip_case(const char *what, int bias, const char *text)
{
    const int N = 3, C = 2, H = 3, W = 2, K = 5, D = C * H * W;
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], N, C, H, W);
    fill_uniform(t.bot[0].data, t.bot[0].count, -1, 1);
    int st = make(&t, "InnerProduct", text, 1, 1, 0, NULL);
    const dlt_tensor *y = &t.top[0];
    int ok = st == 0 && y->n == N && y->c == K && y->h == 1 && y->w == 1 &&
             t.l.nparam == 1 + bias && t.l.param[0].n == K && t.l.param[0].c == D;
    double e = INFINITY;
    if (ok) {
        t.l.ops->forward(&t.l);
        double ref[N * K];
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++) {
                double acc = bias ? t.l.param[1].data[k] : 0;
                for (int d = 0; d < D; d++)
                    acc += (double)t.l.param[0].data[k * D + d] * t.bot[0].data[n * D + d];
                ref[n * K + k] = acc;
            }
        e = max_rel_err_f(y->data, ref, (size_t)N * K);
    }
    TEST_OK(ok && e <= 1e-5, "ip %s: weight K x D, forward matches the loop (status %d, max "
            "rel err %.2g)", what, st, e);
    if (ok)
        grad_test(&t, 1, 1e-2, what);
    destroy(&t);
}

static void test_ip(void)
{
    test_ip_case("with bias", 1, "inner_product_param { num_output: 5 weight_filler { type: "
                 "\"gaussian\" std: 0.01 } }");
    test_ip_case("no bias", 0, "inner_product_param { num_output: 5 bias_term: false }");
}

typedef struct ip_arg {
    int rows, dim, k, transpose;
} ip_arg;

static void ref_ip(tcase *t, double *r, const void *arg)
{
    const ip_arg *a = arg;
    const float *w = t->l.param[0].data, *b = t->l.param[1].data, *x = t->bot[0].data;
    for (int m = 0; m < a->rows; m++)
        for (int k = 0; k < a->k; k++) {
            double acc = b[k];
            for (int d = 0; d < a->dim; d++)
                acc += (double)x[m * a->dim + d] * (a->transpose ? w[d * a->k + k] : w[k * a->dim + d]);
            r[m * a->k + k] = acc;
        }
}

static void test_ip_axis_transpose(void)
{
    const int s[1][4] = {{2, 3, 2, 2}};
    ip_arg a2 = {6, 4, 5, 0}, tr = {2, 12, 5, 1};
    const int e2[4] = {2, 3, 5, 1}, et[4] = {2, 5, 1, 1};
    layer_case("ip axis 2", "InnerProduct", "inner_product_param { num_output: 5 axis: 2 }", 1, s,
               0, 0, e2, ref_ip, &a2, 1e-5, 1, NULL);
    layer_case("ip transpose", "InnerProduct",
               "inner_product_param { num_output: 5 transpose: true }", 1, s, 0, 0, et, ref_ip,
               &tr, 1e-5, 1, NULL);
}

int main(void)
{
    fd_init();
    test_ip();
    test_ip_axis_transpose();
    TEST_DONE();
}
