/* im2col.c - patch unfolding for convolution as GEMM. Each row of the
 * patch matrix is one (channel, ki, kj) tap; the valid output columns of a
 * row are computed once so the inner loop has no bounds tests. */
#include <string.h>

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

void dlt__col2im(const float *col, size_t ld, const dlt__conv_geom *g, float *im)
{
    const int dh = dil(g->dh), dw = dil(g->dw);
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
