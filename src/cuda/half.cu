/* half.cu - rounding device values in place to FP16 or bfloat16 storage
 * (ties to even, as src/core/half.c does on the host): --precision amp and
 * bf16 on the GPU round activations and gradients around the FP32 kernels. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/gpu.h"

static __global__ void round_half(float *x, size_t n, int bf16)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = bf16 ? __bfloat162float(__float2bfloat16_rn(x[i])) : __half2float(__float2half_rn(x[i]));
}

extern "C" void dlt__dev_round_half(float *x, size_t n, int bf16)
{
    if (n == 0)
        return;
    round_half<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(x, n, bf16);
    CUDA_LAUNCH_CHECK();
}
