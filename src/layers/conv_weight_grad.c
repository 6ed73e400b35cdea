/* conv_weight_grad.c - a convolution's weight gradient straight from the
 * input (no patch matrix), the output channels in the vector lanes:
 * dwT (R, Kp) += sum over output positions p of x(r, p) dyT (p, Kp), where
 * x(r, p) is the input tap that patch row r = (c, ki, kj) reads at p.
 * For few output positions per sample (LeNet's conv2: 8x8) the chains
 * still run long: each element's chain goes on across the samples of a
 * chunk (the caller keeps dwT between calls). Writing the patch matrix
 * first (im2col) cost as much as the GEMM there (0.55 against 0.75 ms per
 * 32 samples, AVX-512 Xeon): the taps are read from the input instead.
 * Blocks of up to 6 taps of one kernel row x 64 channels on AVX-512 (24
 * accumulators), x 16 (or a last 8) on AVX2 (up to 12); every element is
 * one fused multiply-add chain over p in order on every path, so the bits
 * depend on neither the ISA, the block nor the thread. */
#include <immintrin.h>
#include <math.h>

#include "dltrain/cpu.h"
#include "layers/patch_grad.h"

/* One block: taps kj0 .. kj0+NR-1 of kernel row (c, ki), whose input rows
 * start at X (channel c, row ki*dh, column kj0*dw); NR and NV are
 * constants at every call, so the accumulators stay in registers. */
__attribute__((target("avx512f"), always_inline)) static inline void
block512(int NR, int NV, const dlt__conv_geom *g, int dwx, const float *x, const float *dyT, int Kp,
         float *dwT)
{
    __m512 acc[6][4];
#pragma GCC unroll 6
    for (int j = 0; j < NR; j++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[j][v] = _mm512_loadu_ps(dwT + (size_t)j * Kp + 16 * v);
    for (int oh = 0; oh < g->ho; oh++) {
        const float *xr = x + (size_t)oh * g->sh * g->w;
        const float *d = dyT + (size_t)oh * g->wo * Kp;
        for (int ow = 0; ow < g->wo; ow++, d += Kp) {
            const float *xp = xr + (size_t)ow * g->sw;
            __m512 dv[4];
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                dv[v] = _mm512_loadu_ps(d + 16 * v);
#pragma GCC unroll 6
            for (int j = 0; j < NR; j++) {
                const __m512 c = _mm512_set1_ps(xp[j * dwx]);
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++)
                    acc[j][v] = _mm512_fmadd_ps(c, dv[v], acc[j][v]);
            }
        }
    }
#pragma GCC unroll 6
    for (int j = 0; j < NR; j++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            _mm512_storeu_ps(dwT + (size_t)j * Kp + 16 * v, acc[j][v]);
}

#define TAPS_512(NV)                                                                   \
    __attribute__((target("avx512f"))) static void taps512_##NV(                       \
        int nr, const dlt__conv_geom *g, int dwx, const float *x, const float *dyT, int Kp, float *dwT) \
    {                                                                                  \
        switch (nr) {                                                                  \
        case 6: block512(6, NV, g, dwx, x, dyT, Kp, dwT); break;                       \
        case 5: block512(5, NV, g, dwx, x, dyT, Kp, dwT); break;                       \
        case 4: block512(4, NV, g, dwx, x, dyT, Kp, dwT); break;                       \
        case 3: block512(3, NV, g, dwx, x, dyT, Kp, dwT); break;                       \
        case 2: block512(2, NV, g, dwx, x, dyT, Kp, dwT); break;                       \
        default: block512(1, NV, g, dwx, x, dyT, Kp, dwT); break;                      \
        }                                                                              \
    }
TAPS_512(4)
TAPS_512(3)
TAPS_512(2)
TAPS_512(1)

/* The AVX2 form: up to 6 taps x NV (1 or 2) vectors of 8 channels, the
 * same chains. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
block256(int NR, int NV, const dlt__conv_geom *g, int dwx, const float *x, const float *dyT, int Kp,
         float *dwT)
{
    __m256 acc[6][2];
#pragma GCC unroll 6
    for (int j = 0; j < NR; j++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            acc[j][v] = _mm256_loadu_ps(dwT + (size_t)j * Kp + 8 * v);
    for (int oh = 0; oh < g->ho; oh++) {
        const float *xr = x + (size_t)oh * g->sh * g->w;
        const float *d = dyT + (size_t)oh * g->wo * Kp;
        for (int ow = 0; ow < g->wo; ow++, d += Kp) {
            const float *xp = xr + (size_t)ow * g->sw;
            __m256 dv[2];
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++)
                dv[v] = _mm256_loadu_ps(d + 8 * v);
#pragma GCC unroll 6
            for (int j = 0; j < NR; j++) {
                const __m256 c = _mm256_broadcast_ss(xp + j * dwx);
#pragma GCC unroll 2
                for (int v = 0; v < NV; v++)
                    acc[j][v] = _mm256_fmadd_ps(c, dv[v], acc[j][v]);
            }
        }
    }
#pragma GCC unroll 6
    for (int j = 0; j < NR; j++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            _mm256_storeu_ps(dwT + (size_t)j * Kp + 8 * v, acc[j][v]);
}

#define TAPS_256(NV)                                                                   \
    __attribute__((target("avx2,fma"))) static void taps256_##NV(                      \
        int nr, const dlt__conv_geom *g, int dwx, const float *x, const float *dyT, int Kp, float *dwT) \
    {                                                                                  \
        switch (nr) {                                                                  \
        case 6: block256(6, NV, g, dwx, x, dyT, Kp, dwT); break;                       \
        case 5: block256(5, NV, g, dwx, x, dyT, Kp, dwT); break;                       \
        case 4: block256(4, NV, g, dwx, x, dyT, Kp, dwT); break;                       \
        case 3: block256(3, NV, g, dwx, x, dyT, Kp, dwT); break;                       \
        case 2: block256(2, NV, g, dwx, x, dyT, Kp, dwT); break;                       \
        default: block256(1, NV, g, dwx, x, dyT, Kp, dwT); break;                      \
        }                                                                              \
    }
TAPS_256(2)
TAPS_256(1)

/* fmaf rounds as the vector FMA: the same chains, one element at a time. */
static void taps_plain(int nr, const dlt__conv_geom *g, int dwx, const float *x, const float *dyT,
                       int Kp, int nk, float *dwT)
{
    for (int j = 0; j < nr; j++)
        for (int k = 0; k < nk; k++) {
            float a = dwT[(size_t)j * Kp + k];
            for (int oh = 0; oh < g->ho; oh++)
                for (int ow = 0; ow < g->wo; ow++)
                    a = fmaf(x[(size_t)oh * g->sh * g->w + (size_t)ow * g->sw + j * dwx],
                             dyT[((size_t)oh * g->wo + ow) * Kp + k], a);
            dwT[(size_t)j * Kp + k] = a;
        }
}

int dlt__conv_channel_pad(int K) { return dlt_cpu_avx512() ? (K + 15) & ~15 : (K + 7) & ~7; }

void dlt__conv_weight_grad_t(const dlt__conv_geom *g, const float *x, const float *dyT, int Kp,
                             float *dwT)
{
    static int avx2 = -1, avx512 = -1;
    if (avx2 < 0) {
        avx2 = dlt_cpu_avx2_fma();
        avx512 = dlt_cpu_avx512();
    }
    const int dh = g->dh > 1 ? g->dh : 1, dwx = g->dw > 1 ? g->dw : 1;
    const int step = avx512 ? 64 : 16;
    for (int k0 = 0; k0 < Kp; k0 += step) {
        const int nk = Kp - k0 < step ? Kp - k0 : step;
        for (int c = 0; c < g->c; c++)
            for (int ki = 0; ki < g->kh; ki++)
                for (int kj0 = 0; kj0 < g->kw; kj0 += 6) {
                    const int nr = g->kw - kj0 < 6 ? g->kw - kj0 : 6;
                    const float *xs = x + ((size_t)c * g->h + (size_t)ki * dh) * g->w + (size_t)kj0 * dwx;
                    float *o = dwT + (((size_t)c * g->kh + ki) * g->kw + kj0) * Kp + k0;
                    const float *d = dyT + k0;
                    if (avx512) {
                        switch (nk / 16) {
                        case 4: taps512_4(nr, g, dwx, xs, d, Kp, o); break;
                        case 3: taps512_3(nr, g, dwx, xs, d, Kp, o); break;
                        case 2: taps512_2(nr, g, dwx, xs, d, Kp, o); break;
                        default: taps512_1(nr, g, dwx, xs, d, Kp, o); break;
                        }
                    } else if (avx2) {
                        if (nk == 16)
                            taps256_2(nr, g, dwx, xs, d, Kp, o);
                        else
                            taps256_1(nr, g, dwx, xs, d, Kp, o);
                    } else {
                        taps_plain(nr, g, dwx, xs, d, Kp, nk, o);
                    }
                }
    }
}
