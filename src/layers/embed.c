/* embed.c - Embed: a lookup table, Caffe's embed_layer.cpp. The bottom holds
 * integer indices stored as floats; each index selects a row of the weight
 * (input_dim x num_output), plus the bias. Indices get no gradient. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/embed.h"

/* The top is the bottom's shape with K appended, as in Caffe. A dltrain blob
 * always has four axes, so "the bottom's axes" are those up to its last axis
 * larger than 1 (at least the first): (N,1,1,1) labels give (N,K,1,1) and
 * (T,N,1,1) words give (T,N,K,1). (With N = 1 the latter is (T,K,1,1); the
 * recurrent layers read their input per step as count/(T*N) values, so both
 * work there.) */
static int embed_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256], sb[64];
    DLT_TRY(dlt__check_arity(l, msg, "Embed", 1, 1));
    const dlt_cfg *p = dlt_cfg_get(msg, "embed_param");
    if (!p)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Embed needs embed_param { num_output input_dim }",
                 dlt_cfg_where(msg, wb, sizeof wb), l->name);
    long k, v;
    int bias;
    DLT_TRY(dlt_cfg_int(p, "num_output", 0, &k));
    DLT_TRY(dlt_cfg_int(p, "input_dim", 0, &v));
    if (k <= 0 || v <= 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': embed_param needs num_output >= 1 and input_dim "
                 ">= 1 (got %ld and %ld)", dlt_cfg_where(p, wb, sizeof wb), l->name, k, v);
    DLT_TRY(dlt_cfg_bool(p, "bias_term", 1, &bias));
    dlt_filler wf, bf;
    DLT_TRY(dlt_filler_parse(dlt_cfg_get(p, "weight_filler"), &wf));
    DLT_TRY(dlt_filler_parse(dlt_cfg_get(p, "bias_filler"), &bf));
    if (l->top[0] == l->bottom[0])
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Embed cannot work in place",
                 dlt_cfg_where(msg, wb, sizeof wb), l->name);
    const dlt_tensor *x = l->bottom[0];
    int64_t d[4] = {x->n, x->c, x->h, x->w};
    int used = 1;
    for (int a = 1; a < 4; a++)
        if (d[a] > 1)
            used = a + 1;
    if (used == 4)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Embed's bottom %s uses all four axes; there is "
                 "no axis left for num_output (HINT: Reshape or Flatten it first)",
                 dlt_cfg_where(msg, wb, sizeof wb), l->name, dlt__shape_str(x, sb, sizeof sb));
    embed_config *c = dlt_calloc(1, sizeof *c);
    c->num_output = (int)k, c->input_dim = (int)v, c->bias_term = bias, c->m = x->count;
    l->state = c;
    DLT_TRY(dlt__add_param(l, msg, v, k, 1, 1, &wf));
    if (bias)
        DLT_TRY(dlt__add_param(l, msg, k, 1, 1, 1, &bf));
    d[used] = k;
    DLT_TRY(dlt__top_shape(l, msg, 0, d[0], d[1], d[2], d[3]));
    (void)ctx;
    return 0;
}

/* The index at I, checked: a bad index is a bad record, reported with the
 * layer and the value, never read out of bounds (Caffe: DCHECK only). */
static int index_at(const dlt_layer *l, const embed_config *c, size_t i)
{
    const float f = l->bottom[0]->data[i];
    if (!(f >= 0 && f < (float)c->input_dim) || f != floorf(f))
        dlt_fatal("layer '%s': Embed index %g at position %zu is not an integer in [0, %d) "
                  "(input_dim); the token ids must fit the vocabulary", l->name, (double)f, i,
                  c->input_dim);
    return (int)f;
}

static void embed_forward(dlt_layer *l)
{
    const embed_config *c = l->state;
    const int K = c->num_output;
    const float *w = l->param[0].data, *b = c->bias_term ? l->param[1].data : NULL;
    float *y = l->top[0]->data;
    for (size_t i = 0; i < c->m; i++) {
        const float *row = w + (size_t)index_at(l, c, i) * K;
        float *yi = y + i * K;
        for (int k = 0; k < K; k++)
            yi[k] = row[k] + (b ? b[k] : 0.0f);
    }
}

static void embed_backward(dlt_layer *l)
{
    const embed_config *c = l->state;
    const int K = c->num_output;
    const float *dy = l->top[0]->diff;
    float *dw = l->param[0].diff;
    for (size_t i = 0; i < c->m; i++) {
        float *row = dw + (size_t)index_at(l, c, i) * K;
        for (int k = 0; k < K; k++)
            row[k] += dy[i * K + k];
    }
    if (c->bias_term) {
        float *db = l->param[1].diff;
        for (int k = 0; k < K; k++) {
            double acc = 0;
            for (size_t i = 0; i < c->m; i++)
                acc += dy[i * K + k];
            db[k] += (float)acc;
        }
    }
    /* Indices have no gradient (Caffe refuses propagate_down there); keep
     * the "bottom diffs are written" contract with zeros. */
    if (l->propagate_down[0])
        memset(l->bottom[0]->diff, 0, c->m * sizeof(float));
}

const dlt_layer_ops dlt__embed_ops = {
    .type = "Embed",
    .setup = embed_setup,
    .forward = embed_forward,
    .backward = embed_backward,
    .destroy = dlt__free_state,
};
