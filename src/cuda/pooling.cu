/* pooling.cu - Pooling on the GPU with own kernels (as Caffe's
 * pooling_layer.cu) rather than cuDNN: Caffe rounds the output size up
 * and divides AVE windows by their size including padding, which cuDNN's
 * pooling modes do not reproduce. Backward gathers (no atomics). */
#include <stdlib.h>

#include "cuda/gpu.h"
extern "C" {
#include "layers/pooling.h"
}

typedef struct pool_gpu {
    int *mask;  /* (N, C, Ho, Wo) MAX: argmax h*W+w in its plane */
} pool_gpu;

static __global__ void pool_fwd(const float *x, float *y, int *mask, pool_config c, size_t total)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int ow = (int)(i % c.wo), oh = (int)(i / c.wo % c.ho);
        size_t pl = i / ((size_t)c.wo * c.ho);
        const float *xp = x + pl * c.h * c.w;
        int h0 = oh * c.sh - c.ph, h1 = h0 + c.kh, w0 = ow * c.sw - c.pw, w1 = w0 + c.kw;
        int hs = h0 < 0 ? 0 : h0, he = h1 < c.h ? h1 : c.h;
        int ws = w0 < 0 ? 0 : w0, we = w1 < c.w ? w1 : c.w;
        if (hs >= he || ws >= we) { /* wholly past the image: 0, no gradient (pooling.c) */
            y[i] = 0.0f;
            if (c.method == POOL_MAX)
                mask[i] = -1;
            continue;
        }
        if (c.method == POOL_MAX) {
            int idx = hs * c.w + ws; /* the first maximum wins, as in Caffe */
            float m = xp[idx];
            for (int a = hs; a < he; a++)
                for (int b = ws; b < we; b++)
                    if (xp[a * c.w + b] > m) {
                        m = xp[a * c.w + b];
                        idx = a * c.w + b;
                    }
            y[i] = m;
            mask[i] = idx;
        } else {
            int ah1 = h1 < c.h + c.ph ? h1 : c.h + c.ph, aw1 = w1 < c.w + c.pw ? w1 : c.w + c.pw;
            double acc = 0;
            for (int a = hs; a < he; a++)
                for (int b = ws; b < we; b++)
                    acc += xp[a * c.w + b];
            y[i] = (float)(acc / ((ah1 - h0) * (aw1 - w0)));
        }
    }
}

/* One thread per input element: sum the gradients of the windows covering it. */
static __global__ void pool_bwd(const float *dy, const int *mask, float *dx, pool_config c, size_t total)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int w = (int)(i % c.w), h = (int)(i / c.w % c.h);
        size_t pl = i / ((size_t)c.w * c.h);
        const float *dyp = dy + pl * c.ho * c.wo;
        int phs = h + c.ph < c.kh ? 0 : (h + c.ph - c.kh) / c.sh + 1;
        int phe = (h + c.ph) / c.sh + 1 < c.ho ? (h + c.ph) / c.sh + 1 : c.ho;
        int pws = w + c.pw < c.kw ? 0 : (w + c.pw - c.kw) / c.sw + 1;
        int pwe = (w + c.pw) / c.sw + 1 < c.wo ? (w + c.pw) / c.sw + 1 : c.wo;
        float g = 0;
        for (int oh = phs; oh < phe; oh++)
            for (int ow = pws; ow < pwe; ow++) {
                int o = oh * c.wo + ow;
                if (c.method == POOL_MAX) {
                    if (mask[pl * c.ho * c.wo + o] == h * c.w + w)
                        g += dyp[o];
                } else {
                    int h0 = oh * c.sh - c.ph, w0 = ow * c.sw - c.pw;
                    int ah1 = h0 + c.kh < c.h + c.ph ? h0 + c.kh : c.h + c.ph;
                    int aw1 = w0 + c.kw < c.w + c.pw ? w0 + c.kw : c.w + c.pw;
                    g += dyp[o] / (float)((ah1 - h0) * (aw1 - w0));
                }
            }
        dx[i] = g;
    }
}

extern "C" int dlt__pooling_setup_gpu(dlt_layer *l)
{
    pool_gpu *s = (pool_gpu *)dlt_calloc(1, sizeof *s);
    if (dlt__pooling_config(l)->method == POOL_MAX)
        s->mask = (int *)dlt__dev_alloc(l->top[0]->count * sizeof(int) + sizeof(int));
    l->gpu_state = s;
    return 0;
}

extern "C" void dlt__pooling_forward_gpu(dlt_layer *l)
{
    const pool_gpu *s = (const pool_gpu *)l->gpu_state;
    size_t n = l->top[0]->count;
    pool_fwd<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(l->bottom[0]->gdata, l->top[0]->gdata,
                                                                     s->mask, *dlt__pooling_config(l), n);
    CUDA_LAUNCH_CHECK();
}

extern "C" void dlt__pooling_backward_gpu(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    const pool_gpu *s = (const pool_gpu *)l->gpu_state;
    size_t n = l->bottom[0]->count;
    pool_bwd<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(l->top[0]->gdiff, s->mask,
                                                                     l->bottom[0]->gdiff, *dlt__pooling_config(l), n);
    CUDA_LAUNCH_CHECK();
}

extern "C" void dlt__pooling_destroy_gpu(dlt_layer *l)
{
    pool_gpu *s = (pool_gpu *)l->gpu_state;
    if (!s)
        return;
    dlt__dev_free(s->mask);
    free(s);
}
