/* device.h - where a process computes: CPU, or one GPU per rank picked
 * from the node-local rank. No CUDA types: the GPU code is in src/cuda/. */
#ifndef DLTRAIN_DEVICE_H
#define DLTRAIN_DEVICE_H

#include <stddef.h>

#include "dltrain/compute.h"

typedef enum { DLT_DEVICE_CPU = 0, DLT_DEVICE_GPU = 1, DLT_DEVICE_AUTO = 2 } dlt_device_kind;

/* Where a buffer lives: host memory, or the bound GPU's memory. */
typedef enum { DLT_HOST = 1, DLT_DEVICE = 2 } dlt_memory;

/* "host" or "device", for log lines. */
const char *dlt_memory_name(dlt_memory m);

/* "cpu", "gpu" or "auto"; returns DLT_ERR_ARG for anything else. */
int dlt_device_parse(const char *s, dlt_device_kind *out);
const char *dlt_device_name(dlt_device_kind k);

/* 1 when this build has the CUDA backend (configure --with-cuda). */
int dlt_device_built_with_cuda(void);
/* Number of GPUs this process can see; 0 with the reason in WHY
 * ("built without CUDA", or cudaGetDeviceCount's error string). */
int dlt_device_gpu_count(char *why, size_t n);

/* Resolve WANT for a rank that is LOCAL_RANK of LOCAL_SIZE on its node:
 * GPU binds device local_rank % count (with Slurm/CUDA_VISIBLE_DEVICES
 * binding each rank may see only its own GPU, then it takes device 0);
 * AUTO falls back to CPU with one info line when no GPU is usable; GPU
 * with no usable GPU is an error naming the reason. *GOT is the result. */
int dlt_device_select(dlt_device_kind want, int local_rank, int local_size, dlt_device_kind *got);

/* The bound GPU's memory, for modules above the core (the net owns where
 * its buffers live). Copies are ordered with the compute stream and return
 * when done; synchronize waits for all queued device work. A build without
 * CUDA never holds device memory: allocating is a fatal internal error,
 * freeing NULL and synchronizing are no-ops. */
void *dlt_device_alloc(size_t bytes); /* zeroed */
void dlt_device_free(void *p);
void dlt_device_upload(void *dst, const void *src, size_t bytes);
void dlt_device_download(void *dst, const void *src, size_t bytes);
void dlt_device_zero(void *p, size_t bytes);
void dlt_device_synchronize(void);
/* cuBLAS without atomics (reproducible sums) when DETERMINISTIC, for the
 * net about to run on the bound GPU (its compute context's
 * cudnn_deterministic); a no-op when unchanged or when no GPU is bound. */
void dlt_device_set_deterministic(int deterministic);
/* cuBLAS's math mode for the net about to run: TF32 tensor cores for
 * precision TF32, AMP and BF16, strict FP32 for FP32 (cuDNN's is set per
 * convolution at setup). A no-op when unchanged or no GPU is bound. */
void dlt_device_set_precision(dlt_precision p);
/* Round N values of device memory in place as 16-bit storage of precision
 * P would (AMP: FP16, BF16: bfloat16; others: nothing): the GPU side of
 * the mixed-precision reference (dlt_round_half on the host). */
void dlt_device_round_half(float *x, size_t n, dlt_precision p);
/* The GPU this process bound (dlt_device_select), or -1 (CPU). */
int dlt_device_current(void);

#endif
