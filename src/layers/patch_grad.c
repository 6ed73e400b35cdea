/* patch_grad.c - a convolution's per-sample patch kernels. W^T dy (the
 * patch gradient): 6 rows x 16 columns of fused multiply-add chains per AVX2
 * block, 12 x 32 per AVX-512 block; every element is the same chain over k
 * either way. (The weight gradient: conv_weight_grad.c.) */
#include <immintrin.h>
#include <math.h>

#include "dltrain/cpu.h"
#include "layers/patch_grad.h"

/* One element's chain: fmaf is the same rounding as the vector FMA. */
static inline float chain(int K, int R, int P, const float *w, const float *dy, int r, int p)
{
    float a = 0.0f;
    for (int k = 0; k < K; k++)
        a = fmaf(w[(size_t)k * R + r], dy[(size_t)k * P + p], a);
    return a;
}

/* NR rows x 16 columns in 2*NR registers (NR a constant at each call). */
__attribute__((target("avx2,fma"), always_inline)) static inline void
block16_avx2(int NR, int K, int R, int P, const float *w, const float *dy, float *col, int r, int p)
{
    __m256 acc[6][2];
#pragma GCC unroll 6
    for (int i = 0; i < NR; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int k = 0; k < K; k++) {
        const float *dk = dy + (size_t)k * P + p, *wk = w + (size_t)k * R + r;
        const __m256 x0 = _mm256_loadu_ps(dk), x1 = _mm256_loadu_ps(dk + 8);
#pragma GCC unroll 6
        for (int i = 0; i < NR; i++) {
            const __m256 v = _mm256_broadcast_ss(wk + i);
            acc[i][0] = _mm256_fmadd_ps(v, x0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(v, x1, acc[i][1]);
        }
    }
    float *o = col + (size_t)r * P + p;
#pragma GCC unroll 6
    for (int i = 0; i < NR; i++) {
        _mm256_storeu_ps(o + (size_t)i * P, acc[i][0]);
        _mm256_storeu_ps(o + (size_t)i * P + 8, acc[i][1]);
    }
}

/* Blocks of 6 rows x 16 columns (12 accumulators; 4 rows left the loop
 * bound by the FMA latency and the loads: LeNet's conv2 backward, b32, 1
 * thread, AVX2 setting of an AVX-512 Xeon, 3.03-3.08 -> 2.89-2.95 ms), then
 * single rows, then the column tails. */
__attribute__((target("avx2,fma"))) static void patch_grad_avx2(int K, int R, int P,
                                                               const float *w, const float *dy,
                                                               float *col)
{
    const int P16 = P & ~15, R6 = R - R % 6;
    for (int r = 0; r < R; r += r < R6 ? 6 : 1) {
        const int nr = r < R6 ? 6 : 1;
        for (int p = 0; p < P16; p += 16) {
            if (nr == 6)
                block16_avx2(6, K, R, P, w, dy, col, r, p);
            else
                block16_avx2(1, K, R, P, w, dy, col, r, p);
        }
        for (int i = 0; i < nr; i++)
            for (int p = P16; p < P; p++)
                col[(size_t)(r + i) * P + p] = chain(K, R, P, w, dy, r + i, p);
    }
}

/* 16 columns of rows R..R+3 in one register each. */
__attribute__((target("avx512f"))) static inline void block16_avx512(int K, int R, int P,
                                                                  const float *w, const float *dy,
                                                                  float *col, int r, int p)
{
    __m512 a = _mm512_setzero_ps(), b = a, c = a, d = a;
    for (int k = 0; k < K; k++) {
        const __m512 x = _mm512_loadu_ps(dy + (size_t)k * P + p);
        const float *wk = w + (size_t)k * R + r;
        a = _mm512_fmadd_ps(_mm512_set1_ps(wk[0]), x, a);
        b = _mm512_fmadd_ps(_mm512_set1_ps(wk[1]), x, b);
        c = _mm512_fmadd_ps(_mm512_set1_ps(wk[2]), x, c);
        d = _mm512_fmadd_ps(_mm512_set1_ps(wk[3]), x, d);
    }
    float *o = col + (size_t)r * P + p;
    _mm512_storeu_ps(o, a), _mm512_storeu_ps(o + P, b);
    _mm512_storeu_ps(o + 2 * P, c), _mm512_storeu_ps(o + 3 * P, d);
}

/* NR rows x 32 columns in 2*NR registers (NR a constant at each call). */
__attribute__((target("avx512f"), always_inline)) static inline void
block32_avx512(int NR, int K, int R, int P, const float *w, const float *dy, float *col, int r, int p)
{
    __m512 acc[12][2];
#pragma GCC unroll 12
    for (int i = 0; i < NR; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const float *dk = dy + (size_t)k * P + p, *wk = w + (size_t)k * R + r;
        const __m512 x0 = _mm512_loadu_ps(dk), x1 = _mm512_loadu_ps(dk + 16);
#pragma GCC unroll 12
        for (int i = 0; i < NR; i++) {
            const __m512 v = _mm512_set1_ps(wk[i]);
            acc[i][0] = _mm512_fmadd_ps(v, x0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(v, x1, acc[i][1]);
        }
    }
    float *o = col + (size_t)r * P + p;
#pragma GCC unroll 12
    for (int i = 0; i < NR; i++) {
        _mm512_storeu_ps(o + (size_t)i * P, acc[i][0]);
        _mm512_storeu_ps(o + (size_t)i * P + 16, acc[i][1]);
    }
}

/* Blocks of 12 rows x 32 columns (24 accumulators: the FMA units, not the
 * loads, bound the loop), then 4-row blocks, then the tails. */
__attribute__((target("avx512f"))) static void patch_grad_avx512(int K, int R, int P,
                                                               const float *w, const float *dy,
                                                               float *col)
{
    const int P32 = P & ~31, P16 = P & ~15, R12 = R - R % 12, R4 = R & ~3;
    for (int r = 0; r < R4; r += r < R12 ? 12 : 4) {
        const int nr = r < R12 ? 12 : 4;
        for (int p = 0; p < P32; p += 32) {
            if (nr == 12)
                block32_avx512(12, K, R, P, w, dy, col, r, p);
            else
                block32_avx512(4, K, R, P, w, dy, col, r, p);
        }
        for (int i = 0; i < nr; i += 4) {
            if (P16 > P32)
                block16_avx512(K, R, P, w, dy, col, r + i, P32);
            for (int j = 0; j < 4; j++)
                for (int p = P16; p < P; p++)
                    col[(size_t)(r + i + j) * P + p] = chain(K, R, P, w, dy, r + i + j, p);
        }
    }
    for (int r = R4; r < R; r++)
        for (int p = 0; p < P; p++)
            col[(size_t)r * P + p] = chain(K, R, P, w, dy, r, p);
}

void dlt__patch_grad(int K, int R, int P, const float *w, const float *dy, float *col)
{
    static int avx2 = -1, avx512 = -1;
    if (avx2 < 0) {
        avx2 = dlt_cpu_avx2_fma();
        avx512 = dlt_cpu_avx512();
    }
    if (avx512) {
        patch_grad_avx512(K, R, P, w, dy, col);
        return;
    }
    if (avx2) {
        patch_grad_avx2(K, R, P, w, dy, col);
        return;
    }
    for (int r = 0; r < R; r++)
        for (int p = 0; p < P; p++)
            col[(size_t)r * P + p] = chain(K, R, P, w, dy, r, p);
}
