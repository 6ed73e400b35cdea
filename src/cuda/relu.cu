/* relu.cu - ReLU / leaky ReLU on the GPU. An own kernel rather than
 * cuDNN's activation: cuDNN has no negative_slope (Caffe's leaky ReLU). */
#include "cuda/gpu.h"
extern "C" {
#include "layers/relu.h"
}

static __global__ void relu_fwd(const float *x, float *y, size_t n, float a)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v = x[i];
        y[i] = v > 0.0f ? v : a * v;
    }
}

/* In place, x is the output; its sign is the input's (as on the CPU and in Caffe). */
static __global__ void relu_bwd(const float *x, const float *dy, float *dx, size_t n, float a)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dx[i] = dy[i] * (x[i] > 0.0f ? 1.0f : a);
}

extern "C" int dlt__relu_setup_gpu(dlt_layer *l) { (void)l; return 0; }

extern "C" void dlt__relu_forward_gpu(dlt_layer *l)
{
    const float a = ((const relu_config *)l->state)->negative_slope;
    size_t n = l->bottom[0]->count;
    relu_fwd<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(l->bottom[0]->gdata, l->top[0]->gdata, n, a);
    CUDA_LAUNCH_CHECK();
}

extern "C" void dlt__relu_backward_gpu(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    const float a = ((const relu_config *)l->state)->negative_slope;
    size_t n = l->bottom[0]->count;
    relu_bwd<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(
        l->bottom[0]->gdata, l->top[0]->gdiff, l->bottom[0]->gdiff, n, a);
    CUDA_LAUNCH_CHECK();
}

extern "C" void dlt__relu_destroy_gpu(dlt_layer *l) { (void)l; }
