/* inner_product.c - InnerProduct (fully connected): y = x W^T + b, with the
 * weight stored K x D as in Caffe (D x K with transpose: true), so Caffe
 * snapshots map one to one. axis: the axes from AXIS on are the input
 * vector (D), those before it index M = rows of x (axis 1: M = N). */
#include <cblas.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define IP_X86 1
#endif
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/cpu.h"
#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/inner_product.h"
#include "layers/transpose.h"

static int ip_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256];
    const char *name = l->name;
    if (l->nbottom != 1 || l->ntop != 1)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': InnerProduct takes 1 bottom and 1 top "
                 "(got %d and %d)", dlt_cfg_where(msg, wb, sizeof wb), name, l->nbottom, l->ntop);
    const dlt_cfg *p = dlt_cfg_get(msg, "inner_product_param");
    if (!p)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': InnerProduct needs inner_product_param "
                 "{ num_output }", dlt_cfg_where(msg, wb, sizeof wb), name);
    long k, axis;
    int bias, transpose;
    DLT_TRY(dlt_cfg_int(p, "num_output", 0, &k));
    if (k <= 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': inner_product_param needs num_output between "
                 "1 and %d, got %ld", dlt_cfg_where(p, wb, sizeof wb), name, INT_MAX, k);
    DLT_TRY(dlt_cfg_bool(p, "bias_term", 1, &bias));
    DLT_TRY(dlt_cfg_int(p, "axis", 1, &axis));
    if (axis < 0)
        axis += 4;
    if (axis < 1 || axis > 3)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': inner_product_param axis must be 1, 2 or 3 "
                 "(or -3..-1) for NCHW blobs (got %ld)",
                 dlt_cfg_where(dlt_cfg_get(p, "axis"), wb, sizeof wb), name, axis);
    DLT_TRY(dlt_cfg_bool(p, "transpose", 0, &transpose));
    dlt_filler wf, bf;
    DLT_TRY(dlt_filler_parse(dlt_cfg_get(p, "weight_filler"), &wf));
    DLT_TRY(dlt_filler_parse(dlt_cfg_get(p, "bias_filler"), &bf));

    ip_config *c = dlt_calloc(1, sizeof *c);
    const dlt_tensor *x = l->bottom[0];
    const int d[4] = {x->n, x->c, x->h, x->w};
    c->num_output = (int)k;
    /* The GEMM sides (rows x dim) x (dim x num_output) are ints for BLAS. */
    const int64_t d64[4] = {d[0], d[1], d[2], d[3]};
    int64_t rows, dim;
    char sbuf[320];
    dlt_size_ctx sc;
    dlt__layer_size_ctx(l, p, sbuf, sizeof sbuf, &sc);
    DLT_TRY(dlt_size_prod(&sc, "rows (the axes before axis)", d64, (int)axis, DLT_DIM_MAX, &rows));
    DLT_TRY(dlt_size_prod(&sc, "inputs per row (the axes from axis on)", d64 + axis, 4 - (int)axis,
                          DLT_DIM_MAX, &dim));
    c->rows = (int)rows, c->dim = (int)dim;
    c->bias_term = bias;
    c->transpose = transpose;
    l->state = c;
    /* Top: the axes before AXIS, then K (trailing axes 1). */
    int64_t t[4] = {1, 1, 1, 1};
    for (int i = 0; i < axis; i++)
        t[i] = d[i];
    t[axis] = k;
    if (l->top[0] == x)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': InnerProduct cannot work in place",
                 dlt_cfg_where(msg, wb, sizeof wb), name);
    if (transpose)
        DLT_TRY(dlt__add_param(l, msg, c->dim, c->num_output, 1, 1, &wf));
    else
        DLT_TRY(dlt__add_param(l, msg, c->num_output, c->dim, 1, 1, &wf));
    if (bias)
        DLT_TRY(dlt__add_param(l, msg, c->num_output, 1, 1, 1, &bf));
    DLT_TRY(dlt__top_shape(l, msg, 0, t[0], t[1], t[2], t[3])); /* after the weights' check */
    (void)ctx;
    return 0;
}

/* The forward and the input gradient compute every output element as one
 * fixed sequence, init + a[0] b[0] + a[1] b[1] + ..., whatever the batch,
 * so that P ranks of batch B compute the same activations as one rank of
 * batch P*B, bit for bit, for any split. cblas_sgemm cannot promise that:
 * OpenBLAS 0.3.21's Haswell/Zen sgemm rounds a row differently by its
 * place in the call's kernel tiles and thread split (rows 12-15 of a
 * 16-row call differ from the same rows of a 64-row call), and calls of a
 * fixed 4 rows repack the whole weight matrix per call (LeNet training
 * +20%). Here op(B) is packed once per call into 16-column panels and a
 * 4 x 16 register tile runs down the whole reduction; rows are independent
 * (a row's tile lanes do the same operations in any tile), columns too (a
 * panel's tail is zero-padded); panels go to OpenMP threads, which changes
 * no arithmetic. One code path per machine, so every row of every call is
 * computed alike: FMA intrinsics where the CPU has AVX and FMA (checked once
 * at run time), else plain vector code (multiply, then add). Whole-net
 * figures: README.md, the paragraph on data parallelism. */
#define IP_COLS 16

typedef float v8 __attribute__((vector_size(32)));

/* One panel of op(B) (NA x NC; element (a, j) is b[j*ldb + a] if trans,
 * else b[a*ldb + j]): its columns J0..J0+NJ-1 as NA x 16, zero-padded, in
 * this thread's buffer. Each thread packs the panels it multiplies, so the
 * packing runs on all threads and the panel (NA x 64 bytes) is still in
 * that core's cache when the kernel reads it. */
static _Thread_local float *pack_buf;
static _Thread_local size_t pack_size;

static const float *pack_panel(int NA, int j0, int nj, const float *b, int ldb, int trans, int slot)
{
    const size_t bytes = 2 * (size_t)NA * IP_COLS * sizeof(float); /* two slots */
    if (bytes > pack_size) {
        free(pack_buf);
        pack_buf = dlt_aligned_alloc(64, bytes);
        pack_size = bytes;
    }
    float *dst = pack_buf + (size_t)slot * NA * IP_COLS;
    if (trans) { /* the panel's rows of b, transposed (the strided scalar loop
                  * took longer than the multiply on LeNet's ip1, b32) */
        dlt__transpose(nj, NA, b + (size_t)j0 * ldb, (size_t)ldb, dst, IP_COLS, IP_COLS);
    } else { /* rows of 16 copied inline (a memcpy call per 64 bytes cost as much as the multiply) */
        for (int a = 0; a < NA; a++) {
            const float *restrict s = b + (size_t)a * ldb + j0;
            float *restrict d = dst + (size_t)a * IP_COLS;
            if (nj == IP_COLS) {
                for (int j = 0; j < IP_COLS; j++)
                    d[j] = s[j];
            } else {
                for (int j = 0; j < nj; j++)
                    d[j] = s[j];
                for (int j = nj; j < IP_COLS; j++)
                    d[j] = 0.0f;
            }
        }
    }
    return dst;
}

/* The NJ columns of a 16-wide tile row that C has (a panel's tail is padding). */
static inline void store_tile(float *c, int nj, const float *acc)
{
    memcpy(c, acc, (size_t)nj * sizeof(float));
}

#ifdef IP_X86
/* One panel of C: rows 0..N-1, its NJ (<= 16) columns = init + A (N x NA) Bp
 * (Bp: NA x 16), in tiles of 4 rows, then single rows with the same lanes'
 * arithmetic. (6-row tiles measured slower here.) */
__attribute__((target("avx,fma"))) static void panel_fma(int N, int NA, const float *a, const float *bp,
                                                          const float *init, float *c, int ldc, int nj)
{
    const __m256 z = _mm256_setzero_ps();
    const __m256 i0 = init ? _mm256_loadu_ps(init) : z, i1 = init ? _mm256_loadu_ps(init + 8) : z;
    int n = 0;
    for (; n + 4 <= N; n += 4) {
        __m256 c00 = i0, c01 = i1, c10 = i0, c11 = i1, c20 = i0, c21 = i1, c30 = i0, c31 = i1;
        const float *a0 = a + (size_t)n * NA, *a1 = a0 + NA, *a2 = a1 + NA, *a3 = a2 + NA;
        for (int k = 0; k < NA; k++) {
            const __m256 b0 = _mm256_load_ps(bp + (size_t)k * IP_COLS);
            const __m256 b1 = _mm256_load_ps(bp + (size_t)k * IP_COLS + 8);
            __m256 x = _mm256_broadcast_ss(a0 + k);
            c00 = _mm256_fmadd_ps(x, b0, c00), c01 = _mm256_fmadd_ps(x, b1, c01);
            x = _mm256_broadcast_ss(a1 + k);
            c10 = _mm256_fmadd_ps(x, b0, c10), c11 = _mm256_fmadd_ps(x, b1, c11);
            x = _mm256_broadcast_ss(a2 + k);
            c20 = _mm256_fmadd_ps(x, b0, c20), c21 = _mm256_fmadd_ps(x, b1, c21);
            x = _mm256_broadcast_ss(a3 + k);
            c30 = _mm256_fmadd_ps(x, b0, c30), c31 = _mm256_fmadd_ps(x, b1, c31);
        }
        float t[4][IP_COLS];
        _mm256_storeu_ps(t[0], c00), _mm256_storeu_ps(t[0] + 8, c01);
        _mm256_storeu_ps(t[1], c10), _mm256_storeu_ps(t[1] + 8, c11);
        _mm256_storeu_ps(t[2], c20), _mm256_storeu_ps(t[2] + 8, c21);
        _mm256_storeu_ps(t[3], c30), _mm256_storeu_ps(t[3] + 8, c31);
        for (int r = 0; r < 4; r++)
            store_tile(c + (size_t)(n + r) * ldc, nj, t[r]);
    }
    for (; n < N; n++) {
        __m256 c00 = i0, c01 = i1;
        const float *a0 = a + (size_t)n * NA;
        for (int k = 0; k < NA; k++) {
            const __m256 x = _mm256_broadcast_ss(a0 + k);
            c00 = _mm256_fmadd_ps(x, _mm256_load_ps(bp + (size_t)k * IP_COLS), c00);
            c01 = _mm256_fmadd_ps(x, _mm256_load_ps(bp + (size_t)k * IP_COLS + 8), c01);
        }
        float t[IP_COLS];
        _mm256_storeu_ps(t, c00), _mm256_storeu_ps(t + 8, c01);
        store_tile(c + (size_t)n * ldc, nj, t);
    }
}

/* panel_fma with AVX-512: a 16-column tile row is one register, so tiles of
 * 8 rows; each output is the same FMA chain over k as in panel_fma, so the
 * two give the same bits. */
__attribute__((target("avx512f"))) static void panel_avx512(int N, int NA, const float *a,
                                                          const float *bp, const float *init,
                                                          float *c, int ldc, int nj)
{
    const __m512 i0 = init ? _mm512_loadu_ps(init) : _mm512_setzero_ps();
    int n = 0;
    for (; n + 8 <= N; n += 8) { /* named accumulators: an array stayed in memory */
        __m512 c0 = i0, c1 = i0, c2 = i0, c3 = i0, c4 = i0, c5 = i0, c6 = i0, c7 = i0;
        const float *a0 = a + (size_t)n * NA;
        for (int k = 0; k < NA; k++) {
            const __m512 b = _mm512_load_ps(bp + (size_t)k * IP_COLS);
            const float *x = a0 + k;
            c0 = _mm512_fmadd_ps(_mm512_set1_ps(x[0]), b, c0);
            c1 = _mm512_fmadd_ps(_mm512_set1_ps(x[(size_t)NA]), b, c1);
            c2 = _mm512_fmadd_ps(_mm512_set1_ps(x[2 * (size_t)NA]), b, c2);
            c3 = _mm512_fmadd_ps(_mm512_set1_ps(x[3 * (size_t)NA]), b, c3);
            c4 = _mm512_fmadd_ps(_mm512_set1_ps(x[4 * (size_t)NA]), b, c4);
            c5 = _mm512_fmadd_ps(_mm512_set1_ps(x[5 * (size_t)NA]), b, c5);
            c6 = _mm512_fmadd_ps(_mm512_set1_ps(x[6 * (size_t)NA]), b, c6);
            c7 = _mm512_fmadd_ps(_mm512_set1_ps(x[7 * (size_t)NA]), b, c7);
        }
        const __m512 acc[8] = {c0, c1, c2, c3, c4, c5, c6, c7};
        float t[IP_COLS];
        for (int r = 0; r < 8; r++) {
            _mm512_storeu_ps(t, acc[r]);
            store_tile(c + (size_t)(n + r) * ldc, nj, t);
        }
    }
    for (; n < N; n++) {
        __m512 acc = i0;
        const float *a0 = a + (size_t)n * NA;
        for (int k = 0; k < NA; k++)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(a0[k]), _mm512_load_ps(bp + (size_t)k * IP_COLS), acc);
        float t[IP_COLS];
        _mm512_storeu_ps(t, acc);
        store_tile(c + (size_t)n * ldc, nj, t);
    }
}


/* Two adjacent panels at once: 8 rows x 32 columns (16 accumulators), two
 * loads and eight broadcasts per 16 FMAs where one panel took one load and
 * eight broadcasts per 8 (load-bound). Each output is the same chain as in
 * panel_avx512. */
__attribute__((target("avx512f"))) static void panel_pair_avx512(int N, int NA, const float *a,
                                                               const float *bp0, const float *bp1,
                                                               const float *init0, const float *init1,
                                                               float *c, int ldc, int nj1)
{
    const __m512 z = _mm512_setzero_ps();
    const __m512 i0 = init0 ? _mm512_loadu_ps(init0) : z, i1 = init1 ? _mm512_loadu_ps(init1) : z;
    int n = 0;
    for (; n + 8 <= N; n += 8) {
        __m512 acc[8][2];
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++)
            acc[r][0] = i0, acc[r][1] = i1;
        const float *a0 = a + (size_t)n * NA;
        for (int k = 0; k < NA; k++) {
            const __m512 b0 = _mm512_load_ps(bp0 + (size_t)k * IP_COLS);
            const __m512 b1 = _mm512_load_ps(bp1 + (size_t)k * IP_COLS);
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++) {
                const __m512 x = _mm512_set1_ps(a0[(size_t)r * NA + k]);
                acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
            }
        }
        float t[IP_COLS];
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            _mm512_storeu_ps(c + (size_t)(n + r) * ldc, acc[r][0]);
            _mm512_storeu_ps(t, acc[r][1]);
            store_tile(c + (size_t)(n + r) * ldc + IP_COLS, nj1, t);
        }
    }
    if (n < N) { /* the last rows: one panel at a time, the same chains */
        panel_avx512(N - n, NA, a + (size_t)n * NA, bp0, init0, c + (size_t)n * ldc, ldc, IP_COLS);
        panel_avx512(N - n, NA, a + (size_t)n * NA, bp1, init1, c + (size_t)n * ldc + IP_COLS, ldc, nj1);
    }
}
#endif

/* panel_fma for CPUs without FMA: multiply, round, add. */
static void panel_plain(int N, int NA, const float *a, const float *bp, const float *init, float *c,
                        int ldc, int nj)
{
    v8 i0 = {0}, i1 = {0};
    if (init)
        memcpy(&i0, init, sizeof i0), memcpy(&i1, init + 8, sizeof i1);
    int n = 0;
    for (; n + 4 <= N; n += 4) {
        v8 acc[4][2] = {{i0, i1}, {i0, i1}, {i0, i1}, {i0, i1}};
        const float *a0 = a + (size_t)n * NA;
        for (int k = 0; k < NA; k++) {
            const v8 b0 = *(const v8 *)(bp + (size_t)k * IP_COLS);
            const v8 b1 = *(const v8 *)(bp + (size_t)k * IP_COLS + 8);
            for (int r = 0; r < 4; r++) {
                const float x = a0[(size_t)r * NA + k];
                acc[r][0] += x * b0, acc[r][1] += x * b1;
            }
        }
        for (int r = 0; r < 4; r++)
            store_tile(c + (size_t)(n + r) * ldc, nj, (const float *)acc[r]);
    }
    for (; n < N; n++) {
        v8 acc[2] = {i0, i1};
        for (int k = 0; k < NA; k++) {
            const float x = a[(size_t)n * NA + k];
            acc[0] += x * *(const v8 *)(bp + (size_t)k * IP_COLS);
            acc[1] += x * *(const v8 *)(bp + (size_t)k * IP_COLS + 8);
        }
        store_tile(c + (size_t)n * ldc, nj, (const float *)acc);
    }
}

/* C (N x NC, row-major) = init (NC, or zero) + A (N x NA) op(B); op(B) as in
 * pack_panel. Panels run on OpenMP threads: the split changes no arithmetic.
 * Shared with the recurrent layers (layers.h). */
void dlt__gemm_rows(int N, int NC, int NA, const float *a, int trans, const float *b, int ldb,
                      const float *init, float *c)
{
    static int use_fma = -1; /* 0 plain, 1 AVX+FMA, 2 AVX-512 */
    if (use_fma < 0) /* -DIP_PLAIN: test the path of CPUs without FMA */
#if defined(IP_PLAIN) || !defined(IP_X86)
        use_fma = 0;
#else
        use_fma = dlt_cpu_avx512() ? 2 : __builtin_cpu_supports("avx") && __builtin_cpu_supports("fma");
#endif
    if (use_fma && dlt__gemm_rows_lanes(N, NC, NA, a, trans, b, ldb, init, c))
        return; /* the rows in the lanes: same bits, no packed B (where that pays) */
    const int np = (NC + IP_COLS - 1) / IP_COLS, pairs = (np + 1) / 2;
    /* Panels in pairs (AVX-512 multiplies a pair at once), pairs on threads */
#pragma omp parallel for schedule(static) if ((double)N * NC * NA >= 1e6)
    for (int q = 0; q < pairs; q++) {
        const int p0 = 2 * q, p1 = p0 + 1 < np ? p0 + 1 : -1;
        const float *bp[2] = {NULL, NULL};
        float ini[2][IP_COLS] = {{0}};
        int nj[2] = {0, 0};
        for (int h = 0; h < 2; h++) {
            const int p = h ? p1 : p0;
            if (p < 0)
                continue;
            const int j0 = p * IP_COLS;
            nj[h] = NC - j0 < IP_COLS ? NC - j0 : IP_COLS;
            bp[h] = pack_panel(NA, j0, nj[h], b, ldb, trans, h);
            if (init)
                memcpy(ini[h], init + j0, (size_t)nj[h] * sizeof(float));
        }
        float *c0 = c + (size_t)p0 * IP_COLS;
#ifdef IP_X86
        if (use_fma == 2 && p1 >= 0) {
            panel_pair_avx512(N, NA, a, bp[0], bp[1], init ? ini[0] : NULL, init ? ini[1] : NULL, c0, NC,
                              nj[1]);
            continue;
        }
#endif
        for (int h = 0; h < 2; h++) {
            if (!bp[h])
                continue;
            float *ch = c0 + h * IP_COLS;
            const float *ih = init ? ini[h] : NULL;
#ifdef IP_X86
            if (use_fma == 2)
                panel_avx512(N, NA, a, bp[h], ih, ch, NC, nj[h]);
            else if (use_fma)
                panel_fma(N, NA, a, bp[h], ih, ch, NC, nj[h]);
            else
#endif
                panel_plain(N, NA, a, bp[h], ih, ch, NC, nj[h]);
        }
    }
}

static void ip_forward(dlt_layer *l)
{
    const ip_config *c = l->state;
    const int N = c->rows, K = c->num_output, D = c->dim;
    dlt__gemm_rows(N, K, D, l->bottom[0]->data, !c->transpose, l->param[0].data, c->transpose ? K : D,
              c->bias_term ? l->param[1].data : NULL, l->top[0]->data);
}

/* The weight gradient sums over the batch inside one GEMM (its K
 * dimension): split over ranks, the sum differs by float rounding only
 * (ulps), while per-block sums in double cost 3x the layer's backward. */
static void ip_backward(dlt_layer *l)
{
    const ip_config *c = l->state;
    const int N = c->rows, K = c->num_output, D = c->dim;
    const float *dy = l->top[0]->diff;
    if (c->transpose) /* dW (D x K) += x^T (D x N) x dy (N x K) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, K, N, 1.0f, l->bottom[0]->data, D,
                    dy, K, 1.0f, l->param[0].diff, K);
    else /* dW (K x D) += dy^T (K x N) x (N x D) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, D, N, 1.0f, dy, K,
                    l->bottom[0]->data, D, 1.0f, l->param[0].diff, D);
    if (c->bias_term) {
        float *db = l->param[1].diff;
        for (int k = 0; k < K; k++) {
            double acc = 0;
            for (int n = 0; n < N; n++)
                acc += dy[(size_t)n * K + k];
            db[k] += (float)acc;
        }
    }
    if (l->propagate_down[0])
        dlt__gemm_rows(N, D, K, dy, c->transpose, l->param[0].data, c->transpose ? K : D, NULL,
                  l->bottom[0]->diff);
}

static void ip_destroy(dlt_layer *l)
{
    free(l->state);
    l->state = NULL;
}

const dlt_layer_ops dlt__inner_product_ops = {
    .type = "InnerProduct",
    .setup = ip_setup,
    .forward = ip_forward,
    .backward = ip_backward,
    .destroy = ip_destroy,
};
