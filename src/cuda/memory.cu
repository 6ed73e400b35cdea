/* memory.cu - device memory: allocation, host<->device copies ordered on
 * the compute stream, and the small vector kernels the graph needs
 * (split-blob diff sums). */
#include "cuda/gpu.h"

extern "C" void *dlt__dev_alloc(size_t bytes)
{
    dlt__gpu *g = dlt__gpu_get();
    void *p = NULL;
    CUDA_CHECK(cudaMalloc(&p, bytes));
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, g->stream));
    CUDA_CHECK(cudaStreamSynchronize(g->stream));
    return p;
}

extern "C" void dlt__dev_free(void *p)
{
    if (p)
        CUDA_CHECK(cudaFree(p));
}

extern "C" void dlt__dev_upload(void *dst, const void *src, size_t bytes)
{
    dlt__gpu *g = dlt__gpu_get();
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, g->stream));
    CUDA_CHECK(cudaStreamSynchronize(g->stream)); /* SRC may be reused on return */
}

extern "C" void dlt__dev_download(void *dst, const void *src, size_t bytes)
{
    dlt__gpu *g = dlt__gpu_get();
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, g->stream));
    CUDA_CHECK(cudaStreamSynchronize(g->stream));
}

extern "C" void dlt__dev_zero(void *p, size_t bytes)
{
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, dlt__gpu_get()->stream));
}

extern "C" void dlt__dev_copy(float *dst, const float *src, size_t n)
{
    CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice,
                               dlt__gpu_get()->stream));
}

static __global__ void add_kernel(float *dst, const float *src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        dst[i] += src[i];
}

extern "C" void dlt__dev_add(float *dst, const float *src, size_t n)
{
    add_kernel<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(dst, src, n);
    CUDA_LAUNCH_CHECK();
}
