/* gpu_emulate/cuda/gpu.h - stands in for src/cuda/gpu.h when the GPU code of
 * the caption layers is compiled as C++ for the CPU (test_gpu_emulated.cc):
 * a kernel is a function run by one "thread" whose grid-stride loop then
 * covers every index, device memory is host memory, cuBLAS is cblas
 * (column-major, as cuBLAS), a launch is a call. It checks the GPU code's
 * indexing and algorithm, under ASan in CI's sanitizer build, on machines
 * without a GPU; the device's own arithmetic (expf, FMA contraction, the
 * kernels' parallel execution) is what tests/test_gpu_recurrent checks on
 * a GPU. Found first on the include path, before src/. */
#ifndef DLTRAIN_CUDA_GPU_H
#define DLTRAIN_CUDA_GPU_H

#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "dltrain/error.h"
#include "dltrain/layer.h"
}

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

struct emu_dim { unsigned x; };
static const emu_dim blockIdx = {0}, threadIdx = {0}, blockDim = {1}, gridDim = {1};

typedef int cudaStream_t;
typedef int cublasHandle_t;
typedef enum { CUBLAS_OP_N, CUBLAS_OP_T } cublasOperation_t;
typedef enum { cudaMemcpyDeviceToDevice } cudaMemcpyKind;
typedef struct dlt__gpu {
    cudaStream_t stream;
    cublasHandle_t cublas;
} dlt__gpu;
static inline dlt__gpu *dlt__gpu_get(void)
{
    static dlt__gpu g;
    return &g;
}

#define CUDA_CHECK(call) (void)(call)
#define CUBLAS_CHECK(call) (void)(call)
#define CUDA_LAUNCH_CHECK() ((void)0)
#define DLT_BLOCK 256
static inline unsigned dlt__grid(size_t n) { return (void)n, 1u; }
/* A launch: the kernel's one thread loops over all N indices. */
#define DLT_LAUNCH(kernel, n, ...) kernel(__VA_ARGS__)

static inline int cublasSgemm(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                              const float *alpha, const float *A, int lda, const float *B, int ldb,
                              const float *beta, float *C, int ldc)
{
    cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_T ? CblasTrans : CblasNoTrans,
                tb == CUBLAS_OP_T ? CblasTrans : CblasNoTrans, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc);
    return 0;
}

static inline int cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
                                    size_t height, cudaMemcpyKind, cudaStream_t)
{
    for (size_t r = 0; r < height; r++)
        memcpy((char *)dst + r * dpitch, (const char *)src + r * spitch, width);
    return 0;
}

static inline unsigned long long atomicCAS(unsigned long long *a, unsigned long long cmp, unsigned long long v)
{
    const unsigned long long old = *a;
    if (old == cmp)
        *a = v;
    return old;
}

/* The device primitives of core/device_impl.h, on host memory (renamed:
 * the library's CPU build has its own, refusing, definitions). */
#define dlt__dev_alloc emu_dev_alloc
#define dlt__dev_free emu_dev_free
#define dlt__dev_download emu_dev_download
#define dlt__dev_zero emu_dev_zero
#define dlt__dev_copy emu_dev_copy
#define dlt__dev_add emu_dev_add
static inline void *emu_dev_alloc(size_t bytes) { return dlt_calloc(1, bytes ? bytes : 1); }
static inline void emu_dev_free(void *p) { free(p); }
static inline void emu_dev_download(void *dst, const void *src, size_t bytes) { memcpy(dst, src, bytes); }
static inline void emu_dev_zero(void *p, size_t bytes) { memset(p, 0, bytes); }
static inline void emu_dev_copy(float *dst, const float *src, size_t n) { memmove(dst, src, n * sizeof(float)); }
static inline void emu_dev_add(float *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
}

#endif
