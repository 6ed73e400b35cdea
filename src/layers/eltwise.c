/* eltwise.c - Eltwise over equally shaped bottoms: PROD, SUM (with one
 * coeff per bottom), MAX (gradient to the first bottom holding the max, as
 * Caffe). ResNet's shortcut additions. In place on bottom 0 allowed for SUM. */
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/eltwise.h"
#include "layers/plane_sums.h"
#include "layers/relu.h"

static int eltwise_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256], s0[64], sb[64];
    DLT_TRY(dlt__check_arity(l, msg, "Eltwise", -1, 1));
    if (l->nbottom < 2)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Eltwise needs at least 2 bottoms (got %d)",
                 dlt_cfg_where(msg, wb, sizeof wb), l->name, l->nbottom);
    const dlt_cfg *p = dlt_cfg_get(msg, "eltwise_param");
    static const char *const ops[] = {"PROD", "SUM", "MAX", NULL};
    eltwise_state *s = dlt_calloc(1, sizeof *s);
    l->state = s;
    s->op = OP_SUM;
    for (int i = 0; i < l->nbottom; i++)
        s->coeff[i] = 1.0f;
    if (p) {
        int stable;
        DLT_TRY(dlt_cfg_enum(p, "operation", ops, OP_SUM, &s->op));
        DLT_TRY(dlt_cfg_bool(p, "stable_prod_grad", 1, &stable)); /* we always divide-free */
        int nc = dlt_cfg_count(p, "coeff");
        if (nc && (nc != l->nbottom || s->op != OP_SUM))
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': coeff needs operation SUM and one value per "
                     "bottom (%d given for %d bottoms)",
                     dlt_cfg_where(dlt_cfg_get(p, "coeff"), wb, sizeof wb), l->name, nc, l->nbottom);
        for (int i = 0; i < nc; i++) {
            double c;
            DLT_TRY(dlt_cfg_node_float(dlt_cfg_nth(p, "coeff", i), &c));
            s->coeff[i] = (float)c;
        }
    }
    const dlt_tensor *b0 = l->bottom[0];
    for (int i = 1; i < l->nbottom; i++) {
        const dlt_tensor *b = l->bottom[i];
        if (b->n != b0->n || b->c != b0->c || b->h != b0->h || b->w != b0->w)
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Eltwise needs bottoms of one shape, but "
                     "bottom 0 is %s and bottom %d is %s", dlt_cfg_where(msg, wb, sizeof wb),
                     l->name, dlt__shape_str(b0, s0, sizeof s0), i, dlt__shape_str(b, sb, sizeof sb));
    }
    for (int i = 1; i < l->nbottom; i++)
        if (l->top[0] == l->bottom[i] || (l->top[0] == b0 && s->op != OP_SUM))
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Eltwise works in place only for SUM on "
                     "bottom 0", dlt_cfg_where(msg, wb, sizeof wb), l->name);
    if (s->op == OP_MAX)
        s->argmax = dlt_malloc(b0->count * sizeof(int) + 1);
    if (l->top[0] != b0)
        DLT_TRY(dlt__top_shape(l, msg, 0, b0->n, b0->c, b0->h, b0->w));
    (void)ctx;
    return 0;
}

static void eltwise_forward(dlt_layer *l)
{
    eltwise_state *s = l->state;
    const size_t n = l->bottom[0]->count;
    float *y = l->top[0]->data;
    const float *x0 = l->bottom[0]->data;
    switch (s->op) {
    case OP_SUM: {
        /* Threads split the elements; two bottoms (a ResNet's shortcut) in one pass. */
        const float c0 = s->coeff[0];
        const float *x1 = l->nbottom > 1 ? l->bottom[1]->data : NULL;
        const float c1 = l->nbottom > 1 ? s->coeff[1] : 0.0f;
        const dlt_layer *re = s->fused_relu && !s->fused_relu->on_gpu ? s->fused_relu : NULL;
        if (re) { /* nbottom == 2 (dlt__eltwise_fuse_relu); relu.c's arithmetic */
            const float a = ((const relu_config *)re->state)->negative_slope;
#pragma omp parallel for simd schedule(static) if (n >= DLT__PAR_MIN)
            for (size_t k = 0; k < n; k++) {
                float v = c0 * x0[k] + c1 * x1[k];
                float pos = v > 0.0f ? v : 0.0f, neg = v < 0.0f ? v : 0.0f;
                y[k] = pos + a * neg;
            }
        } else if (x1) {
#pragma omp parallel for simd schedule(static) if (n >= DLT__PAR_MIN)
            for (size_t k = 0; k < n; k++)
                y[k] = c0 * x0[k] + c1 * x1[k];
        } else {
#pragma omp parallel for simd schedule(static) if (n >= DLT__PAR_MIN)
            for (size_t k = 0; k < n; k++)
                y[k] = c0 * x0[k];
        }
        for (int i = 2; i < l->nbottom; i++) {
            const float *x = l->bottom[i]->data, c = s->coeff[i];
#pragma omp parallel for simd schedule(static) if (n >= DLT__PAR_MIN)
            for (size_t k = 0; k < n; k++)
                y[k] += c * x[k];
        }
        break;
    }
    case OP_PROD:
        memcpy(y, x0, n * sizeof(float));
        for (int i = 1; i < l->nbottom; i++) {
            const float *x = l->bottom[i]->data;
            for (size_t k = 0; k < n; k++)
                y[k] *= x[k];
        }
        break;
    case OP_MAX:
        for (size_t k = 0; k < n; k++) {
            float m = x0[k];
            int a = 0;
            for (int i = 1; i < l->nbottom; i++)
                if (l->bottom[i]->data[k] > m)
                    m = l->bottom[i]->data[k], a = i;
            y[k] = m;
            s->argmax[k] = a;
        }
        break;
    }
}

static void eltwise_backward(dlt_layer *l)
{
    const eltwise_state *s = l->state;
    const size_t n = l->bottom[0]->count;
    const float *dy = l->top[0]->diff;
    /* Bottom 0 last: in place, its diff is the top diff the others read. */
    for (int i = l->nbottom - 1; i >= 0; i--) {
        if (!l->propagate_down[i])
            continue;
        float *dx = l->bottom[i]->diff;
        switch (s->op) {
        case OP_SUM: {
            const float c = s->coeff[i];
            if (dx == dy && c == 1.0f)
                break; /* in place with coefficient 1: already the gradient */
#pragma omp parallel for simd schedule(static) if (n >= DLT__PAR_MIN)
            for (size_t k = 0; k < n; k++)
                dx[k] = c * dy[k];
            break;
        }
        case OP_PROD: /* product of the other bottoms: no division by x_i */
            for (size_t k = 0; k < n; k++) {
                float v = dy[k];
                for (int j = 0; j < l->nbottom; j++)
                    if (j != i)
                        v *= l->bottom[j]->data[k];
                dx[k] = v;
            }
            break;
        case OP_MAX:
            for (size_t k = 0; k < n; k++)
                dx[k] = s->argmax[k] == i ? dy[k] : 0.0f;
            break;
        }
    }
}

int dlt__eltwise_fuse_relu(dlt_layer *layers, int i, int n)
{
    dlt_layer *el = &layers[i];
    if (el->ops != &dlt__eltwise_ops || i + 1 >= n || el->nbottom != 2)
        return 0;
    eltwise_state *s = el->state;
    dlt_layer *re = &layers[i + 1];
    dlt_tensor *t = el->top[0];
    if (s->op != OP_SUM || re->ops != &dlt__relu_ops || re->nbottom != 1 || re->ntop != 1 ||
        re->bottom[0] != t || re->top[0] != t)
        return 0;
    s->fused_relu = re;
    return 1;
}

void dlt__eltwise_chain_backward(dlt_layer *elt)
{
    const eltwise_state *s = elt->state;
    const dlt_layer *re = s->fused_relu;
    const float a = ((const relu_config *)re->state)->negative_slope;
    const size_t n = elt->top[0]->count;
    const float *y = elt->top[0]->data; /* the ReLU's output: its input's sign */
    float *dy = elt->top[0]->diff;
    const int relu_dx = re->propagate_down[0];
    float *dx0 = elt->propagate_down[0] && relu_dx ? elt->bottom[0]->diff : NULL;
    float *dx1 = elt->propagate_down[1] && relu_dx ? elt->bottom[1]->diff : NULL;
    const float c0 = s->coeff[0], c1 = s->coeff[1];
    /* the ReLU's gradient goes back into the top's diff only where a bottom
     * (in place on bottom 0) reads it there */
    float *g_out = dx0 == dy ? dy : NULL;
    if (dx0 && dx1 && !g_out) { /* a ResNet block: one vectorized loop */
#pragma omp parallel for simd schedule(static) if (n >= DLT__PAR_MIN)
        for (size_t k = 0; k < n; k++) {
            float slope = y[k] > 0.0f ? 1.0f : a;
            float g = dy[k] * slope;
            dx1[k] = c1 * g;
            dx0[k] = c0 * g;
        }
        return;
    }
#pragma omp parallel for simd schedule(static) if (n >= DLT__PAR_MIN)
    for (size_t k = 0; k < n; k++) {
        float slope = y[k] > 0.0f ? 1.0f : a;
        float g = dy[k] * slope;
        if (dx1)
            dx1[k] = c1 * g;
        if (g_out)
            g_out[k] = c0 == 1.0f ? g : c0 * g;
        else if (dx0)
            dx0[k] = c0 * g;
    }
}

static void eltwise_destroy(dlt_layer *l)
{
    eltwise_state *s = l->state;
    if (s)
        free(s->argmax);
    dlt__free_state(l);
}

const dlt_layer_ops dlt__eltwise_ops = {
    .type = "Eltwise",
    .setup = eltwise_setup,
    .forward = eltwise_forward,
    .backward = eltwise_backward,
    .destroy = eltwise_destroy,
};
