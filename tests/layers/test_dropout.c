/* test_dropout.c - Dropout: the mask, the kept-value scale, the gradient, and
 * the identity at test time. */
#include "fd_harness.h"

/* Dropout: kept values are x / (1 - p), the rest 0, the kept fraction is
 * about 1 - p, the gradient uses the same mask; TEST is the identity. */
static void test_dropout(void)
{
    tcase t;
    memset(&t, 0, sizeof t);
    const int N = 4, C = 50, H = 10, W = 10;
    dlt_tensor_reshape(&t.bot[0], N, C, H, W);
    fill_uniform(t.bot[0].data, t.bot[0].count, 0.5, 1.5);
    int st = make(&t, "Dropout", "dropout_param { dropout_ratio: 0.3 }", 1, 1, 0, NULL);
    int ok = st == 0;
    size_t kept = 0, n = t.bot[0].count;
    if (ok) {
        dlt_rng r;
        dlt_rng_seed(&r, 99);
        t.l.rng = &r;
        t.l.ops->forward(&t.l);
        for (size_t i = 0; i < n; i++) {
            float y = t.top[0].data[i], x = t.bot[0].data[i];
            if (y != 0) {
                kept++;
                ok &= fabsf(y - x / 0.7f) <= 1e-6f * fabsf(y);
            }
            t.top[0].diff[i] = 1.0f;
        }
        t.l.propagate_down[0] = 1;
        t.l.ops->backward(&t.l);
        for (size_t i = 0; i < n; i++)
            ok &= t.bot[0].diff[i] == (t.top[0].data[i] != 0 ? 1.0f / 0.7f : 0.0f) ||
                  fabsf(t.bot[0].diff[i] - 1.0f / 0.7f) < 1e-6f;
        /* Same RNG state -> same mask (resume); a different one -> another mask. */
        float *y1 = dlt_malloc(n * sizeof(float));
        memcpy(y1, t.top[0].data, n * sizeof(float));
        dlt_rng_seed(&r, 99);
        t.l.ops->forward(&t.l);
        ok &= memcmp(y1, t.top[0].data, n * sizeof(float)) == 0;
        t.l.ops->forward(&t.l);
        ok &= memcmp(y1, t.top[0].data, n * sizeof(float)) != 0;
        free(y1);
    }
    double frac = (double)kept / n;
    TEST_OK(ok && fabs(frac - 0.7) < 0.02, "dropout 0.3 train: kept values scaled by 1/0.7, "
            "kept fraction %.3f ~ 0.7, backward uses the mask, masks follow the RNG state", frac);
    destroy(&t);

    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 2, 3, 1, 1);
    fill_uniform(t.bot[0].data, t.bot[0].count, -1, 1);
    const dlt_layer_context test_ctx = {DLT_PHASE_TEST, 1, 28, 28, 0};
    st = make(&t, "Dropout", "", 1, 1, 0, &test_ctx);
    ok = st == 0;
    if (ok) {
        t.l.ops->forward(&t.l);
        ok = memcmp(t.top[0].data, t.bot[0].data, t.bot[0].count * sizeof(float)) == 0;
    }
    TEST_OK(ok, "dropout TEST phase is the identity");
    if (st == 0)
        grad_test(&t, 1, 1e-2, "dropout test phase");
    destroy(&t);
}

int main(void)
{
    fd_init();
    test_dropout();
    TEST_DONE();
}
