/* transpose.c - dlt__transpose: 16 x 16 blocks in registers on AVX-512
 * (four rounds of shuffles; tails by masked loads and stores), else a plain
 * loop. A strided scalar loop cost as much as the multiply it fed on
 * LeNet's layers (ip1's weight panels, conv1's 576 x 20 output gradient). */
#include <immintrin.h>

#include "dltrain/cpu.h"
#include "layers/transpose.h"

/* r[0..15] (rows) -> r[0..15] (columns). */
__attribute__((target("avx512f"), always_inline)) static inline void transpose16(__m512 r[16])
{
    __m512 t[16];
    #pragma GCC unroll 16
    for (int j = 0; j < 16; j += 2) { /* 2x2 blocks of floats */
        t[j] = _mm512_unpacklo_ps(r[j], r[j + 1]);
        t[j + 1] = _mm512_unpackhi_ps(r[j], r[j + 1]);
    }
    #pragma GCC unroll 16
    for (int j = 0; j < 16; j += 4) { /* 4x4 within each 128-bit lane */
        const __m512d a = _mm512_castps_pd(t[j]), b = _mm512_castps_pd(t[j + 1]);
        const __m512d c = _mm512_castps_pd(t[j + 2]), d = _mm512_castps_pd(t[j + 3]);
        r[j] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[j + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[j + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    /* r[4g + e], lane L: rows 4g..4g+3 of column 4L + e. Gather the lanes. */
    #pragma GCC unroll 16
    for (int e = 0; e < 4; e++) {
        t[2 * e] = _mm512_shuffle_f32x4(r[e], r[e + 4], 0x88);
        t[2 * e + 1] = _mm512_shuffle_f32x4(r[e], r[e + 4], 0xdd);
        t[2 * e + 8] = _mm512_shuffle_f32x4(r[e + 8], r[e + 12], 0x88);
        t[2 * e + 9] = _mm512_shuffle_f32x4(r[e + 8], r[e + 12], 0xdd);
    }
    #pragma GCC unroll 16
    for (int e = 0; e < 4; e++) {
        r[e] = _mm512_shuffle_f32x4(t[2 * e], t[2 * e + 8], 0x88);
        r[e + 8] = _mm512_shuffle_f32x4(t[2 * e], t[2 * e + 8], 0xdd);
        r[e + 4] = _mm512_shuffle_f32x4(t[2 * e + 1], t[2 * e + 9], 0x88);
        r[e + 12] = _mm512_shuffle_f32x4(t[2 * e + 1], t[2 * e + 9], 0xdd);
    }
}

__attribute__((target("avx512f"))) static void transpose_avx512(int rows, int cols, const float *src,
                                                              size_t lds, float *dst, size_t ldd,
                                                              int rows_pad)
{
    for (int r0 = 0; r0 < rows_pad; r0 += 16) {
        const int nr = rows - r0 < 0 ? 0 : rows - r0 < 16 ? rows - r0 : 16;
        const int nw = rows_pad - r0 < 16 ? rows_pad - r0 : 16;
        const __mmask16 wmask = (__mmask16)((1u << nw) - 1);
        for (int c0 = 0; c0 < cols; c0 += 16) {
            const int nc = cols - c0 < 16 ? cols - c0 : 16;
            const __mmask16 cmask = (__mmask16)((1u << nc) - 1);
            __m512 r[16];
            #pragma GCC unroll 16
            for (int j = 0; j < 16; j++)
                r[j] = j < nr ? _mm512_maskz_loadu_ps(cmask, src + (size_t)(r0 + j) * lds + c0)
                              : _mm512_setzero_ps();
            transpose16(r);
            #pragma GCC unroll 16
            for (int j = 0; j < nc; j++)
                _mm512_mask_storeu_ps(dst + (size_t)(c0 + j) * ldd + r0, wmask, r[j]);
        }
    }
}

void dlt__transpose(int rows, int cols, const float *src, size_t lds, float *dst, size_t ldd, int rows_pad)
{
    if (dlt_cpu_avx512()) {
        transpose_avx512(rows, cols, src, lds, dst, ldd, rows_pad);
        return;
    }
    for (int c = 0; c < cols; c++) {
        float *d = dst + (size_t)c * ldd;
        for (int r = 0; r < rows; r++)
            d[r] = src[(size_t)r * lds + c];
        for (int r = rows; r < rows_pad; r++)
            d[r] = 0.0f;
    }
}
