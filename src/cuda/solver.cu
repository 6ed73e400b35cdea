/* solver.cu - the solvers' arithmetic on device buffers: one parameter
 * blob's regularization and update (SGD, Nesterov, Adam) in the host
 * loop's order and rounding (no FMA contraction: __f*_rn), and the vector
 * reductions around it (L2 norm for clip_gradients, scaling, non-finite
 * scan). src/net/solver.c decides what to call; the math lives here. */
#include "cuda/gpu.h"

enum { SGD = 0, NESTEROV = 1, ADAM = 2 }; /* dlt_solver_type's values */

static __global__ void update(int type, int l1, float *w, float *g, float *h, float *v, size_t n, float rate,
                              float decay, float m, float m2, float eps, float step)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float wi = w[i], gi = g[i];
        if (decay != 0.0f) {
            float r = l1 ? (float)((wi > 0.0f) - (wi < 0.0f)) : wi;
            gi = __fadd_rn(gi, __fmul_rn(decay, r));
            g[i] = gi;
        }
        float hi = h[i];
        if (type == ADAM) {
            hi = __fadd_rn(__fmul_rn(m, hi), __fmul_rn(__fsub_rn(1.0f, m), gi));
            float vi = __fadd_rn(__fmul_rn(m2, v[i]), __fmul_rn(__fmul_rn(__fsub_rn(1.0f, m2), gi), gi));
            v[i] = vi;
            wi = __fsub_rn(wi, __fmul_rn(step, __fdiv_rn(hi, __fadd_rn(sqrtf(vi), eps))));
        } else {
            float old = hi;
            hi = __fadd_rn(__fmul_rn(m, hi), __fmul_rn(rate, gi));
            if (type == NESTEROV)
                wi = __fsub_rn(wi, __fsub_rn(__fmul_rn(__fadd_rn(1.0f, m), hi), __fmul_rn(m, old)));
            else
                wi = __fsub_rn(wi, hi);
        }
        h[i] = hi;
        w[i] = wi;
    }
}

extern "C" void dlt__dev_solver_update(int type, int l1, float *w, float *g, float *h, float *v, size_t n,
                                       float rate, float decay, float m, float m2, float eps, float step)
{
    if (n == 0)
        return;
    update<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(type, l1, w, g, h, v, n, rate, decay, m, m2,
                                                                   eps, step);
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
