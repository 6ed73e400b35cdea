/* concat.c - Concat: join the bottoms along one axis (concat_param axis,
 * default 1 = channels; the older concat_dim too). All other axes must
 * agree; the error names every bottom's shape. */
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/concat.h"

static int dim(const dlt_tensor *t, int a)
{
    return a == 0 ? t->n : a == 1 ? t->c : a == 2 ? t->h : t->w;
}

static int concat_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256], sb[64], s0[64];
    DLT_TRY(dlt__check_arity(l, msg, "Concat", -1, 1));
    const dlt_cfg *p = dlt_cfg_get(msg, "concat_param");
    long axis = 1;
    if (p && dlt_cfg_get(p, "concat_dim"))
        DLT_TRY(dlt_cfg_int(p, "concat_dim", 1, &axis));
    if (p && dlt_cfg_get(p, "axis"))
        DLT_TRY(dlt_cfg_int(p, "axis", 1, &axis));
    if (axis < 0)
        axis += 4;
    if (axis < 0 || axis > 3)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': concat axis must be in [-4, 3] for NCHW blobs",
                 dlt_cfg_where(p, wb, sizeof wb), l->name);
    const dlt_tensor *b0 = l->bottom[0];
    int a = (int)axis;
    int64_t total = 0;
    char sbuf[320];
    dlt_size_ctx sc;
    dlt__layer_size_ctx(l, msg, sbuf, sizeof sbuf, &sc);
    for (int i = 0; i < l->nbottom; i++) {
        const dlt_tensor *b = l->bottom[i];
        for (int k = 0; k < 4; k++)
            if (k != a && dim(b, k) != dim(b0, k))
                DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Concat along axis %d needs equal sizes on "
                         "the other axes, but bottom 0 is %s and bottom %d is %s",
                         dlt_cfg_where(msg, wb, sizeof wb), l->name, a,
                         dlt__shape_str(b0, s0, sizeof s0), i, dlt__shape_str(b, sb, sizeof sb));
        DLT_TRY(dlt_size_add(&sc, "concatenated axis extent", total, dim(b, a), DLT_DIM_MAX,
                             &total));
    }
    concat_state *s = dlt_calloc(1, sizeof *s);
    s->axis = a;
    s->outer = 1;
    for (int k = 0; k < a; k++)
        s->outer *= (size_t)dim(b0, k);
    size_t inner = 1;
    for (int k = a + 1; k < 4; k++)
        inner *= (size_t)dim(b0, k);
    for (int i = 0; i < l->nbottom; i++) {
        s->chunk[i] = (size_t)dim(l->bottom[i], a) * inner;
        s->total += s->chunk[i];
    }
    l->state = s;
    int64_t d[4] = {b0->n, b0->c, b0->h, b0->w};
    d[a] = total;
    /* Any bottom, not just the first: forward would overwrite it before
     * reading it (and memcpy overlapping itself). Caffe refuses it too. */
    for (int i = 0; l->nbottom > 1 && i < l->nbottom; i++)
        if (l->top[0] == l->bottom[i])
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Concat cannot work in place (top is "
                     "bottom %d)", dlt_cfg_where(msg, wb, sizeof wb), l->name, i);
    DLT_TRY(dlt__top_shape(l, msg, 0, d[0], d[1], d[2], d[3]));
    (void)ctx;
    return 0;
}

static void concat_forward(dlt_layer *l)
{
    const concat_state *s = l->state;
    float *y = l->top[0]->data;
    size_t off = 0;
    for (int i = 0; i < l->nbottom; i++) {
        const float *x = l->bottom[i]->data;
        for (size_t o = 0; o < s->outer; o++)
            memcpy(y + o * s->total + off, x + o * s->chunk[i], s->chunk[i] * sizeof(float));
        off += s->chunk[i];
    }
}

static void concat_backward(dlt_layer *l)
{
    const concat_state *s = l->state;
    const float *dy = l->top[0]->diff;
    size_t off = 0;
    for (int i = 0; i < l->nbottom; i++) {
        if (l->propagate_down[i]) {
            float *dx = l->bottom[i]->diff;
            for (size_t o = 0; o < s->outer; o++)
                memcpy(dx + o * s->chunk[i], dy + o * s->total + off, s->chunk[i] * sizeof(float));
        }
        off += s->chunk[i];
    }
}

const dlt_layer_ops dlt__concat_ops = {
    .type = "Concat",
    .setup = concat_setup,
    .forward = concat_forward,
    .backward = concat_backward,
    .destroy = dlt__free_state,
};
