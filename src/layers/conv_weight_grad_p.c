/* conv_weight_grad_p.c - a stride-1 convolution's weight gradient with the
 * output positions in the vector lanes: dw (k, r) = sum over p of
 * dy (k, p) x(r, p), where tap r's inputs over the positions are one
 * contiguous run of the input's kw shifted copies (conv_forward_rows.c).
 * Each element keeps 16 partial sums (lane j: positions j, j+16, ...)
 * across the samples of a chunk and adds them once at its end, so the
 * dy rows are read as they are (no transpose) and every lane works but in
 * the plane's last vector: LeNet's conv1 (24x24 = 36 vectors of 16) had
 * its 20 channels in 32 lanes. The AVX2 form runs each 16-lane vector as
 * two halves of 8 and the plain form lane by lane, the same fused
 * multiply-adds in the same order, so the bits depend on neither the ISA
 * nor the block. Blocks of 4 channels x 5 taps (20 accumulators) on
 * AVX-512, 2 x 3 (12 halves) on AVX2. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "dltrain/cpu.h"
#include "layers/patch_grad.h"

/* Channels k0..k0+KB-1 (rows of DY) x taps r0..r0+RB-1 (runs at XS + OFF)
 * over NV vectors of positions, the last one's lanes LAST; KB and RB are
 * constants at every call. */
__attribute__((target("avx512f"), always_inline)) static inline void
block512(int KB, int RB, const float *dy, size_t P, const float *xs, const int *off, int nv,
         __mmask16 last, float *lanes, int R)
{
    __m512 acc[4][5];
#pragma GCC unroll 4
    for (int k = 0; k < KB; k++)
#pragma GCC unroll 5
        for (int j = 0; j < RB; j++)
            acc[k][j] = _mm512_loadu_ps(lanes + ((size_t)k * R + j) * 16);
    for (int v = 0; v < nv; v++) {
        const __mmask16 m = v == nv - 1 ? last : (__mmask16)0xffff;
        __m512 d[4];
#pragma GCC unroll 4
        for (int k = 0; k < KB; k++)
            d[k] = _mm512_maskz_loadu_ps(m, dy + (size_t)k * P + 16 * (size_t)v);
#pragma GCC unroll 5
        for (int j = 0; j < RB; j++) {
            const __m512 xv = _mm512_maskz_loadu_ps(m, xs + off[j] + 16 * (size_t)v);
#pragma GCC unroll 4
            for (int k = 0; k < KB; k++)
                acc[k][j] = _mm512_fmadd_ps(d[k], xv, acc[k][j]);
        }
    }
#pragma GCC unroll 4
    for (int k = 0; k < KB; k++)
#pragma GCC unroll 5
        for (int j = 0; j < RB; j++)
            _mm512_storeu_ps(lanes + ((size_t)k * R + j) * 16, acc[k][j]);
}

#define TAPS_512(KB)                                                                          \
    __attribute__((target("avx512f"))) static void taps512_##KB(                              \
        int rb, const float *dy, size_t P, const float *xs, const int *off, int nv,          \
        __mmask16 last, float *lanes, int R)                                                  \
    {                                                                                         \
        switch (rb) {                                                                         \
        case 5: block512(KB, 5, dy, P, xs, off, nv, last, lanes, R); break;                   \
        case 4: block512(KB, 4, dy, P, xs, off, nv, last, lanes, R); break;                   \
        case 3: block512(KB, 3, dy, P, xs, off, nv, last, lanes, R); break;                   \
        case 2: block512(KB, 2, dy, P, xs, off, nv, last, lanes, R); break;                   \
        default: block512(KB, 1, dy, P, xs, off, nv, last, lanes, R); break;                  \
        }                                                                                     \
    }
TAPS_512(4)
TAPS_512(3)
TAPS_512(2)
TAPS_512(1)

__attribute__((target("avx512f"))) static void grad_avx512(const float *dy, int K, size_t P,
                                                         const float *xs, const int *off, int R,
                                                         float *lanes)
{
    const int nv = (int)((P + 15) / 16), left = (int)(P - 16 * (size_t)(nv - 1));
    const __mmask16 last = (__mmask16)(left == 16 ? 0xffff : (1u << left) - 1);
    for (int k0 = 0; k0 < K; k0 += 4)
        for (int r0 = 0; r0 < R; r0 += 5) {
            const int kb = K - k0 < 4 ? K - k0 : 4, rb = R - r0 < 5 ? R - r0 : 5;
            const float *d = dy + (size_t)k0 * P;
            float *o = lanes + ((size_t)k0 * R + r0) * 16;
            switch (kb) {
            case 4: taps512_4(rb, d, P, xs, off + r0, nv, last, o, R); break;
            case 3: taps512_3(rb, d, P, xs, off + r0, nv, last, o, R); break;
            case 2: taps512_2(rb, d, P, xs, off + r0, nv, last, o, R); break;
            default: taps512_1(rb, d, P, xs, off + r0, nv, last, o, R); break;
            }
        }
}

/* The AVX2 form: each 16-lane vector as halves H = 0, 1 (lanes 8H..8H+7);
 * 2 channels x 3 taps x 2 halves. Loads past P are masked to 0. */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256
load8(const float *p, size_t i, size_t P)
{
    if (i + 8 <= P)
        return _mm256_loadu_ps(p + i);
    const int n = i < P ? (int)(P - i) : 0;
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_maskload_ps(p + i, m);
}

__attribute__((target("avx2,fma"), always_inline)) static inline void
block256(int KB, int RB, const float *dy, size_t P, const float *xs, const int *off, int nv,
         float *lanes, int R)
{
    __m256 acc[2][3][2];
#pragma GCC unroll 2
    for (int k = 0; k < KB; k++)
#pragma GCC unroll 3
        for (int j = 0; j < RB; j++)
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++)
                acc[k][j][h] = _mm256_loadu_ps(lanes + ((size_t)k * R + j) * 16 + 8 * h);
    for (int v = 0; v < nv; v++)
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const size_t i = 16 * (size_t)v + 8 * h;
            __m256 d[2];
#pragma GCC unroll 2
            for (int k = 0; k < KB; k++)
                d[k] = load8(dy + (size_t)k * P, i, P);
#pragma GCC unroll 3
            for (int j = 0; j < RB; j++) {
                const __m256 xv = load8(xs + off[j], i, P);
#pragma GCC unroll 2
                for (int k = 0; k < KB; k++)
                    acc[k][j][h] = _mm256_fmadd_ps(d[k], xv, acc[k][j][h]);
            }
        }
#pragma GCC unroll 2
    for (int k = 0; k < KB; k++)
#pragma GCC unroll 3
        for (int j = 0; j < RB; j++)
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++)
                _mm256_storeu_ps(lanes + ((size_t)k * R + j) * 16 + 8 * h, acc[k][j][h]);
}

#define TAPS_256(KB)                                                                          \
    __attribute__((target("avx2,fma"))) static void taps256_##KB(                             \
        int rb, const float *dy, size_t P, const float *xs, const int *off, int nv,          \
        float *lanes, int R)                                                                  \
    {                                                                                         \
        switch (rb) {                                                                         \
        case 3: block256(KB, 3, dy, P, xs, off, nv, lanes, R); break;                         \
        case 2: block256(KB, 2, dy, P, xs, off, nv, lanes, R); break;                         \
        default: block256(KB, 1, dy, P, xs, off, nv, lanes, R); break;                        \
        }                                                                                     \
    }
TAPS_256(2)
TAPS_256(1)

__attribute__((target("avx2,fma"))) static void grad_avx2(const float *dy, int K, size_t P,
                                                        const float *xs, const int *off, int R,
                                                        float *lanes)
{
    const int nv = (int)((P + 15) / 16);
    for (int k0 = 0; k0 < K; k0 += 2)
        for (int r0 = 0; r0 < R; r0 += 3) {
            const int kb = K - k0 < 2 ? K - k0 : 2, rb = R - r0 < 3 ? R - r0 : 3;
            const float *d = dy + (size_t)k0 * P;
            float *o = lanes + ((size_t)k0 * R + r0) * 16;
            if (kb == 2)
                taps256_2(rb, d, P, xs, off + r0, nv, o, R);
            else
                taps256_1(rb, d, P, xs, off + r0, nv, o, R);
        }
}

void dlt__conv_weight_grad_p(const dlt__conv_geom *g, const float *x, const float *dy, int K,
                             float *lanes, float *scratch)
{
    static int avx2 = -1, avx512 = -1;
    if (avx2 < 0) {
        avx2 = dlt_cpu_avx2_fma();
        avx512 = dlt_cpu_avx512();
    }
    const int R = g->c * g->kh * g->kw;
    const size_t P = (size_t)g->ho * g->wo;
    const float *xs;
    const int *off;
    dlt__conv_shifted_copies(g, x, scratch, &xs, &off);
    if (avx512) {
        grad_avx512(dy, K, P, xs, off, R, lanes);
        return;
    }
    if (avx2) {
        grad_avx2(dy, K, P, xs, off, R, lanes);
        return;
    }
    /* fmaf rounds as the vector FMA: lane by lane, past P 0 x 0. */
    const size_t nv = (P + 15) / 16;
    for (int k = 0; k < K; k++)
        for (int r = 0; r < R; r++) {
            float *l = lanes + ((size_t)k * R + r) * 16;
            for (size_t v = 0; v < nv; v++)
                for (int j = 0; j < 16; j++) {
                    const size_t p = 16 * v + (size_t)j;
                    l[j] = p < P ? fmaf(dy[(size_t)k * P + p], xs[off[r] + p], l[j]) : fmaf(0.0f, 0.0f, l[j]);
                }
        }
}

void dlt__conv_weight_grad_p_sum(int K, int R, const float *lanes, float *dw)
{
    for (size_t e = 0; e < (size_t)K * R; e++) {
        float s[16];
        memcpy(s, lanes + e * 16, sizeof s);
        for (int half = 8; half >= 1; half /= 2)
            for (int j = 0; j < half; j++)
                s[j] += s[j + half];
        dw[e] = s[0];
    }
}
