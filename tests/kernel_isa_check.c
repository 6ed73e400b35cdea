/* kernel_isa_check.c - prints a hash of the bits dltrain's own kernels
 * compute (InnerProduct's row GEMM in both layouts and both forms, with and
 * without the bias row, each output also against one fmaf chain; the
 * convolution patch gradient and weight gradient, col2im, the transpose)
 * on fixed pseudo-random
 * data, with sizes that leave every kind of tail, and which ISA path ran.
 * tests/test_kernel_isa.sh runs it with and without ONEDNN_MAX_CPU_ISA=AVX2
 * and compares: the AVX-512 and AVX2 forms must give the same bits. It also
 * counts where the convolution weight gradient (dlt__conv_weight_grad_t)
 * and forward (dlt__conv_forward_t) differ from the plain fmaf chains
 * below. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/cpu.h"
#include "layers/im2col.h"
#include "layers/layers.h"
#include "layers/patch_grad.h"
#include "layers/transpose.h"

static uint32_t rng = 12345;
static float next_value(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void fill(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = next_value();
}

/* FNV-1a over the float bits */
static uint64_t hash_bits(uint64_t h, const float *x, size_t n)
{
    const unsigned char *b = (const unsigned char *)x;
    for (size_t i = 0; i < n * sizeof(float); i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* A square unpadded geometry from {C, H, kernel, stride, dilation}. */
static dlt__conv_geom square_geom(const int *row)
{
    dlt__conv_geom g = {0};
    g.c = row[0], g.h = g.w = row[1], g.kh = g.kw = row[2], g.sh = g.sw = row[3];
    g.dh = g.dw = row[4];
    g.ho = g.wo = (g.h - (g.dh * (g.kh - 1) + 1)) / g.sh + 1;
    return g;
}

int main(void)
{
    uint64_t h = 1469598103934665603ull;
    /* rows x columns x reduction: 8-row tiles and single rows, 16-column
     * panels and a partial one, LeNet's ip1 (rows in the lanes: batch 64,
     * 32 and the test batch 100 in 4+3+3+3 vectors of 8 or 4+3 of 16);
     * rows in the lanes with short vectors, column blocks of 4 and single
     * columns, and reductions in 2-3 passes when op(B) = B ({20, 67, 300}) */
    static const int gemm[][3] = {{13, 37, 29}, {64, 500, 800}, {7, 16, 5},  {9, 33, 1},
                                  {32, 500, 800}, {100, 70, 90}, {20, 67, 300}, {9, 100, 64}};
    long gdiffer = 0, gtotal = 0;
    for (size_t g = 0; g < sizeof gemm / sizeof gemm[0]; g++) {
        const int N = gemm[g][0], NC = gemm[g][1], NA = gemm[g][2];
        float *a = malloc((size_t)N * NA * sizeof(float)), *b = malloc((size_t)NA * NC * sizeof(float));
        float *init = malloc((size_t)NC * sizeof(float)), *c = malloc((size_t)N * NC * sizeof(float));
        if (!a || !b || !init || !c)
            return 1;
        fill(a, (size_t)N * NA), fill(b, (size_t)NA * NC), fill(init, NC);
        for (int trans = 0; trans <= 1; trans++) {
            dlt__gemm_rows(N, NC, NA, a, trans, b, trans ? NA : NC, NULL, c);
            h = hash_bits(h, c, (size_t)N * NC);
            dlt__gemm_rows(N, NC, NA, a, trans, b, trans ? NA : NC, init, c);
            h = hash_bits(h, c, (size_t)N * NC);
            for (int n = 0; n < N; n++) /* each output: one fmaf chain from init */
                for (int j = 0; j < NC; j++) {
                    float acc = init[j];
                    for (int k = 0; k < NA; k++)
                        acc = fmaf(a[(size_t)n * NA + k],
                                   trans ? b[(size_t)j * NA + k] : b[(size_t)k * NC + j], acc);
                    gdiffer += memcmp(&acc, &c[(size_t)n * NC + j], sizeof acc) != 0;
                    gtotal++;
                }
        }
        free(a), free(b), free(init), free(c);
    }
    printf("row gemm: %ld of %ld differ from the plain loop\n", gdiffer, gtotal);
    /* K x R x P: 32- and 16-column blocks and scalar tails, 12- and 4-row
     * blocks and a row tail; LeNet's conv2 (50, 500, 64) and conv1 (20, 25, 576) */
    static const int pg[][3] = {{50, 500, 64}, {20, 25, 576}, {3, 7, 53}, {5, 6, 17}};
    for (size_t g = 0; g < sizeof pg / sizeof pg[0]; g++) {
        const int K = pg[g][0], R = pg[g][1], P = pg[g][2];
        float *w = malloc((size_t)K * R * sizeof(float)), *dy = malloc((size_t)K * P * sizeof(float));
        float *col = malloc((size_t)R * P * sizeof(float));
        if (!w || !dy || !col)
            return 1;
        fill(w, (size_t)K * R), fill(dy, (size_t)K * P);
        dlt__patch_grad(K, R, P, w, dy, col);
        h = hash_bits(h, col, (size_t)R * P);
        free(w), free(dy), free(col);
    }
    /* the weight gradient from the input (C, H, kernel, stride, dilation,
     * channels): LeNet's conv1 and conv2, a kernel row longer than a block
     * of 6 taps, stride 2 and dilation 2, channel counts that leave 1-3
     * vectors of 16 in the last AVX-512 block; each against one fmaf chain
     * per element, two samples chained, from a nonzero start */
    long differ = 0, total = 0;
    static const int wg[][6] = {{1, 28, 5, 1, 1, 20}, {20, 12, 5, 1, 1, 50}, {2, 11, 7, 1, 1, 70},
                                {3, 9, 3, 2, 1, 33}, {2, 10, 3, 1, 2, 16}, {1, 4, 1, 1, 1, 5}};
    for (size_t t = 0; t < sizeof wg / sizeof wg[0]; t++) {
        const dlt__conv_geom g = square_geom(wg[t]);
        const int K = wg[t][5], Kp = dlt__conv_channel_pad(K), R = g.c * g.kh * g.kw, P = g.ho * g.wo;
        const size_t in = (size_t)g.c * g.h * g.w;
        float *x = malloc(2 * in * sizeof(float)), *dyT = calloc(2 * (size_t)P * Kp, sizeof(float));
        float *dwT = malloc((size_t)R * Kp * sizeof(float)), *ref = malloc((size_t)R * Kp * sizeof(float));
        if (!x || !dyT || !dwT || !ref)
            return 1;
        fill(x, 2 * in);
        memset(dwT, 0, (size_t)R * Kp * sizeof(float));
        for (int r = 0; r < R; r++) /* the same values whatever Kp (the ISA) is */
            fill(dwT + (size_t)r * Kp, (size_t)K);
        for (int i = 0; i < 2 * P; i++)
            fill(dyT + (size_t)i * Kp, (size_t)K); /* the padding columns stay 0 */
        memcpy(ref, dwT, (size_t)R * Kp * sizeof(float));
        for (int i = 0; i < 2; i++)
            dlt__conv_weight_grad_t(&g, x + i * in, dyT + (size_t)i * P * Kp, Kp, dwT);
        for (int r = 0; r < R; r++) /* the channels, not the padding: Kp depends on the ISA */
            h = hash_bits(h, dwT + (size_t)r * Kp, (size_t)K);
        for (int r = 0; r < R; r++) {
            const int c = r / (g.kh * g.kw), ki = r / g.kw % g.kh, kj = r % g.kw;
            for (int k = 0; k < K; k++) {
                float a = ref[(size_t)r * Kp + k];
                for (int i = 0; i < 2; i++)
                    for (int p = 0; p < P; p++) {
                        const int oh = p / g.wo, ow = p % g.wo;
                        const float xv = x[i * in + ((size_t)c * g.h + oh * g.sh + ki * g.dh) * g.w +
                                           ow * g.sw + kj * g.dw];
                        a = fmaf(xv, dyT[((size_t)i * P + p) * Kp + k], a);
                    }
                differ += memcmp(&a, &dwT[(size_t)r * Kp + k], sizeof a) != 0;
                total++;
            }
        }
        free(x), free(dyT), free(dwT), free(ref);
    }
    printf("weight gradient: %ld of %ld differ from the plain loop\n", differ, total);
    /* the weight gradient with the positions in 16 lanes (stride 1):
     * LeNet's conv1 (36 vectors), planes of 38x38 (a last vector of 4), 5x5
     * (one short vector), dilation 2; channel and tap counts that leave
     * short blocks (4 x 5 on AVX-512, 2 x 3 on AVX2); two samples chained
     * from nonzero lanes, then the 16 lanes added in the fixed tree; each
     * element against the same fmaf lanes and tree */
    long ldiffer = 0, ltotal = 0;
    static const int wl[][6] = {{1, 28, 5, 1, 1, 20}, {3, 40, 3, 1, 1, 7}, {2, 9, 5, 1, 1, 3},
                                {2, 12, 3, 1, 2, 5}};
    for (size_t t = 0; t < sizeof wl / sizeof wl[0]; t++) {
        const dlt__conv_geom g = square_geom(wl[t]);
        const int K = wl[t][5], R = g.c * g.kh * g.kw, P = g.ho * g.wo;
        const size_t in = (size_t)g.c * g.h * g.w, nl = (size_t)K * R * 16;
        float *x = malloc(2 * in * sizeof(float)), *dy = malloc(2 * (size_t)K * P * sizeof(float));
        float *lanes = malloc(nl * sizeof(float)), *ref = malloc(nl * sizeof(float));
        float *dw = malloc((size_t)K * R * sizeof(float));
        float *scratch = malloc(dlt__conv_rows_scratch(&g) * sizeof(float));
        if (!x || !dy || !lanes || !ref || !dw || !scratch)
            return 1;
        fill(x, 2 * in), fill(dy, 2 * (size_t)K * P), fill(lanes, nl);
        memcpy(ref, lanes, nl * sizeof(float));
        for (int i = 0; i < 2; i++)
            dlt__conv_weight_grad_p(&g, x + i * in, dy + (size_t)i * K * P, K, lanes, scratch);
        dlt__conv_weight_grad_p_sum(K, R, lanes, dw);
        h = hash_bits(h, dw, (size_t)K * R);
        const int nv = (P + 15) / 16;
        for (int k = 0; k < K; k++)
            for (int r = 0; r < R; r++) {
                const int c = r / (g.kh * g.kw), ki = r / g.kw % g.kh, kj = r % g.kw;
                float l[16];
                memcpy(l, ref + ((size_t)k * R + r) * 16, sizeof l);
                for (int i = 0; i < 2; i++)
                    for (int v = 0; v < nv; v++)
                        for (int j = 0; j < 16; j++) {
                            const int p = 16 * v + j, oh = p / g.wo, ow = p % g.wo;
                            l[j] = p >= P ? fmaf(0.0f, 0.0f, l[j])
                                          : fmaf(dy[((size_t)i * K + k) * P + p],
                                                 x[i * in + ((size_t)c * g.h + oh + ki * g.dh) * g.w + ow + kj * g.dw],
                                                 l[j]);
                        }
                for (int half = 8; half >= 1; half /= 2)
                    for (int j = 0; j < half; j++)
                        l[j] += l[j + half];
                ldiffer += memcmp(&l[0], &dw[(size_t)k * R + r], sizeof l[0]) != 0;
                ltotal++;
            }
        free(x), free(dy), free(lanes), free(ref), free(dw), free(scratch);
    }
    printf("weight gradient in lanes: %ld of %ld differ from the plain loop\n", ldiffer, ltotal);
    /* the forward from the input on the same geometries, from a bias, each
     * output against one fmaf chain over the taps */
    differ = total = 0;
    for (size_t t = 0; t < sizeof wg / sizeof wg[0]; t++) {
        const dlt__conv_geom g = square_geom(wg[t]);
        const int K = wg[t][5], Kp = dlt__conv_channel_pad(K), R = g.c * g.kh * g.kw, P = g.ho * g.wo;
        const size_t in = (size_t)g.c * g.h * g.w;
        float *x = malloc(in * sizeof(float)), *wT = calloc((size_t)R * Kp, sizeof(float));
        float *b = calloc((size_t)Kp, sizeof(float)), *yT = malloc((size_t)P * Kp * sizeof(float));
        int *tapoff = malloc((size_t)R * sizeof(int));
        if (!x || !wT || !b || !yT || !tapoff)
            return 1;
        fill(x, in), fill(b, (size_t)K);
        for (int r = 0; r < R; r++)
            fill(wT + (size_t)r * Kp, (size_t)K);
        dlt__conv_tap_offsets(&g, tapoff);
        dlt__conv_forward_t(&g, tapoff, x, wT, t % 2 ? NULL : b, Kp, yT);
        for (int p = 0; p < P; p++)
            h = hash_bits(h, yT + (size_t)p * Kp, (size_t)K);
        for (int p = 0; p < P; p++)
            for (int k = 0; k < K; k++) {
                const int oh = p / g.wo, ow = p % g.wo;
                float a = t % 2 ? 0.0f : b[k];
                for (int r = 0; r < R; r++) {
                    const int c = r / (g.kh * g.kw), ki = r / g.kw % g.kh, kj = r % g.kw;
                    a = fmaf(x[((size_t)c * g.h + oh * g.sh + ki * g.dh) * g.w + ow * g.sw + kj * g.dw],
                             wT[(size_t)r * Kp + k], a);
                }
                differ += memcmp(&a, &yT[(size_t)p * Kp + k], sizeof a) != 0;
                total++;
            }
        free(x), free(wT), free(b), free(yT), free(tapoff);
    }
    /* the forward with positions in the lanes (stride 1): LeNet's conv1
     * (36 vectors of 16) and conv2 (4, taps in chunks of 8, 8 and 4 input
     * channels); planes of 38x38 (a last vector of 4), 9x9 (1), 5x5 (fewer
     * than 8), 4x4 (one vector) and 18x18 (4 chunks); dilation 2; channel
     * blocks of 6, 5 and 4 with short last blocks; each output against
     * the same fmaf chain */
    static const int fr[][6] = {{1, 28, 5, 1, 1, 20}, {20, 12, 5, 1, 1, 50}, {3, 40, 3, 1, 1, 13},
                                {2, 11, 3, 1, 1, 7},  {2, 9, 5, 1, 1, 11},   {2, 12, 3, 1, 2, 16},
                                {40, 6, 3, 1, 1, 9},  {12, 20, 3, 1, 1, 10}};
    for (size_t t = 0; t < sizeof fr / sizeof fr[0]; t++) {
        const dlt__conv_geom g = square_geom(fr[t]);
        const int K = fr[t][5], R = g.c * g.kh * g.kw, P = g.ho * g.wo;
        const size_t in = (size_t)g.c * g.h * g.w;
        float *x = malloc(in * sizeof(float)), *w = malloc((size_t)K * R * sizeof(float));
        float *b = malloc((size_t)K * sizeof(float)), *y = malloc((size_t)K * P * sizeof(float));
        float *scratch = malloc(dlt__conv_rows_scratch(&g) * sizeof(float));
        if (!x || !w || !b || !y || !scratch)
            return 1;
        fill(x, in), fill(w, (size_t)K * R), fill(b, (size_t)K);
        dlt__conv_forward_rows(&g, x, w, t % 2 ? NULL : b, K, y, scratch);
        h = hash_bits(h, y, (size_t)K * P);
        for (int k = 0; k < K; k++)
            for (int p = 0; p < P; p++) {
                const int oh = p / g.wo, ow = p % g.wo;
                float a = t % 2 ? 0.0f : b[k];
                for (int r = 0; r < R; r++) {
                    const int c = r / (g.kh * g.kw), ki = r / g.kw % g.kh, kj = r % g.kw;
                    a = fmaf(w[(size_t)k * R + r],
                             x[((size_t)c * g.h + oh + ki * g.dh) * g.w + ow + kj * g.dw], a);
                }
                differ += memcmp(&a, &y[(size_t)k * P + p], sizeof a) != 0;
                total++;
            }
        free(x), free(w), free(b), free(y), free(scratch);
    }
    printf("forward: %ld of %ld differ from the plain loop\n", differ, total);
    /* col2im (the AVX-512 form for narrow unpadded images) adding into an
     * image that holds -0 and other values: channel counts with a block of
     * 4 and a tail, kernels up to 7, LeNet's conv2 */
    static const int c2i[][4] = {{20, 12, 5}, {3, 16, 3}, {5, 9, 7}, {1, 6, 1}};
    for (size_t t = 0; t < sizeof c2i / sizeof c2i[0]; t++) {
        dlt__conv_geom g = {0};
        g.c = c2i[t][0], g.h = g.w = c2i[t][1], g.kh = g.kw = c2i[t][2], g.sh = g.sw = 1;
        g.ho = g.wo = g.h - g.kh + 1;
        const size_t R = (size_t)g.c * g.kh * g.kw, P = (size_t)g.ho * g.wo, in = (size_t)g.c * g.h * g.w;
        float *col = malloc(R * P * sizeof(float)), *im = malloc(in * sizeof(float));
        if (!col || !im)
            return 1;
        fill(col, R * P), fill(im, in);
        for (size_t i = 0; i < in; i += 3)
            im[i] = -0.0f;
        dlt__col2im(col, P, &g, im);
        h = hash_bits(h, im, in);
        free(col), free(im);
    }
    /* the transpose (rows, cols, padded rows): full and partial 16 x 16
     * blocks, a padding wider than a block */
    differ = total = 0;
    static const int tr[][3] = {{50, 64, 64}, {20, 576, 32}, {16, 800, 16}, {5, 29, 16}, {3, 7, 40}, {33, 17, 33}};
    for (size_t t = 0; t < sizeof tr / sizeof tr[0]; t++) {
        const int rows = tr[t][0], cols = tr[t][1], pad = tr[t][2];
        const size_t lds = (size_t)cols + 3, ldd = (size_t)pad + 5;
        float *src = malloc((size_t)rows * lds * sizeof(float)), *dst = malloc((size_t)cols * ldd * sizeof(float));
        if (!src || !dst)
            return 1;
        fill(src, (size_t)rows * lds), fill(dst, (size_t)cols * ldd);
        dlt__transpose(rows, cols, src, lds, dst, ldd, pad);
        for (int c = 0; c < cols; c++)
            for (int r = 0; r < pad; r++) {
                const float want = r < rows ? src[(size_t)r * lds + c] : 0.0f;
                differ += memcmp(&want, &dst[(size_t)c * ldd + r], sizeof want) != 0;
                total++;
            }
        h = hash_bits(h, dst, (size_t)cols * ldd);
        free(src), free(dst);
    }
    printf("transpose: %ld of %ld differ\n", differ, total);
    printf("path %s hash %016llx\n", dlt_cpu_avx512() ? "avx512" : dlt_cpu_avx2_fma() ? "avx2" : "plain",
           (unsigned long long)h);
    return 0;
}
