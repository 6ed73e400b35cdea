/* gpu.h - internal to src/cuda/: the bound GPU's streams and library
 * handles, and the fatal-check macros every CUDA, cuBLAS, cuDNN and NCCL
 * call goes through (call, file:line, rank, host, the library's message,
 * then dlt_fatal, whose handler calls MPI_Abort so no rank hangs). */
#ifndef DLTRAIN_CUDA_GPU_H
#define DLTRAIN_CUDA_GPU_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <stddef.h>

extern "C" {
#include "core/device_impl.h"
#include "dltrain/error.h"
#include "dltrain/layer.h"
}

typedef struct dlt__gpu {
    int device;
    cudaStream_t stream;       /* compute: every kernel and library call */
    cudaStream_t copy_stream;  /* input batches host -> device */
    cublasHandle_t cublas;     /* bound to stream */
    cudnnHandle_t cudnn;       /* bound to stream */
    int no_atomics;            /* cuBLAS atomics mode now set: 1 = not allowed */
    int tf32;                  /* cuBLAS math mode now set: 1 = CUBLAS_TF32_TENSOR_OP_MATH */
} dlt__gpu;

/* The bound GPU; fatal when dlt__dev_bind has not run. */
dlt__gpu *dlt__gpu_get(void);

/* Report a failed call with the library's error string and abort all ranks. */
void dlt__gpu_fail(const char *file, int line, const char *lib, const char *call,
                   const char *msg) __attribute__((noreturn));

#define CUDA_CHECK(call)                                                           \
    do {                                                                           \
        cudaError_t cu_e_ = (call);                                                \
        if (cu_e_ != cudaSuccess)                                                  \
            dlt__gpu_fail(__FILE__, __LINE__, "CUDA", #call, cudaGetErrorString(cu_e_)); \
    } while (0)
#define CUBLAS_CHECK(call)                                                         \
    do {                                                                           \
        cublasStatus_t cb_s_ = (call);                                             \
        if (cb_s_ != CUBLAS_STATUS_SUCCESS)                                        \
            dlt__gpu_fail(__FILE__, __LINE__, "cuBLAS", #call, cublasGetStatusString(cb_s_)); \
    } while (0)
#define CUDNN_CHECK(call)                                                          \
    do {                                                                           \
        cudnnStatus_t cd_s_ = (call);                                              \
        if (cd_s_ != CUDNN_STATUS_SUCCESS)                                         \
            dlt__gpu_fail(__FILE__, __LINE__, "cuDNN", #call, cudnnGetErrorString(cd_s_)); \
    } while (0)
/* After a kernel launch: launch errors now, execution errors at the next sync. */
#define CUDA_LAUNCH_CHECK() CUDA_CHECK(cudaGetLastError())

/* Grid size for N elements, BLOCK threads each, capped (grid-stride loops). */
#define DLT_BLOCK 256
static inline unsigned dlt__grid(size_t n)
{
    size_t g = (n + DLT_BLOCK - 1) / DLT_BLOCK;
    return (unsigned)(g < 1 ? 1 : g > 65535 ? 65535 : g);
}

#endif
