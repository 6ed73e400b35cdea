/* input.c - Input: Caffe's input_param { shape { dim } } layer. Its tops
 * are filled by whoever runs the net (a test, a deploy-time caller, until a
 * data layer takes its place); it has no forward or backward work. One
 * shape for every top, or one shape per top; fewer than four dims are
 * padded with trailing 1s. */
#include "dltrain/error.h"
#include "layers/layers.h"

static int input_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256];
    DLT_TRY(dlt__check_arity(l, msg, "Input", 0, -1));
    const dlt_cfg *p = dlt_cfg_get(msg, "input_param");
    const int ns = p ? dlt_cfg_count(p, "shape") : 0;
    if (ns != 1 && ns != l->ntop)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': input_param needs one shape, or one per top "
                 "(%d tops, %d shapes)", dlt_cfg_where(msg, wb, sizeof wb), l->name, l->ntop, ns);
    for (int i = 0; i < l->ntop; i++) {
        const dlt_cfg *shape = dlt_cfg_nth(p, "shape", ns == 1 ? 0 : i);
        const int nd = dlt_cfg_count(shape, "dim");
        if (nd < 1 || nd > 4)
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': a shape has 1 to 4 dims here (got %d)",
                     dlt_cfg_where(shape, wb, sizeof wb), l->name, nd);
        int64_t d[4] = {1, 1, 1, 1};
        for (int k = 0; k < nd; k++) {
            long v;
            const dlt_cfg *node = dlt_cfg_nth(shape, "dim", k);
            DLT_TRY(dlt_cfg_node_int(node, &v));
            if (v < 1)
                DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': dim must be >= 1 (got %ld)",
                         dlt_cfg_where(node, wb, sizeof wb), l->name, v);
            d[k] = v;
        }
        DLT_TRY(dlt__top_shape(l, msg, i, d[0], d[1], d[2], d[3]));
    }
    (void)ctx;
    return 0;
}

static void input_nothing(dlt_layer *l) { (void)l; }

const dlt_layer_ops dlt__input_ops = {
    .type = "Input",
    .setup = input_setup,
    .forward = input_nothing,
    .backward = input_nothing,
};
