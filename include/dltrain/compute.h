/* compute.h - how one net computes: the settings its layers read at setup
 * and when they run (CPU convolution backend and threads, cuDNN choices).
 * Each net owns one, given to dlt_net_create; there is no process-wide
 * setting, so two nets of one process may differ. */
#ifndef DLTRAIN_COMPUTE_H
#define DLTRAIN_COMPUTE_H

#include <stddef.h>

#include "dltrain/cpu.h"

/* Arithmetic of the nets (--precision). FP32: strict IEEE single on every
 * device. TF32: GPU matrix products and convolutions on tensor cores with
 * 10-bit mantissa inputs (Ampere and later; elsewhere, and on the CPU, it is
 * FP32). AMP: activations and gradients stored as FP16, with dynamic loss
 * scaling; BF16: stored as bfloat16, no loss scaling. In both, weights,
 * solver state, BatchNorm statistics and the loss stay FP32. */
typedef enum { DLT_PRECISION_FP32, DLT_PRECISION_TF32, DLT_PRECISION_AMP, DLT_PRECISION_BF16 } dlt_precision;

/* "fp32", "tf32", "amp" or "bf16"; DLT_ERR_ARG (reported) for anything else. */
int dlt_precision_parse(const char *s, dlt_precision *out);
const char *dlt_precision_name(dlt_precision p);

typedef struct dlt_compute_ctx {
    dlt_conv_backend conv_backend; /* CPU Convolution layers: auto, im2col or dnnl */
    int threads;                   /* CPU libraries' threads while the net runs; 0: as they are */
    int cudnn_deterministic;       /* GPU: deterministic cuDNN algorithms, cuBLAS without atomics */
    size_t cudnn_workspace_limit;  /* GPU: bytes of workspace per convolution algorithm */
    dlt_precision precision;       /* FP32 by default here; dltrain-mpi's --precision default is TF32 */
    int no_fusion;                 /* 1: every layer does its own forward (tests that run and
                                    * compare layers one at a time); 0: fused chains (net.c) */
} dlt_compute_ctx;

#define DLT_CUDNN_WORKSPACE_DEFAULT ((size_t)512 << 20)

/* The defaults: conv_backend from DLT_CONV_BACKEND in the environment
 * (a bad value is reported and ignored), else auto; threads 0; cuDNN
 * free to pick nondeterministic algorithms within 512 MiB; precision FP32
 * (the layer tests compare GPU and CPU in strict FP32); fusion on. */
void dlt_compute_ctx_init(dlt_compute_ctx *c);

/* The backend C's Convolution layers use, auto resolved: DLT_CONV_IM2COL
 * or DLT_CONV_DNNL (auto is oneDNN where the build has it). NULL C: the
 * default backend, auto. */
dlt_conv_backend dlt_compute_conv_backend(const dlt_compute_ctx *c);

#endif
