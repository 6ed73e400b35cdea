/* scale.cu - Scale on the GPU, the form the CPU layer (src/layers/scale.c)
 * accepts: one bottom, a learned per-channel scale (axis 1, num_axes 1)
 * and optional bias. Parameter gradients are per-channel sums in double
 * (src/cuda/reduce.cuh) added (+=) to the diffs; in place, the input is
 * saved for the scale's gradient as on the CPU. */
#include <stdlib.h>

#include "cuda/reduce.cuh"
extern "C" {
#include "layers/scale.h"
}

typedef struct scale_gpu {
    float *x_saved;  /* (N, C, H, W) in place: the input */
} scale_gpu;

/* y = x * gamma_c + beta_c (beta NULL: + 0, as the CPU adds 0.0f). */
static __global__ void scale_fwd(const float *x, const float *g, const float *b, float *y, int C, size_t P,
                                 size_t total)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(i / P % C);
        y[i] = __fadd_rn(__fmul_rn(x[i], g[c]), b ? b[c] : 0.0f);
    }
}

/* dgamma_c += sum dy * x, dbeta_c += sum dy (db NULL: no bias). */
static __global__ void scale_param_grad(const float *x, const float *dy, float *dg, float *db, int C, size_t P,
                                        size_t NP)
{
    const int c = blockIdx.x;
    double ag = 0, ab = 0;
    for (size_t i = threadIdx.x; i < NP; i += blockDim.x) {
        const size_t k = chan_at(i, c, C, P);
        ag += (double)dy[k] * x[k], ab += dy[k];
    }
    ag = block_sum(ag);
    ab = block_sum(ab);
    if (threadIdx.x == 0) {
        dg[c] = __fadd_rn(dg[c], (float)ag);
        if (db)
            db[c] = __fadd_rn(db[c], (float)ab);
    }
}

static __global__ void scale_bottom_grad(const float *dy, const float *g, float *dx, int C, size_t P, size_t total)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
        dx[i] = __fmul_rn(dy[i], g[i / P % C]);
}

extern "C" int dlt__scale_setup_gpu(dlt_layer *l)
{
    scale_gpu *s = (scale_gpu *)dlt_calloc(1, sizeof *s);
    if (l->top[0] == l->bottom[0])
        s->x_saved = (float *)dlt__dev_alloc(l->bottom[0]->count * sizeof(float) + sizeof(float));
    l->gpu_state = s;
    return 0;
}

extern "C" void dlt__scale_forward_gpu(dlt_layer *l)
{
    const scale_state *st = (const scale_state *)l->state;
    const scale_gpu *s = (const scale_gpu *)l->gpu_state;
    const dlt_tensor *x = l->bottom[0];
    const size_t P = (size_t)x->h * x->w;
    if (s->x_saved)
        dlt__dev_copy(s->x_saved, x->gdata, x->count);
    scale_fwd<<<dlt__grid(x->count), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(
        x->gdata, l->param[0].gdata, st->bias_term ? l->param[1].gdata : NULL, l->top[0]->gdata, x->c, P,
        x->count);
    CUDA_LAUNCH_CHECK();
}

extern "C" void dlt__scale_backward_gpu(dlt_layer *l)
{
    const scale_state *st = (const scale_state *)l->state;
    const scale_gpu *s = (const scale_gpu *)l->gpu_state;
    const dlt_tensor *x = l->bottom[0];
    const size_t P = (size_t)x->h * x->w;
    const float *dy = l->top[0]->gdiff;
    cudaStream_t stream = dlt__gpu_get()->stream;
    /* Before dx: in place, dx is dy's buffer. */
    scale_param_grad<<<x->c, DLT_BLOCK, 0, stream>>>(s->x_saved ? s->x_saved : x->gdata, dy, l->param[0].gdiff,
                                                     st->bias_term ? l->param[1].gdiff : NULL, x->c, P,
                                                     (size_t)x->n * P);
    CUDA_LAUNCH_CHECK();
    if (!l->propagate_down[0])
        return;
    scale_bottom_grad<<<dlt__grid(x->count), DLT_BLOCK, 0, stream>>>(dy, l->param[0].gdata, x->gdiff, x->c, P,
                                                                     x->count);
    CUDA_LAUNCH_CHECK();
}

extern "C" void dlt__scale_destroy_gpu(dlt_layer *l)
{
    scale_gpu *s = (scale_gpu *)l->gpu_state;
    if (!s)
        return;
    dlt__dev_free(s->x_saved);
    free(s);
}
