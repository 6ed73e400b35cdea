/* eltwise.cu - Eltwise (SUM with coeff, PROD, MAX) over any number of
 * bottoms on the GPU, one thread per element doing the CPU layer's
 * operations (src/layers/eltwise.c) in its order: left to right over the
 * bottoms, explicitly rounded (no FMA), the first maximum wins. Backward
 * reads dy once per element before writing any bottom diff, so SUM in
 * place on bottom 0 (dx_0 is dy's buffer) works as on the CPU. */
#include <stdlib.h>

#include "cuda/gpu.h"
extern "C" {
#include "layers/eltwise.h"
}

typedef struct eltwise_gpu {
    int *argmax;  /* (count) MAX: which bottom won */
} eltwise_gpu;

/* The bottoms' buffers and settings, passed by value to the kernels. */
typedef struct blobs {
    const float *x[DLT_MAX_BLOBS];
    float *dx[DLT_MAX_BLOBS];  /* backward: NULL where propagate_down is 0 */
    float coeff[DLT_MAX_BLOBS];
    int nb, op;
} blobs;

static __global__ void eltwise_fwd(blobs b, float *y, int *argmax, size_t n)
{
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x) {
        if (b.op == OP_SUM) {
            float v = __fmul_rn(b.coeff[0], b.x[0][k]);
            for (int i = 1; i < b.nb; i++)
                v = __fadd_rn(v, __fmul_rn(b.coeff[i], b.x[i][k]));
            y[k] = v;
        } else if (b.op == OP_PROD) {
            float v = b.x[0][k];
            for (int i = 1; i < b.nb; i++)
                v = __fmul_rn(v, b.x[i][k]);
            y[k] = v;
        } else {
            float m = b.x[0][k];
            int a = 0;
            for (int i = 1; i < b.nb; i++)
                if (b.x[i][k] > m)
                    m = b.x[i][k], a = i;
            y[k] = m;
            argmax[k] = a;
        }
    }
}

static __global__ void eltwise_bwd(blobs b, const float *dy, const int *argmax, size_t n)
{
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x) {
        const float g = dy[k];
        for (int i = b.nb - 1; i >= 0; i--) {
            if (!b.dx[i])
                continue;
            float v;
            if (b.op == OP_SUM) {
                v = __fmul_rn(b.coeff[i], g);
            } else if (b.op == OP_PROD) { /* product of the other bottoms: no division by x_i */
                v = g;
                for (int j = 0; j < b.nb; j++)
                    if (j != i)
                        v = __fmul_rn(v, b.x[j][k]);
            } else {
                v = argmax[k] == i ? g : 0.0f;
            }
            b.dx[i][k] = v;
        }
    }
}

static blobs blobs_of(const dlt_layer *l, int backward)
{
    const eltwise_state *s = (const eltwise_state *)l->state;
    blobs b;
    b.nb = l->nbottom, b.op = s->op;
    for (int i = 0; i < DLT_MAX_BLOBS; i++) {
        b.x[i] = i < l->nbottom ? l->bottom[i]->gdata : NULL;
        b.dx[i] = i < l->nbottom && backward && l->propagate_down[i] ? l->bottom[i]->gdiff : NULL;
        b.coeff[i] = s->coeff[i];
    }
    return b;
}

extern "C" int dlt__eltwise_setup_gpu(dlt_layer *l)
{
    eltwise_gpu *s = (eltwise_gpu *)dlt_calloc(1, sizeof *s);
    if (((const eltwise_state *)l->state)->op == OP_MAX)
        s->argmax = (int *)dlt__dev_alloc(l->bottom[0]->count * sizeof(int) + sizeof(int));
    l->gpu_state = s;
    return 0;
}

extern "C" void dlt__eltwise_forward_gpu(dlt_layer *l)
{
    const eltwise_gpu *s = (const eltwise_gpu *)l->gpu_state;
    const size_t n = l->bottom[0]->count;
    eltwise_fwd<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(blobs_of(l, 0), l->top[0]->gdata,
                                                                        s->argmax, n);
    CUDA_LAUNCH_CHECK();
}

extern "C" void dlt__eltwise_backward_gpu(dlt_layer *l)
{
    const eltwise_gpu *s = (const eltwise_gpu *)l->gpu_state;
    const size_t n = l->bottom[0]->count;
    eltwise_bwd<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(blobs_of(l, 1), l->top[0]->gdiff,
                                                                        s->argmax, n);
    CUDA_LAUNCH_CHECK();
}

extern "C" void dlt__eltwise_destroy_gpu(dlt_layer *l)
{
    eltwise_gpu *s = (eltwise_gpu *)l->gpu_state;
    if (!s)
        return;
    dlt__dev_free(s->argmax);
    free(s);
}
