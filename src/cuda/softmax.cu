/* softmax.cu - Softmax over any axis on the GPU: an own kernel that
 * repeats the CPU layer's steps (src/layers/softmax.c: max, expf, sum in
 * double, one multiply by the float reciprocal) per (outer, inner)
 * position, one thread each, rather than cuDNN, whose CHANNEL mode rounds
 * differently. In place works: each position reads then writes its own
 * values. */
#include <stdlib.h>

#include "cuda/gpu.h"
extern "C" {
#include "layers/softmax.h"
}

static __global__ void softmax_fwd(const float *x, float *y, softmax_state s, size_t total)
{
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < total; t += (size_t)gridDim.x * blockDim.x) {
        const size_t o = t / s.inner, i = t % s.inner, in = (size_t)s.inner;
        const size_t base = o * s.dim * in + i;
        float m = x[base];
        for (int c = 1; c < s.dim; c++)
            m = fmaxf(m, x[base + c * in]);
        double sum = 0;
        for (int c = 0; c < s.dim; c++) {
            const float e = expf(__fsub_rn(x[base + c * in], m));
            y[base + c * in] = e;
            sum += e;
        }
        const float inv = (float)(1.0 / sum);
        for (int c = 0; c < s.dim; c++)
            y[base + c * in] = __fmul_rn(y[base + c * in], inv);
    }
}

/* dx = y * (dy - sum_c dy_c y_c). */
static __global__ void softmax_bwd(const float *y, const float *dy, float *dx, softmax_state s, size_t total)
{
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < total; t += (size_t)gridDim.x * blockDim.x) {
        const size_t o = t / s.inner, i = t % s.inner, in = (size_t)s.inner;
        const size_t base = o * s.dim * in + i;
        double dot = 0;
        for (int c = 0; c < s.dim; c++)
            dot += (double)dy[base + c * in] * y[base + c * in];
        for (int c = 0; c < s.dim; c++) {
            const size_t k = base + c * in;
            dx[k] = __fmul_rn(y[k], __fsub_rn(dy[k], (float)dot));
        }
    }
}

extern "C" int dlt__softmax_setup_gpu(dlt_layer *l) { (void)l; return 0; }

extern "C" void dlt__softmax_forward_gpu(dlt_layer *l)
{
    const softmax_state *s = (const softmax_state *)l->state;
    const size_t n = (size_t)s->outer * s->inner;
    softmax_fwd<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(l->bottom[0]->gdata, l->top[0]->gdata,
                                                                        *s, n);
    CUDA_LAUNCH_CHECK();
}

extern "C" void dlt__softmax_backward_gpu(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    const softmax_state *s = (const softmax_state *)l->state;
    const size_t n = (size_t)s->outer * s->inner;
    softmax_bwd<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(l->top[0]->gdata, l->top[0]->gdiff,
                                                                        l->bottom[0]->gdiff, *s, n);
    CUDA_LAUNCH_CHECK();
}

extern "C" void dlt__softmax_destroy_gpu(dlt_layer *l) { (void)l; }
