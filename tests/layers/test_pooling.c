/* test_pooling.c - Pooling (MAX, AVE; Caffe's rounding up and padding) against
 * a direct loop and finite differences. */
#include "fd_harness.h"

static void ref_pool(const dlt_tensor *x, int ave, int kh, int kw, int sh, int sw, int ph,
                     int pw, int Ho, int Wo, double *y)
{
    for (int pl = 0; pl < x->n * x->c; pl++)
        for (int oh = 0; oh < Ho; oh++)
            for (int ow = 0; ow < Wo; ow++) {
                double m = -INFINITY, sum = 0;
                int inside_pad = 0; /* window cells within the padded image */
                int inside = 0;     /* window cells within the image */
                for (int i = 0; i < kh; i++)
                    for (int j = 0; j < kw; j++) {
                        int ih = oh * sh - ph + i, iw = ow * sw - pw + j;
                        if (ih < x->h + ph && iw < x->w + pw)
                            inside_pad++;
                        if (ih < 0 || ih >= x->h || iw < 0 || iw >= x->w)
                            continue;
                        double v = x->data[((size_t)pl * x->h + ih) * x->w + iw];
                        m = v > m ? v : m;
                        sum += v;
                        inside++;
                    }
                /* A window wholly past the image (no padding, stride >
                 * kernel; Caffe keeps it) reads nothing: 0. */
                y[((size_t)pl * Ho + oh) * Wo + ow] = !inside ? 0 : ave ? sum / inside_pad : m;
            }
}

static void test_pool_case(const char *what, int N, int C, int H, int W, const char *text,
                           int ave, int kh, int kw, int s, int p, int eho, int ewo)
{
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], N, C, H, W);
    fill_distinct(t.bot[0].data, t.bot[0].count);
    int st = make(&t, "Pooling", text, 1, 1, 0, NULL);
    const dlt_tensor *y = &t.top[0];
    ASSERT_EQ(st == 0 && y->n == N && y->c == C ? y->h * 1000 + y->w : -1, eho * 1000 + ewo,
              "pool %s: output %dx%d -> %dx%d (Caffe rounds up)", what, H, W, y->h, y->w);
    if (st || y->h != eho || y->w != ewo) {
        destroy(&t);
        return;
    }
    t.l.ops->forward(&t.l);
    double *ref = dlt_malloc(y->count * sizeof(double));
    ref_pool(&t.bot[0], ave, kh, kw, s, s, p, p, eho, ewo, ref);
    double e = max_rel_err_f(y->data, ref, y->count);
    free(ref);
    TEST_OK(e <= 1e-6, "pool %s: forward matches the direct loop (max rel err %.2g)", what, e);
    grad_test(&t, 1, 1e-2, what);
    destroy(&t);
}

/* The gradient a MAX window sends back goes to its first maximum in
 * row-major order (Caffe); AVE spreads it over the padded area. */
static void ref_pool_backward(const dlt_tensor *x, int ave, int k, int s, int p, int Ho, int Wo,
                              const float *dy, double *dx)
{
    memset(dx, 0, x->count * sizeof(double));
    for (int pl = 0; pl < x->n * x->c; pl++)
        for (int oh = 0; oh < Ho; oh++)
            for (int ow = 0; ow < Wo; ow++) {
                const float *xp = x->data + (size_t)pl * x->h * x->w;
                double g = dy[((size_t)pl * Ho + oh) * Wo + ow];
                int h0 = oh * s - p, w0 = ow * s - p, best = -1, area = 0;
                for (int i = h0; i < h0 + k; i++)
                    for (int j = w0; j < w0 + k; j++)
                        area += i < x->h + p && j < x->w + p;
                for (int i = h0 < 0 ? 0 : h0; i < h0 + k && i < x->h; i++)
                    for (int j = w0 < 0 ? 0 : w0; j < w0 + k && j < x->w; j++) {
                        int q = i * x->w + j;
                        if (ave)
                            dx[(size_t)pl * x->h * x->w + q] += g / area;
                        else if (best < 0 || xp[q] > xp[best])
                            best = q;
                    }
                if (!ave)
                    dx[(size_t)pl * x->h * x->w + best] += g;
            }
}

/* N x C x H x W planes of values from {0, 1, 2, 3}, so most windows have
 * tied maxima; kernel K, stride S, pad P: forward and backward against the
 * direct loops. Wide planes take the vector path's full and masked blocks
 * of eight columns. */
static void test_pool_wide(const char *what, int N, int C, int H, int W, int k, int s, int ave,
                           int p, int Ho, int Wo, const char *text)
{
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], N, C, H, W);
    for (size_t i = 0; i < t.bot[0].count; i++)
        t.bot[0].data[i] = (float)(dlt_rng_next(&rng) % 4);
    int st = make(&t, "Pooling", text, 1, 1, 0, NULL);
    const dlt_tensor *y = &t.top[0];
    ASSERT_EQ(st == 0 ? y->h * 1000 + y->w : -1, Ho * 1000 + Wo, "pool %s: output %dx%d",
              what, Ho, Wo);
    if (st || y->h != Ho || y->w != Wo) {
        destroy(&t);
        return;
    }
    t.l.ops->forward(&t.l);
    double *ref = dlt_malloc(t.bot[0].count * sizeof(double));
    ref_pool(&t.bot[0], ave, k, k, s, s, p, p, Ho, Wo, ref);
    double e = max_rel_err_f(y->data, ref, y->count);
    TEST_OK(e <= 1e-6, "pool %s: forward matches the direct loop (max rel err %.2g)", what, e);
    fill_uniform(t.top[0].diff, y->count, -1, 1);
    t.l.propagate_down[0] = 1;
    t.l.ops->backward(&t.l);
    ref_pool_backward(&t.bot[0], ave, k, s, p, Ho, Wo, t.top[0].diff, ref);
    e = max_rel_err_f(t.bot[0].diff, ref, t.bot[0].count);
    TEST_OK(e <= 1e-5, "pool %s: backward matches the direct loop%s (max rel err %.2g)", what,
            ave ? "" : ", ties to the first maximum", e);
    free(ref);
    destroy(&t);
}

/* cifar10_quick's pool1 shape: big enough for the threaded path. */
static void test_pool_big(const char *what, int ave, int p, int Ho, const char *text)
{
    test_pool_wide(what, 4, 16, 32, 32, 3, 2, ave, p, Ho, Ho, text);
}

static void test_pool(void)
{
    test_pool_case("MAX k2 s2 (5x5)", 2, 3, 5, 5, "pooling_param { pool: MAX kernel_size: 2 "
                   "stride: 2 }", 0, 2, 2, 2, 0, 3, 3);
    test_pool_case("MAX k3 s2 p1", 2, 2, 6, 7, "pooling_param { pool: MAX kernel_size: 3 "
                   "stride: 2 pad: 1 }", 0, 3, 3, 2, 1, 4, 4);
    test_pool_case("MAX k2 s2 p1 (last window dropped)", 1, 2, 5, 5, "pooling_param { "
                   "kernel_size: 2 stride: 2 pad: 1 }", 0, 2, 2, 2, 1, 3, 3);
    test_pool_case("AVE k3 s2 p1", 2, 2, 6, 7, "pooling_param { pool: AVE kernel_size: 3 "
                   "stride: 2 pad: 1 }", 1, 3, 3, 2, 1, 4, 4);
    test_pool_case("AVE global", 2, 3, 4, 5, "pooling_param { pool: AVE global_pooling: true }",
                   1, 4, 5, 1, 0, 1, 1);
    /* Stride > kernel (valid in Caffe): without padding the last window
     * can start at the image's edge (kernel 1 stride 2 on an even size;
     * kernel 2 stride 3 on 6) and read nothing; with padding Caffe drops
     * a last window that starts in the padding. Sizes as Caffe's
     * ceil((H + 2p - k) / s) + 1. */
    test_pool_case("MAX k1 s2 (6x5, last row past the image)", 2, 3, 6, 5, "pooling_param { "
                   "pool: MAX kernel_size: 1 stride: 2 }", 0, 1, 1, 2, 0, 4, 3);
    test_pool_case("AVE k1 s2 (6x5, last row past the image)", 2, 3, 6, 5, "pooling_param { "
                   "pool: AVE kernel_size: 1 stride: 2 }", 1, 1, 1, 2, 0, 4, 3);
    test_pool_case("MAX k2 s3 (6x7)", 2, 2, 6, 7, "pooling_param { pool: MAX kernel_size: 2 "
                   "stride: 3 }", 0, 2, 2, 3, 0, 3, 3);
    test_pool_case("AVE k2 s3 (6x7)", 2, 2, 6, 7, "pooling_param { pool: AVE kernel_size: 2 "
                   "stride: 3 }", 1, 2, 2, 3, 0, 3, 3);
    test_pool_case("MAX k2 s3 p1 (6x7)", 1, 2, 6, 7, "pooling_param { pool: MAX kernel_size: 2 "
                   "stride: 3 pad: 1 }", 0, 2, 2, 3, 1, 3, 3);
    test_pool_case("MAX k1 s2 (64x64 planes, the row-blocked path)", 1, 2, 64, 64,
                   "pooling_param { pool: MAX kernel_size: 1 stride: 2 }", 0, 1, 1, 2, 0, 33, 33);
    /* Caffe rounds up: 16 windows without padding (the last overhangs), 17 with pad 1. */
    test_pool_big("MAX k3 s2 4x16x32x32", 0, 0, 16,
                  "pooling_param { pool: MAX kernel_size: 3 stride: 2 }");
    test_pool_big("MAX k3 s2 p1 4x16x32x32", 0, 1, 17,
                  "pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }");
    test_pool_big("AVE k3 s2 p1 4x16x32x32", 1, 1, 17,
                  "pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 }");
    /* Stride 1 (one load per eight columns), 3 (gathers) and 2 on widths
     * whose last block is partial (masked gathers and stores). */
    test_pool_wide("MAX k3 s1 2x3x9x45", 2, 3, 9, 45, 3, 1, 0, 0, 7, 43,
                   "pooling_param { pool: MAX kernel_size: 3 stride: 1 }");
    test_pool_wide("MAX k3 s3 p1 2x3x20x70", 2, 3, 20, 70, 3, 3, 0, 1, 7, 24,
                   "pooling_param { pool: MAX kernel_size: 3 stride: 3 pad: 1 }");
    test_pool_wide("MAX k3 s2 2x3x13x83", 2, 3, 13, 83, 3, 2, 0, 0, 6, 41,
                   "pooling_param { pool: MAX kernel_size: 3 stride: 2 }");
    /* 2x2 stride 2: blocks of eight outputs and a scalar tail, odd sizes */
    test_pool_wide("MAX k2 s2 2x3x24x24 (LeNet's pool1)", 2, 3, 24, 24, 2, 2, 0, 0, 12, 12,
                   "pooling_param { pool: MAX kernel_size: 2 stride: 2 }");
    test_pool_wide("MAX k2 s2 2x3x9x37", 2, 3, 9, 37, 2, 2, 0, 0, 5, 19,
                   "pooling_param { pool: MAX kernel_size: 2 stride: 2 }");
}

int main(void)
{
    fd_init();
    test_pool();
    TEST_DONE();
}
