/* conv_forward_rows.c - a convolution's forward straight from the input
 * with the output positions of a row in the vector lanes: for a layer on
 * few input channels and wide output rows (LeNet's conv1: 1 channel,
 * 24-wide rows), each tap's inputs along a row are contiguous, so a
 * vector of outputs is one load per tap and the result lands in NCHW as
 * it is (no transpose, no patch matrix). oneDNN 2.6 took 0.37 ms per 32
 * samples on LeNet's conv1 (AVX-512 Xeon). Blocks of 10 channels x 2
 * vectors of 16 positions on AVX-512 (20 accumulators), 4 x 3 vectors of 8
 * on AVX2 (12); every output is one fused multiply-add chain over the taps
 * in order from its bias, as conv_forward_t.c's, on every path. */
#include <immintrin.h>
#include <math.h>

#include "dltrain/cpu.h"
#include "layers/patch_grad.h"

/* Outputs k0 .. k0+KB-1 at positions ow0 .. ow0+31 (MASK0, MASK1: which
 * exist) of row OH; XS the row's first tap input; KB a constant. */
__attribute__((target("avx512f"), always_inline)) static inline void
rows512(int KB, const dlt__conv_geom *g, const int *tapoff, const float *xs, const float *w, int R,
        const float *b, __mmask16 m0, __mmask16 m1, float *y, size_t P)
{
    __m512 acc[10][2];
#pragma GCC unroll 10
    for (int k = 0; k < KB; k++)
        acc[k][0] = acc[k][1] = b ? _mm512_set1_ps(b[k]) : _mm512_setzero_ps();
    for (int r = 0; r < R; r++) {
        const float *xr = xs + tapoff[r];
        const __m512 x0 = _mm512_maskz_loadu_ps(m0, xr), x1 = _mm512_maskz_loadu_ps(m1, xr + 16);
#pragma GCC unroll 10
        for (int k = 0; k < KB; k++) {
            const __m512 wv = _mm512_set1_ps(w[(size_t)k * R + r]);
            acc[k][0] = _mm512_fmadd_ps(wv, x0, acc[k][0]);
            acc[k][1] = _mm512_fmadd_ps(wv, x1, acc[k][1]);
        }
    }
#pragma GCC unroll 10
    for (int k = 0; k < KB; k++) {
        _mm512_mask_storeu_ps(y + (size_t)k * P, m0, acc[k][0]);
        _mm512_mask_storeu_ps(y + (size_t)k * P + 16, m1, acc[k][1]);
    }
    (void)g;
}

__attribute__((target("avx512f"))) static void fwd_rows_avx512(const dlt__conv_geom *g, const int *tapoff,
                                                             const float *x, const float *w, const float *b,
                                                             int K, float *y)
{
    const int R = g->c * g->kh * g->kw;
    const size_t P = (size_t)g->ho * g->wo;
    for (int oh = 0; oh < g->ho; oh++)
        for (int ow0 = 0; ow0 < g->wo; ow0 += 32) {
            const int n = g->wo - ow0 < 32 ? g->wo - ow0 : 32;
            const __mmask16 m0 = (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
            const __mmask16 m1 = (__mmask16)(n >= 32 ? 0xffff : n > 16 ? (1u << (n - 16)) - 1 : 0);
            const float *xs = x + (size_t)oh * g->sh * g->w + ow0;
            float *yo = y + (size_t)oh * g->wo + ow0;
            int k0 = 0;
            for (; k0 + 10 <= K; k0 += 10)
                rows512(10, g, tapoff, xs, w + (size_t)k0 * R, R, b ? b + k0 : NULL, m0, m1,
                        yo + (size_t)k0 * P, P);
            for (; k0 < K; k0++)
                rows512(1, g, tapoff, xs, w + (size_t)k0 * R, R, b ? b + k0 : NULL, m0, m1,
                        yo + (size_t)k0 * P, P);
        }
}

/* The AVX2 form: 4 channels x 3 vectors of 8 positions, tails one at a time. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
rows256(int KB, int NV, const int *tapoff, const float *xs, const float *w, int R, const float *b,
        float *y, size_t P)
{
    __m256 acc[4][3];
#pragma GCC unroll 4
    for (int k = 0; k < KB; k++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++)
            acc[k][v] = b ? _mm256_set1_ps(b[k]) : _mm256_setzero_ps();
    for (int r = 0; r < R; r++) {
        const float *xr = xs + tapoff[r];
        __m256 xv[3];
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++)
            xv[v] = _mm256_loadu_ps(xr + 8 * v);
#pragma GCC unroll 4
        for (int k = 0; k < KB; k++) {
            const __m256 wv = _mm256_broadcast_ss(w + (size_t)k * R + r);
#pragma GCC unroll 3
            for (int v = 0; v < NV; v++)
                acc[k][v] = _mm256_fmadd_ps(wv, xv[v], acc[k][v]);
        }
    }
#pragma GCC unroll 4
    for (int k = 0; k < KB; k++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++)
            _mm256_storeu_ps(y + (size_t)k * P + 8 * v, acc[k][v]);
}

/* One output by fmaf, the same chain (tails of the AVX2 form, the plain path). */
static inline float chain_one(const int *tapoff, const float *xs, const float *wk, int R, const float *b,
                              int k)
{
    float a = b ? b[k] : 0.0f;
    for (int r = 0; r < R; r++)
        a = fmaf(wk[r], xs[tapoff[r]], a);
    return a;
}

__attribute__((target("avx2,fma"))) static void fwd_rows_avx2(const dlt__conv_geom *g, const int *tapoff,
                                                             const float *x, const float *w, const float *b,
                                                             int K, float *y)
{
    const int R = g->c * g->kh * g->kw;
    const size_t P = (size_t)g->ho * g->wo;
    const int W24 = g->wo - g->wo % 24, W8 = g->wo & ~7;
    for (int oh = 0; oh < g->ho; oh++) {
        const float *xrow = x + (size_t)oh * g->sh * g->w;
        float *yrow = y + (size_t)oh * g->wo;
        for (int ow0 = 0; ow0 < W8; ow0 += ow0 < W24 ? 24 : 8) {
            const int nv = ow0 < W24 ? 3 : 1;
            int k0 = 0;
            for (; k0 + 4 <= K; k0 += 4) {
                const float *wk = w + (size_t)k0 * R, *bk = b ? b + k0 : NULL;
                float *yo = yrow + (size_t)k0 * P + ow0;
                if (nv == 3)
                    rows256(4, 3, tapoff, xrow + ow0, wk, R, bk, yo, P);
                else
                    rows256(4, 1, tapoff, xrow + ow0, wk, R, bk, yo, P);
            }
            for (; k0 < K; k0++) {
                const float *wk = w + (size_t)k0 * R, *bk = b ? b + k0 : NULL;
                float *yo = yrow + (size_t)k0 * P + ow0;
                if (nv == 3)
                    rows256(1, 3, tapoff, xrow + ow0, wk, R, bk, yo, P);
                else
                    rows256(1, 1, tapoff, xrow + ow0, wk, R, bk, yo, P);
            }
        }
        for (int ow = W8; ow < g->wo; ow++)
            for (int k = 0; k < K; k++)
                yrow[(size_t)k * P + ow] = chain_one(tapoff, xrow + ow, w + (size_t)k * R, R, b, k);
    }
}

void dlt__conv_forward_rows(const dlt__conv_geom *g, const int *tapoff, const float *x, const float *w,
                            const float *b, int K, float *y)
{
    static int avx2 = -1, avx512 = -1;
    if (avx2 < 0) {
        avx2 = dlt_cpu_avx2_fma();
        avx512 = dlt_cpu_avx512();
    }
    if (avx512) {
        fwd_rows_avx512(g, tapoff, x, w, b, K, y);
        return;
    }
    if (avx2) {
        fwd_rows_avx2(g, tapoff, x, w, b, K, y);
        return;
    }
    const int R = g->c * g->kh * g->kw;
    const size_t P = (size_t)g->ho * g->wo;
    for (int k = 0; k < K; k++)
        for (int oh = 0; oh < g->ho; oh++)
            for (int ow = 0; ow < g->wo; ow++)
                y[(size_t)k * P + (size_t)oh * g->wo + ow] =
                    chain_one(tapoff, x + (size_t)oh * g->sh * g->w + ow, w + (size_t)k * R, R, b, k);
}
