/* lrn.cu - LRN on the GPU with own kernels that repeat the CPU layer's
 * arithmetic (src/layers/lrn.c) step by step, in the same order and with
 * explicitly rounded float operations (no FMA contraction), rather than
 * cuDNN's LRN: WITHIN_CHANNEL (Caffe's AVE pooling divisor) has no cuDNN
 * counterpart. One thread per element; backward gathers, no atomics. */
#include <stdlib.h>

#include "cuda/gpu.h"
extern "C" {
#include "layers/lrn.h"
}

typedef struct lrn_gpu {
    float *scale;  /* (N, C, H, W) the normalizer, kept for backward */
} lrn_gpu;

/* Shape and constants, computed on the host exactly as the CPU layer does. */
typedef struct lrn_args {
    int C, H, W, size, pre;
    float k, alpha, beta;
    float a;  /* ACROSS forward: alpha / size */
    float f;  /* backward: 2 alpha beta / size (ACROSS), 2 alpha beta (WITHIN) */
} lrn_args;

static __global__ void across_fwd(const float *x, float *scale, lrn_args g, size_t total)
{
    const size_t P = (size_t)g.H * g.W;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(i / P % g.C);
        const float *xp = x + (i - (size_t)c * P); /* channel 0, same n and position */
        float acc = 0;
        for (int j = c - g.pre; j <= c + g.pre; j++)
            if (j >= 0 && j < g.C)
                acc = __fadd_rn(acc, __fmul_rn(xp[(size_t)j * P], xp[(size_t)j * P]));
        scale[i] = __fadd_rn(g.k, __fmul_rn(g.a, acc));
    }
}

/* WITHIN: the window of output (oh, ow) as the CPU's window_avg clips it:
 * the divisor counts the padded extent, the sum only the image. */
struct window {
    int h0, h1, w0, w1;
    float div;
};
static __device__ __forceinline__ window window_at(const lrn_args &g, int oh, int ow)
{
    const int pad = (g.size - 1) / 2;
    window r;
    r.h0 = oh - pad, r.w0 = ow - pad;
    r.h1 = r.h0 + g.size < g.H + pad ? r.h0 + g.size : g.H + pad;
    r.w1 = r.w0 + g.size < g.W + pad ? r.w0 + g.size : g.W + pad;
    r.div = (float)((r.h1 - r.h0) * (r.w1 - r.w0));
    r.h0 = r.h0 < 0 ? 0 : r.h0, r.w0 = r.w0 < 0 ? 0 : r.w0;
    r.h1 = r.h1 > g.H ? g.H : r.h1, r.w1 = r.w1 > g.W ? g.W : r.w1;
    return r;
}

static __global__ void within_fwd(const float *x, float *scale, lrn_args g, size_t total)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const int ow = (int)(i % g.W), oh = (int)(i / g.W % g.H);
        const float *xp = x + (i - ((size_t)oh * g.W + ow)); /* the plane */
        const window r = window_at(g, oh, ow);
        double acc = 0;
        for (int h = r.h0; h < r.h1; h++)
            for (int w = r.w0; w < r.w1; w++)
                acc += __fmul_rn(xp[h * g.W + w], xp[h * g.W + w]);
        const float avg = (float)(acc / r.div);
        scale[i] = __fadd_rn(1.0f, __fmul_rn(g.alpha, avg));
    }
}

static __global__ void apply_scale(const float *x, const float *scale, float *y, float beta, size_t total)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
        y[i] = __fmul_rn(x[i], powf(scale[i], -beta));
}

/* t = dy * y / scale, as the CPU forms it. */
static __device__ __forceinline__ float ratio(const float *dy, const float *y, const float *scale, size_t q)
{
    return __fdiv_rn(__fmul_rn(dy[q], y[q]), scale[q]);
}

/* dx = dy scale^-beta - f x acc. */
static __device__ __forceinline__ float lrn_dx(const float *x, const float *dy, const float *scale, size_t i,
                                               float beta, float f, float acc)
{
    return __fsub_rn(__fmul_rn(dy[i], powf(scale[i], -beta)), __fmul_rn(__fmul_rn(f, x[i]), acc));
}

static __global__ void across_bwd(const float *x, const float *y, const float *dy, const float *scale, float *dx,
                                  lrn_args g, size_t total)
{
    const size_t P = (size_t)g.H * g.W;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(i / P % g.C);
        const size_t base = i - (size_t)c * P;
        float acc = 0;
        for (int j = c - g.pre; j <= c + g.pre; j++)
            if (j >= 0 && j < g.C)
                acc = __fadd_rn(acc, ratio(dy, y, scale, base + (size_t)j * P));
        dx[i] = lrn_dx(x, dy, scale, i, g.beta, g.f, acc);
    }
}

/* WITHIN: the adjoint of the window average, gathered: the windows of
 * (oh, ow) that cover (h, w), visited in the CPU's scatter order (oh, then
 * ow, ascending) so the float sum is the same. */
static __global__ void within_bwd(const float *x, const float *y, const float *dy, const float *scale, float *dx,
                                  lrn_args g, size_t total)
{
    const int pad = (g.size - 1) / 2;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const int w = (int)(i % g.W), h = (int)(i / g.W % g.H);
        const size_t plane = i - ((size_t)h * g.W + w);
        const int oh0 = h + pad - g.size + 1 > 0 ? h + pad - g.size + 1 : 0;
        const int oh1 = h + pad < g.H - 1 ? h + pad : g.H - 1;
        const int ow0 = w + pad - g.size + 1 > 0 ? w + pad - g.size + 1 : 0;
        const int ow1 = w + pad < g.W - 1 ? w + pad : g.W - 1;
        float acc = 0;
        for (int oh = oh0; oh <= oh1; oh++)
            for (int ow = ow0; ow <= ow1; ow++) {
                const window r = window_at(g, oh, ow);
                const float t = ratio(dy, y, scale, plane + (size_t)oh * g.W + ow);
                acc = __fadd_rn(acc, __fdiv_rn(t, r.div));
            }
        dx[i] = lrn_dx(x, dy, scale, i, g.beta, g.f, acc);
    }
}

static lrn_args args_of(const dlt_layer *l)
{
    const lrn_state *s = (const lrn_state *)l->state;
    const dlt_tensor *x = l->bottom[0];
    lrn_args g;
    g.C = x->c, g.H = x->h, g.W = x->w;
    g.size = s->size, g.pre = (s->size - 1) / 2;
    g.k = s->k, g.alpha = s->alpha, g.beta = s->beta;
    g.a = s->alpha / s->size;
    g.f = s->region == ACROSS ? 2.0f * s->alpha * s->beta / s->size : 2.0f * s->alpha * s->beta;
    return g;
}

extern "C" int dlt__lrn_setup_gpu(dlt_layer *l)
{
    lrn_gpu *s = (lrn_gpu *)dlt_calloc(1, sizeof *s);
    s->scale = (float *)dlt__dev_alloc(l->bottom[0]->count * sizeof(float) + sizeof(float));
    l->gpu_state = s;
    return 0;
}

extern "C" void dlt__lrn_forward_gpu(dlt_layer *l)
{
    const lrn_state *st = (const lrn_state *)l->state;
    const lrn_gpu *s = (const lrn_gpu *)l->gpu_state;
    const lrn_args g = args_of(l);
    const size_t n = l->bottom[0]->count;
    cudaStream_t stream = dlt__gpu_get()->stream;
    if (st->region == ACROSS)
        across_fwd<<<dlt__grid(n), DLT_BLOCK, 0, stream>>>(l->bottom[0]->gdata, s->scale, g, n);
    else
        within_fwd<<<dlt__grid(n), DLT_BLOCK, 0, stream>>>(l->bottom[0]->gdata, s->scale, g, n);
    CUDA_LAUNCH_CHECK();
    apply_scale<<<dlt__grid(n), DLT_BLOCK, 0, stream>>>(l->bottom[0]->gdata, s->scale, l->top[0]->gdata, g.beta, n);
    CUDA_LAUNCH_CHECK();
}

extern "C" void dlt__lrn_backward_gpu(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    const lrn_state *st = (const lrn_state *)l->state;
    const lrn_gpu *s = (const lrn_gpu *)l->gpu_state;
    const lrn_args g = args_of(l);
    const dlt_tensor *x = l->bottom[0], *y = l->top[0];
    const size_t n = x->count;
    cudaStream_t stream = dlt__gpu_get()->stream;
    if (st->region == ACROSS)
        across_bwd<<<dlt__grid(n), DLT_BLOCK, 0, stream>>>(x->gdata, y->gdata, y->gdiff, s->scale, x->gdiff, g, n);
    else
        within_bwd<<<dlt__grid(n), DLT_BLOCK, 0, stream>>>(x->gdata, y->gdata, y->gdiff, s->scale, x->gdiff, g, n);
    CUDA_LAUNCH_CHECK();
}

extern "C" void dlt__lrn_destroy_gpu(dlt_layer *l)
{
    lrn_gpu *s = (lrn_gpu *)l->gpu_state;
    if (!s)
        return;
    dlt__dev_free(s->scale);
    free(s);
}
