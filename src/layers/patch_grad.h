/* patch_grad.h - internal: one sample's patch gradient W^T dy, the GEMM of a
 * convolution's input gradient, and its weight gradient from a patch
 * matrix, each with a fixed per-element summation order. */
#ifndef DLTRAIN_PATCH_GRAD_H
#define DLTRAIN_PATCH_GRAD_H

#include <stddef.h>

/* col (R, P) = w (K, R)^T x dy (K, P): element (r, p) is one fused
 * multiply-add chain over k = 0..K-1 from 0, on every ISA path and at every
 * position in the blocks, so a sample's result does not depend on the
 * batch, the thread count or the buffers' alignment. */
void dlt__patch_grad(int K, int R, int P, const float *w, const float *dy, float *col);

/* dw (K, R) += dy (K, P) x col (R, P)^T: each dot product over P in eight
 * fixed partial sums (lane j takes p = j mod 8, multiply then add), added
 * in a fixed order, then the tail; the AVX form (blocks of 4 x 2 outputs
 * sharing their loads) does the same operations, so every rank, buffer
 * alignment and x86 ISA sums a sample alike. */
void dlt__patch_weight_grad(int K, int R, size_t P, const float *dy, const float *col, float *dw);

#endif
