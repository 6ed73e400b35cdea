/* kernel_isa_check.c - prints a hash of the bits dltrain's own kernels
 * compute (InnerProduct's row GEMM in both layouts, with and without the
 * bias row, and the convolution patch gradient) on fixed pseudo-random
 * data, with sizes that leave every kind of tail, and which ISA path ran.
 * tests/test_kernel_isa.sh runs it with and without ONEDNN_MAX_CPU_ISA=AVX2
 * and compares: the AVX-512 and AVX2 forms must give the same bits. It also
 * counts where the convolution weight gradient (dlt__patch_weight_grad, AVX
 * where the CPU has it) differs from the plain eight-lane loop below. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/cpu.h"
#include "layers/layers.h"
#include "layers/patch_grad.h"

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

int main(void)
{
    uint64_t h = 1469598103934665603ull;
    /* rows x columns x reduction: 8-row tiles and single rows, 16-column
     * panels and a partial one, LeNet's ip1 */
    static const int gemm[][3] = {{13, 37, 29}, {64, 500, 800}, {7, 16, 5}, {9, 33, 1}};
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
        }
        free(a), free(b), free(init), free(c);
    }
    /* K x R x P: 32- and 16-column blocks and scalar tails, 4-row blocks and
     * a row tail; LeNet's conv2 (50, 500, 64) and conv1 (20, 25, 576) */
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
    /* the weight gradient against the plain loop, accumulating into dw */
    long differ = 0, total = 0;
    static const int wg[][3] = {{20, 25, 576}, {7, 5, 29}, {4, 2, 8}, {1, 1, 3}};
    for (size_t g = 0; g < sizeof wg / sizeof wg[0]; g++) {
        const int K = wg[g][0], R = wg[g][1];
        const size_t P = (size_t)wg[g][2];
        float *dy = malloc((size_t)K * P * sizeof(float)), *col = malloc((size_t)R * P * sizeof(float));
        float *dw = malloc((size_t)K * R * sizeof(float)), *ref = malloc((size_t)K * R * sizeof(float));
        if (!dy || !col || !dw || !ref)
            return 1;
        fill(dy, (size_t)K * P), fill(col, (size_t)R * P), fill(dw, (size_t)K * R);
        memcpy(ref, dw, (size_t)K * R * sizeof(float));
        dlt__patch_weight_grad(K, R, P, dy, col, dw);
        const size_t P8 = P & ~(size_t)7;
        for (int k = 0; k < K; k++)
            for (int r = 0; r < R; r++) {
                volatile float a8[8] = {0, 0, 0, 0, 0, 0, 0, 0}; /* volatile: no contraction, no reordering */
                for (size_t p = 0; p < P8; p += 8)
                    for (int j = 0; j < 8; j++) {
                        const float m = dy[(size_t)k * P + p + j] * col[(size_t)r * P + p + j];
                        a8[j] = a8[j] + m;
                    }
                volatile float sum = ((a8[0] + a8[1]) + (a8[2] + a8[3])) + ((a8[4] + a8[5]) + (a8[6] + a8[7]));
                for (size_t p = P8; p < P; p++) {
                    const float m = dy[(size_t)k * P + p] * col[(size_t)r * P + p];
                    sum = sum + m;
                }
                ref[(size_t)k * R + r] += sum;
            }
        for (int i = 0; i < K * R; i++)
            differ += memcmp(&dw[i], &ref[i], sizeof(float)) != 0;
        total += K * R;
        free(dy), free(col), free(dw), free(ref);
    }
    printf("weight gradient: %ld of %ld differ from the plain loop\n", differ, total);
    printf("path %s hash %016llx\n", dlt_cpu_avx512() ? "avx512" : "avx2-or-older",
           (unsigned long long)h);
    return 0;
}
