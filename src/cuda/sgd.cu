/* sgd.cu - the SGD-with-momentum update as one elementwise kernel, with
 * the host loop's float arithmetic (same rounding order). */
#include "cuda/gpu.h"
#include "cuda/sgd.h"

static __global__ void sgd(float *w, const float *g, float *h, size_t n, float rate, float decay, float momentum)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float gi = __fadd_rn(g[i], __fmul_rn(decay, w[i])); /* no FMA contraction: match the CPU */
        float hi = __fadd_rn(__fmul_rn(momentum, h[i]), __fmul_rn(rate, gi));
        h[i] = hi;
        w[i] = __fsub_rn(w[i], hi);
    }
}

extern "C" void dlt__gpu_sgd_update(float *w, const float *g, float *h, size_t n, float rate, float decay,
                                    float momentum)
{
    sgd<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(w, g, h, n, rate, decay, momentum);
    CUDA_LAUNCH_CHECK();
}
