/* im2col.c - patch unfolding for convolution as GEMM. Each row of the
 * patch matrix is one (channel, ki, kj) tap; the valid output columns of a
 * row are computed once so the inner loop has no bounds tests. */
#include <immintrin.h>
#include <string.h>

#include "dltrain/cpu.h"
#include "layers/im2col.h"

/* Short rows (LeNet: 8-24 floats) in blocks of 8, which the compiler
 * turns into vector moves at -O2 (it leaves the plain loop scalar). */
static inline void copy_row(float *restrict d, const float *restrict s, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            d[i + k] = s[i + k];
    for (; i < n; i++)
        d[i] = s[i];
}

static inline void add_row(float *restrict d, const float *restrict s, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            d[i + k] += s[i + k];
    for (; i < n; i++)
        d[i] += s[i];
}

/* Output positions o in [*lo, *hi) read input index o*s - p + k inside [0, n). */
static void valid_range(int n, int k, int s, int p, int out, int *lo, int *hi)
{
    int a = p - k; /* need o*s >= a */
    int l = a <= 0 ? 0 : (a + s - 1) / s;
    int b = n - 1 + p - k; /* need o*s <= b */
    int h = b < 0 ? 0 : b / s + 1;
    if (h > out)
        h = out;
    if (l > h)
        l = h;
    *lo = l, *hi = h;
}

/* Dilation 0 (geometries built before dilation existed) reads as 1. */
static inline int dil(int d) { return d > 1 ? d : 1; }

void dlt__im2col(const float *im, const dlt__conv_geom *g, float *col, size_t ld)
{
    const int dh = dil(g->dh), dw = dil(g->dw);
    for (int ci = 0; ci < g->c; ci++) {
        const float *src = im + (size_t)ci * g->h * g->w;
        for (int ki = 0; ki < g->kh; ki++) {
            int hlo, hhi;
            valid_range(g->h, ki * dh, g->sh, g->ph, g->ho, &hlo, &hhi);
            for (int kj = 0; kj < g->kw; kj++) {
                int wlo, whi;
                valid_range(g->w, kj * dw, g->sw, g->pw, g->wo, &wlo, &whi);
                float *restrict dst = col + (((size_t)ci * g->kh + ki) * g->kw + kj) * ld;
                if (hlo > 0)
                    memset(dst, 0, (size_t)hlo * g->wo * sizeof(float));
                for (int oh = hlo; oh < hhi; oh++) {
                    const float *restrict row = src + (size_t)(oh * g->sh - g->ph + ki * dh) * g->w;
                    float *restrict d = dst + (size_t)oh * g->wo;
                    for (int ow = 0; ow < wlo; ow++)
                        d[ow] = 0;
                    if (g->sw == 1) {
                        if (whi > wlo)
                            copy_row(d + wlo, row + wlo + kj * dw - g->pw, whi - wlo);
                    } else {
                        for (int ow = wlo; ow < whi; ow++)
                            d[ow] = row[ow * g->sw - g->pw + kj * dw];
                    }
                    for (int ow = whi; ow < g->wo; ow++)
                        d[ow] = 0;
                }
                if (hhi < g->ho)
                    memset(dst + (size_t)hhi * g->wo, 0,
                           (size_t)(g->ho - hhi) * g->wo * sizeof(float));
            }
        }
    }
}

/* Stride 1, no padding or dilation, image rows of at most 16: each image
 * row is one register, and every tap's columns are added into it shifted
 * by kj through a masked load. The loop below adds 8-wide rows that
 * overlap the row stored just before at an offset of one float (the next
 * kj), which the store buffer cannot forward: LeNet's conv2 (20 x 12 x 12,
 * 5x5) took 0.34 ms per 32 samples there on an AVX-512 Xeon. Each element
 * still receives its taps in (ki, kj) order, each added once, from its
 * value on entry (masked adds: lanes a tap does not reach are left alone),
 * so the bits are the loop's. */
/* Image row IH of channels CI .. CI+NB-1 (NB a constant: independent
 * chains, the adds' latency overlapped). */
__attribute__((target("avx512f"), always_inline)) static inline void
col2im_row_avx512(int NB, const float *col, size_t ld, const dlt__conv_geom *g, int ci, int ih, float *im)
{
    const __mmask16 out = (__mmask16)((1u << g->wo) - 1), row_mask = (__mmask16)((1u << g->w) - 1);
    const size_t plane = (size_t)g->h * g->w, taps = (size_t)g->kh * g->kw * ld;
    float *row = im + ((size_t)ci * g->h + ih) * g->w;
    __m512 acc[4];
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++)
        acc[b] = _mm512_maskz_loadu_ps(row_mask, row + b * plane);
    const int ki0 = ih - g->ho + 1 > 0 ? ih - g->ho + 1 : 0;
    const int ki1 = ih < g->kh - 1 ? ih : g->kh - 1;
    for (int ki = ki0; ki <= ki1; ki++) {
        const float *src = col + ((size_t)ci * g->kh + ki) * g->kw * ld + (size_t)(ih - ki) * g->wo;
        for (int kj = 0; kj < g->kw; kj++, src += ld) {
            const __mmask16 m = (__mmask16)(out << kj);
#pragma GCC unroll 4
            for (int b = 0; b < NB; b++)
                acc[b] = _mm512_mask_add_ps(acc[b], m, acc[b], _mm512_maskz_loadu_ps(m, src + b * taps - kj));
        }
    }
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++)
        _mm512_mask_storeu_ps(row + b * plane, row_mask, acc[b]);
}

__attribute__((target("avx512f"))) static void col2im_rows_avx512(const float *col, size_t ld,
                                                                const dlt__conv_geom *g, float *im)
{
    int ci = 0;
    for (; ci + 4 <= g->c; ci += 4)
        for (int ih = 0; ih < g->h; ih++)
            col2im_row_avx512(4, col, ld, g, ci, ih, im);
    for (; ci < g->c; ci++)
        for (int ih = 0; ih < g->h; ih++)
            col2im_row_avx512(1, col, ld, g, ci, ih, im);
}

/* The AVX2 form: an image row of at most 16 in two registers; a tap's
 * columns come in by masked loads (lanes outside the tap read nothing) and
 * are blended in only where the tap reaches, so the bits are the loop's. */
__attribute__((target("avx2"), always_inline)) static inline void
col2im_row_avx2(int NB, const float *col, size_t ld, const dlt__conv_geom *g, int ci, int ih, float *im,
                const __m256i lane0, const __m256i lane1)
{
    const size_t plane = (size_t)g->h * g->w, taps = (size_t)g->kh * g->kw * ld;
    const __m256i wlim = _mm256_set1_epi32(g->w);
    const __m256i in0 = _mm256_cmpgt_epi32(wlim, lane0), in1 = _mm256_cmpgt_epi32(wlim, lane1);
    float *row = im + ((size_t)ci * g->h + ih) * g->w;
    __m256 acc[4][2];
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++) {
        acc[b][0] = _mm256_maskload_ps(row + b * plane, in0);
        acc[b][1] = _mm256_maskload_ps(row + b * plane + 8, in1);
    }
    const int ki0 = ih - g->ho + 1 > 0 ? ih - g->ho + 1 : 0;
    const int ki1 = ih < g->kh - 1 ? ih : g->kh - 1;
    for (int ki = ki0; ki <= ki1; ki++) {
        const float *src = col + ((size_t)ci * g->kh + ki) * g->kw * ld + (size_t)(ih - ki) * g->wo;
        for (int kj = 0; kj < g->kw; kj++, src += ld) {
            /* lane L takes column L - kj where 0 <= L - kj < wo */
            const __m256i lo = _mm256_set1_epi32(kj - 1), hi = _mm256_set1_epi32(kj + g->wo);
            const __m256i m0 = _mm256_and_si256(_mm256_cmpgt_epi32(lane0, lo), _mm256_cmpgt_epi32(hi, lane0));
            const __m256i m1 = _mm256_and_si256(_mm256_cmpgt_epi32(lane1, lo), _mm256_cmpgt_epi32(hi, lane1));
#pragma GCC unroll 4
            for (int b = 0; b < NB; b++) {
                const float *s = src + b * taps - kj;
                const __m256 v0 = _mm256_maskload_ps(s, m0), v1 = _mm256_maskload_ps(s + 8, m1);
                acc[b][0] = _mm256_blendv_ps(acc[b][0], _mm256_add_ps(acc[b][0], v0), _mm256_castsi256_ps(m0));
                acc[b][1] = _mm256_blendv_ps(acc[b][1], _mm256_add_ps(acc[b][1], v1), _mm256_castsi256_ps(m1));
            }
        }
    }
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++) {
        _mm256_maskstore_ps(row + b * plane, in0, acc[b][0]);
        _mm256_maskstore_ps(row + b * plane + 8, in1, acc[b][1]);
    }
}

__attribute__((target("avx2"))) static void col2im_rows_avx2(const float *col, size_t ld,
                                                            const dlt__conv_geom *g, float *im)
{
    const __m256i lane0 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i lane1 = _mm256_add_epi32(lane0, _mm256_set1_epi32(8));
    int ci = 0;
    for (; ci + 4 <= g->c; ci += 4)
        for (int ih = 0; ih < g->h; ih++)
            col2im_row_avx2(4, col, ld, g, ci, ih, im, lane0, lane1);
    for (; ci < g->c; ci++)
        for (int ih = 0; ih < g->h; ih++)
            col2im_row_avx2(1, col, ld, g, ci, ih, im, lane0, lane1);
}

void dlt__col2im(const float *col, size_t ld, const dlt__conv_geom *g, float *im)
{
    const int dh = dil(g->dh), dw = dil(g->dw);
    if (g->sh == 1 && g->sw == 1 && !g->ph && !g->pw && dh == 1 && dw == 1 && g->w <= 16 &&
        dlt_cpu_avx512()) {
        col2im_rows_avx512(col, ld, g, im);
        return;
    }
    if (g->sh == 1 && g->sw == 1 && !g->ph && !g->pw && dh == 1 && dw == 1 && g->w <= 16 &&
        dlt_cpu_avx2_fma()) {
        col2im_rows_avx2(col, ld, g, im);
        return;
    }
    for (int ci = 0; ci < g->c; ci++) {
        float *dstim = im + (size_t)ci * g->h * g->w;
        for (int ki = 0; ki < g->kh; ki++) {
            int hlo, hhi;
            valid_range(g->h, ki * dh, g->sh, g->ph, g->ho, &hlo, &hhi);
            for (int kj = 0; kj < g->kw; kj++) {
                int wlo, whi;
                valid_range(g->w, kj * dw, g->sw, g->pw, g->wo, &wlo, &whi);
                const float *src = col + (((size_t)ci * g->kh + ki) * g->kw + kj) * ld;
                for (int oh = hlo; oh < hhi; oh++) {
                    float *row = dstim + (size_t)(oh * g->sh - g->ph + ki * dh) * g->w;
                    const float *s = src + (size_t)oh * g->wo;
                    int off = kj * dw - g->pw;
                    if (g->sw == 1) {
                        if (whi > wlo)
                            add_row(row + wlo + off, s + wlo, whi - wlo);
                    } else {
                        for (int ow = wlo; ow < whi; ow++)
                            row[ow * g->sw + off] += s[ow];
                    }
                }
            }
        }
    }
}
