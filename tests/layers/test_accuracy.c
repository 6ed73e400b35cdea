/* test_accuracy.c - Accuracy (top_k) against a direct count. */
#include "fd_harness.h"

static void test_accuracy(void)
{
    for (int k = 1; k <= 2; k++) {
        const int N = 50, C = 6;
        tcase t;
        memset(&t, 0, sizeof t);
        dlt_tensor_reshape(&t.bot[0], N, C, 1, 1);
        dlt_tensor_reshape(&t.bot[1], N, 1, 1, 1);
        fill_distinct(t.bot[0].data, t.bot[0].count);
        for (int n = 0; n < N; n++)
            t.bot[1].data[n] = (float)dlt_rng_below(&rng, C);
        char text[64];
        snprintf(text, sizeof text, "accuracy_param { top_k: %d }", k);
        int st = make(&t, "Accuracy", text, 2, 1, 0, NULL);
        int correct = 0;
        for (int n = 0; n < N; n++) {
            /* rank of the true class by sorting-free count of larger scores */
            int lab = (int)t.bot[1].data[n], rank = 0;
            for (int c = 0; c < C; c++)
                rank += t.bot[0].data[n * C + c] > t.bot[0].data[n * C + lab];
            correct += rank < k;
        }
        if (st == 0)
            t.l.ops->forward(&t.l);
        ASSERT_NEAR(st == 0 ? t.top[0].data[0] : -1, (double)correct / N, 1e-6,
                    "accuracy top_k %d: %d of %d correct", k, correct, N);
        destroy(&t);
    }

    /* Ties count against the prediction (Caffe); ignore_label drops a sample. */
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 4, 3, 1, 1);
    dlt_tensor_reshape(&t.bot[1], 4, 1, 1, 1);
    const float s[12] = {1, 1, 0,  /* tie with label 0: wrong at top 1 */
                         0, 2, 1,  /* label 1: right */
                         3, 2, 1,  /* label 2: wrong */
                         5, 5, 5}; /* label 9: ignored */
    const float lab[4] = {0, 1, 2, 9};
    memcpy(t.bot[0].data, s, sizeof s);
    memcpy(t.bot[1].data, lab, sizeof lab);
    int st = make(&t, "Accuracy", "accuracy_param { ignore_label: 9 }", 2, 1, 0, NULL);
    if (st == 0)
        t.l.ops->forward(&t.l);
    ASSERT_NEAR(st == 0 ? t.top[0].data[0] : -1, 1.0 / 3, 1e-6,
                "accuracy: ties count as wrong, ignored label skipped (1 of 3)");
    destroy(&t);

    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 4, 3, 1, 1);
    dlt_tensor_reshape(&t.bot[1], 3, 1, 1, 1);
    st = make(&t, "Accuracy", "", 2, 1, 0, NULL);
    ASSERT_EQ(st, DLT_ERR_PARSE, "accuracy: 3 labels for 4 predictions is an error");
    destroy(&t);

    /* Word scores (T,N,V,1) over axis 2, the padding id ignored: a direct
     * count per (t, n). */
    enum { T = 4, N = 3, V = 5 };
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], T, N, V, 1);
    dlt_tensor_reshape(&t.bot[1], T, N, 1, 1);
    fill_distinct(t.bot[0].data, t.bot[0].count);
    int correct = 0, kept = 0;
    for (int i = 0; i < T * N; i++) {
        t.bot[1].data[i] = i % 4 == 3 ? 0.0f : (float)(1 + dlt_rng_below(&rng, V - 1));
        if (i % 2) /* half the words predicted right by construction */
            t.bot[1].data[i] = 1.0f, t.bot[0].data[i * V + 1] = 100.0f;
        int l = (int)t.bot[1].data[i], better = 0;
        if (l == 0)
            continue;
        kept++;
        for (int c = 0; c < V; c++)
            better += t.bot[0].data[i * V + c] > t.bot[0].data[i * V + l];
        correct += better == 0;
    }
    st = make(&t, "Accuracy", "accuracy_param { axis: 2 ignore_label: 0 }", 2, 1, 0, NULL);
    if (st == 0)
        t.l.ops->forward(&t.l);
    ASSERT_NEAR(st == 0 ? t.top[0].data[0] : -1, (double)correct / kept, 1e-6,
                "accuracy axis 2: %d of %d unpadded words correct", correct, kept);
    destroy(&t);
}

int main(void)
{
    fd_init();
    test_accuracy();
    TEST_DONE();
}
