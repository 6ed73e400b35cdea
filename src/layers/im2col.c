/* im2col.c - patch unfolding for convolution as GEMM. Each row of the
 * patch matrix is one (channel, ki, kj) tap; the valid output columns of a
 * row are computed once so the inner loop has no bounds tests. */
#include <string.h>

#include "layers/im2col.h"

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

void dlt__im2col(const float *im, const dlt__conv_geom *g, float *col, size_t ld)
{
    for (int ci = 0; ci < g->c; ci++) {
        const float *src = im + (size_t)ci * g->h * g->w;
        for (int ki = 0; ki < g->kh; ki++) {
            int hlo, hhi;
            valid_range(g->h, ki, g->sh, g->ph, g->ho, &hlo, &hhi);
            for (int kj = 0; kj < g->kw; kj++) {
                int wlo, whi;
                valid_range(g->w, kj, g->sw, g->pw, g->wo, &wlo, &whi);
                float *dst = col + (((size_t)ci * g->kh + ki) * g->kw + kj) * ld;
                if (hlo > 0)
                    memset(dst, 0, (size_t)hlo * g->wo * sizeof(float));
                for (int oh = hlo; oh < hhi; oh++) {
                    const float *row = src + (size_t)(oh * g->sh - g->ph + ki) * g->w;
                    float *d = dst + (size_t)oh * g->wo;
                    for (int ow = 0; ow < wlo; ow++)
                        d[ow] = 0;
                    if (g->sw == 1) {
                        if (whi > wlo)
                            memcpy(d + wlo, row + wlo - g->pw + kj,
                                   (size_t)(whi - wlo) * sizeof(float));
                    } else {
                        for (int ow = wlo; ow < whi; ow++)
                            d[ow] = row[ow * g->sw - g->pw + kj];
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
    for (int ci = 0; ci < g->c; ci++) {
        float *dstim = im + (size_t)ci * g->h * g->w;
        for (int ki = 0; ki < g->kh; ki++) {
            int hlo, hhi;
            valid_range(g->h, ki, g->sh, g->ph, g->ho, &hlo, &hhi);
            for (int kj = 0; kj < g->kw; kj++) {
                int wlo, whi;
                valid_range(g->w, kj, g->sw, g->pw, g->wo, &wlo, &whi);
                const float *src = col + (((size_t)ci * g->kh + ki) * g->kw + kj) * ld;
                for (int oh = hlo; oh < hhi; oh++) {
                    float *row = dstim + (size_t)(oh * g->sh - g->ph + ki) * g->w;
                    const float *s = src + (size_t)oh * g->wo;
                    int off = kj - g->pw;
                    if (g->sw == 1) {
                        for (int ow = wlo; ow < whi; ow++)
                            row[ow + off] += s[ow];
                    } else {
                        for (int ow = wlo; ow < whi; ow++)
                            row[ow * g->sw + off] += s[ow];
                    }
                }
            }
        }
    }
}
