/* scale.c - Scale with one bottom (Caffe's scale_param, axis 1, num_axes 1):
 * y = x * gamma_c (+ beta_c with bias_term), gamma and beta learned, one
 * per channel; follows BatchNorm in ResNets. gamma's filler defaults to
 * constant 1 as in Caffe. Parameter gradients are summed over the batch
 * in double. In place allowed (the input is saved for gamma's gradient). */
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/scale.h"
#include "layers/plane_sums.h"

static int scale_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256];
    if (l->nbottom == 2)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Scale with a second bottom (the scale as an "
                 "input) is not supported; use one bottom to learn the scale",
                 dlt_cfg_where(msg, wb, sizeof wb), l->name);
    DLT_TRY(dlt__check_arity(l, msg, "Scale", 1, 1));
    const dlt_cfg *p = dlt_cfg_get(msg, "scale_param");
    long axis = 1, num_axes = 1;
    int bias = 0;
    dlt_filler sf, bf;
    dlt_filler_parse(NULL, &sf);
    sf.value = 1.0;
    dlt_filler_parse(NULL, &bf);
    if (p) {
        DLT_TRY(dlt_cfg_int(p, "axis", 1, &axis));
        DLT_TRY(dlt_cfg_int(p, "num_axes", 1, &num_axes));
        DLT_TRY(dlt_cfg_bool(p, "bias_term", 0, &bias));
        if (dlt_cfg_get(p, "filler"))
            DLT_TRY(dlt_filler_parse(dlt_cfg_get(p, "filler"), &sf));
        DLT_TRY(dlt_filler_parse(dlt_cfg_get(p, "bias_filler"), &bf));
    }
    if (axis != 1 || num_axes != 1)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': only a per-channel Scale (axis 1, num_axes 1) "
                 "is supported (got axis %ld, num_axes %ld)", dlt_cfg_where(p, wb, sizeof wb),
                 l->name, axis, num_axes);
    const dlt_tensor *x = l->bottom[0];
    scale_state *s = dlt_calloc(1, sizeof *s);
    s->bias_term = bias;
    if (l->top[0] == x)
        s->x_saved = dlt_malloc(x->count * sizeof(float) + 1);
    l->state = s;
    if (l->top[0] != x)
        DLT_TRY(dlt__top_shape(l, msg, 0, x->n, x->c, x->h, x->w));
    DLT_TRY(dlt__add_param(l, msg, 1, x->c, 1, 1, &sf));
    if (bias)
        DLT_TRY(dlt__add_param(l, msg, 1, x->c, 1, 1, &bf));
    (void)ctx;
    return 0;
}

/* Planes on OpenMP threads; in place, the input is saved in the same pass
 * that overwrites it. */
static void scale_forward(dlt_layer *l)
{
    scale_state *s = l->state;
    const dlt_tensor *x = l->bottom[0];
    const int N = x->n, C = x->c;
    const size_t P = (size_t)x->h * x->w;
    const float *g = l->param[0].data, *b = s->bias_term ? l->param[1].data : NULL;
    const float *xd = x->data;
    float *y = l->top[0]->data, *saved = s->saved_shared ? NULL : s->x_saved;
#pragma omp parallel for schedule(static) if ((size_t)N * C * P >= DLT__PAR_MIN)
    for (int nc = 0; nc < N * C; nc++) {
        const size_t o = (size_t)nc * P;
        const int c = nc % C;
        const float gc = g[c], bc = b ? b[c] : 0.0f;
        if (saved) {
#pragma omp simd
            for (size_t p = 0; p < P; p++) {
                float v = xd[o + p];
                saved[o + p] = v;
                y[o + p] = v * gc + bc;
            }
        } else {
#pragma omp simd
            for (size_t p = 0; p < P; p++)
                y[o + p] = xd[o + p] * gc + bc;
        }
    }
}

void dlt__scale_backward_channel(dlt_layer *l, int c, const float *x, const float *dy, float *dx)
{
    const scale_state *s = l->state;
    const dlt_tensor *b = l->bottom[0];
    const int N = b->n, C = b->c;
    const size_t P = (size_t)b->h * b->w;
    double ag, ab;
    dlt__channel_sum_dot(dy, x, c, N, C, P, &ab, &ag);
    l->param[0].diff[c] += (float)ag;
    if (s->bias_term)
        l->param[1].diff[c] += (float)ab;
    if (!dx)
        return;
    const float gc = l->param[0].data[c];
    for (int n = 0; n < N; n++) {
        const size_t o = ((size_t)n * C + c) * P;
#pragma omp simd
        for (size_t p = 0; p < P; p++)
            dx[o + p] = dy[o + p] * gc;
    }
}

/* Per channel on threads: gamma's and beta's gradients (each channel one
 * thread's, summed plane by plane in double) and dx, while the channel's
 * planes are in that core's cache. */
static void scale_backward(dlt_layer *l)
{
    scale_state *s = l->state;
    const dlt_tensor *x = l->bottom[0];
    const int N = x->n, C = x->c;
    const size_t P = (size_t)x->h * x->w;
    const float *xd = s->x_saved ? s->x_saved : x->data;
    const float *dy = l->top[0]->diff;
    float *dx = l->propagate_down[0] ? l->bottom[0]->diff : NULL;
#pragma omp parallel for schedule(static) if ((size_t)N * C * P >= DLT__PAR_MIN)
    for (int c = 0; c < C; c++)
        dlt__scale_backward_channel(l, c, xd, dy, dx);
}

static void scale_destroy(dlt_layer *l)
{
    scale_state *s = l->state;
    if (s && !s->saved_shared)
        free(s->x_saved);
    dlt__free_state(l);
}

const dlt_layer_ops dlt__scale_ops = {
    .type = "Scale",
    .setup = scale_setup,
    .forward = scale_forward,
    .backward = scale_backward,
    .destroy = scale_destroy,
};
