/* activations.cu - Sigmoid and TanH on the GPU: elementwise, and both
 * backward passes need only the output (so in place works, as in Caffe).
 * One kernel template for the two; the per-type math is a functor. */
#include "cuda/gpu.h"
extern "C" {
#include "layers/layers.h"
}

struct sigmoid_fn {
    __device__ float fwd(float x) const { return 1.0f / (1.0f + expf(-x)); }
    __device__ float dydx(float y) const { return y * (1.0f - y); }
};
struct tanh_fn {
    __device__ float fwd(float x) const { return tanhf(x); }
    __device__ float dydx(float y) const { return 1.0f - y * y; }
};

template <typename F> static __global__ void act_fwd(const float *x, float *y, size_t n, F f)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] = f.fwd(x[i]);
}

template <typename F> static __global__ void act_bwd(const float *y, const float *dy, float *dx, size_t n, F f)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dx[i] = dy[i] * f.dydx(y[i]);
}

template <typename F> static void forward(dlt_layer *l)
{
    size_t n = l->bottom[0]->count;
    act_fwd<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(l->bottom[0]->gdata, l->top[0]->gdata, n, F());
    CUDA_LAUNCH_CHECK();
}

template <typename F> static void backward(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    size_t n = l->bottom[0]->count;
    act_bwd<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(l->top[0]->gdata, l->top[0]->gdiff,
                                                                    l->bottom[0]->gdiff, n, F());
    CUDA_LAUNCH_CHECK();
}

extern "C" int dlt__activation_setup_gpu(dlt_layer *l) { (void)l; return 0; }
extern "C" void dlt__activation_destroy_gpu(dlt_layer *l) { (void)l; }
extern "C" void dlt__sigmoid_forward_gpu(dlt_layer *l) { forward<sigmoid_fn>(l); }
extern "C" void dlt__sigmoid_backward_gpu(dlt_layer *l) { backward<sigmoid_fn>(l); }
extern "C" void dlt__tanh_forward_gpu(dlt_layer *l) { forward<tanh_fn>(l); }
extern "C" void dlt__tanh_backward_gpu(dlt_layer *l) { backward<tanh_fn>(l); }
