/* device_impl.h - internal: the device primitives host code calls. With
 * --with-cuda they are in src/cuda/ (device.cu, memory.cu); without, in
 * src/core/device_none.c, where no tensor ever gets device copies. */
#ifndef DLTRAIN_DEVICE_IMPL_H
#define DLTRAIN_DEVICE_IMPL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Visible GPUs; 0 with the reason in WHY (never fatal: no driver is normal). */
int dlt__dev_count(char *why, size_t n);
/* Make DEVICE current and create its streams and library handles. */
int dlt__dev_bind(int device, char *why, size_t n);
int dlt__dev_current(void); /* bound device, -1 when none */
/* cuBLAS without atomics (reproducible sums) when DETERMINISTIC, for
 * the net about to run; a no-op when unchanged or no GPU is bound. */
void dlt__dev_set_deterministic(int deterministic);
/* TF32 tensor-core math in cuBLAS when ON (CUBLAS_TF32_TENSOR_OP_MATH),
 * strict FP32 otherwise; a no-op when unchanged or no GPU is bound. */
void dlt__dev_set_tf32(int on);
/* Round N device values in place to FP16 (BF16 0) or bfloat16 (BF16 1),
 * ties to even, as 16-bit storage would (src/cuda/half.cu). */
void dlt__dev_round_half(float *x, size_t n, int bf16);

void *dlt__dev_alloc(size_t bytes);  /* zeroed */
void dlt__dev_free(void *p);
/* Copies ordered with the compute stream; they return when done. */
void dlt__dev_upload(void *dst, const void *src, size_t bytes);
void dlt__dev_download(void *dst, const void *src, size_t bytes);
void dlt__dev_zero(void *p, size_t bytes);
void dlt__dev_copy(float *dst, const float *src, size_t n); /* dst = src */
void dlt__dev_add(float *dst, const float *src, size_t n);  /* dst += src */
void dlt__dev_synchronize(void);

/* The highest index of a NaN/Inf in X (n values on the device), or
 * (size_t)-1: the reducers' check (src/cuda/solver.cu). The solver's own
 * device step is declared with its rules, src/net/solver_rules.h. */
size_t dlt__dev_last_nonfinite(const float *x, size_t n);

#ifdef __cplusplus
}
#endif

#endif
