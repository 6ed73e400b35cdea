/* tanh.c - TanH y = tanh(x); in place allowed (the
 * backward needs only the output, as in Caffe). */
#include <math.h>

#include "dltrain/error.h"
#include "layers/layers.h"

static int tanh_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    DLT_TRY(dlt__check_arity(l, msg, "TanH", 1, 1));
    const dlt_cfg *p = dlt_cfg_get(msg, "tanh_param");
    if (p) {
        static const char *const engines[] = {"DEFAULT", "CAFFE", "CUDNN", NULL};
        int engine;
        DLT_TRY(dlt_cfg_enum(p, "engine", engines, 0, &engine)); /* the backend chooses */
    }
    const dlt_tensor *x = l->bottom[0];
    if (l->top[0] != x)
        DLT_TRY(dlt__top_shape(l, msg, 0, x->n, x->c, x->h, x->w));
    (void)ctx;
    return 0;
}

static void tanh_forward(dlt_layer *l)
{
    const float *x = l->bottom[0]->data;
    float *y = l->top[0]->data;
    for (size_t i = 0; i < l->bottom[0]->count; i++)
        y[i] = tanhf(x[i]);
}

static void tanh_backward(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    const float *y = l->top[0]->data, *dy = l->top[0]->diff;
    float *dx = l->bottom[0]->diff;
    for (size_t i = 0; i < l->bottom[0]->count; i++)
        dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

const dlt_layer_ops dlt__tanh_ops = {
    .type = "TanH",
    .setup = tanh_setup,
    .forward = tanh_forward,
    .backward = tanh_backward,
};
