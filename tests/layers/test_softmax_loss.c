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

/* Word scores (T,N,V,1) with softmax_param axis 2 and per-word labels
 * (T,N): padding (the <pad> id) ignored; VALID divides by the words kept,
 * BATCH_SIZE by T*N (Caffe's outer_num_), NONE by 1. */
static void test_axis2_case(const char *what, const char *norm, int mode)
{
    enum { T = 4, N = 3, V = 5, PAD = 0 };
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], T, N, V, 1);
    dlt_tensor_reshape(&t.bot[1], T, N, 1, 1);
    fill_uniform(t.bot[0].data, t.bot[0].count, -3, 3);
    for (int i = 0; i < T * N; i++) /* the last two steps of stream 1 are padding */
        t.bot[1].data[i] = (i == 2 * N + 1 || i == 3 * N + 1) ? PAD
                                                             : (float)(1 + dlt_rng_below(&rng, V - 1));
    char text[256];
    snprintf(text, sizeof text, "softmax_param { axis: 2 } loss_param { ignore_label: 0 %s }",
             norm);
    int st = make(&t, "SoftmaxWithLoss", text, 2, 2, 0, NULL);
    double ref = 0, e = INFINITY;
    int valid = 0;
    if (st == 0) {
        t.l.ops->forward(&t.l);
        double pe = 0;
        for (int i = 0; i < T * N; i++) {
            const float *x = t.bot[0].data + (size_t)i * V;
            double z = 0;
            for (int c = 0; c < V; c++)
                z += exp((double)x[c]);
            for (int c = 0; c < V; c++)
                pe = fmax(pe, fabs(t.top[1].data[(size_t)i * V + c] - exp((double)x[c]) / z));
            int lab = (int)t.bot[1].data[i];
            if (lab == PAD)
                continue;
            ref -= x[lab] - log(z);
            valid++;
        }
        ref /= mode == 0 ? valid : mode == 1 ? T * N : 1;
        e = fmax(pe, fabs(t.top[0].data[0] - ref) / fmax(1, fabs(ref)));
    }
    TEST_OK(st == 0 && valid == T * N - 2 && e <= 1e-5, "softmax loss axis 2 %s: loss %.6f vs "
            "reference %.6f, probabilities per word (status %d, err %.2g)", what,
            st == 0 ? t.top[0].data[0] : NAN, ref, st, e);
    if (st == 0) {
        t.nt = 1; /* the probabilities top has no gradient (Caffe) */
        grad_test(&t, 1, 1e-2, what);
        int zero = 1;
        for (int c = 0; c < V; c++)
            zero &= t.bot[0].diff[(size_t)(2 * N + 1) * V + c] == 0.0f;
        TEST_OK(zero, "softmax loss axis 2 %s: padded words get no gradient", what);
    }
    destroy(&t);
}

int main(void)
{
    fd_init();
    test_softmax();
    test_axis2_case("VALID", "", 0);
    test_axis2_case("BATCH_SIZE", "normalization: BATCH_SIZE", 1);
    test_axis2_case("NONE", "normalization: NONE", 2);
    TEST_DONE();
}
