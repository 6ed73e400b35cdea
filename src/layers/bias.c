/* bias.c - Bias with one bottom (Caffe's BiasLayer, bias_param { axis
 * num_axes filler }): y = x + b, b learned, shaped like the bottom's axes
 * axis .. axis+num_axes-1 (num_axes -1: to the last axis) and broadcast
 * over the others. With axis 1, num_axes -1 on a [N,C,H,W] feature map it
 * is a learned position embedding: the soft-attention captioner adds one so
 * that the attended context says where it looked, not only what it saw.
 * Works in place (the gradient of x is dy). The bias is stored as a
 * [1, d0, d1, d2] parameter (the covered axes, then 1s); its gradient is
 * summed over the broadcast axes in double. */
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/bias.h"
#include "layers/plane_sums.h" /* DLT__PAR_MIN */

static int bias_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256];
    if (l->nbottom == 2)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Bias with a second bottom (the bias as an "
                 "input) is not supported; use one bottom to learn the bias",
                 dlt_cfg_where(msg, wb, sizeof wb), l->name);
    DLT_TRY(dlt__check_arity(l, msg, "Bias", 1, 1));
    const dlt_cfg *p = dlt_cfg_get(msg, "bias_param");
    long axis = 1, num_axes = 1;
    dlt_filler f;
    dlt_filler_parse(NULL, &f); /* Caffe's default: constant 0 */
    if (p) {
        DLT_TRY(dlt_cfg_int(p, "axis", 1, &axis));
        DLT_TRY(dlt_cfg_int(p, "num_axes", 1, &num_axes));
        DLT_TRY(dlt_filler_parse(dlt_cfg_get(p, "filler"), &f));
    }
    if (axis < 0)
        axis += 4;
    if (axis < 0 || axis > 3 || num_axes < -1 || (num_axes >= 0 && axis + num_axes > 4))
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': bias_param axis %ld / num_axes %ld do not fit "
                 "a four-axis blob", dlt_cfg_where(p ? p : msg, wb, sizeof wb), l->name, axis,
                 num_axes);
    const int end = num_axes < 0 ? 4 : (int)(axis + num_axes);
    const dlt_tensor *x = l->bottom[0];
    const int64_t d[4] = {x->n, x->c, x->h, x->w};
    int64_t shape[3] = {1, 1, 1};
    bias_state *s = dlt_calloc(1, sizeof *s);
    l->state = s;
    s->outer = s->dim = s->inner = 1;
    for (int a = 0; a < 4; a++) {
        if (a < axis)
            s->outer *= (size_t)d[a];
        else if (a < end)
            s->dim *= (size_t)d[a], shape[a - axis] = d[a];
        else
            s->inner *= (size_t)d[a];
    }
    if (l->top[0] != x)
        DLT_TRY(dlt__top_shape(l, msg, 0, x->n, x->c, x->h, x->w));
    DLT_TRY(dlt__add_param(l, msg, 1, shape[0], shape[1], shape[2], &f));
    (void)ctx;
    return 0;
}

static void bias_forward(dlt_layer *l)
{
    const bias_state *s = l->state;
    const float *x = l->bottom[0]->data, *b = l->param[0].data;
    float *y = l->top[0]->data;
    const size_t D = s->dim, I = s->inner;
#pragma omp parallel for schedule(static) if (s->outer * D * I >= DLT__PAR_MIN)
    for (size_t od = 0; od < s->outer * D; od++) {
        const float bv = b[od % D];
        const size_t o = od * I;
#pragma omp simd
        for (size_t i = 0; i < I; i++)
            y[o + i] = x[o + i] + bv;
    }
}

/* db[k] sums dy over the outer and inner axes, each k one thread's, in a
 * fixed order (bit-identical for any thread count); dx = dy. */
static void bias_backward(dlt_layer *l)
{
    const bias_state *s = l->state;
    const float *dy = l->top[0]->diff;
    float *db = l->param[0].diff;
    const size_t D = s->dim, I = s->inner;
#pragma omp parallel for schedule(static) if (s->outer * D * I >= DLT__PAR_MIN)
    for (size_t k = 0; k < D; k++) {
        double acc = 0;
        for (size_t o = 0; o < s->outer; o++) {
            const float *row = dy + (o * D + k) * I;
            for (size_t i = 0; i < I; i++)
                acc += row[i];
        }
        db[k] += (float)acc;
    }
    float *dx = l->bottom[0]->diff;
    if (l->propagate_down[0] && dx != dy)
        memcpy(dx, dy, l->bottom[0]->count * sizeof(float));
}

const dlt_layer_ops dlt__bias_ops = {
    .type = "Bias",
    .setup = bias_setup,
    .forward = bias_forward,
    .backward = bias_backward,
    .destroy = dlt__free_state,
};
