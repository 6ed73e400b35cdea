/* patch_grad.c - W^T dy for one sample (a convolution's patch gradient):
 * 4 rows x 16 columns of fused multiply-add chains per AVX2 block. */
#include <immintrin.h>
#include <math.h>

#include "layers/patch_grad.h"

/* One element's chain: fmaf is the same rounding as the vector FMA. */
static inline float chain(int K, int R, int P, const float *w, const float *dy, int r, int p)
{
    float a = 0.0f;
    for (int k = 0; k < K; k++)
        a = fmaf(w[(size_t)k * R + r], dy[(size_t)k * P + p], a);
    return a;
}

__attribute__((target("avx2,fma"))) static void patch_grad_avx2(int K, int R, int P,
                                                               const float *w, const float *dy,
                                                               float *col)
{
    const int P16 = P & ~15, R4 = R & ~3;
    for (int r = 0; r < R4; r += 4) {
        for (int p = 0; p < P16; p += 16) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
            __m256 c0 = a0, c1 = a0, d0 = a0, d1 = a0;
            for (int k = 0; k < K; k++) {
                const float *dk = dy + (size_t)k * P + p, *wk = w + (size_t)k * R + r;
                const __m256 x0 = _mm256_loadu_ps(dk), x1 = _mm256_loadu_ps(dk + 8);
                __m256 v = _mm256_broadcast_ss(wk);
                a0 = _mm256_fmadd_ps(v, x0, a0), a1 = _mm256_fmadd_ps(v, x1, a1);
                v = _mm256_broadcast_ss(wk + 1);
                b0 = _mm256_fmadd_ps(v, x0, b0), b1 = _mm256_fmadd_ps(v, x1, b1);
                v = _mm256_broadcast_ss(wk + 2);
                c0 = _mm256_fmadd_ps(v, x0, c0), c1 = _mm256_fmadd_ps(v, x1, c1);
                v = _mm256_broadcast_ss(wk + 3);
                d0 = _mm256_fmadd_ps(v, x0, d0), d1 = _mm256_fmadd_ps(v, x1, d1);
            }
            float *o = col + (size_t)r * P + p;
            _mm256_storeu_ps(o, a0), _mm256_storeu_ps(o + 8, a1);
            _mm256_storeu_ps(o + P, b0), _mm256_storeu_ps(o + P + 8, b1);
            _mm256_storeu_ps(o + 2 * P, c0), _mm256_storeu_ps(o + 2 * P + 8, c1);
            _mm256_storeu_ps(o + 3 * P, d0), _mm256_storeu_ps(o + 3 * P + 8, d1);
        }
        for (int i = 0; i < 4; i++)
            for (int p = P16; p < P; p++)
                col[(size_t)(r + i) * P + p] = chain(K, R, P, w, dy, r + i, p);
    }
    for (int r = R4; r < R; r++)
        for (int p = 0; p < P; p++)
            col[(size_t)r * P + p] = chain(K, R, P, w, dy, r, p);
}

void dlt__patch_grad(int K, int R, int P, const float *w, const float *dy, float *col)
{
    static int avx2 = -1;
    if (avx2 < 0)
        avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx2) {
        patch_grad_avx2(K, R, P, w, dy, col);
        return;
    }
    for (int r = 0; r < R; r++)
        for (int p = 0; p < P; p++)
            col[(size_t)r * P + p] = chain(K, R, P, w, dy, r, p);
}
