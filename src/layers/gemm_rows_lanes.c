/* gemm_rows_lanes.c - dlt__gemm_rows's product with the rows of C in the
 * vector lanes: C (N x NC) = init + A (N x NA) op(B). A's rows are
 * transposed once per call into AT (NA x rows, a few hundred KB at most),
 * and op(B)'s elements are broadcast straight from B as it lies, so B
 * (InnerProduct's weight: LeNet's ip1 is 1.6 MB) is read once per chunk of
 * rows and never packed. The panel form (inner_product.c) repacked the
 * whole weight on every call, which cost as much as its multiply at
 * LeNet's batch 32. Every output is the same fused multiply-add chain as
 * there, init + a[0] b[0] + a[1] b[1] + ... in order of the reduction, so
 * the two forms give the same bits and either may run for any row.
 * Blocks of 6 columns x 4 vectors of 16 rows on AVX-512 (24 accumulators),
 * 3 x 4 vectors of 8 on AVX2 (12), more columns where fewer rows. */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/cpu.h"
#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/transpose.h"

/* One chunk's AT: NA x RW floats in this thread's buffer (grown as needed). */
static _Thread_local float *at_buf;
static _Thread_local size_t at_size;

static float *chunk_buffer(size_t floats)
{
    if (floats * sizeof(float) > at_size) {
        free(at_buf);
        at_buf = dlt_aligned_alloc(64, floats * sizeof(float));
        at_size = at_buf ? floats * sizeof(float) : 0;
    }
    return at_buf;
}

/* B's element (k, j) of op(B): b[j*ldb + k] if TRANS, else b[k*ldb + j]. */
#define OPB(k, j) (trans ? b[(size_t)(j) * ldb + (k)] : b[(size_t)(k) * ldb + (j)])

/* Where op(B) = B (the input gradient's W, read down its columns: a new
 * cache line every step), the reduction runs in passes whose rows of AT
 * fill 16 KB (a third of L1) and stay there while every column block runs;
 * the accumulators wait in CT (NC x RW, in lanes) between passes, which
 * changes no bits (LeNet's ip1 input gradient, b32, AVX2: 0.34 -> 0.30 ms,
 * the panels 0.35). Where op(B) = B^T each column's B is one contiguous
 * row, read in one pass: passes scattered those reads (GoogLeNet's fc at
 * b16, AVX-512: 0.30 -> 0.50 ms). */
#define PASS_FLOATS 4096

/* Columns j0 .. j0+JB-1 of the chunk's NV vectors of rows, steps k0 .. k1-1:
 * from init (FIRST) or from CT, back to CT; JB, NV constants at every
 * call, so the accumulators stay in registers. */
__attribute__((target("avx512f"), always_inline)) static inline void
block512(int JB, int NV, int k0, int k1, int first, const float *at, int rw, int trans, const float *b,
         size_t ldb, int j0, const float *init, float *ct)
{
    __m512 acc[12][4];
#pragma GCC unroll 12
    for (int j = 0; j < JB; j++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[j][v] = !first ? _mm512_load_ps(ct + (size_t)(j0 + j) * rw + 16 * v)
                        : init ? _mm512_set1_ps(init[j0 + j])
                               : _mm512_setzero_ps();
    for (int k = k0; k < k1; k++) {
        __m512 w[12];
#pragma GCC unroll 12
        for (int j = 0; j < JB; j++)
            w[j] = _mm512_set1_ps(OPB(k, j0 + j));
        const float *x = at + (size_t)(k - k0) * rw;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            const __m512 xv = _mm512_load_ps(x + 16 * v);
#pragma GCC unroll 12
            for (int j = 0; j < JB; j++)
                acc[j][v] = _mm512_fmadd_ps(xv, w[j], acc[j][v]);
        }
    }
#pragma GCC unroll 12
    for (int j = 0; j < JB; j++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            _mm512_store_ps(ct + (size_t)(j0 + j) * rw + 16 * v, acc[j][v]);
}

/* The AVX2 form: vectors of 8 rows (V x JB accumulators, JB broadcasts and
 * one row vector within 16 registers). */
__attribute__((target("avx2,fma"), always_inline)) static inline void
block256(int JB, int NV, int k0, int k1, int first, const float *at, int rw, int trans, const float *b,
         size_t ldb, int j0, const float *init, float *ct)
{
    __m256 acc[6][4];
#pragma GCC unroll 6
    for (int j = 0; j < JB; j++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[j][v] = !first ? _mm256_load_ps(ct + (size_t)(j0 + j) * rw + 8 * v)
                        : init ? _mm256_set1_ps(init[j0 + j])
                               : _mm256_setzero_ps();
    for (int k = k0; k < k1; k++) {
        __m256 w[6];
#pragma GCC unroll 6
        for (int j = 0; j < JB; j++)
            w[j] = _mm256_set1_ps(OPB(k, j0 + j));
        const float *x = at + (size_t)(k - k0) * rw;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            const __m256 xv = _mm256_load_ps(x + 8 * v);
#pragma GCC unroll 6
            for (int j = 0; j < JB; j++)
                acc[j][v] = _mm256_fmadd_ps(xv, w[j], acc[j][v]);
        }
    }
#pragma GCC unroll 6
    for (int j = 0; j < JB; j++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            _mm256_store_ps(ct + (size_t)(j0 + j) * rw + 8 * v, acc[j][v]);
}

/* One pass (steps k0 .. k1-1) over all NC columns of a chunk of NV vectors
 * of rows on one ISA: blocks of JB columns (the most that fit the registers
 * with NV), then blocks of 4, then single columns. */
#define PASS_FN(NAME, ISA, BLOCK, NV, JB)                                                             \
    __attribute__((target(ISA))) static void NAME(int NC, int k0, int k1, int first, const float *at,  \
                                                  int rw, int trans, const float *b, size_t ldb,       \
                                                  const float *init, float *ct)                        \
    {                                                                                                 \
        const int full = NC / JB, quads = (NC - full * JB) / 4, nb = full + quads;                    \
        _Pragma("omp parallel for schedule(static) if ((double)rw * NC * (k1 - k0) >= 1e6)")         \
        for (int q = 0; q < nb; q++) {                                                                \
            if (q < full)                                                                             \
                BLOCK(JB, NV, k0, k1, first, at, rw, trans, b, ldb, q * JB, init, ct);                \
            else                                                                                      \
                BLOCK(4, NV, k0, k1, first, at, rw, trans, b, ldb, full * JB + (q - full) * 4, init,  \
                      ct);                                                                            \
        }                                                                                             \
        for (int j = full * JB + quads * 4; j < NC; j++)                                              \
            BLOCK(1, NV, k0, k1, first, at, rw, trans, b, ldb, j, init, ct);                          \
    }
PASS_FN(pass512_4, "avx512f", block512, 4, 6)
PASS_FN(pass512_3, "avx512f", block512, 3, 7)
PASS_FN(pass512_2, "avx512f", block512, 2, 10)
PASS_FN(pass512_1, "avx512f", block512, 1, 12)
PASS_FN(pass256_4, "avx2,fma", block256, 4, 3)
PASS_FN(pass256_3, "avx2,fma", block256, 3, 3)
PASS_FN(pass256_2, "avx2,fma", block256, 2, 5)
PASS_FN(pass256_1, "avx2,fma", block256, 1, 6)

typedef void pass_fn(int, int, int, int, const float *, int, int, const float *, size_t, const float *,
                     float *);

int dlt__gemm_rows_lanes(int N, int NC, int NA, const float *a, int trans, const float *b, int ldb,
                         const float *init, float *c)
{
    static int isa = -1; /* 0 none, 1 AVX2 + FMA, 2 AVX-512 */
    if (isa < 0)
        isa = dlt_cpu_avx512() ? 2 : dlt_cpu_avx2_fma();
    const int lanes = isa == 2 ? 16 : 8, rw_most = 4 * lanes;
    /* Where the panels were as fast or faster (single-thread, both ISAs):
     * few columns or a short reduction (LeNet's ip2: 10 outputs); and where
     * op(B) = B, several chunks of rows that each read B down its columns
     * (AVX2, LeNet's ip1 input gradient at batch 100: 1.09 vs 0.97 ms) or
     * fewer than 16 rows (ResNet-50's fc at b8: 1.25 vs 1.17 ms). */
    if (!isa || N < 8 || NC < 64 || NA < 64 || (!trans && (N > rw_most || N < 16)))
        return 0;
    static pass_fn *const pass[2][4] = {{pass256_1, pass256_2, pass256_3, pass256_4},
                                        {pass512_1, pass512_2, pass512_3, pass512_4}};
    float *at = chunk_buffer((size_t)NA * rw_most + (size_t)NC * rw_most);
    if (!at)
        return 0;
    float *ct = at + (size_t)NA * rw_most;
    /* Chunks of at most 4 vectors of rows, as even as they come (LeNet's
     * test batch of 100 on AVX2: 4+3+3+3 vectors, not 4+4+4 and a lone
     * half-empty one). */
    const int nvec = (N + lanes - 1) / lanes, nchunks = (nvec + 3) / 4;
    for (int ch = 0, n0 = 0; ch < nchunks; ch++) {
        const int nv = nvec / nchunks + (ch < nvec % nchunks);
        const int rows = N - n0 < nv * lanes ? N - n0 : nv * lanes, rw = nv * lanes;
        const int steps = trans ? NA : PASS_FLOATS / rw;
        dlt__transpose(rows, NA, a + (size_t)n0 * NA, (size_t)NA, at, (size_t)rw, rw);
        for (int k0 = 0; k0 < NA; k0 += steps) {
            const int k1 = NA - k0 < steps ? NA : k0 + steps;
            pass[isa == 2][nv - 1](NC, k0, k1, k0 == 0, at + (size_t)k0 * rw, rw, trans, b, (size_t)ldb,
                                   init, ct);
        }
        dlt__transpose(NC, rows, ct, (size_t)rw, c + (size_t)n0 * NC, (size_t)NC, NC);
        n0 += rows;
    }
    return 1;
}
