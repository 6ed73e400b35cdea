/* conv_forward_rows.c - a stride-1 convolution's forward with the output
 * positions in the vector lanes, row after row, and no patch matrix: the
 * input is first copied kw times, copy kj shifted left by kj taps and cut
 * to the output's width (XS (C, kw, H, Wo)), so the inputs of every tap
 * (c, ki, kj) over all P = Ho x Wo positions are one contiguous run of XS
 * (copy (c, kj), from row ki). The copies cost C*kw*H*Wo stores against
 * K*C*kh*kw*P fused multiply-adds; every lane does useful work but for the
 * plane's last vector (LeNet's conv2: 8x8 = 4 vectors of 16, where 50
 * channels in the lanes used 64; conv1: 24x24 = 36, where a 24-wide row
 * used 32). The result lands in NCHW as it is (no transpose).
 * Blocks of up to 6 channels x 4 vectors of 16 positions on AVX-512 (24
 * accumulators), 4 x 3 vectors of 8 on AVX2 (12); every output is one
 * fused multiply-add chain over the taps in order from its bias, as
 * conv_forward_t.c's, on every path. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "dltrain/cpu.h"
#include "layers/patch_grad.h"

/* Floats of shifted copies per chunk of taps: 16 KiB, a third of L1. */
#define CHUNK_FLOATS 4096

size_t dlt__conv_rows_scratch(const dlt__conv_geom *g)
{
    const size_t copies = (size_t)g->c * g->kw * g->h * g->wo, taps = (size_t)g->c * g->kh * g->kw;
    return copies + taps; /* the copies, then each tap's offset (int) */
}

/* Plane (c, kj) of XS: H rows of WO floats from IN (row stride W), by
 * masked vectors of 16 (the generic loop ran a tenth of LeNet's conv2
 * forward on its 8-wide rows). */
__attribute__((target("avx512f"))) static void copy_plane512(const float *in, int h, int w, int wo, float *o)
{
    const int full = wo & ~15;
    const __mmask16 m = (__mmask16)((1u << (wo - full)) - 1);
    for (int row = 0; row < h; row++, in += w, o += wo) {
        for (int col = 0; col < full; col += 16)
            _mm512_storeu_ps(o + col, _mm512_loadu_ps(in + col));
        if (m)
            _mm512_mask_storeu_ps(o + full, m, _mm512_maskz_loadu_ps(m, in + full));
    }
}

/* The AVX2 form: vectors of 8, the row's tail by masked moves. */
__attribute__((target("avx2"))) static void copy_plane256(const float *in, int h, int w, int wo, float *o)
{
    const int full = wo & ~7;
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(wo - full), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int row = 0; row < h; row++, in += w, o += wo) {
        for (int col = 0; col < full; col += 8)
            _mm256_storeu_ps(o + col, _mm256_loadu_ps(in + col));
        if (full < wo)
            _mm256_maskstore_ps(o + full, m, _mm256_maskload_ps(in + full, m));
    }
}

void dlt__conv_shifted_copies(const dlt__conv_geom *g, const float *x, float *scratch, const float **xs_out,
                              const int **off_out)
{
    float *xs = scratch;
    int *off = (int *)(scratch + (size_t)g->c * g->kw * g->h * g->wo);
    *xs_out = xs, *off_out = off;
    static int avx512 = -1, avx2 = -1;
    if (avx512 < 0) {
        avx512 = dlt_cpu_avx512();
        avx2 = dlt_cpu_avx2_fma();
    }
    const int dh = g->dh > 1 ? g->dh : 1, dw = g->dw > 1 ? g->dw : 1;
    for (int c = 0; c < g->c; c++)
        for (int kj = 0; kj < g->kw; kj++) {
            float *o = xs + ((size_t)c * g->kw + kj) * g->h * g->wo;
            const float *in = x + (size_t)c * g->h * g->w + (size_t)kj * dw;
            if (avx512 || avx2) {
                (avx512 ? copy_plane512 : copy_plane256)(in, g->h, g->w, g->wo, o);
                continue;
            }
            for (int row = 0; row < g->h; row++)
                memcpy(o + (size_t)row * g->wo, in + (size_t)row * g->w, (size_t)g->wo * sizeof(float));
        }
    for (int c = 0, r = 0; c < g->c; c++)
        for (int ki = 0; ki < g->kh; ki++)
            for (int kj = 0; kj < g->kw; kj++, r++)
                off[r] = (int)((((size_t)c * g->kw + kj) * g->h + (size_t)ki * dh) * g->wo);
}

/* Outputs k0 .. k0+KB-1 at the NV vectors of positions from XS's run
 * start, the last vector's lanes LAST where MASKED (the plane's end); KB,
 * NV and MASKED constants at every call. The full vectors load unmasked: a
 * mask per vector spilled the mask registers (reloaded every tap), and
 * even one mask cost LeNet's conv2 3-6%. */
__attribute__((target("avx512f"), always_inline)) static inline void
block512(int KB, int NV, int MASKED, const int *off, int R, const float *xs, const float *w, int ldw,
         const float *b, int first, __mmask16 last, float *y, size_t P)
{
    __m512 acc[6][4];
#pragma GCC unroll 6
    for (int k = 0; k < KB; k++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[k][v] = !first ? _mm512_maskz_loadu_ps(v < NV - 1 ? (__mmask16)0xffff : last,
                                                       y + (size_t)k * P + 16 * v)
                        : b    ? _mm512_set1_ps(b[k])
                               : _mm512_setzero_ps();
    for (int r = 0; r < R; r++) {
        const float *xr = xs + off[r];
        __m512 xv[4];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            xv[v] = MASKED && v == NV - 1 ? _mm512_maskz_loadu_ps(last, xr + 16 * v) : _mm512_loadu_ps(xr + 16 * v);
#pragma GCC unroll 6
        for (int k = 0; k < KB; k++) {
            const __m512 wv = _mm512_set1_ps(w[(size_t)k * ldw + r]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                acc[k][v] = _mm512_fmadd_ps(wv, xv[v], acc[k][v]);
        }
    }
#pragma GCC unroll 6
    for (int k = 0; k < KB; k++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            _mm512_mask_storeu_ps(y + (size_t)k * P + 16 * v, v < NV - 1 ? (__mmask16)0xffff : last,
                                  acc[k][v]);
}

#define BLOCKS_512(NV, M)                                                                     \
    switch (kb) {                                                                             \
    case 6: block512(6, NV, M, off, R, xs, w, ldw, b, first, last, y, P); break;              \
    case 5: block512(5, NV, M, off, R, xs, w, ldw, b, first, last, y, P); break;              \
    case 4: block512(4, NV, M, off, R, xs, w, ldw, b, first, last, y, P); break;              \
    case 3: block512(3, NV, M, off, R, xs, w, ldw, b, first, last, y, P); break;              \
    case 2: block512(2, NV, M, off, R, xs, w, ldw, b, first, last, y, P); break;              \
    default: block512(1, NV, M, off, R, xs, w, ldw, b, first, last, y, P); break;             \
    }
#define CHANNELS_512(NV)                                                                      \
    __attribute__((target("avx512f"))) static void chan512_##NV(                              \
        int kb, const int *off, int R, const float *xs, const float *w, int ldw,               \
        const float *b, int first, __mmask16 last, float *y, size_t P)                        \
    {                                                                                         \
        if (last == (__mmask16)0xffff)                                                        \
            BLOCKS_512(NV, 0)                                                                 \
        else                                                                                  \
            BLOCKS_512(NV, 1)                                                                 \
    }
CHANNELS_512(4)
CHANNELS_512(3)
CHANNELS_512(2)
CHANNELS_512(1)

/* Channels per block: a divisor of K down to two thirds of MOST where one
 * fits (LeNet's 20 and 50 by 5 of 6 on AVX-512), so no block runs short. */
static int channel_block(int K, int most)
{
    for (int kb = most; kb * 3 >= most * 2; kb--)
        if (K % kb == 0)
            return kb;
    return most;
}

__attribute__((target("avx512f"))) static void fwd_avx512(const int *off, int r0, int nr, int R,
                                                        const float *xs, const float *w,
                                                        const float *b, int K, size_t P, float *y)
{
    const int kb = channel_block(K, 6), first = r0 == 0;
    for (size_t p0 = 0; p0 < P; p0 += 64) {
        const size_t n = P - p0 < 64 ? P - p0 : 64;
        const int nv = (int)((n + 15) / 16), left = (int)(n - 16 * (size_t)(nv - 1));
        const __mmask16 last = (__mmask16)(left == 16 ? 0xffff : (1u << left) - 1);
        for (int k0 = 0; k0 < K; k0 += kb) {
            const int nk = K - k0 < kb ? K - k0 : kb;
            const float *wk = w + (size_t)k0 * R + r0, *bk = b ? b + k0 : NULL;
            float *yo = y + (size_t)k0 * P + p0;
            switch (nv) {
            case 4: chan512_4(nk, off + r0, nr, xs + p0, wk, R, bk, first, last, yo, P); break;
            case 3: chan512_3(nk, off + r0, nr, xs + p0, wk, R, bk, first, last, yo, P); break;
            case 2: chan512_2(nk, off + r0, nr, xs + p0, wk, R, bk, first, last, yo, P); break;
            default: chan512_1(nk, off + r0, nr, xs + p0, wk, R, bk, first, last, yo, P); break;
            }
        }
    }
}

/* The AVX2 form: 4 channels x 3 vectors of 8 positions; the plane's last
 * vector, where it has fewer than 8 positions (TAIL, a constant), by
 * masked loads and stores. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
block256(int KB, int NV, const int *off, int R, const float *xs, const float *w, int ldw,
         const float *b, int first, __m256i tail, int TAIL, float *y, size_t P)
{
    __m256 acc[4][3];
#pragma GCC unroll 4
    for (int k = 0; k < KB; k++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) {
            const float *yk = y + (size_t)k * P + 8 * v;
            acc[k][v] = !first ? (TAIL && v == NV - 1 ? _mm256_maskload_ps(yk, tail) : _mm256_loadu_ps(yk))
                        : b    ? _mm256_set1_ps(b[k])
                               : _mm256_setzero_ps();
        }
    for (int r = 0; r < R; r++) {
        const float *xr = xs + off[r];
        __m256 xv[3];
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++)
            xv[v] = TAIL && v == NV - 1 ? _mm256_maskload_ps(xr + 8 * v, tail) : _mm256_loadu_ps(xr + 8 * v);
#pragma GCC unroll 4
        for (int k = 0; k < KB; k++) {
            const __m256 wv = _mm256_broadcast_ss(w + (size_t)k * ldw + r);
#pragma GCC unroll 3
            for (int v = 0; v < NV; v++)
                acc[k][v] = _mm256_fmadd_ps(wv, xv[v], acc[k][v]);
        }
    }
#pragma GCC unroll 4
    for (int k = 0; k < KB; k++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) {
            if (TAIL && v == NV - 1)
                _mm256_maskstore_ps(y + (size_t)k * P + 8 * v, tail, acc[k][v]);
            else
                _mm256_storeu_ps(y + (size_t)k * P + 8 * v, acc[k][v]);
        }
}

#define BLOCKS_256(NV, T)                                                                     \
    switch (kb) {                                                                             \
    case 4: block256(4, NV, off, R, xs, w, ldw, b, first, tail, T, y, P); break;              \
    case 3: block256(3, NV, off, R, xs, w, ldw, b, first, tail, T, y, P); break;              \
    case 2: block256(2, NV, off, R, xs, w, ldw, b, first, tail, T, y, P); break;              \
    default: block256(1, NV, off, R, xs, w, ldw, b, first, tail, T, y, P); break;             \
    }
#define CHANNELS_256(NV)                                                                      \
    __attribute__((target("avx2,fma"))) static void chan256_##NV(                             \
        int kb, const int *off, int R, const float *xs, const float *w, int ldw,               \
        const float *b, int first, __m256i tail, int ntail, float *y, size_t P)               \
    {                                                                                         \
        if (ntail)                                                                            \
            BLOCKS_256(NV, 1)                                                                 \
        else                                                                                  \
            BLOCKS_256(NV, 0)                                                                 \
    }
CHANNELS_256(3)
CHANNELS_256(2)
CHANNELS_256(1)

__attribute__((target("avx2,fma"))) static void fwd_avx2(const int *off, int r0, int nr, int R,
                                                       const float *xs, const float *w,
                                                       const float *b, int K, size_t P, float *y)
{
    const int kb = channel_block(K, 4), first = r0 == 0;
    for (size_t p0 = 0; p0 < P; p0 += 24) {
        const size_t n = P - p0 < 24 ? P - p0 : 24;
        const int nv = (int)((n + 7) / 8), ntail = (int)(n % 8);
        const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(ntail), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (int k0 = 0; k0 < K; k0 += kb) {
            const int nk = K - k0 < kb ? K - k0 : kb;
            const float *wk = w + (size_t)k0 * R + r0, *bk = b ? b + k0 : NULL;
            float *yo = y + (size_t)k0 * P + p0;
            switch (nv) {
            case 3: chan256_3(nk, off + r0, nr, xs + p0, wk, R, bk, first, tail, ntail, yo, P); break;
            case 2: chan256_2(nk, off + r0, nr, xs + p0, wk, R, bk, first, tail, ntail, yo, P); break;
            default: chan256_1(nk, off + r0, nr, xs + p0, wk, R, bk, first, tail, ntail, yo, P); break;
            }
        }
    }
}

void dlt__conv_forward_rows(const dlt__conv_geom *g, const float *x, const float *w, const float *b,
                            int K, float *y, float *scratch)
{
    static int avx2 = -1, avx512 = -1;
    if (avx2 < 0) {
        avx2 = dlt_cpu_avx2_fma();
        avx512 = dlt_cpu_avx512();
    }
    const int R = g->c * g->kh * g->kw;
    const size_t P = (size_t)g->ho * g->wo;
    const float *xs;
    const int *off;
    dlt__conv_shifted_copies(g, x, scratch, &xs, &off);
    /* The taps in chunks of whole input channels whose copies fit in a
     * third of L1 (LeNet's conv2: all 20 channels' copies are 38 KiB;
     * chunks of 8 channels ran 3-5% faster); the partial sums wait in Y, so
     * each output is still one chain over the taps in order. */
    const int per_channel = g->kw * g->h * g->wo, taps = g->kh * g->kw;
    const int chunk = (CHUNK_FLOATS / per_channel > 1 ? CHUNK_FLOATS / per_channel : 1) * taps;
    for (int r0 = 0; r0 < R; r0 += chunk) {
        const int nr = R - r0 < chunk ? R - r0 : chunk;
        if (avx512) {
            fwd_avx512(off, r0, nr, R, xs, w, b, K, P, y);
        } else if (avx2) {
            fwd_avx2(off, r0, nr, R, xs, w, b, K, P, y);
        } else {
            /* fmaf rounds as the vector FMA: the same chains, one output at a time. */
            for (int k = 0; k < K; k++)
                for (size_t p = 0; p < P; p++) {
                    float a = r0 ? y[(size_t)k * P + p] : b ? b[k] : 0.0f;
                    for (int r = r0; r < r0 + nr; r++)
                        a = fmaf(w[(size_t)k * R + r], xs[off[r] + p], a);
                    y[(size_t)k * P + p] = a;
                }
        }
    }
}
