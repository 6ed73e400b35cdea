/* half.h - FP16 and bfloat16 conversions (round to nearest, ties to even),
 * and precision names: the CPU reference of mixed precision rounds values
 * with these exactly where the GPU path stores them in 16 bits. */
#ifndef DLTRAIN_HALF_H
#define DLTRAIN_HALF_H

#include <stddef.h>
#include <stdint.h>

#include "dltrain/compute.h"

/* IEEE binary16: overflow (|x| >= 65520) gives Inf, values below 2^-24 go
 * through the subnormals to 0, NaN stays NaN (quiet). */
uint16_t dlt_fp16_from_float(float x);
float dlt_fp16_to_float(uint16_t h);
/* bfloat16: FP32's exponent, 7 mantissa bits; NaN stays NaN (quiet). */
uint16_t dlt_bf16_from_float(float x);
float dlt_bf16_to_float(uint16_t h);

/* Round N values in place to what 16-bit storage of precision P keeps
 * (AMP: FP16, BF16: bfloat16); FP32 and TF32 leave them alone. */
void dlt_round_half(float *x, size_t n, dlt_precision p);

#endif
