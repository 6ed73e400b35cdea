/* patch_grad.h - internal: dltrain's own convolution kernels, one sample
 * per call, each with a fixed per-element summation order: the patch
 * gradient W^T dy (the GEMM of the input gradient), and the weight gradient
 * and the forward straight from the input (no patch matrix). */
#ifndef DLTRAIN_PATCH_GRAD_H
#define DLTRAIN_PATCH_GRAD_H

#include <stddef.h>

#include "layers/im2col.h"

/* col (R, P) = w (K, R)^T x dy (K, P): element (r, p) is one fused
 * multiply-add chain over k = 0..K-1 from 0, on every ISA path and at every
 * position in the blocks, so a sample's result does not depend on the
 * batch, the thread count or the buffers' alignment. */
void dlt__patch_grad(int K, int R, int P, const float *w, const float *dy, float *col);

/* Kp for K output channels in the vector lanes: K rounded up to 16 where
 * the AVX-512 kernels run, else to 8 (AVX2 registers: LeNet's 50 channels
 * take 56 lanes instead of 64). A layout only: the bits do not depend on it. */
int dlt__conv_channel_pad(int K);

/* dwT (R, Kp) += the weight gradient of one sample, transposed, with the
 * output channels in the vector lanes: element (r, k) continues its fused
 * multiply-add chain from dwT's value over the output positions p in order,
 * x(r, p) dyT (p, k), x(r, p) the input tap that patch row r = (c, ki, kj)
 * reads at p. X is the sample's input (C, H, W), which the geometry G must
 * not pad; dyT (P, Kp) its output gradient transposed, Kp from
 * dlt__conv_channel_pad, the padding columns zero. Called sample by sample on a
 * zeroed dwT, it chains the whole chunk, with the same bits on every ISA
 * path (conv_weight_grad.c). */
void dlt__conv_weight_grad_t(const dlt__conv_geom *g, const float *x, const float *dyT, int Kp,
                             float *dwT);

/* TAPOFF (C*kh*kw): where tap r = (c, ki, kj) lies in a C x H x W input
 * relative to an output position's first tap (no padding). */
void dlt__conv_tap_offsets(const dlt__conv_geom *g, int *tapoff);

/* yT (P, Kp) = B + the sample's convolution, transposed, with the output
 * channels in the vector lanes: element (p, k) is one fused multiply-add
 * chain from B[k] (0 when B is NULL) over the taps r in order,
 * x(r, p) wT (r, k). X (C, H, W) unpadded by G; wT (C*kh*kw, Kp) the
 * weights transposed and B (Kp) the bias, both zero in the padding columns,
 * Kp from dlt__conv_channel_pad
 * (conv_forward_t.c). */
void dlt__conv_forward_t(const dlt__conv_geom *g, const int *tapoff, const float *x, const float *wT,
                         const float *b, int Kp, float *yT);

/* Y (K, Ho, Wo) = B + the sample's convolution, the output positions in
 * the vector lanes: element (k, p) is one fused multiply-add chain from
 * B[k] (0 when B is NULL) over the taps r in order, w (k, r) x(r, p), as
 * dlt__conv_forward_t's. X (C, H, W) unpadded by G, stride 1 both ways;
 * SCRATCH holds dlt__conv_rows_scratch(G) floats (conv_forward_rows.c). */
size_t dlt__conv_rows_scratch(const dlt__conv_geom *g);
void dlt__conv_forward_rows(const dlt__conv_geom *g, const float *x, const float *w, const float *b,
                            int K, float *y, float *scratch);

/* The kw shifted copies of X that dlt__conv_forward_rows reads, *XS
 * (C, kw, H, Wo), and *OFF (C*kh*kw): where tap r's run of P inputs starts
 * in *XS; both are written into SCRATCH (dlt__conv_rows_scratch floats). */
void dlt__conv_shifted_copies(const dlt__conv_geom *g, const float *x, float *scratch, const float **xs,
                              const int **off);

/* The weight gradient with the output positions in 16 lanes, for stride-1
 * unpadded layers with few weights (LeNet's conv1: 20 x 25): LANES (K, R,
 * 16) += the sample's products, lane j of element (k, r) one fused
 * multiply-add chain over the positions p = j, j+16, ... (p >= P adding
 * 0 x 0), continued from sample to sample; dlt__conv_weight_grad_p_sum then
 * adds each element's 16 lanes in one fixed tree into DW (K, R). DY (K, P)
 * is the sample's output gradient as it is; SCRATCH holds
 * dlt__conv_rows_scratch(G) floats. The same bits on every ISA path
 * (conv_weight_grad_p.c). */
void dlt__conv_weight_grad_p(const dlt__conv_geom *g, const float *x, const float *dy, int K,
                             float *lanes, float *scratch);
void dlt__conv_weight_grad_p_sum(int K, int R, const float *lanes, float *dw);

#endif
