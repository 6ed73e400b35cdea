/* batchnorm.cu - BatchNorm on the GPU: per-channel statistics in double,
 * one block per channel (src/cuda/reduce.cuh), the three Caffe blobs
 * updated on the device exactly as the CPU layer (src/layers/batchnorm.c)
 * does; then elementwise kernels. In place works as on the CPU: the
 * statistics are complete before the output is written, and in TRAIN the
 * backward reads y from a copy (x_norm) that in-place layers after this
 * one (Scale, ReLU) cannot overwrite. */
#include <math.h>
#include <stdlib.h>

#include "cuda/reduce.cuh"
extern "C" {
#include "layers/batchnorm.h"
}

typedef struct bn_gpu {
    double *mean;    /* (C) the mean used by the last forward */
    float *inv_std;  /* (C) 1/sqrt(var + eps) of the last forward */
    float *md, *mdy; /* (C) train backward: mean(dy), mean(dy * y) */
    float *x_norm;   /* (N, C, H, W) TRAIN: y of the last forward; NULL in TEST */
} bn_gpu;

/* Train: batch mean and variance of channel blockIdx.x, then the blob
 * update (block 0 also advances the scale factor). */
static __global__ void batch_stats(const float *x, int C, size_t P, size_t NP, float maf, float eps, double *mean,
                                   float *inv_std, float *mean_b, float *var_b, float *fac)
{
    const int c = blockIdx.x;
    const double m = (double)NP;
    double a = 0;
    for (size_t i = threadIdx.x; i < NP; i += blockDim.x)
        a += x[chan_at(i, c, C, P)];
    const double mu = block_sum(a) / m;
    double b = 0;
    for (size_t i = threadIdx.x; i < NP; i += blockDim.x) {
        const double d = x[chan_at(i, c, C, P)] - mu;
        b += d * d;
    }
    const double acc2 = block_sum(b);
    if (threadIdx.x != 0)
        return;
    const double corr = m > 1 ? m / (m - 1) : 1;
    const double var = acc2 / m;
    mean[c] = mu;
    inv_std[c] = (float)(1.0 / sqrt(var + eps));
    mean_b[c] = (float)(mean_b[c] * (double)maf + mu);
    var_b[c] = (float)(var_b[c] * (double)maf + corr * var);
    if (c == 0)
        fac[0] = __fadd_rn(__fmul_rn(fac[0], maf), 1.0f);
}

/* use_global_stats: the estimates are blob / factor. */
static __global__ void global_stats(int C, float eps, const float *mean_b, const float *var_b, const float *fac,
                                    double *mean, float *inv_std)
{
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C)
        return;
    const double f = fac[0] == 0 ? 0 : 1.0 / fac[0];
    mean[c] = mean_b[c] * f;
    inv_std[c] = (float)(1.0 / sqrt(var_b[c] * f + eps));
}

static __global__ void normalize(const float *x, float *y, const double *mean, const float *inv_std, int C,
                                 size_t P, size_t total)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(i / P % C);
        y[i] = __fmul_rn(__fsub_rn(x[i], (float)mean[c]), inv_std[c]);
    }
}

static __global__ void grad_stats(const float *y, const float *dy, int C, size_t P, size_t NP, float *md,
                                  float *mdy)
{
    const int c = blockIdx.x;
    double a = 0, b = 0;
    for (size_t i = threadIdx.x; i < NP; i += blockDim.x) {
        const size_t k = chan_at(i, c, C, P);
        a += dy[k], b += (double)dy[k] * y[k];
    }
    a = block_sum(a);
    b = block_sum(b);
    if (threadIdx.x == 0) {
        md[c] = (float)(a / (double)NP);
        mdy[c] = (float)(b / (double)NP);
    }
}

/* Train: dx = (dy - mean(dy) - y * mean(dy * y)) * inv_std. */
static __global__ void grad_train(const float *y, const float *dy, float *dx, const float *md, const float *mdy,
                                  const float *inv_std, int C, size_t P, size_t total)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(i / P % C);
        const float v = __fsub_rn(__fsub_rn(dy[i], md[c]), __fmul_rn(y[i], mdy[c]));
        dx[i] = __fmul_rn(v, inv_std[c]);
    }
}

static __global__ void grad_global(const float *dy, float *dx, const float *inv_std, int C, size_t P, size_t total)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
        dx[i] = __fmul_rn(dy[i], inv_std[i / P % C]);
}

extern "C" int dlt__batchnorm_setup_gpu(dlt_layer *l)
{
    const size_t C = (size_t)l->bottom[0]->c;
    bn_gpu *s = (bn_gpu *)dlt_calloc(1, sizeof *s);
    s->mean = (double *)dlt__dev_alloc(C * sizeof(double));
    s->inv_std = (float *)dlt__dev_alloc(C * sizeof(float));
    s->md = (float *)dlt__dev_alloc(C * sizeof(float));
    s->mdy = (float *)dlt__dev_alloc(C * sizeof(float));
    if (((const bn_state *)l->state)->x_norm)
        s->x_norm = (float *)dlt__dev_alloc(l->bottom[0]->count * sizeof(float) + sizeof(float));
    l->gpu_state = s;
    return 0;
}

extern "C" void dlt__batchnorm_forward_gpu(dlt_layer *l)
{
    const bn_state *st = (const bn_state *)l->state;
    const bn_gpu *s = (const bn_gpu *)l->gpu_state;
    const dlt_tensor *x = l->bottom[0];
    const int C = x->c;
    const size_t P = (size_t)x->h * x->w;
    cudaStream_t stream = dlt__gpu_get()->stream;
    if (st->global)
        global_stats<<<(C + DLT_BLOCK - 1) / DLT_BLOCK, DLT_BLOCK, 0, stream>>>(
            C, st->eps, l->param[0].gdata, l->param[1].gdata, l->param[2].gdata, s->mean, s->inv_std);
    else
        batch_stats<<<C, DLT_BLOCK, 0, stream>>>(x->gdata, C, P, (size_t)x->n * P, st->maf, st->eps, s->mean,
                                                 s->inv_std, l->param[0].gdata, l->param[1].gdata,
                                                 l->param[2].gdata);
    CUDA_LAUNCH_CHECK();
    normalize<<<dlt__grid(x->count), DLT_BLOCK, 0, stream>>>(x->gdata, l->top[0]->gdata, s->mean, s->inv_std, C, P,
                                                             x->count);
    CUDA_LAUNCH_CHECK();
    if (s->x_norm)
        dlt__dev_copy(s->x_norm, l->top[0]->gdata, x->count);
}

extern "C" void dlt__batchnorm_backward_gpu(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    const bn_state *st = (const bn_state *)l->state;
    const bn_gpu *s = (const bn_gpu *)l->gpu_state;
    const dlt_tensor *x = l->bottom[0], *y = l->top[0];
    const int C = x->c;
    const size_t P = (size_t)x->h * x->w;
    cudaStream_t stream = dlt__gpu_get()->stream;
    if (st->global) {
        grad_global<<<dlt__grid(x->count), DLT_BLOCK, 0, stream>>>(y->gdiff, x->gdiff, s->inv_std, C, P, x->count);
        CUDA_LAUNCH_CHECK();
        return;
    }
    const float *yn = s->x_norm ? s->x_norm : y->gdata;
    grad_stats<<<C, DLT_BLOCK, 0, stream>>>(yn, y->gdiff, C, P, (size_t)x->n * P, s->md, s->mdy);
    CUDA_LAUNCH_CHECK();
    grad_train<<<dlt__grid(x->count), DLT_BLOCK, 0, stream>>>(yn, y->gdiff, x->gdiff, s->md, s->mdy,
                                                              s->inv_std, C, P, x->count);
    CUDA_LAUNCH_CHECK();
}

extern "C" void dlt__batchnorm_destroy_gpu(dlt_layer *l)
{
    bn_gpu *s = (bn_gpu *)l->gpu_state;
    if (!s)
        return;
    dlt__dev_free(s->mean);
    dlt__dev_free(s->inv_std);
    dlt__dev_free(s->md);
    dlt__dev_free(s->mdy);
    dlt__dev_free(s->x_norm);
    free(s);
}
