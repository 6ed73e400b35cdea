/* relu.c - ReLU with Caffe's negative_slope (leaky ReLU); works in place
 * (top == bottom) because the output is positive exactly where the input is. */
#include <stdlib.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/relu.h"
#include "layers/plane_sums.h"

static int relu_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256];
    if (l->nbottom != 1 || l->ntop != 1)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': ReLU takes 1 bottom and 1 top (got %d and %d)",
                 dlt_cfg_where(msg, wb, sizeof wb), l->name, l->nbottom, l->ntop);
    const dlt_cfg *p = dlt_cfg_get(msg, "relu_param");
    double slope = 0;
    if (p) {
        static const char *const engines[] = {"DEFAULT", "CAFFE", "CUDNN", NULL};
        int engine;
        DLT_TRY(dlt_cfg_float(p, "negative_slope", 0, &slope));
        DLT_TRY(dlt_cfg_enum(p, "engine", engines, 0, &engine)); /* the backend chooses */
    }
    relu_config *c = dlt_calloc(1, sizeof *c);
    c->negative_slope = (float)slope;
    l->state = c;
    const dlt_tensor *x = l->bottom[0];
    if (l->top[0] != l->bottom[0])
        DLT_TRY(dlt__top_shape(l, msg, 0, x->n, x->c, x->h, x->w));
    (void)ctx;
    return 0;
}

static void relu_forward(dlt_layer *l)
{
    const float a = ((const relu_config *)l->state)->negative_slope;
    const float *x = l->bottom[0]->data;
    float *y = l->top[0]->data;
    const size_t n = l->bottom[0]->count;
    /* Written as selects so the compiler vectorizes it (fmaxf would not:
     * its NaN rule differs from maxps); a branch on mixed signs mispredicts.
     * Threads split large tensors (memory-bound: both cores' bandwidth). */
#pragma omp parallel for simd schedule(static) if (n >= DLT__PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float pos = v > 0.0f ? v : 0.0f, neg = v < 0.0f ? v : 0.0f;
        y[i] = pos + a * neg;
    }
}

static void relu_backward(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    const float a = ((const relu_config *)l->state)->negative_slope;
    /* In place, bottom data is the output; its sign is the input's (Caffe does the same). */
    const float *x = l->bottom[0]->data;
    const float *dy = l->top[0]->diff;
    float *dx = l->bottom[0]->diff;
    const size_t n = l->bottom[0]->count;
    /* Threads take 4096-element runs (memory-bound: both cores' bandwidth). */
#pragma omp parallel for schedule(static) if (n >= DLT__PAR_MIN)
    for (size_t k = 0; k < n; k += 4096)
        dlt__relu_backward_range(a, x + k, dy + k, dx + k, n - k < 4096 ? n - k : 4096);
}

void dlt__relu_backward_range(float slope, const float *x, const float *dy, float *dx, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float s = x[i] > 0.0f ? 1.0f : slope;
        dx[i] = dy[i] * s;
    }
}

static void relu_destroy(dlt_layer *l)
{
    free(l->state);
    l->state = NULL;
}

const dlt_layer_ops dlt__relu_ops = {
    .type = "ReLU",
    .setup = relu_setup,
    .forward = relu_forward,
    .backward = relu_backward,
    .destroy = relu_destroy,
};
