/* im2col.h - internal: unfold image patches into GEMM columns and back
 * (convolution as matrix multiplication, as in Caffe). */
#ifndef DLTRAIN_IM2COL_H
#define DLTRAIN_IM2COL_H

#include <stddef.h>

/* Geometry of a 2-D convolution window over a C x H x W image. */
typedef struct dlt__conv_geom {
    int c, h, w;     /* input channels and size */
    int kh, kw;      /* kernel */
    int sh, sw;      /* stride */
    int ph, pw;      /* zero padding */
    int dh, dw;      /* dilation: tap ki reads row oh*sh - ph + ki*dh (0 means 1) */
    int ho, wo;      /* output size: (h + 2 ph - (dh (kh-1) + 1)) / sh + 1, likewise wo */
} dlt__conv_geom;

/* Write row (ci, ki, kj) of the patch matrix of image IM into
 * COL[((ci*kh + ki)*kw + kj) * ld + oh*wo + ow]; LD >= ho*wo lets several
 * images share one matrix (image n at COL + n*ho*wo). Padding reads as 0. */
void dlt__im2col(const float *im, const dlt__conv_geom *g, float *col, size_t ld);
/* Adjoint of dlt__im2col: ADD the columns back into IM (c x h x w). */
void dlt__col2im(const float *col, size_t ld, const dlt__conv_geom *g, float *im);

#endif
