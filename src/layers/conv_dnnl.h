/* conv_dnnl.h - internal: one Convolution layer's oneDNN primitives (forward
 * with bias, backward data, backward weights) for its fixed shape,
 * on plain NCHW / OIHW buffers (src/layers/conv_dnnl.c, with HAVE_DNNL). */
#ifndef DLTRAIN_LAYERS_CONV_DNNL_H
#define DLTRAIN_LAYERS_CONV_DNNL_H

#include "layers/conv.h"

typedef struct dlt__conv_dnnl dlt__conv_dnnl;

/* Primitives are made on first use, for the OpenMP thread count then in
 * force (and made again if it changes): the work split depends on it. */
/* N: the batch of forward and backward data; WCHUNK: the samples of one
 * backward-weights call (a divisor of N). */
dlt__conv_dnnl *dlt__conv_dnnl_create(const conv_config *c, int n, int wchunk);
void dlt__conv_dnnl_destroy(dlt__conv_dnnl *d);
/* 1: the primitives run on the layer's NCHW/OIHW (no reorders), 0: on blocked layouts. */
int dlt__conv_dnnl_is_plain(const dlt__conv_dnnl *d);
/* From now on the forward writes max(y, 0): an in-place ReLU after the
 * layer, fused (conv.c dlt__conv_fuse_relu). */
void dlt__conv_dnnl_fuse_relu(dlt__conv_dnnl *d);

/* Each returns 0, or -1 when oneDNN has no implementation for this shape
 * (nothing written; the caller falls back to im2col). */
/* y (N, K, Ho, Wo) = conv(x (N, C, H, W), w (K, C/group, kh, kw)) + b (K, or NULL). */
int dlt__conv_dnnl_forward(dlt__conv_dnnl *d, const float *x, const float *w, const float *b,
                           float *y);
/* dx (N, C, H, W) = the input gradient of dy (N, K, Ho, Wo) (written, not added). */
int dlt__conv_dnnl_backward_data(dlt__conv_dnnl *d, const float *dy, const float *w, float *dx);
/* dw (K, C/group, kh, kw) = the weight gradient of the WCHUNK samples at x
 * and dy (written, not added). The bias gradient is the caller's: oneDNN
 * sums it in float, which made splits of a batch over ranks differ by 1e-6
 * (in double, as conv.c sums it, they agree to 1e-16). */
/* Both backward passes when WCHUNK is N: dx (written; NULL: skipped) and dw
 * (written), the top gradient reordered into the primitives' layout once
 * for both (bit-identical to the two calls above). -1: WCHUNK < N, or no
 * implementation (nothing written). */
int dlt__conv_dnnl_backward(dlt__conv_dnnl *d, const float *x, const float *dy, const float *w,
                            float *dw, float *dx);
int dlt__conv_dnnl_backward_weights(dlt__conv_dnnl *d, const float *x, const float *dy,
                                    float *dw);

#endif
