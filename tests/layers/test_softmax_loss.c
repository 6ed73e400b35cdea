/* test_softmax_loss.c - SoftmaxWithLoss (ignore_label, normalization,
 * loss_weight) against a direct loop and finite differences. */
#include "fd_harness.h"

static void test_softmax_case(const char *what, int N, int C, int H, int W, const char *text,
                              int ignore, int norm_batch, float loss_weight)
{
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], N, C, H, W);
    dlt_tensor_reshape(&t.bot[1], N, 1, H, W);
    fill_uniform(t.bot[0].data, t.bot[0].count, -3, 3);
    for (size_t i = 0; i < t.bot[1].count; i++)
        t.bot[1].data[i] = (float)dlt_rng_below(&rng, (uint64_t)C);
    if (ignore >= 0)
        t.bot[1].data[0] = t.bot[1].data[2] = (float)ignore;
    int st = make(&t, "SoftmaxWithLoss", text, 2, 1, 0, NULL);
    t.l.loss_weight[0] = loss_weight;
    int ok = st == 0 && t.l.is_loss && t.top[0].count == 1;
    double e = INFINITY, ref = 0;
    if (ok) {
        t.l.ops->forward(&t.l);
        size_t inner = (size_t)H * W, valid = 0;
        for (int n = 0; n < N; n++)
            for (size_t j = 0; j < inner; j++) {
                int lab = (int)t.bot[1].data[n * inner + j];
                if (lab == ignore)
                    continue;
                double z = 0;
                for (int c = 0; c < C; c++)
                    z += exp((double)t.bot[0].data[(n * C + c) * inner + j]);
                ref -= (double)t.bot[0].data[(n * C + lab) * inner + j] - log(z);
                valid++;
            }
        ref /= norm_batch ? (double)N : (double)valid;
        e = fabs(t.top[0].data[0] - ref) / fmax(1, fabs(ref));
    }
    TEST_OK(ok && e <= 1e-5, "softmax loss %s: loss %.6f vs reference %.6f (status %d)", what,
            ok ? t.top[0].data[0] : NAN, ref, st);
    if (ok) {
        for (size_t i = 0; i < t.bot[1].count; i++)
            t.bot[1].diff[i] = 3.0f;
        grad_test(&t, 1, 1e-2, what);
        int untouched = 1;
        for (size_t i = 0; i < t.bot[1].count; i++)
            untouched &= t.bot[1].diff[i] == 3.0f;
        if (ignore >= 0)
            TEST_OK(untouched && t.bot[0].diff[0] == 0.0f, "softmax loss %s: no gradient to "
                    "the labels or to ignored entries", what);
    }
    destroy(&t);
}

static void test_softmax(void)
{
    test_softmax_case("N=4 C=5, loss_weight 1.7", 4, 5, 1, 1, "", -1, 0, 1.7f);
    test_softmax_case("ignore_label 2 (VALID)", 5, 4, 1, 1, "loss_param { ignore_label: 2 }",
                      2, 0, 1.0f);
    test_softmax_case("spatial 2x3, BATCH_SIZE", 2, 3, 2, 3,
                      "loss_param { normalization: BATCH_SIZE }", -1, 1, 0.5f);
}

int main(void)
{
    fd_init();
    test_softmax();
    TEST_DONE();
}
