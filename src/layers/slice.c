/* slice.c - Slice: cut the bottom along one axis into the tops, Caffe's
 * slice_param (axis, default 1, or the older slice_dim; slice_point: where
 * each top after the first starts; none: equal parts). */
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/slice.h"

static int dim(const dlt_tensor *t, int a)
{
    return a == 0 ? t->n : a == 1 ? t->c : a == 2 ? t->h : t->w;
}

static int slice_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256];
    DLT_TRY(dlt__check_arity(l, msg, "Slice", 1, -1));
    const dlt_cfg *p = dlt_cfg_get(msg, "slice_param");
    long axis = 1;
    if (p && dlt_cfg_get(p, "slice_dim"))
        DLT_TRY(dlt_cfg_int(p, "slice_dim", 1, &axis));
    if (p && dlt_cfg_get(p, "axis"))
        DLT_TRY(dlt_cfg_int(p, "axis", 1, &axis));
    if (axis < 0)
        axis += 4;
    if (axis < 0 || axis > 3)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': slice axis must be in [-4, 3] for NCHW blobs",
                 dlt_cfg_where(p, wb, sizeof wb), l->name);
    const dlt_tensor *x = l->bottom[0];
    const int a = (int)axis, ext = dim(x, a), nt = l->ntop;
    for (int i = 0; i < nt; i++)
        if (l->top[i] == x)
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Slice cannot work in place",
                     dlt_cfg_where(msg, wb, sizeof wb), l->name);
    int start[DLT_MAX_BLOBS + 1];
    const int np = p ? dlt_cfg_count(p, "slice_point") : 0;
    if (np) {
        if (np != nt - 1)
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': %d slice_point values for %d tops (need %d)",
                     dlt_cfg_where(p, wb, sizeof wb), l->name, np, nt, nt - 1);
        start[0] = 0;
        for (int i = 0; i < np; i++) {
            long v;
            const dlt_cfg *node = dlt_cfg_nth(p, "slice_point", i);
            DLT_TRY(dlt_cfg_node_int(node, &v));
            if (v <= start[i] || v >= ext)
                DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': slice_point %ld must increase and lie "
                         "inside (0, %d) (axis %d's extent)", dlt_cfg_where(node, wb, sizeof wb),
                         l->name, v, ext, a);
            start[i + 1] = (int)v;
        }
    } else {
        if (ext % nt)
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': axis %d's extent %d does not split into %d "
                     "equal tops (HINT: give slice_point)", dlt_cfg_where(msg, wb, sizeof wb),
                     l->name, a, ext, nt);
        for (int i = 0; i < nt; i++)
            start[i] = i * (ext / nt);
    }
    start[nt] = ext;
    slice_state *s = dlt_calloc(1, sizeof *s);
    l->state = s;
    s->outer = 1;
    for (int k = 0; k < a; k++)
        s->outer *= (size_t)dim(x, k);
    size_t inner = 1;
    for (int k = a + 1; k < 4; k++)
        inner *= (size_t)dim(x, k);
    s->total = (size_t)ext * inner;
    for (int i = 0; i < nt; i++) {
        int64_t d[4] = {x->n, x->c, x->h, x->w};
        d[a] = start[i + 1] - start[i];
        s->chunk[i] = (size_t)d[a] * inner;
        DLT_TRY(dlt__top_shape(l, msg, i, d[0], d[1], d[2], d[3]));
    }
    (void)ctx;
    return 0;
}

static void slice_forward(dlt_layer *l)
{
    const slice_state *s = l->state;
    const float *x = l->bottom[0]->data;
    size_t off = 0;
    for (int i = 0; i < l->ntop; i++) {
        float *y = l->top[i]->data;
        for (size_t o = 0; o < s->outer; o++)
            memcpy(y + o * s->chunk[i], x + o * s->total + off, s->chunk[i] * sizeof(float));
        off += s->chunk[i];
    }
}

static void slice_backward(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    const slice_state *s = l->state;
    float *dx = l->bottom[0]->diff;
    size_t off = 0;
    for (int i = 0; i < l->ntop; i++) {
        const float *dy = l->top[i]->diff;
        for (size_t o = 0; o < s->outer; o++)
            memcpy(dx + o * s->total + off, dy + o * s->chunk[i], s->chunk[i] * sizeof(float));
        off += s->chunk[i];
    }
}

const dlt_layer_ops dlt__slice_ops = {
    .type = "Slice",
    .setup = slice_setup,
    .forward = slice_forward,
    .backward = slice_backward,
    .destroy = dlt__free_state,
};
