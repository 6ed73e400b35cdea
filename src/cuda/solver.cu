/* solver.cu - the solvers' device step: one kernel per row of
 * DLT_SOLVER_MAP, each compiled from the same per-value rule as the host
 * loop (src/net/solver_rules.h, rounded the host's way: __f*_rn, no FMA
 * contraction); and the vector reductions around it (L2 norm for
 * clip_gradients, scaling, non-finite scan). src/net/solver.c decides
 * what to call. */
#include <math.h>
#include <stdio.h>

#include "cuda/gpu.h"

extern "C" {
#include "net/solver_rules.h"
}

#define XX(ID, name, nhistory)                                                                         \
    static __global__ void step_##ID(dlt__update_args a, float *w, float *g, float *h0, float *h1,     \
                                     size_t n)                                                         \
    {                                                                                                  \
        for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;                          \
             i += (size_t)gridDim.x * blockDim.x)                                                      \
            DLT__UPDATE_VALUE(ID, nhistory, &a, w, g, h0, h1, i);                                      \
    }
DLT_SOLVER_MAP(XX)
#undef XX

extern "C" void dlt__dev_solver_update(int type, const dlt__update_args *a, float *w, float *g, float *h0,
                                       float *h1, size_t n)
{
    if (n == 0)
        return;
    cudaStream_t stream = dlt__gpu_get()->stream;
    switch (type) {
#define XX(ID, name, nhistory)                                                                         \
    case DLT_SOLVER_##ID:                                                                              \
        step_##ID<<<dlt__grid(n), DLT_BLOCK, 0, stream>>>(*a, w, g, h0, h1, n);                        \
        break;
        DLT_SOLVER_MAP(XX)
#undef XX
    default:
        dlt_fatal("internal: dlt__dev_solver_update: no solver type %d", type);
    }
    CUDA_LAUNCH_CHECK();
}

/* Sum of squares in double: per-thread partial sums, a shared-memory tree
 * per block, one atomicAdd per block. */
static __global__ void sumsq(const float *x, size_t n, double *out)
{
    __shared__ double part[DLT_BLOCK];
    double s = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        s += (double)x[i] * x[i];
    part[threadIdx.x] = s;
    __syncthreads();
    for (unsigned k = blockDim.x / 2; k > 0; k /= 2) {
        if (threadIdx.x < k)
            part[threadIdx.x] += part[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        atomicAdd(out, part[0]);
}

/* A small device scratch word shared by the reductions below (they run
 * on the one compute stream, one at a time, each waiting for its result). */
static void *scratch(void)
{
    static void *p; /* owned by this module; freed with the process */
    if (!p)
        p = dlt__dev_alloc(sizeof(double));
    return p;
}

extern "C" double dlt__dev_sumsq(const float *x, size_t n)
{
    double *d = (double *)scratch(), s = 0;
    dlt__dev_zero(d, sizeof *d);
    if (n) {
        sumsq<<<dlt__grid(n) < 1024 ? dlt__grid(n) : 1024, DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(x, n, d);
        CUDA_LAUNCH_CHECK();
    }
    dlt__dev_download(&s, d, sizeof s);
    return s;
}

static __global__ void scale(float *x, size_t n, float f)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = __fmul_rn(x[i], f);
}

extern "C" void dlt__dev_scale(float *x, size_t n, float f)
{
    if (n == 0)
        return;
    scale<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(x, n, f);
    CUDA_LAUNCH_CHECK();
}

/* Highest index + 1 of a non-finite value (0: none), by atomicMax. */
static __global__ void last_nonfinite(const float *x, size_t n, unsigned long long *out)
{
    unsigned long long best = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        if (!isfinite(x[i]))
            best = i + 1;
    if (best)
        atomicMax(out, best);
}

extern "C" size_t dlt__dev_last_nonfinite(const float *x, size_t n)
{
    unsigned long long *d = (unsigned long long *)scratch(), r = 0;
    dlt__dev_zero(d, sizeof *d);
    if (n) {
        last_nonfinite<<<dlt__grid(n) < 1024 ? dlt__grid(n) : 1024, DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(x, n, d);
        CUDA_LAUNCH_CHECK();
    }
    dlt__dev_download(&r, d, sizeof r);
    return r ? (size_t)(r - 1) : (size_t)-1;
}
