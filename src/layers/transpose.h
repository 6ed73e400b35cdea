/* transpose.h - internal: one matrix transpose for the kernels that keep
 * channels in the vector lanes (the convolution's direct forward and weight
 * gradient, InnerProduct's weight panels). */
#ifndef DLTRAIN_TRANSPOSE_H
#define DLTRAIN_TRANSPOSE_H

#include <stddef.h>

/* dst[c * ldd + r] = src[r * lds + c] for r < ROWS, c < COLS, and 0 for
 * ROWS <= r < ROWS_PAD (dst's padding columns). A copy: values unchanged. */
void dlt__transpose(int rows, int cols, const float *src, size_t lds, float *dst, size_t ldd, int rows_pad);

#endif
