/* conv.c - Convolution (Caffe's ConvolutionParameter, 2-D, with groups) on
 * the CPU: a chunk of the batch is unfolded into one patch matrix, then
 * each sample is one sgemm per group (its arithmetic independent of the
 * batch size: the data-parallel equivalence), or oneDNN. */
#include <cblas.h>
#include <omp.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/cpu.h"
#include "dltrain/error.h"
#include "layers/im2col.h"
#include "layers/conv.h"
#include "layers/conv_dnnl.h"
#include "layers/patch_grad.h"
#include "layers/plane_sums.h"
#include "layers/relu.h"
#include "layers/transpose.h"
#include "layers/layers.h"

/* Patch matrix size per unfold (floats): as many samples as fit in about
 * 1 MB, so the matrix im2col writes is still in L2 when sgemm reads it.
 * On LeNet conv2 (batch 64) this took the forward from 7.7 ms (whole batch,
 * 8 MB) to 3.8 ms on one core, with one GEMM per chunk; since 2026-12-03
 * each sample of the chunk is its own GEMM (see im2col_forward). */
#ifndef CONV_WORKSPACE_MAX
#define CONV_WORKSPACE_MAX (256u << 10)
#endif

typedef struct conv_state {
    conv_config cfg;
    int n;             /* batch size at setup */
    int chunk;         /* samples per unfold */
    float *col;        /* (C*kh*kw, chunk*Ho*Wo) patch matrix, then its gradient */
    int col_valid;     /* col holds the patches of the whole batch (chunk == n) */
    float *dw_one;     /* (K, C/group*kh*kw) one sample's (oneDNN: chunk's) weight gradient */
    double *dw_acc;    /* (K, C/group*kh*kw) the batch's weight gradient */
    double *db_acc;    /* (K) the batch's bias gradient */
    dlt__conv_dnnl *dnnl; /* oneDNN primitives (backend dnnl), else NULL */
    dlt_layer *fused_relu; /* the in-place ReLU after it, done by its forward; or NULL */
    float *dw_chunks;  /* (chunks, K, C*kh*kw) dw_direct: each chunk's weight gradient */
    float *cols;       /* per thread: thread_scratch_floats (dx_direct, dw_direct) */
    int dw_chunks_n, cols_n;
    float *wT, *bT;    /* fwd_direct: (C*kh*kw, Kp) weights and (Kp) bias, zero-padded */
    int *tapoff;       /* fwd_direct: (C*kh*kw) dlt__conv_tap_offsets */
} conv_state;

/* oneDNN's weight gradient is summed per chunk of a power-of-two size (at
 * most DNNL_WCHUNK_MAX) that divides the batch, then across chunks in
 * double (the im2col one per sample): where the ranks' chunks are the
 * single rank's (batch 16 or more per rank, a multiple of 16), they sum the
 * same chunks. One oneDNN call over the whole batch (a different
 * float summation order) made test_mpi_equiv.sh differ by 7e-3 after 20
 * iterations (float rounding, amplified by training). */
#ifndef DNNL_WCHUNK_MAX
#define DNNL_WCHUNK_MAX 16
#endif
static int dnnl_weight_chunk(int n)
{
    int c = 1;
    while (c * 2 <= DNNL_WCHUNK_MAX && n % (c * 2) == 0)
        c *= 2;
    return c < 4 ? n : c; /* odd batch sizes: speed over alignment */
}

static int conv_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256];
    const char *name = l->name;
    if (l->nbottom != 1 || l->ntop != 1)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Convolution takes 1 bottom and 1 top "
                 "(got %d and %d)", dlt_cfg_where(msg, wb, sizeof wb), name, l->nbottom, l->ntop);
    const dlt_cfg *p = dlt_cfg_get(msg, "convolution_param");
    if (!p)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Convolution needs convolution_param "
                 "{ num_output, kernel_size }", dlt_cfg_where(msg, wb, sizeof wb), name);

    conv_config cfg = {0};
    long k, group, axis;
    int bias;
    DLT_TRY(dlt_cfg_int(p, "num_output", 0, &k));
    if (k <= 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': convolution_param needs num_output between "
                 "1 and %d, got %ld", dlt_cfg_where(p, wb, sizeof wb), name, INT_MAX, k);
    DLT_TRY(dlt_cfg_bool(p, "bias_term", 1, &bias));
    DLT_TRY(dlt_cfg_int(p, "group", 1, &group));
    DLT_TRY(dlt__cfg_hw(p, name, "kernel_size", "kernel", 0, 1, &cfg.g.kh, &cfg.g.kw));
    DLT_TRY(dlt__cfg_hw(p, name, "stride", "stride", 1, 1, &cfg.g.sh, &cfg.g.sw));
    DLT_TRY(dlt__cfg_hw(p, name, "pad", "pad", 0, 0, &cfg.g.ph, &cfg.g.pw));
    DLT_TRY(dlt__cfg_hw(p, name, "dilation", "dilation", 1, 1, &cfg.g.dh, &cfg.g.dw));
    DLT_TRY(dlt_cfg_int(p, "axis", 1, &axis));
    if (axis != 1)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': only axis: 1 (NCHW channels) is supported",
                 dlt_cfg_where(dlt_cfg_get(p, "axis"), wb, sizeof wb), name);
    int force_nd, engine;
    static const char *const engines[] = {"DEFAULT", "CAFFE", "CUDNN", NULL};
    DLT_TRY(dlt_cfg_bool(p, "force_nd_im2col", 0, &force_nd)); /* layout hint; same result */
    DLT_TRY(dlt_cfg_enum(p, "engine", engines, 0, &engine));   /* the backend chooses */
    if (cfg.g.kh == 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': convolution_param needs kernel_size "
                 "(or kernel_h and kernel_w)", dlt_cfg_where(p, wb, sizeof wb), name);

    dlt_filler wf, bf;
    DLT_TRY(dlt_filler_parse(dlt_cfg_get(p, "weight_filler"), &wf));
    DLT_TRY(dlt_filler_parse(dlt_cfg_get(p, "bias_filler"), &bf));

    const dlt_tensor *x = l->bottom[0];
    cfg.num_output = (int)k;
    cfg.group = (int)group;
    cfg.bias_term = bias;
    cfg.g.c = x->c, cfg.g.h = x->h, cfg.g.w = x->w;
    if (group < 1 || x->c % group || k % group)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': group %ld must divide both the input "
                 "channels (%d) and num_output (%ld)",
                 dlt_cfg_where(p, wb, sizeof wb), name, group, x->c, k);
    /* Exact sizes: dilation, kernel and pad are each up to 2^30, so the
     * dilated kernel and the padded input are formed in 64 bits, checked. */
    char sb[320];
    dlt_size_ctx sc;
    dlt__layer_size_ctx(l, p, sb, sizeof sb, &sc);
    int64_t ekh, ekw, ph2, pw2;
    DLT_TRY(dlt_size_mul(&sc, "dilated kernel height (dilation x (kernel_h - 1))", cfg.g.dh,
                         cfg.g.kh - 1, DLT_DIM_MAX - 1, &ekh));
    DLT_TRY(dlt_size_mul(&sc, "dilated kernel width (dilation x (kernel_w - 1))", cfg.g.dw,
                         cfg.g.kw - 1, DLT_DIM_MAX - 1, &ekw));
    ekh++, ekw++;
    DLT_TRY(dlt_size_add(&sc, "padded input height (H + 2 x pad_h)", x->h, 2 * (int64_t)cfg.g.ph,
                         DLT_DIM_MAX, &ph2));
    DLT_TRY(dlt_size_add(&sc, "padded input width (W + 2 x pad_w)", x->w, 2 * (int64_t)cfg.g.pw,
                         DLT_DIM_MAX, &pw2));
    if (ph2 < ekh || pw2 < ekw)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': (dilated) kernel %" PRId64 "x%" PRId64
                 " is larger than the padded input %" PRId64 "x%" PRId64,
                 dlt_cfg_where(p, wb, sizeof wb), name, ekh, ekw, ph2, pw2);
    cfg.g.ho = (int)((ph2 - ekh) / cfg.g.sh + 1);
    cfg.g.wo = (int)((pw2 - ekw) / cfg.g.sw + 1);
    /* The patch matrix (C*kh*kw rows) and each sample's output plane are
     * GEMM sides, which BLAS and oneDNN take as int. */
    const int64_t rows_f[3] = {cfg.g.c, cfg.g.kh, cfg.g.kw};
    const int64_t col_f[5] = {cfg.g.c, cfg.g.kh, cfg.g.kw, cfg.g.ho, cfg.g.wo};
    DLT_TRY(dlt_size_prod(&sc, "patch rows (channels x kernel_h x kernel_w)", rows_f, 3,
                          DLT_DIM_MAX, NULL));
    DLT_TRY(dlt_size_prod(&sc, "patch matrix (C x kernel_h x kernel_w x Ho x Wo)", col_f, 5,
                          DLT_COUNT_MAX, NULL));
    DLT_TRY(dlt__top_shape(l, msg, 0, x->n, cfg.num_output, cfg.g.ho, cfg.g.wo));
    DLT_TRY(dlt__add_param(l, msg, cfg.num_output, cfg.g.c / cfg.group, cfg.g.kh, cfg.g.kw, &wf));
    if (cfg.bias_term)
        DLT_TRY(dlt__add_param(l, msg, cfg.num_output, 1, 1, 1, &bf));

    conv_state *s = dlt_calloc(1, sizeof *s);
    s->cfg = cfg;
    s->n = x->n;
    size_t rows = (size_t)cfg.g.c * cfg.g.kh * cfg.g.kw;
    size_t P = (size_t)cfg.g.ho * cfg.g.wo;
    size_t fit = CONV_WORKSPACE_MAX / (rows * P > 0 ? rows * P : 1);
    /* A power of two that divides the batch (from when a chunk was one
     * GEMM; the GEMMs are per sample now, so any chunk gives the same result). */
    s->chunk = 1;
    while ((size_t)s->chunk * 2 <= fit && x->n % (s->chunk * 2) == 0)
        s->chunk *= 2;
    if (s->chunk < 4 && fit >= 4) /* odd batch sizes: speed over alignment */
        s->chunk = fit > (size_t)x->n ? x->n : (int)fit;
    s->col = dlt_malloc(rows * P * s->chunk * sizeof(float));
    size_t wcount = (size_t)cfg.num_output * (rows / cfg.group);
    s->dw_one = dlt_malloc(wcount * sizeof(float));
    s->dw_acc = dlt_malloc(wcount * sizeof(double));
    s->db_acc = dlt_malloc((size_t)cfg.num_output * sizeof(double));
    if (dlt_compute_conv_backend(l->compute) == DLT_CONV_DNNL)
        s->dnnl = dlt__conv_dnnl_create(&cfg, x->n, dnnl_weight_chunk(x->n));
    l->state = s;
    (void)ctx;
    return 0;
}

/* Unfold samples [n0, n0+nb) into s->col with leading dimension nb*P. */
static void unfold(conv_state *s, const float *x, int n0, int nb)
{
    const dlt__conv_geom *g = &s->cfg.g;
    size_t P = (size_t)g->ho * g->wo, in = (size_t)g->c * g->h * g->w;
    for (int i = 0; i < nb; i++)
        dlt__im2col(x + (size_t)(n0 + i) * in, g, s->col + i * P, (size_t)nb * P);
}

/* oneDNN declined this shape: the im2col path from now on. */
static void dnnl_fallback(dlt_layer *l, conv_state *s, const char *what)
{
    dlt_note_once(l->name, "layer '%s': oneDNN has no %s for this shape; using im2col",
                  l->name, what);
    dlt__conv_dnnl_destroy(s->dnnl);
    s->dnnl = NULL;
}

/* Each sample's output is its own GEMM, (Kg, P) = W (Kg, Rg) x its patch
 * columns (Rg, P), written straight into its NCHW slot: a sample's result
 * then has the same arithmetic whatever the batch. (One GEMM over a chunk
 * of samples did not: OpenBLAS 0.3.21's Haswell/Zen sgemm computes the last
 * ~230 columns of a call differently, so conv1 of LeNet at chunk 16
 * (9,216 columns) and chunk 8 (4,608) differed in 6,644 of 552,960
 * activations, and np=2 x 24 drifted 1e-2 from np=1 x 48 within 10
 * iterations through max pooling.) */
static void im2col_forward(dlt_layer *l)
{
    conv_state *s = l->state;
    const conv_config *c = &s->cfg;
    const dlt__conv_geom *g = &c->g;
    const int N = l->bottom[0]->n, K = c->num_output, G = c->group;
    const int Kg = K / G, Rg = g->c / G * g->kh * g->kw;
    const size_t P = (size_t)g->ho * g->wo;
    const float *w = l->param[0].data;
    const float *b = c->bias_term ? l->param[1].data : NULL;
    float *y = l->top[0]->data;

    for (int n0 = 0; n0 < N; n0 += s->chunk) {
        int nb = N - n0 < s->chunk ? N - n0 : s->chunk;
        size_t ld = (size_t)nb * P;
        unfold(s, l->bottom[0]->data, n0, nb);
        for (int i = 0; i < nb; i++) {
            float *yi = y + (size_t)(n0 + i) * K * P;
            for (int gi = 0; gi < G; gi++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Kg, (int)P, Rg, 1.0f,
                            w + (size_t)gi * Kg * Rg, Rg, s->col + (size_t)gi * Rg * ld + i * P,
                            (int)ld, 0.0f, yi + (size_t)gi * Kg * P, (int)P);
            if (b)
                for (int k = 0; k < K; k++)
                    for (size_t p = 0; p < P; p++)
                        yi[(size_t)k * P + p] += b[k];
        }
    }
    s->col_valid = s->chunk >= N;
}

/* DLT_CONV_DX / DLT_CONV_DW / DLT_CONV_FWD: "direct" (1) or "dnnl" (0)
 * overrides a rule below, for measuring; -2 when unset. Read once. */
static int rule_override(const char *var, int *cache)
{
    if (*cache == -1) {
        const char *e = getenv(var);
        *cache = e && !strcmp(e, "direct") ? 1 : e && !strcmp(e, "dnnl") ? 0 : -2;
    }
    return *cache;
}

static int few_channels_small_plane(const conv_config *c)
{
    return c->g.c < 32 && c->g.kh * c->g.kw > 1 && (long)c->g.h * c->g.w <= 16 * 16;
}

/* Whether the input gradient is the patch gradient W^T dy (patch_grad.c)
 * folded back by col2im, sample by sample, instead of oneDNN's backward
 * data: oneDNN 2.6's AVX2 kernel is slow where few input channels (its
 * output) meet a small plane, LeNet's conv2 (20 <- 50 channels, 12x12, b32,
 * 1 thread, CPU time): 3.6 ms against 1.5 for its forward. DLT_CONV_DX =
 * direct or dnnl overrides the rule (for measuring). */
static int dx_direct(const conv_config *c)
{
    static int cache = -1;
    const int forced = rule_override("DLT_CONV_DX", &cache);
    if (c->group != 1)
        return 0;
    if (forced >= 0)
        return forced;
    return few_channels_small_plane(c);
}

/* Each thread's scratch in s->cols: a patch matrix (C*kh*kw, Ho*Wo),
 * then for the weight gradient a sample's dy transposed (Ho*Wo, Kp) and
 * the chunk's transposed weight gradient (C*kh*kw, Kp), Kp =
 * dlt__conv_channel_pad(K); or the shifted copies of fwd_rows and
 * dw_lanes, then dw_lanes' (K, C*kh*kw, 16) partial sums. */
static int dw_lanes(const conv_config *c);

static size_t thread_scratch_floats(const conv_config *c)
{
    const size_t R = (size_t)c->g.c * c->g.kh * c->g.kw, P = (size_t)c->g.ho * c->g.wo;
    const size_t Kp = (size_t)dlt__conv_channel_pad(c->num_output);
    const size_t lanes = dw_lanes(c) ? (size_t)c->num_output * R * 16 : 0;
    const size_t rows = dlt__conv_rows_scratch(&c->g) + lanes, patch = R * P + P * Kp + R * Kp;
    return rows > patch ? rows : patch;
}

static float *thread_cols(conv_state *s)
{
    const int nthr = omp_get_max_threads();
    if (!s->cols || s->cols_n < nthr) {
        free(s->cols);
        s->cols = dlt_malloc((size_t)nthr * thread_scratch_floats(&s->cfg) * sizeof(float));
        s->cols_n = nthr;
    }
    return s->cols;
}

/* dx = col2im(W^T dy), samples on OpenMP threads: each sample's arithmetic
 * is the same whatever the batch and the threads (patch_grad.h). */
static void direct_backward_data(dlt_layer *l, conv_state *s)
{
    const conv_config *c = &s->cfg;
    const int N = l->bottom[0]->n, K = c->num_output, R = c->g.c * c->g.kh * c->g.kw;
    const int P = c->g.ho * c->g.wo;
    const size_t in = (size_t)c->g.c * c->g.h * c->g.w;
    const float *w = l->param[0].data, *dy = l->top[0]->diff;
    float *dx = l->bottom[0]->diff, *cols = thread_cols(s);
#pragma omp parallel for schedule(static) if (N > 1)
    for (int i = 0; i < N; i++) {
        float *col = cols + (size_t)omp_get_thread_num() * thread_scratch_floats(c);
        dlt__patch_grad(K, R, P, w, dy + (size_t)i * K * P, col);
        memset(dx + (size_t)i * in, 0, in * sizeof(float));
        dlt__col2im(col, (size_t)P, &c->g, dx + (size_t)i * in);
    }
}

/* Whether the weight gradient is ours (direct_weight_chunks) instead of
 * oneDNN's: where the input has one channel (LeNet's conv1, whose oneDNN
 * 2.6 AVX2 kernel is slow there) or few channels on a small plane, the
 * layers dx_direct takes too (LeNet's conv2: 8x8 outputs, oneDNN's weight
 * gradient ran at ~60 GFLOP/s on an AVX-512 Xeon, the kernel below at
 * ~140). DLT_CONV_DW = direct or dnnl overrides the rule (for measuring). */
static int dw_direct(const conv_config *c)
{
    static int cache = -1;
    const int forced = rule_override("DLT_CONV_DW", &cache);
    if (c->group != 1 || c->g.ph || c->g.pw) /* the kernel reads taps unchecked */
        return 0;
    if (forced >= 0)
        return forced;
    return c->g.c == 1 || few_channels_small_plane(c);
}

/* Whether direct_weight_chunks puts the output positions in the lanes
 * (dlt__conv_weight_grad_p) instead of the channels: stride 1, unpadded,
 * and few enough weights that their 16 partial sums each stay in cache
 * (64 KiB). LeNet's conv1 backward (b64, 1 thread, AVX-512 Xeon, against
 * the channels in the lanes, alternating): 1.10 -> 0.80 ms. */
static int dw_lanes(const conv_config *c)
{
    const size_t R = (size_t)c->g.c * c->g.kh * c->g.kw;
    return c->group == 1 && !c->g.ph && !c->g.pw && c->g.sh == 1 && c->g.sw == 1 &&
           (size_t)c->num_output * R * 16 <= 16384;
}

/* The weight gradient of the N/WCHUNK chunks of WCHUNK samples into the
 * rows of s->dw_chunks, chunks on OpenMP threads: per sample either
 * dlt__conv_weight_grad_p (dw_lanes) or its dy transposed, then
 * dlt__conv_weight_grad_t on its input; both run their FMA chains through
 * the whole chunk. dnnl_backward then adds the rows in double in chunk
 * order, as it adds oneDNN's chunks, so P ranks of batch B sum the same
 * chunks as one rank of batch P*B. */
static void direct_weight_chunks(dlt_layer *l, conv_state *s, int N, int wchunk)
{
    const conv_config *c = &s->cfg;
    const int K = c->num_output, R = c->g.c * c->g.kh * c->g.kw, chunks = N / wchunk;
    const int Kp = dlt__conv_channel_pad(K);
    const size_t P = (size_t)c->g.ho * c->g.wo, in = (size_t)c->g.c * c->g.h * c->g.w;
    const size_t wcount = (size_t)K * R;
    if (!s->dw_chunks || s->dw_chunks_n < chunks) {
        free(s->dw_chunks);
        s->dw_chunks = dlt_malloc((size_t)chunks * wcount * sizeof(float));
        s->dw_chunks_n = chunks;
    }
    float *cols = thread_cols(s);
    const float *x = l->bottom[0]->data, *dy = l->top[0]->diff;
    if (dw_lanes(c)) {
        const size_t nlanes = wcount * 16;
#pragma omp parallel for schedule(static) if (chunks > 1)
        for (int ci = 0; ci < chunks; ci++) {
            float *scratch = cols + (size_t)omp_get_thread_num() * thread_scratch_floats(c);
            float *lanes = scratch + dlt__conv_rows_scratch(&c->g);
            memset(lanes, 0, nlanes * sizeof(float));
            for (int i = ci * wchunk; i < (ci + 1) * wchunk; i++)
                dlt__conv_weight_grad_p(&c->g, x + (size_t)i * in, dy + (size_t)i * K * P, K, lanes, scratch);
            dlt__conv_weight_grad_p_sum(K, R, lanes, s->dw_chunks + (size_t)ci * wcount);
        }
        return;
    }
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (int ci = 0; ci < chunks; ci++) {
        float *col = cols + (size_t)omp_get_thread_num() * thread_scratch_floats(c);
        float *dyT = col + (size_t)R * P, *dwT = dyT + P * Kp;
        memset(dwT, 0, (size_t)R * Kp * sizeof(float));
        for (int i = ci * wchunk; i < (ci + 1) * wchunk; i++) {
            dlt__transpose(K, (int)P, dy + (size_t)i * K * P, P, dyT, (size_t)Kp, Kp);
            dlt__conv_weight_grad_t(&c->g, x + (size_t)i * in, dyT, Kp, dwT);
        }
        dlt__transpose(R, K, dwT, (size_t)Kp, s->dw_chunks + (size_t)ci * wcount, (size_t)R, R);
    }
}

/* The weight gradient's sums over chunks (double) and into the layer's
 * diff (float), on threads: ResNet-50's 25 M weights made these loops,
 * one core's, a tenth of its training step. Elementwise: the same bits for
 * any thread count. */
#define DW_PAR_MIN 65536
static void dw_acc_add(double *acc, const float *x, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= DW_PAR_MIN)
    for (size_t j = 0; j < n; j++)
        acc[j] += x[j];
}

static void dw_acc_zero(double *acc, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= DW_PAR_MIN)
    for (size_t j = 0; j < n; j++)
        acc[j] = 0;
}

static void dw_add_sum(float *dw, const double *acc, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= DW_PAR_MIN)
    for (size_t j = 0; j < n; j++)
        dw[j] += (float)acc[j];
}

/* dw += x: what the two above give for a single chunk ((float)(0.0 + x)
 * is x), with one pass instead of three. */
static void dw_add(float *dw, const float *x, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= DW_PAR_MIN)
    for (size_t j = 0; j < n; j++)
        dw[j] += x[j];
}

/* The weight gradient in chunks of the primitive's batch (summed across
 * chunks in double, as im2col_backward does), the input gradient, then the
 * bias gradient in double: 0, or -1 with nothing added. */
static int dnnl_backward(dlt_layer *l, conv_state *s)
{
    const conv_config *c = &s->cfg;
    const int N = l->bottom[0]->n, K = c->num_output, wchunk = dnnl_weight_chunk(s->n);
    const size_t in = (size_t)c->g.c * c->g.h * c->g.w, P = (size_t)c->g.ho * c->g.wo;
    const size_t out = (size_t)K * P;
    const size_t wcount = (size_t)K * (c->g.c / c->group) * c->g.kh * c->g.kw;
    const float *dy = l->top[0]->diff;
    float *db = c->bias_term ? l->param[1].diff : NULL;
    float *dw = l->param[0].diff;
    /* One chunk: both passes in one call, the top gradient reordered once. */
    const int dw_own = dw_direct(c), dx_own = l->propagate_down[0] && dx_direct(c);
    const int both = !dw_own && !dx_own && wchunk == N && l->propagate_down[0] &&
                     dlt__conv_dnnl_backward(s->dnnl, l->bottom[0]->data, dy, l->param[0].data,
                                             s->dw_one, l->bottom[0]->diff) == 0;
    if (both)
        dw_add(dw, s->dw_one, wcount);
    else
        dw_acc_zero(s->dw_acc, wcount);
    if (dw_own)
        direct_weight_chunks(l, s, N, wchunk);
    for (int n0 = 0; !both && n0 < N; n0 += wchunk) {
        if (dw_own)
            memcpy(s->dw_one, s->dw_chunks + (size_t)(n0 / wchunk) * wcount, wcount * sizeof(float));
        else if (dlt__conv_dnnl_backward_weights(s->dnnl, l->bottom[0]->data + n0 * in, dy + n0 * out,
                                            s->dw_one) < 0)
            return -1;
        dw_acc_add(s->dw_acc, s->dw_one, wcount);
    }
    if (dx_own)
        direct_backward_data(l, s);
    else if (!both && l->propagate_down[0] &&
        dlt__conv_dnnl_backward_data(s->dnnl, dy, l->param[0].data, l->bottom[0]->diff) < 0)
        return -1;
    if (!both)
        dw_add_sum(dw, s->dw_acc, wcount);
    if (db) {
        /* Each plane summed in double (plane_sums.h: vector lanes; one
         * double accumulator was bound by the add latency, 7% of the
         * caption net's step), the planes added in sample order, as the
         * im2col path: the same for any batch split. */
#pragma omp parallel for schedule(static) if (N * out >= 65536)
        for (int k = 0; k < K; k++) {
            double acc = 0;
            for (int n = 0; n < N; n++)
                acc += dlt__plane_sum(dy + (size_t)n * out + (size_t)k * P, P);
            db[k] += (float)acc;
        }
    }
    return 0;
}

/* Per sample, as the forward: its weight gradient (a GEMM over its P
 * positions, in float) is added in double in sample order, the bias
 * gradient summed in double, and its patch gradient W^T dy is its own GEMM.
 * P ranks with batch B then reproduce one rank with batch P*B up to the
 * final rounding of the sums (tests/test_mpi_equiv.sh). */
static void im2col_backward(dlt_layer *l)
{
    conv_state *s = l->state;
    const conv_config *c = &s->cfg;
    const dlt__conv_geom *g = &c->g;
    const int N = l->bottom[0]->n, K = c->num_output, G = c->group;
    const int Kg = K / G, Rg = g->c / G * g->kh * g->kw;
    const size_t P = (size_t)g->ho * g->wo, in = (size_t)g->c * g->h * g->w;
    const size_t wcount = (size_t)K * Rg;
    const float *w = l->param[0].data;
    float *dw = l->param[0].diff;
    float *db = c->bias_term ? l->param[1].diff : NULL;
    const float *dy = l->top[0]->diff;
    float *dx = l->propagate_down[0] ? l->bottom[0]->diff : NULL;

    dw_acc_zero(s->dw_acc, wcount);
    memset(s->db_acc, 0, (size_t)K * sizeof(double));
    for (int n0 = 0; n0 < N; n0 += s->chunk) {
        int nb = N - n0 < s->chunk ? N - n0 : s->chunk;
        size_t ld = (size_t)nb * P;
        if (!s->col_valid)
            unfold(s, l->bottom[0]->data, n0, nb);
        for (int i = 0; i < nb; i++) {
            const float *dyi = dy + (size_t)(n0 + i) * K * P; /* (K, P) */
            float *coli = s->col + (size_t)i * P;              /* (C*kh*kw, P), ld */
            if (db)
                for (int k = 0; k < K; k++)
                    s->db_acc[k] += dlt__plane_sum(dyi + (size_t)k * P, P);
            for (int gi = 0; gi < G; gi++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Kg, Rg, (int)P, 1.0f,
                            dyi + (size_t)gi * Kg * P, (int)P, coli + (size_t)gi * Rg * ld, (int)ld,
                            0.0f, s->dw_one + (size_t)gi * Kg * Rg, Rg);
            dw_acc_add(s->dw_acc, s->dw_one, wcount);
            if (!dx)
                continue;
            /* Patch gradient W^T dy overwrites the sample's patches, then folds back. */
            for (int gi = 0; gi < G; gi++)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Rg, (int)P, Kg, 1.0f,
                            w + (size_t)gi * Kg * Rg, Rg, dyi + (size_t)gi * Kg * P, (int)P,
                            0.0f, coli + (size_t)gi * Rg * ld, (int)ld);
            float *dxi = dx + (size_t)(n0 + i) * in;
            memset(dxi, 0, in * sizeof(float));
            dlt__col2im(coli, ld, g, dxi);
        }
        s->col_valid = 0;
    }
    dw_add_sum(dw, s->dw_acc, wcount);
    if (db)
        for (int k = 0; k < K; k++)
            db[k] += (float)s->db_acc[k];
}

/* Whether the forward is ours (dlt__conv_forward_t, the channels in the
 * lanes) instead of oneDNN's: on the layers whose weight gradient is ours
 * for their small plane, where fwd_rows does not take them (a stride).
 * DLT_CONV_FWD = direct or dnnl overrides the rule (for measuring). */
static int fwd_override = -1; /* DLT_CONV_FWD, shared by fwd_direct and fwd_rows */

static int fwd_direct(const conv_config *c)
{
    const int forced = rule_override("DLT_CONV_FWD", &fwd_override);
    if (c->group != 1 || c->g.ph || c->g.pw) /* the kernel reads taps unchecked */
        return 0;
    if (forced >= 0)
        return forced;
    return few_channels_small_plane(c);
}

/* Whether the forward is ours with the positions in the lanes
 * (dlt__conv_forward_rows): stride 1, unpadded, and few input channels on
 * a small plane or output rows of 16 or more. LeNet (b64, 1 thread,
 * AVX-512 Xeon, alternating): conv2 1.74-1.83 ms with the channels in the
 * lanes (fwd_direct), 1.45-1.48 this way; conv1 0.54 with a row's positions
 * in the lanes, 0.52 this way (oneDNN, earlier: 0.33-0.37 per 32 samples).
 * DLT_CONV_FWD = dnnl leaves these layers to oneDNN, = direct to fwd_direct. */
static int fwd_rows(const conv_config *c)
{
    if (c->group != 1 || c->g.ph || c->g.pw || c->g.sw != 1 || c->g.sh != 1)
        return 0;
    if (rule_override("DLT_CONV_FWD", &fwd_override) >= 0)
        return 0;
    return (c->g.c <= 4 && c->g.wo >= 16) || few_channels_small_plane(c);
}

static const int *tap_offsets(conv_state *s)
{
    if (!s->tapoff) {
        s->tapoff = dlt_malloc((size_t)s->cfg.g.c * s->cfg.g.kh * s->cfg.g.kw * sizeof(int));
        dlt__conv_tap_offsets(&s->cfg.g, s->tapoff);
    }
    return s->tapoff;
}

/* Samples on OpenMP threads, straight into their NCHW slots, then the
 * fused ReLU (max(y, 0), as relu.c). */
static void rows_forward(dlt_layer *l, conv_state *s)
{
    const conv_config *c = &s->cfg;
    const int N = l->bottom[0]->n, K = c->num_output;
    const size_t P = (size_t)c->g.ho * c->g.wo, in = (size_t)c->g.c * c->g.h * c->g.w;
    const float *w = l->param[0].data, *b = c->bias_term ? l->param[1].data : NULL;
    const float *x = l->bottom[0]->data;
    float *y = l->top[0]->data, *cols = thread_cols(s);
    const int relu = s->fused_relu != NULL;
#pragma omp parallel for schedule(static) if (N > 1)
    for (int i = 0; i < N; i++) {
        float *yi = y + (size_t)i * K * P;
        float *scratch = cols + (size_t)omp_get_thread_num() * thread_scratch_floats(c);
        dlt__conv_forward_rows(&c->g, x + (size_t)i * in, w, b, K, yi, scratch);
        if (relu)
            for (size_t j = 0; j < (size_t)K * P; j++)
                yi[j] = yi[j] > 0.0f ? yi[j] : 0.0f;
    }
}

/* Samples on OpenMP threads: each into its thread's scratch, channels in
 * the lanes, then transposed into its NCHW slot (and through the fused
 * ReLU, max(y, 0) as relu.c). A sample's result does not depend on the
 * batch or the threads. */
static void direct_forward(dlt_layer *l, conv_state *s)
{
    const conv_config *c = &s->cfg;
    const int N = l->bottom[0]->n, K = c->num_output, R = c->g.c * c->g.kh * c->g.kw;
    const int Kp = dlt__conv_channel_pad(K), relu = s->fused_relu != NULL;
    const size_t P = (size_t)c->g.ho * c->g.wo, in = (size_t)c->g.c * c->g.h * c->g.w;
    if (!s->wT) {
        s->wT = dlt_calloc((size_t)R * Kp, sizeof(float));
        s->bT = dlt_calloc((size_t)Kp, sizeof(float));
    }
    const int *tapoff = tap_offsets(s);
    const float *w = l->param[0].data, *b = c->bias_term ? l->param[1].data : NULL;
    dlt__transpose(K, R, w, (size_t)R, s->wT, (size_t)Kp, Kp);
    if (b)
        memcpy(s->bT, b, (size_t)K * sizeof(float));
    float *cols = thread_cols(s);
    const float *x = l->bottom[0]->data;
    float *y = l->top[0]->data;
#pragma omp parallel for schedule(static) if (N > 1)
    for (int i = 0; i < N; i++) {
        float *yT = cols + (size_t)omp_get_thread_num() * thread_scratch_floats(c) + (size_t)R * P;
        dlt__conv_forward_t(&c->g, tapoff, x + (size_t)i * in, s->wT, b ? s->bT : NULL, Kp, yT);
        if (relu)
            for (size_t j = 0; j < P * Kp; j++)
                yT[j] = yT[j] > 0.0f ? yT[j] : 0.0f;
        dlt__transpose((int)P, K, yT, (size_t)Kp, y + (size_t)i * K * P, P, (int)P);
    }
}

static void conv_forward(dlt_layer *l)
{
    conv_state *s = l->state;
    s->col_valid = 0;
    if (s->dnnl && l->bottom[0]->n == s->n && fwd_rows(&s->cfg)) {
        rows_forward(l, s);
        return;
    }
    if (s->dnnl && l->bottom[0]->n == s->n && fwd_direct(&s->cfg)) {
        direct_forward(l, s);
        return;
    }
    if (s->dnnl && l->bottom[0]->n == s->n) {
        const float *b = s->cfg.bias_term ? l->param[1].data : NULL;
        if (dlt__conv_dnnl_forward(s->dnnl, l->bottom[0]->data, l->param[0].data, b,
                                   l->top[0]->data) == 0)
            return;
        dnnl_fallback(l, s, "forward");
    }
    im2col_forward(l);
    if (s->fused_relu) /* no post-op here: the ReLU's own forward, in place on our top */
        s->fused_relu->ops->forward(s->fused_relu);
}

/* An in-place ReLU with negative_slope 0 right after a oneDNN convolution
 * runs as the convolution's post-op: one pass over the top fewer (conv1 of
 * the caption net: 32 x 84 x 84 per image). Same values: the post-op is
 * max(y, 0), which maps NaN and -0 to +0 as relu.c does (test_conv checks
 * fused against unfused bit for bit). The ReLU's backward is unchanged: it
 * reads the top, which holds the same values. Returns 1 when fused. */
int dlt__conv_fuse_relu(dlt_layer *layers, int i, int n)
{
    dlt_layer *cv = &layers[i];
    if (cv->ops != &dlt__conv_ops || i + 1 >= n || cv->ntop != 1)
        return 0;
    conv_state *s = cv->state;
    dlt_layer *re = &layers[i + 1];
    if (!s->dnnl || re->ops != &dlt__relu_ops || re->nbottom != 1 || re->ntop != 1 ||
        re->bottom[0] != cv->top[0] || re->top[0] != cv->top[0] ||
        ((const relu_config *)re->state)->negative_slope != 0.0f)
        return 0;
    /* oneDNN 2.6's ReLU post-op on its SSE4.1 and AVX kernels lets a NaN
     * through where relu.c writes 0 (test_conv's fusion check under
     * ONEDNN_MAX_CPU_ISA=AVX); dltrain's own forwards apply relu.c's rule
     * on every ISA. */
    const char *isa = dlt_cpu_dnnl_isa();
    if (!fwd_direct(&s->cfg) && !fwd_rows(&s->cfg) && (!strcmp(isa, "sse41") || !strcmp(isa, "avx")))
        return 0;
    dlt__conv_dnnl_fuse_relu(s->dnnl);
    s->fused_relu = re;
    return 1;
}

static void conv_backward(dlt_layer *l)
{
    conv_state *s = l->state;
    if (s->dnnl && l->bottom[0]->n == s->n) {
        if (dnnl_backward(l, s) == 0)
            return;
        dnnl_fallback(l, s, "backward");
    }
    im2col_backward(l);
}

static void conv_destroy(dlt_layer *l)
{
    conv_state *s = l->state;
    if (!s)
        return;
    free(s->col);
    free(s->dw_one);
    free(s->dw_chunks);
    free(s->cols);
    free(s->wT);
    free(s->bT);
    free(s->tapoff);
    free(s->dw_acc);
    free(s->db_acc);
    dlt__conv_dnnl_destroy(s->dnnl);
    free(s);
    l->state = NULL;
}

const conv_config *dlt__conv_config(const dlt_layer *l) { return &((const conv_state *)l->state)->cfg; }
int dlt__conv_uses_dnnl(const dlt_layer *l) { return ((const conv_state *)l->state)->dnnl != NULL; }
int dlt__conv_dnnl_plain_layouts(const dlt_layer *l)
{
    const conv_state *s = l->state;
    return s->dnnl ? dlt__conv_dnnl_is_plain(s->dnnl) : -1;
}

const dlt_layer_ops dlt__conv_ops = {
    .type = "Convolution",
    .setup = conv_setup,
    .forward = conv_forward,
    .backward = conv_backward,
    .destroy = conv_destroy,
};
