/* plane_sums.h - internal: double-precision sums over one float plane, the
 * reductions BatchNorm and Scale run per channel. `omp simd reduction`
 * lets the compiler keep several double partial sums in vector lanes (a
 * single double accumulator is bound by the add latency: 4 cycles per
 * element); the lane split is fixed at compile time, so a plane sums in
 * the same order on every call, for any thread count or batch split.
 * PAR_MIN: the elements below which the memory-bound layers stay on one
 * thread (an OpenMP wake-up costs more than the pass). */
#ifndef DLTRAIN_LAYERS_PLANE_SUMS_H
#define DLTRAIN_LAYERS_PLANE_SUMS_H

#include <stddef.h>

#define DLT__PAR_MIN 32768

static inline double dlt__plane_sum(const float *x, size_t n)
{
    double a = 0;
#pragma omp simd reduction(+ : a)
    for (size_t i = 0; i < n; i++)
        a += x[i];
    return a;
}

/* sum (x - mu)^2 */
static inline double dlt__plane_sqdev(const float *x, size_t n, double mu)
{
    double a = 0;
#pragma omp simd reduction(+ : a)
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - mu;
        a += d * d;
    }
    return a;
}

/* sum x and sum x*y in one pass */
static inline void dlt__plane_sum_dot(const float *x, const float *y, size_t n, double *sx,
                                      double *sxy)
{
    double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
    for (size_t i = 0; i < n; i++) {
        a += x[i];
        b += (double)x[i] * y[i];
    }
    *sx = a, *sxy = b;
}

/* sum x and sum x*y over channel C of (N, C, P) tensors: plane by plane
 * (the sums above), added in sample order */
static inline void dlt__channel_sum_dot(const float *x, const float *y, int c, int N, int C,
                                        size_t P, double *sx, double *sxy)
{
    double a = 0, b = 0;
    for (int n = 0; n < N; n++) {
        const size_t o = ((size_t)n * C + c) * P;
        double pa, pb;
        dlt__plane_sum_dot(x + o, y + o, P, &pa, &pb);
        a += pa, b += pb;
    }
    *sx = a, *sxy = b;
}

#endif
