/* test_batchnorm.c - BatchNorm (batch and global statistics, as Caffe) against a
 * direct loop and finite differences. */
#include "fd_harness.h"

/* BatchNorm, batch statistics: per channel (x - mean) / sqrt(var + eps). */
static void ref_bn(tcase *t, double *r, const void *arg)
{
    const dlt_tensor *x = &t->bot[0];
    const double eps = *(const double *)arg;
    size_t P = (size_t)x->h * x->w;
    for (int c = 0; c < x->c; c++) {
        double m = 0, v = 0, cnt = (double)x->n * P;
        for (int n = 0; n < x->n; n++)
            for (size_t p = 0; p < P; p++)
                m += x->data[((size_t)n * x->c + c) * P + p];
        m /= cnt;
        for (int n = 0; n < x->n; n++)
            for (size_t p = 0; p < P; p++) {
                double d = x->data[((size_t)n * x->c + c) * P + p] - m;
                v += d * d;
            }
        v /= cnt;
        for (int n = 0; n < x->n; n++)
            for (size_t p = 0; p < P; p++) {
                size_t i = ((size_t)n * x->c + c) * P + p;
                r[i] = (x->data[i] - m) / sqrt(v + eps);
            }
    }
}

/* BatchNorm with global statistics: blobs / factor. */
static void ref_bn_global(tcase *t, double *r, const void *arg)
{
    const dlt_tensor *x = &t->bot[0];
    const dlt_layer *l = &t->l;
    size_t P = (size_t)x->h * x->w;
    double f = 1.0 / l->param[2].data[0];
    (void)arg;
    for (size_t i = 0; i < x->count; i++) {
        int c = (int)(i / P % (size_t)x->c);
        r[i] = (x->data[i] - l->param[0].data[c] * f) / sqrt(l->param[1].data[c] * f + 1e-5);
    }
}

static void test_batchnorm(void)
{
    const int s[1][4] = {{3, 2, 2, 3}}, e[4] = {3, 2, 2, 3};
    double eps = 1e-5, eps2 = 0.1;
    layer_case("batchnorm train", "BatchNorm", "", 1, s, 0, 0, e, ref_bn, &eps, 1e-5, 1, NULL);
    layer_case("batchnorm train in place, eps 0.1", "BatchNorm", "batch_norm_param { eps: 0.1 }",
               1, s, 0, 1, e, ref_bn, &eps2, 1e-5, 1, NULL);

    /* Global statistics (TEST default): make the blobs positive first. */
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 3, 2, 2, 3);
    fill_uniform(t.bot[0].data, t.bot[0].count, -1, 1);
    const dlt_layer_context test_ctx = {DLT_PHASE_TEST, 1, 28, 28, 0};
    int st = make(&t, "BatchNorm", "", 1, 1, 0, &test_ctx);
    double err = INFINITY;
    if (st == 0) {
        dlt_layer *l = &t.l;
        l->param[0].data[0] = 0.6f, l->param[0].data[1] = -0.4f;
        l->param[1].data[0] = 1.0f, l->param[1].data[1] = 0.3f;
        l->param[2].data[0] = 2.0f;
        double *r = dlt_malloc(t.bot[0].count * sizeof(double));
        ref_bn_global(&t, r, NULL);
        l->ops->forward(l);
        err = max_rel_err_f(t.top[0].data, r, t.top[0].count);
        free(r);
    }
    TEST_OK(st == 0 && t.l.params_not_trained && t.l.nparam == 3 && err <= 1e-6,
            "batchnorm TEST phase: global statistics blob/factor (max rel err %.2g); three "
            "untrained blobs", err);
    if (st == 0)
        grad_test(&t, 1, 1e-2, "batchnorm global stats");
    destroy(&t);

    /* Running averages as Caffe: factor = maf f + 1, mean = maf mean + mu,
     * var = maf var + m/(m-1) sigma^2. */
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 2, 1, 1, 2);
    t.bot[0].data[0] = 1, t.bot[0].data[1] = 2, t.bot[0].data[2] = 3, t.bot[0].data[3] = 6;
    st = make(&t, "BatchNorm", "batch_norm_param { moving_average_fraction: 0.5 }", 1, 1, 0, NULL);
    int ok = st == 0;
    if (ok) {
        dlt_layer *l = &t.l;
        l->param[0].data[0] = 4, l->param[1].data[0] = 2, l->param[2].data[0] = 1;
        l->ops->forward(l);
        /* mu = 3, sigma^2 = (4 + 1 + 0 + 9) / 4 = 3.5, unbiased 14/3 */
        ok = fabsf(l->param[2].data[0] - 1.5f) < 1e-6 && fabsf(l->param[0].data[0] - 5.0f) < 1e-6 &&
             fabs(l->param[1].data[0] - (1.0 + 14.0 / 3)) < 1e-5;
    }
    TEST_OK(ok, "batchnorm running statistics follow Caffe's update (factor %g mean %g var %g)",
            ok ? t.l.param[2].data[0] : 0., ok ? t.l.param[0].data[0] : 0.,
            ok ? t.l.param[1].data[0] : 0.);
    destroy(&t);
}

int main(void)
{
    fd_init();
    test_batchnorm();
    TEST_DONE();
}
