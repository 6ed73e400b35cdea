/* pooling.c - Pooling (MAX, AVE) with Caffe's output size, which rounds up
 * (pooling_layer.cpp), so LeNet/AlexNet shapes match Caffe's. */
#include <float.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/pooling.h"

typedef struct pool_state {
    pool_config cfg;
    int *mask;         /* (N, C, Ho, Wo) MAX: index h*W+w of the argmax in its plane */
    size_t mask_count;
} pool_state;

/* Caffe: ceil((in + 2p - k) / s) + 1 (or floor with round_mode FLOOR); with
 * padding, drop the last window if it would start in the bottom padding. */
static int pooled_size(int in, int k, int s, int p, int any_pad, int ceil_mode)
{
    int64_t e = (int64_t)in + 2 * (int64_t)p - k; /* >= 0 and < 2^31: checked in setup */
    int out = (int)((ceil_mode ? (e + s - 1) / s : e / s) + 1);
    if (any_pad && (int64_t)(out - 1) * s >= (int64_t)in + p)
        out--;
    return out;
}

static int pool_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256];
    const char *name = l->name;
    if (l->nbottom != 1 || l->ntop != 1)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Pooling takes 1 bottom and 1 top "
                 "(got %d and %d)", dlt_cfg_where(msg, wb, sizeof wb), name, l->nbottom, l->ntop);
    const dlt_cfg *p = dlt_cfg_get(msg, "pooling_param");
    const dlt_cfg *where = p ? p : msg;
    const dlt_tensor *x = l->bottom[0];
    pool_config cfg = {0};
    static const char *const methods[] = {"MAX", "AVE", "STOCHASTIC", NULL};
    static const char *const rounds[] = {"CEIL", "FLOOR", NULL};
    static const char *const engines[] = {"DEFAULT", "CAFFE", "CUDNN", NULL};
    int global = 0, round = 0, engine = 0;
    cfg.method = POOL_MAX;
    if (p) {
        DLT_TRY(dlt_cfg_enum(p, "pool", methods, POOL_MAX, &cfg.method));
        DLT_TRY(dlt_cfg_bool(p, "global_pooling", 0, &global));
        DLT_TRY(dlt_cfg_enum(p, "round_mode", rounds, 0, &round));
        DLT_TRY(dlt_cfg_enum(p, "engine", engines, 0, &engine)); /* the backend chooses */
    }
    if (cfg.method == POOL_STOCHASTIC)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': pool: STOCHASTIC is not supported yet "
                 "(use MAX or AVE)", dlt_cfg_where(dlt_cfg_get(p, "pool"), wb, sizeof wb), name);
    DLT_TRY(dlt__cfg_hw(p, name, "kernel_size", "kernel", 0, 1, &cfg.kh, &cfg.kw));
    DLT_TRY(dlt__cfg_hw(p, name, "stride", "stride", 1, 1, &cfg.sh, &cfg.sw));
    DLT_TRY(dlt__cfg_hw(p, name, "pad", "pad", 0, 0, &cfg.ph, &cfg.pw));
    if (global) {
        if (p && (dlt_cfg_get(p, "kernel_size") || dlt_cfg_get(p, "kernel_h")))
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': global_pooling takes the whole input; "
                     "remove kernel_size", dlt_cfg_where(p, wb, sizeof wb), name);
        if (cfg.ph || cfg.pw || cfg.sh != 1 || cfg.sw != 1)
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': global_pooling needs pad 0 and stride 1",
                     dlt_cfg_where(p, wb, sizeof wb), name);
        cfg.kh = x->h, cfg.kw = x->w;
    }
    if (cfg.kh == 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': pooling_param needs kernel_size (or "
                 "kernel_h and kernel_w, or global_pooling: true)",
                 dlt_cfg_where(where, wb, sizeof wb), name);
    if (cfg.ph >= cfg.kh || cfg.pw >= cfg.kw)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': pad (%d, %d) must be smaller than the "
                 "kernel (%d, %d)", dlt_cfg_where(where, wb, sizeof wb), name, cfg.ph, cfg.pw,
                 cfg.kh, cfg.kw);
    char sb[320];
    dlt_size_ctx sc;
    dlt__layer_size_ctx(l, where, sb, sizeof sb, &sc);
    int64_t ph2, pw2;
    DLT_TRY(dlt_size_add(&sc, "padded input height (H + 2 x pad_h)", x->h, 2 * (int64_t)cfg.ph,
                         DLT_DIM_MAX, &ph2));
    DLT_TRY(dlt_size_add(&sc, "padded input width (W + 2 x pad_w)", x->w, 2 * (int64_t)cfg.pw,
                         DLT_DIM_MAX, &pw2));
    if (ph2 < cfg.kh || pw2 < cfg.kw)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': kernel %dx%d is larger than the padded "
                 "input %dx%d", dlt_cfg_where(where, wb, sizeof wb), name, cfg.kh, cfg.kw,
                 (int)ph2, (int)pw2);
    /* Window bounds (start + kernel, row x stride) and an AVE window's
     * area are formed in int by the loops. */
    int64_t edge, area;
    DLT_TRY(dlt_size_add(&sc, "padded input plus kernel or stride (height)", ph2,
                         cfg.kh > cfg.sh ? cfg.kh : cfg.sh, DLT_DIM_MAX, &edge));
    DLT_TRY(dlt_size_add(&sc, "padded input plus kernel or stride (width)", pw2,
                         cfg.kw > cfg.sw ? cfg.kw : cfg.sw, DLT_DIM_MAX, &edge));
    DLT_TRY(dlt_size_mul(&sc, "window area", cfg.kh < ph2 ? cfg.kh : ph2,
                         cfg.kw < pw2 ? cfg.kw : pw2, DLT_DIM_MAX, &area));
    cfg.c = x->c, cfg.h = x->h, cfg.w = x->w;
    int any_pad = cfg.ph || cfg.pw;
    cfg.ho = pooled_size(x->h, cfg.kh, cfg.sh, cfg.ph, any_pad, round == 0);
    cfg.wo = pooled_size(x->w, cfg.kw, cfg.sw, cfg.pw, any_pad, round == 0);
    DLT_TRY(dlt__top_shape(l, msg, 0, x->n, cfg.c, cfg.ho, cfg.wo));

    pool_state *s = dlt_calloc(1, sizeof *s);
    s->cfg = cfg;
    l->state = s;
    if (cfg.method == POOL_MAX) {
        s->mask_count = l->top[0]->count;
        s->mask = dlt_malloc(s->mask_count * sizeof(int) + 1);
    }
    (void)ctx;
    return 0;
}

/* MAX 2x2 stride 2 without padding (LeNet, VGG): the full windows of a
 * plane as a compare tree; returns how many output columns it did. */
static int max_2x2(const pool_config *c, const float *xp, int oh, float *yp, int *mp)
{
    int full = c->w / 2 < c->wo ? c->w / 2 : c->wo;
    if (2 * oh + 1 >= c->h)
        return 0;
    const float *r0 = xp + (size_t)2 * oh * c->w, *r1 = r0 + c->w;
    int base = 2 * oh * c->w;
    for (int ow = 0; ow < full; ow++) {
        float a = r0[2 * ow], b = r0[2 * ow + 1], d = r1[2 * ow], e = r1[2 * ow + 1];
        /* Ties keep the earlier element in row-major order, as the scan does. */
        int g0 = b > a, g1 = e > d;  /* arithmetic selects: no branches to mispredict */
        float m0 = g0 ? b : a, m1 = g1 ? e : d;
        int i0 = base + 2 * ow + g0, i1 = base + c->w + 2 * ow + g1;
        int g = m1 > m0;
        yp[oh * c->wo + ow] = g ? m1 : m0;
        mp[oh * c->wo + ow] = i0 + g * (i1 - i0);
    }
    return full;
}

#if defined(__x86_64__) || defined(__i386__)
/* max_2x2 eight outputs at a time on AVX2: the even and odd columns of two
 * rows split by permutes, then the same three compares (strictly greater,
 * so ties and NaNs keep the earlier element) and the same indices; the
 * loads stay inside the windows' two rows. */
__attribute__((target("avx2"))) static int max_2x2_avx2(const pool_config *c, const float *xp, int oh,
                                                        float *yp, int *mp)
{
    const int full = c->w / 2 < c->wo ? c->w / 2 : c->wo;
    if (2 * oh + 1 >= c->h)
        return 0;
    const float *r0 = xp + (size_t)2 * oh * c->w, *r1 = r0 + c->w;
    const int base = 2 * oh * c->w;
    const __m256i split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    const __m256i two_lane = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    float *y = yp + (size_t)oh * c->wo;
    int *m = mp + (size_t)oh * c->wo;
    int ow = 0;
    for (; ow + 8 <= full; ow += 8) {
        const __m256 p0 = _mm256_permutevar8x32_ps(_mm256_loadu_ps(r0 + 2 * ow), split);
        const __m256 p1 = _mm256_permutevar8x32_ps(_mm256_loadu_ps(r0 + 2 * ow + 8), split);
        const __m256 q0 = _mm256_permutevar8x32_ps(_mm256_loadu_ps(r1 + 2 * ow), split);
        const __m256 q1 = _mm256_permutevar8x32_ps(_mm256_loadu_ps(r1 + 2 * ow + 8), split);
        const __m256 a = _mm256_permute2f128_ps(p0, p1, 0x20), b = _mm256_permute2f128_ps(p0, p1, 0x31);
        const __m256 d = _mm256_permute2f128_ps(q0, q1, 0x20), e = _mm256_permute2f128_ps(q0, q1, 0x31);
        const __m256 g0 = _mm256_cmp_ps(b, a, _CMP_GT_OQ), g1 = _mm256_cmp_ps(e, d, _CMP_GT_OQ);
        const __m256 m0 = _mm256_blendv_ps(a, b, g0), m1 = _mm256_blendv_ps(d, e, g1);
        const __m256 g = _mm256_cmp_ps(m1, m0, _CMP_GT_OQ);
        /* a true compare is -1 as an integer: subtracting it adds one */
        const __m256i i0 = _mm256_sub_epi32(_mm256_add_epi32(_mm256_set1_epi32(base + 2 * ow), two_lane),
                                            _mm256_castps_si256(g0));
        const __m256i i1 = _mm256_sub_epi32(
            _mm256_add_epi32(_mm256_set1_epi32(base + c->w + 2 * ow), two_lane), _mm256_castps_si256(g1));
        _mm256_storeu_ps(y + ow, _mm256_blendv_ps(m0, m1, g));
        _mm256_storeu_si256((__m256i *)(m + ow),
                            _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(i0),
                                                                 _mm256_castsi256_ps(i1), g)));
    }
    for (; ow < full; ow++) {
        float a = r0[2 * ow], b = r0[2 * ow + 1], d = r1[2 * ow], e = r1[2 * ow + 1];
        int g0 = b > a, g1 = e > d;
        float m0 = g0 ? b : a, m1 = g1 ? e : d;
        int i0 = base + 2 * ow + g0, i1 = base + c->w + 2 * ow + g1;
        int g = m1 > m0;
        y[ow] = g ? m1 : m0;
        m[ow] = i0 + g * (i1 - i0);
    }
    return full;
}
#endif

/* MAX over one output row's windows (input rows hs..he) for the columns
 * ow in [owa, owb), whose windows lie inside the plane horizontally: four
 * columns at a time, each its own chain of branch-free selects, so the
 * compares of different columns overlap (cifar10_quick's pool1 alone:
 * 4.6 ms against 7.0 for one chain per output; a loop over the columns per
 * window element took 12-24 ms: the compiler's vector loads of the running
 * maxima stall on the scalar stores before them). Returns owb.
 * The first maximum in row-major window order wins, as in Caffe. */
static int max_row_inner(const pool_config *c, const float *xp, int hs, int he, int owa,
                         int owb, float *yrow, int *mrow)
{
    const int s = c->sw;
    int ow = owa;
    for (; ow + 4 <= owb; ow += 4) {
        const int w0 = ow * s - c->pw;
        int i0 = hs * c->w + w0, i1 = i0 + s, i2 = i1 + s, i3 = i2 + s;
        float m0 = xp[i0], m1 = xp[i1], m2 = xp[i2], m3 = xp[i3];
        for (int i = hs; i < he; i++)
            for (int j = 0; j < c->kw; j++) {
                const int q = i * c->w + w0 + j;
                float v0 = xp[q], v1 = xp[q + s], v2 = xp[q + 2 * s], v3 = xp[q + 3 * s];
                int g0 = v0 > m0, g1 = v1 > m1, g2 = v2 > m2, g3 = v3 > m3;
                m0 = g0 ? v0 : m0, i0 = g0 ? q : i0;
                m1 = g1 ? v1 : m1, i1 = g1 ? q + s : i1;
                m2 = g2 ? v2 : m2, i2 = g2 ? q + 2 * s : i2;
                m3 = g3 ? v3 : m3, i3 = g3 ? q + 3 * s : i3;
            }
        yrow[ow] = m0, yrow[ow + 1] = m1, yrow[ow + 2] = m2, yrow[ow + 3] = m3;
        mrow[ow] = i0, mrow[ow + 1] = i1, mrow[ow + 2] = i2, mrow[ow + 3] = i3;
    }
    for (; ow < owb; ow++) {
        const int w0 = ow * s - c->pw;
        int idx = hs * c->w + w0;
        float m = xp[idx];
        for (int i = hs; i < he; i++)
            for (int j = 0; j < c->kw; j++) {
                const int q = i * c->w + w0 + j;
                int g = xp[q] > m;
                m = g ? xp[q] : m, idx = g ? q : idx;
            }
        yrow[ow] = m, mrow[ow] = idx;
    }
    return ow;
}

/* MAX over one output row's windows on AVX2, eight output columns per
 * compare: the same windows, order and ties as max_row_inner. A window
 * element of eight columns is one load at stride 1, two loads and a
 * shuffle at stride 2, a gather otherwise and for the last (masked)
 * columns, so nothing outside the windows is read. cifar10_quick's pool1
 * (3x3 stride 2 on 32x32, b100, 1 thread, CPU time): see bench/README. */
/* One window element of eight output columns starting at XP[Q] (stride
 * S): N of them live (the rest read nothing and are not stored). */
__attribute__((target("avx2"))) static inline __m256 cols8(const float *xp, int q, int s, int n,
                                                          __m256i step, __m256i live)
{
    if (n == 8 && s == 1)
        return _mm256_loadu_ps(xp + q);
    if (n == 8 && s == 2) { /* elements 0..14: [0..7] and [7..14], the even ones */
        const __m256i lo = _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0);
        const __m256i hi = _mm256_setr_epi32(0, 0, 0, 0, 1, 3, 5, 7);
        return _mm256_blend_ps(_mm256_permutevar8x32_ps(_mm256_loadu_ps(xp + q), lo),
                               _mm256_permutevar8x32_ps(_mm256_loadu_ps(xp + q + 7), hi), 0xF0);
    }
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), xp + q, step, _mm256_castsi256_ps(live),
                                    4);
}

/* The running maximum M and its index ID take V (indices QI) where V > M. */
#define MAX_SELECT(m, id, v, qi)                                                          \
    do {                                                                                  \
        const __m256 g_ = _mm256_cmp_ps(v, m, _CMP_GT_OQ);                                \
        m = _mm256_blendv_ps(m, v, g_);                                                   \
        id = _mm256_castps_si256(                                                         \
            _mm256_blendv_ps(_mm256_castsi256_ps(id), _mm256_castsi256_ps(qi), g_));      \
    } while (0)

__attribute__((target("avx2"))) static void max_row_avx2(const pool_config *c, const float *xp,
                                                         int hs, int he, int owa, int owb,
                                                         float *yrow, int *mrow)
{
    const int s = c->sw;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i step = _mm256_mullo_epi32(lane, _mm256_set1_epi32(s));
    const __m256i all = _mm256_set1_epi32(-1);
    int ow = owa;
    /* Sixteen columns as two independent select chains: one chain waits on
     * its compare and blend each step (cifar10_quick's pool1 forward: 6.2-6.9
     * ms with one chain, see bench/README for two). */
    for (; ow + 16 <= owb; ow += 16) {
        /* 16 windows inside the plane: 8 x S fits in int here (not for any S). */
        const __m256i next = _mm256_set1_epi32(8 * s);
        const int w0 = ow * s - c->pw, q0 = hs * c->w + w0;
        __m256 m0 = cols8(xp, q0, s, 8, step, all), m1 = cols8(xp, q0 + 8 * s, s, 8, step, all);
        __m256i id0 = _mm256_add_epi32(_mm256_set1_epi32(q0), step);
        __m256i id1 = _mm256_add_epi32(id0, next);
        for (int i = hs; i < he; i++)
            for (int j = i == hs; j < c->kw; j++) {
                const int q = i * c->w + w0 + j;
                const __m256i qi0 = _mm256_add_epi32(_mm256_set1_epi32(q), step);
                const __m256i qi1 = _mm256_add_epi32(qi0, next);
                const __m256 v0 = cols8(xp, q, s, 8, step, all);
                const __m256 v1 = cols8(xp, q + 8 * s, s, 8, step, all);
                MAX_SELECT(m0, id0, v0, qi0);
                MAX_SELECT(m1, id1, v1, qi1);
            }
        _mm256_storeu_ps(yrow + ow, m0);
        _mm256_storeu_ps(yrow + ow + 8, m1);
        _mm256_storeu_si256((__m256i *)(mrow + ow), id0);
        _mm256_storeu_si256((__m256i *)(mrow + ow + 8), id1);
    }
    for (; ow < owb; ow += 8) {
        const int n = owb - ow < 8 ? owb - ow : 8, w0 = ow * s - c->pw, q0 = hs * c->w + w0;
        const __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
        __m256 m = cols8(xp, q0, s, n, step, live); /* the window's first element */
        __m256i id = _mm256_add_epi32(_mm256_set1_epi32(q0), step);
        for (int i = hs; i < he; i++)
            for (int j = i == hs; j < c->kw; j++) {
                const int q = i * c->w + w0 + j;
                const __m256i qi = _mm256_add_epi32(_mm256_set1_epi32(q), step);
                const __m256 v = cols8(xp, q, s, n, step, live);
                MAX_SELECT(m, id, v, qi);
            }
        _mm256_maskstore_ps(yrow + ow, live, m);
        _mm256_maskstore_epi32(mrow + ow, live, id);
    }
}

/* One output of any window (edges, AVE): the window clipped to the plane. */
static void pool_one(const pool_config *c, const float *xp, int oh, int ow, float *yp, int *mp)
{
    int h0 = oh * c->sh - c->ph, h1 = h0 + c->kh;
    int ah1 = h1 < c->h + c->ph ? h1 : c->h + c->ph; /* AVE divisor counts padding */
    int w0 = ow * c->sw - c->pw, w1 = w0 + c->kw;
    int aw1 = w1 < c->w + c->pw ? w1 : c->w + c->pw;
    int hs = h0 < 0 ? 0 : h0, he = h1 < c->h ? h1 : c->h;
    int ws = w0 < 0 ? 0 : w0, we = w1 < c->w ? w1 : c->w;
    if (hs >= he || ws >= we) {
        /* A window wholly past the image: Caffe keeps it when there is no
         * padding and the stride exceeds the kernel (kernel 1 stride 2 on
         * an even size), reading nothing (its CPU code then outputs
         * -FLT_MAX for MAX, 0/0 for AVE). Here: 0, and no gradient. */
        yp[oh * c->wo + ow] = 0.0f;
        if (mp)
            mp[oh * c->wo + ow] = -1;
        return;
    }
    int area = (ah1 - h0) * (aw1 - w0);
    if (c->method == POOL_MAX) {
        /* Branch-free select: random data would mispredict every compare. */
        int idx = hs * c->w + ws;
        float m = xp[idx];
        for (int i = hs; i < he; i++)
            for (int j = ws; j < we; j++) {
                int q = i * c->w + j;
                float v = xp[q];
                int gt = v > m;
                m = gt ? v : m;
                idx += gt * (q - idx);
            }
        yp[oh * c->wo + ow] = m;
        mp[oh * c->wo + ow] = idx;
    } else {
        double acc = 0;
        for (int i = hs; i < he; i++)
            for (int j = ws; j < we; j++)
                acc += xp[i * c->w + j];
        yp[oh * c->wo + ow] = (float)(acc / area);
    }
}

static void pool_plane_forward(const pool_config *c, const float *xp, float *yp, int *mp,
                               int avx2)
{
    const int fast = c->method == POOL_MAX && c->kh == 2 && c->kw == 2 && c->sh == 2 &&
                     c->sw == 2 && c->ph == 0 && c->pw == 0;
    /* Columns whose windows lie inside the plane horizontally. */
    int owa = (c->pw + c->sw - 1) / c->sw;
    int owb = c->w + c->pw >= c->kw ? (c->w + c->pw - c->kw) / c->sw + 1 : 0;
    if (owb > c->wo)
        owb = c->wo;
    if (c->method != POOL_MAX || owb < owa)
        owa = owb = 0;
    for (int oh = 0; oh < c->ho; oh++) {
        int ow = 0;
        if (fast)
#if defined(__x86_64__) || defined(__i386__)
            ow = avx2 ? max_2x2_avx2(c, xp, oh, yp, mp) : max_2x2(c, xp, oh, yp, mp);
#else
            ow = max_2x2(c, xp, oh, yp, mp);
#endif
        else if (owb > owa && oh * c->sh - c->ph < c->h) { /* rows past the image: pool_one */
            int h0 = oh * c->sh - c->ph, h1 = h0 + c->kh;
            for (; ow < owa; ow++)
                pool_one(c, xp, oh, ow, yp, mp);
            const int hs = h0 < 0 ? 0 : h0, he = h1 < c->h ? h1 : c->h;
            if (avx2) {
                max_row_avx2(c, xp, hs, he, owa, owb, yp + (size_t)oh * c->wo,
                             mp + (size_t)oh * c->wo);
                ow = owb;
            } else {
                ow = max_row_inner(c, xp, hs, he, owa, owb, yp + (size_t)oh * c->wo,
                                   mp + (size_t)oh * c->wo);
            }
        }
        for (; ow < c->wo; ow++)
            pool_one(c, xp, oh, ow, yp, mp);
    }
}

/* Planes in parallel when the layer is big enough to pay for waking threads. */
#define POOL_PARALLEL_MIN_WORK 65536

static void pool_forward(dlt_layer *l)
{
    pool_state *s = l->state;
    const pool_config *c = &s->cfg;
    const int planes = l->bottom[0]->n * c->c;
    const float *x = l->bottom[0]->data;
    float *y = l->top[0]->data;
    const size_t in = (size_t)c->h * c->w, out = (size_t)c->ho * c->wo;
    const int parallel = (size_t)planes * out * c->kh * c->kw >= POOL_PARALLEL_MIN_WORK;
    (void)parallel;
    const int avx2 = __builtin_cpu_supports("avx2");
#pragma omp parallel for schedule(static) if (parallel)
    for (int pl = 0; pl < planes; pl++)
        pool_plane_forward(c, x + pl * in, y + pl * out, s->mask ? s->mask + pl * out : NULL,
                           avx2);
}

static void pool_plane_backward(const pool_config *c, const float *dyp, const int *mp, float *dxp)
{
    memset(dxp, 0, (size_t)c->h * c->w * sizeof(float));
    for (int oh = 0; oh < c->ho; oh++) {
        int h0 = oh * c->sh - c->ph, h1 = h0 + c->kh;
        int ah1 = h1 < c->h + c->ph ? h1 : c->h + c->ph;
        for (int ow = 0; ow < c->wo; ow++) {
            float g = dyp[oh * c->wo + ow];
            if (c->method == POOL_MAX) {
                int idx = mp[oh * c->wo + ow];
                if (idx >= 0)
                    dxp[idx] += g;
                continue;
            }
            int w0 = ow * c->sw - c->pw, w1 = w0 + c->kw;
            int aw1 = w1 < c->w + c->pw ? w1 : c->w + c->pw;
            int hs = h0 < 0 ? 0 : h0, he = h1 < c->h ? h1 : c->h;
            int ws = w0 < 0 ? 0 : w0, we = w1 < c->w ? w1 : c->w;
            if (hs >= he || ws >= we)
                continue; /* wholly past the image: no gradient (see pool_one) */
            float gs = g / (float)((ah1 - h0) * (aw1 - w0));
            for (int i = hs; i < he; i++)
                for (int j = ws; j < we; j++)
                    dxp[i * c->w + j] += gs;
        }
    }
}

static void pool_backward(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    pool_state *s = l->state;
    const pool_config *c = &s->cfg;
    const int planes = l->bottom[0]->n * c->c;
    const float *dy = l->top[0]->diff;
    float *dx = l->bottom[0]->diff;
    const size_t in = (size_t)c->h * c->w, out = (size_t)c->ho * c->wo;
    const int parallel = (size_t)planes * out * c->kh * c->kw >= POOL_PARALLEL_MIN_WORK;
    (void)parallel;
#pragma omp parallel for schedule(static) if (parallel)
    for (int pl = 0; pl < planes; pl++)
        pool_plane_backward(c, dy + pl * out, s->mask ? s->mask + pl * out : NULL, dx + pl * in);
}

static void pool_destroy(dlt_layer *l)
{
    pool_state *s = l->state;
    if (!s)
        return;
    free(s->mask);
    free(s);
    l->state = NULL;
}

const pool_config *dlt__pooling_config(const dlt_layer *l) { return &((const pool_state *)l->state)->cfg; }

const dlt_layer_ops dlt__pooling_ops = {
    .type = "Pooling",
    .setup = pool_setup,
    .forward = pool_forward,
    .backward = pool_backward,
    .destroy = pool_destroy,
};
