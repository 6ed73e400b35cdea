/* softmax.c - Softmax over one axis (Caffe's softmax_param axis, default
 * 1: the channels of each (n, h, w) position). */
#include <math.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/softmax.h"

static int softmax_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256];
    DLT_TRY(dlt__check_arity(l, msg, "Softmax", 1, 1));
    const dlt_cfg *p = dlt_cfg_get(msg, "softmax_param");
    long axis = 1;
    if (p) {
        static const char *const engines[] = {"DEFAULT", "CAFFE", "CUDNN", NULL};
        int engine;
        DLT_TRY(dlt_cfg_int(p, "axis", 1, &axis));
        DLT_TRY(dlt_cfg_enum(p, "engine", engines, 0, &engine));
    }
    if (axis < 0)
        axis += 4;
    if (axis < 0 || axis > 3)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': softmax axis must be in [-4, 3] for NCHW blobs",
                 dlt_cfg_where(dlt_cfg_get(p, "axis"), wb, sizeof wb), l->name);
    const dlt_tensor *x = l->bottom[0];
    const int64_t d[4] = {x->n, x->c, x->h, x->w};
    int64_t outer, inner;
    char sbuf[320];
    dlt_size_ctx sc;
    dlt__layer_size_ctx(l, msg, sbuf, sizeof sbuf, &sc);
    DLT_TRY(dlt_size_prod(&sc, "softmax: the axes before axis", d, (int)axis, DLT_DIM_MAX, &outer));
    DLT_TRY(dlt_size_prod(&sc, "softmax: the axes after axis", d + axis + 1, 3 - (int)axis,
                          DLT_DIM_MAX, &inner));
    softmax_state *s = dlt_calloc(1, sizeof *s);
    s->outer = (int)outer, s->inner = (int)inner, s->dim = (int)d[axis], s->axis = (int)axis;
    l->state = s;
    if (l->top[0] != x)
        DLT_TRY(dlt__top_shape(l, msg, 0, x->n, x->c, x->h, x->w));
    (void)ctx;
    return 0;
}

static void softmax_forward(dlt_layer *l)
{
    const softmax_state *s = l->state;
    const float *x = l->bottom[0]->data;
    float *y = l->top[0]->data;
    for (int o = 0; o < s->outer; o++)
        for (int i = 0; i < s->inner; i++) {
            const size_t base = (size_t)o * s->dim * s->inner + i;
            float m = x[base];
            for (int c = 1; c < s->dim; c++)
                m = fmaxf(m, x[base + (size_t)c * s->inner]);
            double sum = 0;
            for (int c = 0; c < s->dim; c++) {
                float e = expf(x[base + (size_t)c * s->inner] - m);
                y[base + (size_t)c * s->inner] = e;
                sum += e;
            }
            const float inv = (float)(1.0 / sum);
            for (int c = 0; c < s->dim; c++)
                y[base + (size_t)c * s->inner] *= inv;
        }
}

/* dx = y * (dy - sum_c dy_c y_c); in place safe (reads y, dy per position). */
static void softmax_backward(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    const softmax_state *s = l->state;
    const float *y = l->top[0]->data, *dy = l->top[0]->diff;
    float *dx = l->bottom[0]->diff;
    for (int o = 0; o < s->outer; o++)
        for (int i = 0; i < s->inner; i++) {
            const size_t base = (size_t)o * s->dim * s->inner + i;
            double dot = 0;
            for (int c = 0; c < s->dim; c++)
                dot += (double)dy[base + (size_t)c * s->inner] * y[base + (size_t)c * s->inner];
            for (int c = 0; c < s->dim; c++) {
                size_t k = base + (size_t)c * s->inner;
                dx[k] = y[k] * (dy[k] - (float)dot);
            }
        }
}

const dlt_layer_ops dlt__softmax_ops = {
    .type = "Softmax",
    .setup = softmax_setup,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .destroy = dlt__free_state,
};
