/* inner_product.c - InnerProduct (fully connected): y = x W^T + b, with the
 * weight stored K x D as in Caffe (D x K with transpose: true), so Caffe
 * snapshots map one to one. axis: the axes from AXIS on are the input
 * vector (D), those before it index M = rows of x (axis 1: M = N). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/inner_product.h"

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
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': inner_product_param needs num_output > 0",
                 dlt_cfg_where(p, wb, sizeof wb), name);
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
    c->rows = 1, c->dim = 1;
    for (int i = 0; i < 4; i++)
        *(i < axis ? &c->rows : &c->dim) *= d[i];
    c->bias_term = bias;
    c->transpose = transpose;
    l->state = c;
    /* Top: the axes before AXIS, then K (trailing axes 1). */
    int t[4] = {1, 1, 1, 1};
    for (int i = 0; i < axis; i++)
        t[i] = d[i];
    t[axis] = (int)k;
    if (l->top[0] == x)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': InnerProduct cannot work in place",
                 dlt_cfg_where(msg, wb, sizeof wb), name);
    dlt_tensor_reshape(l->top[0], t[0], t[1], t[2], t[3]);
    if (transpose)
        dlt_layer_add_param(l, c->dim, c->num_output, 1, 1, &wf);
    else
        dlt_layer_add_param(l, c->num_output, c->dim, 1, 1, &wf);
    if (bias)
        dlt_layer_add_param(l, c->num_output, 1, 1, 1, &bf);
    (void)ctx;
    return 0;
}

/* Rows (samples) per GEMM call in the forward and the input gradient. A
 * row's result must not depend on how many rows share its call, or P ranks
 * of batch B would compute other activations than one rank of batch P*B:
 * OpenBLAS 0.3.21's Haswell/Zen sgemm computes a row differently by where
 * it falls in the driver's column blocks (3, 2 or 1 times UNROLL_N = 4), so
 * rows 12-15 of a 16-row call differ from the same rows of a 64-row call
 * by float rounding (5,649 of 32,000 outputs of LeNet's ip1 shape). Calls of
 * exactly IP_ROWS rows at multiples of IP_ROWS (the last one padded with
 * zero rows) give every row the same arithmetic for any batch that is a
 * multiple of IP_ROWS. Cost on LeNet ip1 (batch 48, one Zen 3 core): the
 * forward 1.9 -> 3.1 ms in isolation; whole-net figures: README.md, the
 * paragraph on data parallelism. */
#ifndef IP_ROWS
#define IP_ROWS 4
#endif

/* C (N x ldc-wide, first NC columns) = A (N x NA) op(B) + beta C in row
 * blocks of IP_ROWS; op(B) is NA x NC. */
static void gemm_rows(int N, int NC, int NA, const float *a, CBLAS_TRANSPOSE tb, const float *b,
                      int ldb, float beta, float *c)
{
    const int full = N - N % IP_ROWS;
    for (int n0 = 0; n0 < full; n0 += IP_ROWS)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, IP_ROWS, NC, NA, 1.0f, a + (size_t)n0 * NA, NA,
                    b, ldb, beta, c + (size_t)n0 * NC, NC);
    if (full == N)
        return;
    const int nb = N - full;
    float *ap = dlt_calloc((size_t)IP_ROWS * NA, sizeof(float));
    float *cp = dlt_calloc((size_t)IP_ROWS * NC, sizeof(float));
    memcpy(ap, a + (size_t)full * NA, (size_t)nb * NA * sizeof(float));
    memcpy(cp, c + (size_t)full * NC, (size_t)nb * NC * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, IP_ROWS, NC, NA, 1.0f, ap, NA, b, ldb, beta, cp, NC);
    memcpy(c + (size_t)full * NC, cp, (size_t)nb * NC * sizeof(float));
    free(ap);
    free(cp);
}

static void ip_forward(dlt_layer *l)
{
    const ip_config *c = l->state;
    const int N = c->rows, K = c->num_output, D = c->dim;
    float *y = l->top[0]->data;
    if (c->bias_term) {
        const float *b = l->param[1].data;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++)
                y[(size_t)n * K + k] = b[k];
    }
    gemm_rows(N, K, D, l->bottom[0]->data, c->transpose ? CblasNoTrans : CblasTrans,
              l->param[0].data, c->transpose ? K : D, c->bias_term ? 1.0f : 0.0f, y);
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
        gemm_rows(N, D, K, dy, c->transpose ? CblasTrans : CblasNoTrans, l->param[0].data,
                  c->transpose ? K : D, 0.0f, l->bottom[0]->diff);
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
