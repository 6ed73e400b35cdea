/* reshape.c - Reshape: the same values under another shape, Caffe's
 * reshape_param (shape { dim }, axis, num_axes): dim 0 copies the bottom's
 * axis, -1 is inferred from the count. dltrain blobs have four axes, so a
 * shorter result is padded with trailing 1s; a longer one is refused. */
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"

static int reshape_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256], sb[64];
    DLT_TRY(dlt__check_arity(l, msg, "Reshape", 1, 1));
    if (l->top[0] == l->bottom[0])
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Reshape cannot work in place here (the blob "
                 "keeps one shape)", dlt_cfg_where(msg, wb, sizeof wb), l->name);
    const dlt_cfg *p = dlt_cfg_get(msg, "reshape_param");
    const dlt_cfg *shape = p ? dlt_cfg_get(p, "shape") : NULL;
    if (!shape)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Reshape needs reshape_param { shape { dim ... } }",
                 dlt_cfg_where(msg, wb, sizeof wb), l->name);
    long axis, num_axes;
    DLT_TRY(dlt_cfg_int(p, "axis", 0, &axis));
    DLT_TRY(dlt_cfg_int(p, "num_axes", -1, &num_axes));
    const dlt_tensor *x = l->bottom[0];
    const int64_t b[4] = {x->n, x->c, x->h, x->w};
    /* Caffe: axis may be 4 here (insert after the last axis), -1 means 4 too. */
    if (axis < 0)
        axis += 5;
    if (axis < 0 || axis > 4 || num_axes < -1 || (num_axes >= 0 && axis + num_axes > 4))
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': reshape_param axis %ld / num_axes %ld do not fit "
                 "a four-axis blob", dlt_cfg_where(p, wb, sizeof wb), l->name, axis, num_axes);
    const int end = num_axes < 0 ? 4 : (int)(axis + num_axes);
    const int nd = dlt_cfg_count(shape, "dim");
    const int total_axes = (int)axis + nd + (4 - end);
    if (total_axes > 4)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': the new shape has %d axes; dltrain blobs have 4",
                 dlt_cfg_where(shape, wb, sizeof wb), l->name, total_axes);
    int64_t d[4] = {1, 1, 1, 1};
    int k = 0, infer = -1;
    for (int a = 0; a < axis; a++)
        d[k++] = b[a];
    for (int i = 0; i < nd; i++) {
        long v;
        const dlt_cfg *node = dlt_cfg_nth(shape, "dim", i);
        DLT_TRY(dlt_cfg_node_int(node, &v));
        if (v == 0) {
            if (axis + i >= 4)
                DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': dim 0 copies bottom axis %ld, which "
                         "does not exist", dlt_cfg_where(node, wb, sizeof wb), l->name, axis + i);
            v = (long)b[axis + i];
        } else if (v == -1) {
            if (infer >= 0)
                DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': only one dim may be -1",
                         dlt_cfg_where(node, wb, sizeof wb), l->name);
            infer = k;
            v = 1;
        } else if (v < 0) {
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': dim must be >= -1 (got %ld)",
                     dlt_cfg_where(node, wb, sizeof wb), l->name, v);
        }
        d[k++] = v;
    }
    for (int a = end; a < 4; a++)
        d[k++] = b[a];
    unsigned __int128 known = 1; /* four int-sized dims cannot overflow it */
    for (int a = 0; a < 4; a++)
        known *= (uint64_t)d[a];
    if (infer >= 0) {
        if (known > x->count || x->count % (uint64_t)known != 0)
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': cannot infer the -1 dim: %zu values of "
                     "bottom %s are not a multiple of %lld", dlt_cfg_where(shape, wb, sizeof wb),
                     l->name, x->count, dlt__shape_str(x, sb, sizeof sb), (long long)known);
        d[infer] = (int64_t)(x->count / (uint64_t)known);
        known *= (uint64_t)d[infer];
    }
    if (known != x->count)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': the new shape (%lld,%lld,%lld,%lld) has another "
                 "count than bottom %s", dlt_cfg_where(shape, wb, sizeof wb), l->name,
                 (long long)d[0], (long long)d[1], (long long)d[2], (long long)d[3],
                 dlt__shape_str(x, sb, sizeof sb));
    DLT_TRY(dlt__top_shape(l, msg, 0, d[0], d[1], d[2], d[3]));
    (void)ctx;
    return 0;
}

static void reshape_forward(dlt_layer *l)
{
    memcpy(l->top[0]->data, l->bottom[0]->data, l->bottom[0]->count * sizeof(float));
}

static void reshape_backward(dlt_layer *l)
{
    if (l->propagate_down[0])
        memcpy(l->bottom[0]->diff, l->top[0]->diff, l->bottom[0]->count * sizeof(float));
}

const dlt_layer_ops dlt__reshape_ops = {
    .type = "Reshape",
    .setup = reshape_setup,
    .forward = reshape_forward,
    .backward = reshape_backward,
};
