/* reduce.cuh - internal to src/cuda/: per-channel sums in double over
 * (N, C, P) blobs, one block of DLT_BLOCK threads per channel (the CPU
 * layers sum their statistics in double; so do BatchNorm and Scale here). */
#ifndef DLTRAIN_CUDA_REDUCE_CUH
#define DLTRAIN_CUDA_REDUCE_CUH

#include "cuda/gpu.h"

/* Index of the I-th element of channel C in an (N, C, P) blob, I < N*P. */
static __device__ __forceinline__ size_t chan_at(size_t i, int c, int C, size_t P)
{
    return (i / P * C + c) * P + i % P;
}

/* Sum of V over the block (blockDim.x == DLT_BLOCK, a power of two);
 * every thread gets the result. */
static __device__ double block_sum(double v)
{
    __shared__ double sh[DLT_BLOCK];
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = DLT_BLOCK / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads(); /* sh may be reused by the next call */
    return r;
}

#endif
