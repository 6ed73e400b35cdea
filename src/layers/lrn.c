/* lrn.c - Local Response Normalization with Caffe's formulas
 * (lrn_layer.cpp): ACROSS_CHANNELS
 *   scale_c = k + alpha/size * sum_{c' in window(c)} x_c'^2,  y = x * scale^-beta
 * (window: size channels centred on c, clipped); WITHIN_CHANNEL, which Caffe
 * builds from square -> AVE pooling (size x size, pad (size-1)/2, stride 1,
 * divisor counting padding) -> power(shift 1, scale alpha, power -beta), so
 *   scale = 1 + alpha * avg_{window} x^2  (k is not used). */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/lrn.h"

static int lrn_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256];
    DLT_TRY(dlt__check_arity(l, msg, "LRN", 1, 1));
    const dlt_cfg *p = dlt_cfg_get(msg, "lrn_param");
    static const char *const regions[] = {"ACROSS_CHANNELS", "WITHIN_CHANNEL", NULL};
    static const char *const engines[] = {"DEFAULT", "CAFFE", "CUDNN", NULL};
    long size = 5;
    double alpha = 1, beta = 0.75, k = 1;
    int region = ACROSS, engine;
    if (p) {
        DLT_TRY(dlt_cfg_int(p, "local_size", 5, &size));
        DLT_TRY(dlt_cfg_float(p, "alpha", 1, &alpha));
        DLT_TRY(dlt_cfg_float(p, "beta", 0.75, &beta));
        DLT_TRY(dlt_cfg_float(p, "k", 1, &k));
        DLT_TRY(dlt_cfg_enum(p, "norm_region", regions, ACROSS, &region));
        DLT_TRY(dlt_cfg_enum(p, "engine", engines, 0, &engine));
    }
    if (size < 1 || size % 2 == 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': LRN local_size must be odd and positive, got %ld",
                 dlt_cfg_where(p ? dlt_cfg_get(p, "local_size") : msg, wb, sizeof wb), l->name, size);
    if (l->top[0] == l->bottom[0])
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': LRN cannot work in place",
                 dlt_cfg_where(msg, wb, sizeof wb), l->name);
    const dlt_tensor *x = l->bottom[0];
    /* Window bounds are formed as index + local_size in int. */
    char sbuf[320];
    dlt_size_ctx sc;
    int64_t edge;
    dlt__layer_size_ctx(l, p ? p : msg, sbuf, sizeof sbuf, &sc);
    DLT_TRY(dlt_size_add(&sc, "the largest axis plus local_size",
                         x->c > x->h ? (x->c > x->w ? x->c : x->w) : (x->h > x->w ? x->h : x->w),
                         size, DLT_DIM_MAX, &edge));
    lrn_state *s = dlt_calloc(1, sizeof *s);
    s->region = region, s->size = (int)size;
    s->alpha = (float)alpha, s->beta = (float)beta, s->k = (float)k;
    s->scale = dlt_malloc(x->count * sizeof(float) + 1);
    s->tmp = dlt_malloc((size_t)x->h * x->w * sizeof(float) + 1);
    l->state = s;
    DLT_TRY(dlt__top_shape(l, msg, 0, x->n, x->c, x->h, x->w));
    (void)ctx;
    return 0;
}

/* WITHIN: OUT = window average of IN (H x W plane) with Caffe's AVE pooling
 * divisor (window clipped to the padded extent, then to the image). When
 * ADJOINT, OUT gets the transpose (each output spreads IN/divisor back). */
static void window_avg(const lrn_state *s, int H, int W, const float *in, float *out, int adjoint)
{
    const int pad = (s->size - 1) / 2;
    if (adjoint)
        for (int i = 0; i < H * W; i++)
            out[i] = 0;
    for (int oh = 0; oh < H; oh++)
        for (int ow = 0; ow < W; ow++) {
            int h0 = oh - pad, w0 = ow - pad;
            int h1 = h0 + s->size < H + pad ? h0 + s->size : H + pad;
            int w1 = w0 + s->size < W + pad ? w0 + s->size : W + pad;
            const float div = (float)((h1 - h0) * (w1 - w0));
            h0 = h0 < 0 ? 0 : h0, w0 = w0 < 0 ? 0 : w0;
            h1 = h1 > H ? H : h1, w1 = w1 > W ? W : w1;
            if (!adjoint) {
                double acc = 0;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++)
                        acc += in[h * W + w];
                out[oh * W + ow] = (float)(acc / div);
            } else {
                const float v = in[oh * W + ow] / div;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++)
                        out[h * W + w] += v;
            }
        }
}

/* Positions per block of the across-channel loops: their sums live in a
 * local array, so the loops over a block vectorize and need no buffer. */
#define LRN_BLOCK 256

/* out = s^-beta. Caffe's default beta 0.75 (every LRN of nets/) as
 * 1 / (sqrt(s) * sqrt(sqrt(s))): IEEE square roots, products and quotients
 * round the same in the AVX and the scalar loop, so both give the same bits;
 * powf per element was 80% of the layer (GoogLeNet's conv2/norm2 forward 115
 * ms at b16, 1 thread). */
__attribute__((target("avx"))) static void pow_075_avx(const float *s, float *out, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 q = _mm256_sqrt_ps(_mm256_loadu_ps(s + i));
        _mm256_storeu_ps(out + i, _mm256_div_ps(_mm256_set1_ps(1.0f),
                                                _mm256_mul_ps(q, _mm256_sqrt_ps(q))));
    }
    for (; i < n; i++) {
        float q = sqrtf(s[i]);
        out[i] = 1.0f / (q * sqrtf(q));
    }
}

static void pow_neg_beta(const float *s, float beta, float *out, int n)
{
    if (beta == 0.75f && __builtin_cpu_supports("avx")) {
        pow_075_avx(s, out, n);
    } else if (beta == 0.75f) {
        for (int i = 0; i < n; i++) {
            float q = sqrtf(s[i]);
            out[i] = 1.0f / (q * sqrtf(q));
        }
    } else {
        for (int i = 0; i < n; i++)
            out[i] = powf(s[i], -beta);
    }
}

/* ACROSS_CHANNELS forward of one sample: scale and y, LRN_BLOCK positions
 * of a channel at a time (the window summed in channel order). */
static void across_forward(const lrn_state *s, int C, size_t P, const float *xn, float *sn,
                           float *yn)
{
    const int pre = (s->size - 1) / 2;
    const float a = s->alpha / s->size;
    float acc[LRN_BLOCK], pw[LRN_BLOCK];
    for (int c = 0; c < C; c++)
        for (size_t p0 = 0; p0 < P; p0 += LRN_BLOCK) {
            const int nb = P - p0 < LRN_BLOCK ? (int)(P - p0) : LRN_BLOCK;
            for (int k = 0; k < nb; k++)
                acc[k] = 0;
            for (int j = c - pre; j <= c + pre; j++) {
                if (j < 0 || j >= C)
                    continue;
                const float *xj = xn + (size_t)j * P + p0;
                for (int k = 0; k < nb; k++)
                    acc[k] += xj[k] * xj[k];
            }
            float *sc = sn + (size_t)c * P + p0;
            for (int k = 0; k < nb; k++)
                sc[k] = s->k + a * acc[k];
            pow_neg_beta(sc, s->beta, pw, nb);
            const float *xc = xn + (size_t)c * P + p0;
            float *yc = yn + (size_t)c * P + p0;
            for (int k = 0; k < nb; k++)
                yc[k] = xc[k] * pw[k];
        }
}

/* Samples on OpenMP threads when the layer is big enough to pay for waking
 * them (ACROSS only: WITHIN shares s->tmp); each sample's arithmetic is the
 * same on any thread. */
#define LRN_PARALLEL_MIN 65536

static void lrn_forward(dlt_layer *l)
{
    lrn_state *s = l->state;
    const dlt_tensor *x = l->bottom[0];
    const int C = x->c;
    const size_t P = (size_t)x->h * x->w;
    float *y = l->top[0]->data;
    if (s->region == ACROSS) {
        const int parallel = x->count >= LRN_PARALLEL_MIN;
        (void)parallel;
#pragma omp parallel for schedule(static) if (parallel)
        for (int n = 0; n < x->n; n++) {
            const size_t o = (size_t)n * C * P;
            across_forward(s, C, P, x->data + o, s->scale + o, y + o);
        }
        return;
    }
    for (int n = 0; n < x->n; n++) {
        const float *xn = x->data + (size_t)n * C * P;
        float *sn = s->scale + (size_t)n * C * P;
        for (int c = 0; c < C; c++) {
            const float *xp = xn + (size_t)c * P;
            for (size_t p = 0; p < P; p++)
                s->tmp[p] = xp[p] * xp[p];
            window_avg(s, x->h, x->w, s->tmp, sn + (size_t)c * P, 0);
            for (size_t p = 0; p < P; p++)
                sn[(size_t)c * P + p] = 1.0f + s->alpha * sn[(size_t)c * P + p];
        }
        float *yn = y + (size_t)n * C * P;
        for (size_t i = 0; i < (size_t)C * P; i += LRN_BLOCK) {
            const int nb = (size_t)C * P - i < LRN_BLOCK ? (int)((size_t)C * P - i) : LRN_BLOCK;
            float pw[LRN_BLOCK];
            pow_neg_beta(sn + i, s->beta, pw, nb);
            for (int k = 0; k < nb; k++)
                yn[i + k] = xn[i + k] * pw[k];
        }
    }
}

/* ACROSS_CHANNELS backward of one sample, LRN_BLOCK positions at a time. */
static void across_backward(const lrn_state *s, int C, size_t P, const float *xn,
                            const float *yn, const float *dyn, const float *sn, float *dxn)
{
    const int pre = (s->size - 1) / 2;
    const float f = 2.0f * s->alpha * s->beta / s->size;
    float acc[LRN_BLOCK], pw[LRN_BLOCK];
    for (int c = 0; c < C; c++)
        for (size_t p0 = 0; p0 < P; p0 += LRN_BLOCK) {
            const int nb = P - p0 < LRN_BLOCK ? (int)(P - p0) : LRN_BLOCK;
            for (int k = 0; k < nb; k++)
                acc[k] = 0;
            /* windows are symmetric: c in window(c') <=> c' in window(c) */
            for (int j = c - pre; j <= c + pre; j++) {
                if (j < 0 || j >= C)
                    continue;
                const size_t q = (size_t)j * P + p0;
                for (int k = 0; k < nb; k++)
                    acc[k] += dyn[q + k] * yn[q + k] / sn[q + k];
            }
            const size_t i = (size_t)c * P + p0;
            pow_neg_beta(sn + i, s->beta, pw, nb);
            for (int k = 0; k < nb; k++)
                dxn[i + k] = dyn[i + k] * pw[k] - f * xn[i + k] * acc[k];
        }
}

/* With t = dy * y / scale (elementwise):
 * ACROSS: dx_c = dy_c scale_c^-beta - 2 alpha beta / size * x_c * sum_{c': c in window(c')} t_c'
 * WITHIN: dx = dy scale^-beta - 2 alpha beta * x * avg^T(t). */
static void lrn_backward(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    lrn_state *s = l->state;
    const dlt_tensor *x = l->bottom[0];
    const int C = x->c;
    const size_t P = (size_t)x->h * x->w;
    const float *y = l->top[0]->data, *dy = l->top[0]->diff;
    float *dx = l->bottom[0]->diff;
    if (s->region == ACROSS) {
        const int parallel = x->count >= LRN_PARALLEL_MIN;
        (void)parallel;
#pragma omp parallel for schedule(static) if (parallel)
        for (int n = 0; n < x->n; n++) {
            const size_t o = (size_t)n * C * P;
            across_backward(s, C, P, x->data + o, y + o, dy + o, s->scale + o, dx + o);
        }
        return;
    }
    for (int n = 0; n < x->n; n++) {
        const size_t o = (size_t)n * C * P;
        const float *xn = x->data + o, *yn = y + o, *dyn = dy + o, *sn = s->scale + o;
        float *dxn = dx + o;
        const float f = 2.0f * s->alpha * s->beta;
        for (int c = 0; c < C; c++) {
            const size_t b = (size_t)c * P;
            for (size_t p = 0; p < P; p++)
                dxn[b + p] = dyn[b + p] * yn[b + p] / sn[b + p]; /* t, before the adjoint */
            window_avg(s, x->h, x->w, dxn + b, s->tmp, 1);
            for (size_t p = 0; p < P; p++) {
                float pw;
                pow_neg_beta(sn + b + p, s->beta, &pw, 1);
                dxn[b + p] = dyn[b + p] * pw - f * xn[b + p] * s->tmp[p];
            }
        }
    }
}

static void lrn_destroy(dlt_layer *l)
{
    lrn_state *s = l->state;
    if (s) {
        free(s->scale);
        free(s->tmp);
    }
    dlt__free_state(l);
}

const dlt_layer_ops dlt__lrn_ops = {
    .type = "LRN",
    .setup = lrn_setup,
    .forward = lrn_forward,
    .backward = lrn_backward,
    .destroy = lrn_destroy,
};
