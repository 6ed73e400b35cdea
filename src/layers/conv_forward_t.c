/* conv_forward_t.c - a convolution's forward straight from the input (no
 * patch matrix), the output channels in the vector lanes: yT (P, Kp) =
 * bias + sum over the taps r of x(r, p) wT (r, Kp). On few output
 * positions per sample (LeNet's conv2: 8x8) this beats oneDNN 2.6's kernel
 * (1.3 -> 1.0 ms per 32 samples with the layout changes around it, AVX-512
 * Xeon). Blocks of up to 6 positions x 64 channels on AVX-512 (24
 * accumulators), x 16 (or a last 8) on AVX2 (up to 12); every output is
 * one fused multiply-add chain over the taps in order from its bias on
 * every path, so the bits depend on neither the ISA nor the block. */
#include <immintrin.h>
#include <math.h>

#include "dltrain/cpu.h"
#include "layers/patch_grad.h"

/* Positions P0 .. P0+NP-1 read their taps at BASE[j] + tapoff[r]; NP and
 * NV are constants at every call, so the accumulators stay in registers. */
__attribute__((target("avx512f"), always_inline)) static inline void
block512(int NP, int NV, const float *const *base, int R, const int *tapoff, const float *wT,
         const float *b, int Kp, float *yT)
{
    __m512 acc[6][4];
#pragma GCC unroll 6
    for (int j = 0; j < NP; j++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[j][v] = b ? _mm512_loadu_ps(b + 16 * v) : _mm512_setzero_ps();
    const float *b0 = base[0], *b1 = base[NP > 1 ? 1 : 0], *b2 = base[NP > 2 ? 2 : 0];
    const float *b3 = base[NP > 3 ? 3 : 0], *b4 = base[NP > 4 ? 4 : 0], *b5 = base[NP > 5 ? 5 : 0];
    const float *const bs[6] = {b0, b1, b2, b3, b4, b5};
    for (int r = 0; r < R; r++) {
        const int off = tapoff[r];
        const float *w = wT + (size_t)r * Kp;
        __m512 wv[4];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            wv[v] = _mm512_loadu_ps(w + 16 * v);
#pragma GCC unroll 6
        for (int j = 0; j < NP; j++) {
            const __m512 c = _mm512_set1_ps(bs[j][off]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                acc[j][v] = _mm512_fmadd_ps(c, wv[v], acc[j][v]);
        }
    }
#pragma GCC unroll 6
    for (int j = 0; j < NP; j++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            _mm512_storeu_ps(yT + (size_t)j * Kp + 16 * v, acc[j][v]);
}

#define POS_512(NV)                                                                    \
    __attribute__((target("avx512f"))) static void pos512_##NV(                        \
        int np, const float *const *base, int R, const int *tapoff, const float *wT,    \
        const float *b, int Kp, float *yT)                                             \
    {                                                                                  \
        switch (np) {                                                                  \
        case 6: block512(6, NV, base, R, tapoff, wT, b, Kp, yT); break;                \
        case 5: block512(5, NV, base, R, tapoff, wT, b, Kp, yT); break;                \
        case 4: block512(4, NV, base, R, tapoff, wT, b, Kp, yT); break;                \
        case 3: block512(3, NV, base, R, tapoff, wT, b, Kp, yT); break;                \
        case 2: block512(2, NV, base, R, tapoff, wT, b, Kp, yT); break;                \
        default: block512(1, NV, base, R, tapoff, wT, b, Kp, yT); break;               \
        }                                                                              \
    }
POS_512(4)
POS_512(3)
POS_512(2)
POS_512(1)

/* The AVX2 form: up to 6 positions x NV (1 or 2) vectors of 8 channels. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
block256(int NP, int NV, const float *const *base, int R, const int *tapoff, const float *wT,
         const float *b, int Kp, float *yT)
{
    __m256 acc[6][2];
#pragma GCC unroll 6
    for (int j = 0; j < NP; j++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            acc[j][v] = b ? _mm256_loadu_ps(b + 8 * v) : _mm256_setzero_ps();
    const float *const bs[6] = {base[0], base[NP > 1 ? 1 : 0], base[NP > 2 ? 2 : 0],
                                base[NP > 3 ? 3 : 0], base[NP > 4 ? 4 : 0], base[NP > 5 ? 5 : 0]};
    for (int r = 0; r < R; r++) {
        const int off = tapoff[r];
        __m256 wv[2];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            wv[v] = _mm256_loadu_ps(wT + (size_t)r * Kp + 8 * v);
#pragma GCC unroll 6
        for (int j = 0; j < NP; j++) {
            const __m256 c = _mm256_broadcast_ss(bs[j] + off);
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++)
                acc[j][v] = _mm256_fmadd_ps(c, wv[v], acc[j][v]);
        }
    }
#pragma GCC unroll 6
    for (int j = 0; j < NP; j++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            _mm256_storeu_ps(yT + (size_t)j * Kp + 8 * v, acc[j][v]);
}

#define POS_256(NV)                                                                    \
    __attribute__((target("avx2,fma"))) static void pos256_##NV(                       \
        int np, const float *const *base, int R, const int *tapoff, const float *wT,    \
        const float *b, int Kp, float *yT)                                             \
    {                                                                                  \
        switch (np) {                                                                  \
        case 6: block256(6, NV, base, R, tapoff, wT, b, Kp, yT); break;                \
        case 5: block256(5, NV, base, R, tapoff, wT, b, Kp, yT); break;                \
        case 4: block256(4, NV, base, R, tapoff, wT, b, Kp, yT); break;                \
        case 3: block256(3, NV, base, R, tapoff, wT, b, Kp, yT); break;                \
        case 2: block256(2, NV, base, R, tapoff, wT, b, Kp, yT); break;                \
        default: block256(1, NV, base, R, tapoff, wT, b, Kp, yT); break;               \
        }                                                                              \
    }
POS_256(2)
POS_256(1)

/* fmaf rounds as the vector FMA: the same chains, one output at a time. */
static void pos_plain(int np, const float *const *base, int R, const int *tapoff, const float *wT,
                      const float *b, int Kp, int nk, float *yT)
{
    for (int j = 0; j < np; j++)
        for (int k = 0; k < nk; k++) {
            float a = b ? b[k] : 0.0f;
            for (int r = 0; r < R; r++)
                a = fmaf(base[j][tapoff[r]], wT[(size_t)r * Kp + k], a);
            yT[(size_t)j * Kp + k] = a;
        }
}

void dlt__conv_tap_offsets(const dlt__conv_geom *g, int *tapoff)
{
    const int dh = g->dh > 1 ? g->dh : 1, dw = g->dw > 1 ? g->dw : 1;
    for (int c = 0, r = 0; c < g->c; c++)
        for (int ki = 0; ki < g->kh; ki++)
            for (int kj = 0; kj < g->kw; kj++, r++)
                tapoff[r] = (c * g->h + ki * dh) * g->w + kj * dw;
}

void dlt__conv_forward_t(const dlt__conv_geom *g, const int *tapoff, const float *x, const float *wT,
                         const float *b, int Kp, float *yT)
{
    static int avx2 = -1, avx512 = -1;
    if (avx2 < 0) {
        avx2 = dlt_cpu_avx2_fma();
        avx512 = dlt_cpu_avx512();
    }
    const int R = g->c * g->kh * g->kw, P = g->ho * g->wo, step = avx512 ? 64 : 16;
    for (int p0 = 0; p0 < P; p0 += 6) {
        const int np = P - p0 < 6 ? P - p0 : 6;
        const float *base[6];
        for (int j = 0; j < np; j++) {
            const int oh = (p0 + j) / g->wo, ow = (p0 + j) % g->wo;
            base[j] = x + (size_t)oh * g->sh * g->w + (size_t)ow * g->sw;
        }
        for (int k0 = 0; k0 < Kp; k0 += step) {
            const int nk = Kp - k0 < step ? Kp - k0 : step;
            const float *w = wT + k0, *bk = b ? b + k0 : NULL;
            float *o = yT + (size_t)p0 * Kp + k0;
            if (avx512) {
                switch (nk / 16) {
                case 4: pos512_4(np, base, R, tapoff, w, bk, Kp, o); break;
                case 3: pos512_3(np, base, R, tapoff, w, bk, Kp, o); break;
                case 2: pos512_2(np, base, R, tapoff, w, bk, Kp, o); break;
                default: pos512_1(np, base, R, tapoff, w, bk, Kp, o); break;
                }
            } else if (avx2) {
                if (nk == 16)
                    pos256_2(np, base, R, tapoff, w, bk, Kp, o);
                else
                    pos256_1(np, base, R, tapoff, w, bk, Kp, o);
            } else {
                pos_plain(np, base, R, tapoff, w, bk, Kp, nk, o);
            }
        }
    }
}
