/* test_lrn.c - LRN (ACROSS_CHANNELS, WITHIN_CHANNEL) against a direct loop
 * and finite differences, as Caffe defines it; bad sizes fail at setup. */
#include "fd_harness.h"

typedef struct lrn_arg {
    int within, size;
    double alpha, beta, k;
} lrn_arg;

static void ref_lrn(tcase *t, double *r, const void *arg)
{
    const lrn_arg *a = arg;
    const dlt_tensor *x = &t->bot[0];
    int pre = (a->size - 1) / 2;
    for (int n = 0; n < x->n; n++)
        for (int c = 0; c < x->c; c++)
            for (int h = 0; h < x->h; h++)
                for (int w = 0; w < x->w; w++) {
                    size_t i = (((size_t)n * x->c + c) * x->h + h) * x->w + w;
                    double acc = 0, scale;
                    if (!a->within) {
                        for (int j = c - pre; j <= c + pre; j++)
                            if (j >= 0 && j < x->c) {
                                double v = x->data[(((size_t)n * x->c + j) * x->h + h) * x->w + w];
                                acc += v * v;
                            }
                        scale = a->k + a->alpha / a->size * acc;
                    } else {
                        /* Caffe's AVE pooling: divisor = window clipped to the padded input. */
                        int h0 = h - pre, w0 = w - pre;
                        int h1 = fmin(h0 + a->size, x->h + pre), w1 = fmin(w0 + a->size, x->w + pre);
                        double div = (double)(h1 - h0) * (w1 - w0);
                        for (int hh = h0; hh < h1; hh++)
                            for (int ww = w0; ww < w1; ww++)
                                if (hh >= 0 && hh < x->h && ww >= 0 && ww < x->w) {
                                    double v = x->data[(((size_t)n * x->c + c) * x->h + hh) * x->w + ww];
                                    acc += v * v;
                                }
                        scale = 1 + a->alpha * acc / div;
                    }
                    r[i] = x->data[i] * pow(scale, -a->beta);
                }
}

static void test_lrn(void)
{
    const int s[1][4] = {{2, 7, 3, 4}}, e[4] = {2, 7, 3, 4};
    lrn_arg d = {0, 5, 1, 0.75, 1};
    layer_case("lrn ACROSS_CHANNELS defaults", "LRN", "", 1, s, 0, 0, e, ref_lrn, &d, 1e-5, 1, NULL);
    lrn_arg ax = {0, 3, 2.0, 0.6, 2.5};
    layer_case("lrn ACROSS size 3 alpha 2 beta 0.6 k 2.5", "LRN",
               "lrn_param { local_size: 3 alpha: 2 beta: 0.6 k: 2.5 norm_region: ACROSS_CHANNELS }",
               1, s, 0, 0, e, ref_lrn, &ax, 1e-5, 1, NULL);
    lrn_arg wi = {1, 3, 1.5, 0.75, 1};
    const int sw[1][4] = {{2, 2, 5, 6}}, ew[4] = {2, 2, 5, 6};
    layer_case("lrn WITHIN_CHANNEL size 3 alpha 1.5", "LRN",
               "lrn_param { local_size: 3 alpha: 1.5 norm_region: WITHIN_CHANNEL }", 1, sw, 0, 0,
               ew, ref_lrn, &wi, 1e-5, 1, NULL);
    lrn_arg wi5 = {1, 5, 0.5, 1.2, 1};
    layer_case("lrn WITHIN_CHANNEL size 5 beta 1.2 (k ignored, as Caffe)", "LRN",
               "lrn_param { local_size: 5 alpha: 0.5 beta: 1.2 k: 7 norm_region: WITHIN_CHANNEL }",
               1, sw, 0, 0, ew, ref_lrn, &wi5, 1e-5, 1, NULL);
    /* 17x17 planes: a full block of 256 positions and a partial one, beta
     * 0.75's square-root path in both (vector and scalar tail). */
    const int sb[1][4] = {{2, 6, 17, 17}}, eb[4] = {2, 6, 17, 17};
    lrn_arg big = {0, 5, 2.0, 0.75, 1};
    layer_case("lrn ACROSS 2x6x17x17 alpha 2 (blocks of 256 positions)", "LRN",
               "lrn_param { local_size: 5 alpha: 2 beta: 0.75 }", 1, sb, 0, 0, eb, ref_lrn, &big,
               1e-5, 1, NULL);
}

/* A shape that does not fit fails at setup naming the layer and the shapes. */
static void test_lrn_bad_shape(void)
{
    tcase t;
    int st;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 2, 3, 4, 4);
    st = make(&t, "LRN", "lrn_param { local_size: 4 }", 1, 1, 0, NULL);
    TEST_OK(st == DLT_ERR_PARSE, "lrn with an even local_size is a setup error (status %d)", st);
    destroy(&t);
}

int main(void)
{
    fd_init();
    test_lrn();
    test_lrn_bad_shape();
    TEST_DONE();
}
