/* flatten.c - Flatten (axis 1 to the end): (N, C, H, W) -> (N, C*H*W, 1, 1).
 * The values keep their order, so forward and backward are copies. */
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"

static int flatten_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256];
    DLT_TRY(dlt__check_arity(l, msg, "Flatten", 1, 1));
    const dlt_cfg *p = dlt_cfg_get(msg, "flatten_param");
    long axis = 1, end_axis = -1;
    if (p) {
        DLT_TRY(dlt_cfg_int(p, "axis", 1, &axis));
        DLT_TRY(dlt_cfg_int(p, "end_axis", -1, &end_axis));
    }
    if (axis != 1 || (end_axis != -1 && end_axis != 3))
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': only Flatten from axis 1 to the last axis is "
                 "supported (got axis %ld, end_axis %ld)", dlt_cfg_where(p, wb, sizeof wb),
                 l->name, axis, end_axis);
    if (l->top[0] == l->bottom[0])
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Flatten cannot work in place",
                 dlt_cfg_where(msg, wb, sizeof wb), l->name);
    const dlt_tensor *x = l->bottom[0];
    DLT_TRY(dlt__top_shape(l, msg, 0, x->n, (int64_t)dlt_tensor_sample_size(x), 1, 1));
    (void)ctx;
    return 0;
}

static void flatten_forward(dlt_layer *l)
{
    memcpy(l->top[0]->data, l->bottom[0]->data, l->bottom[0]->count * sizeof(float));
}

static void flatten_backward(dlt_layer *l)
{
    if (l->propagate_down[0])
        memcpy(l->bottom[0]->diff, l->top[0]->diff, l->bottom[0]->count * sizeof(float));
}

const dlt_layer_ops dlt__flatten_ops = {
    .type = "Flatten",
    .setup = flatten_setup,
    .forward = flatten_forward,
    .backward = flatten_backward,
};
