/* data.c - Data and HDF5Data layers. They only declare their tops: the
 * training loop copies each batch, already transformed, into them. The
 * prototxt gives batch_size and transform_param; the files come from the
 * command line (--train/--val) instead of `source`. */
#include <stdlib.h>

#include "dltrain/error.h"
#include "layers/layers.h"

typedef struct data_state {
    dlt_data_params params;
} data_state;

/* Transform fields a later issue implements; harmless values are accepted. */
static int check_transform(const dlt_pnode *tp, const char *layer, float *scale)
{
    char wb[256];
    double sc;
    long crop;
    int mirror, fc, fg;
    DLT_TRY(dlt_pt_float(tp, "scale", 1, &sc));
    *scale = (float)sc;
    DLT_TRY(dlt_pt_bool(tp, "mirror", 0, &mirror));
    DLT_TRY(dlt_pt_int(tp, "crop_size", 0, &crop));
    DLT_TRY(dlt_pt_bool(tp, "force_color", 0, &fc));
    DLT_TRY(dlt_pt_bool(tp, "force_gray", 0, &fg));
    const char *bad = mirror ? "mirror" : crop ? "crop_size" : fc ? "force_color"
                    : fg ? "force_gray" : NULL;
    if (bad)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': transform_param %s is not supported yet",
                 dlt_pt_where(dlt_pt_get(tp, bad), wb, sizeof wb), layer, bad);
    DLT_TRY(dlt__pt_reject(tp, layer, "mean_file", "in transform_param"));
    DLT_TRY(dlt__pt_reject(tp, layer, "mean_value", "in transform_param"));
    return 0;
}

static int data_setup(dlt_layer *l, const dlt_pnode *msg, const dlt_layer_context *ctx)
{
    char wb[256];
    const char *name = l->name;
    int hdf5 = l->ops == &dlt__hdf5_data_ops;
    const char *pname = hdf5 ? "hdf5_data_param" : "data_param";
    if (l->nbottom != 0 || l->ntop < 1 || l->ntop > 2)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': %s takes no bottom and 1 or 2 tops (data, "
                 "label); got %d and %d", dlt_pt_where(msg, wb, sizeof wb), name,
                 l->ops->type, l->nbottom, l->ntop);
    const dlt_pnode *p = dlt_pt_get(msg, pname);
    if (!p)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': %s needs %s { batch_size }",
                 dlt_pt_where(msg, wb, sizeof wb), name, l->ops->type, pname);
    long batch;
    DLT_TRY(dlt_pt_int(p, "batch_size", 0, &batch));
    if (batch <= 0 || batch > 1L << 24)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': %s needs batch_size > 0 (per rank)",
                 dlt_pt_where(dlt_pt_get(p, "batch_size") ? dlt_pt_get(p, "batch_size") : p,
                              wb, sizeof wb), name, pname);
    const dlt_pnode *src = dlt_pt_get(p, "source"), *backend = dlt_pt_get(p, "backend");
    if (src || backend) {
        dlt_pt_mark_used(src);
        dlt_pt_mark_used(backend);
        dlt_note_once("data source", "layer '%s': source/backend in the prototxt are replaced "
                      "by --train/--val", name);
    }
    if (hdf5) {
        int shuffle; /* the loader shuffles the TRAIN phase every epoch either way */
        DLT_TRY(dlt_pt_bool(p, "shuffle", 0, &shuffle));
    } else {
        long skip, prefetch;
        DLT_TRY(dlt_pt_int(p, "rand_skip", 0, &skip));
        if (skip)
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': rand_skip is not supported yet",
                     dlt_pt_where(dlt_pt_get(p, "rand_skip"), wb, sizeof wb), name);
        DLT_TRY(dlt_pt_int(p, "prefetch", 4, &prefetch)); /* our loader has its own queue */
        /* Deprecated DataParameter transforms (Caffe moved them to transform_param). */
        static const char *const old[] = {"scale", "mean_file", "crop_size", "mirror",
                                          "force_encoded_color", NULL};
        for (int i = 0; old[i]; i++)
            DLT_TRY(dlt__pt_reject(p, name, old[i], "in data_param (use transform_param)"));
    }

    float scale = 1;
    const dlt_pnode *tp = dlt_pt_get(msg, "transform_param");
    if (tp)
        DLT_TRY(check_transform(tp, name, &scale));

    if (ctx->input_c <= 0 || ctx->input_h <= 0 || ctx->input_w <= 0)
        DLT_FAIL(DLT_ERR_INTERNAL, "layer '%s': the dataset's sample shape is unknown "
                 "(%dx%dx%d)", name, ctx->input_c, ctx->input_h, ctx->input_w);
    data_state *s = dlt_calloc(1, sizeof *s);
    s->params.batch_size = (int)batch;
    s->params.scale = scale;
    l->state = s;
    dlt_tensor_reshape(l->top[0], (int)batch, ctx->input_c, ctx->input_h, ctx->input_w);
    if (l->ntop == 2)
        dlt_tensor_reshape(l->top[1], (int)batch, 1, 1, 1);
    return 0;
}

static void data_forward(dlt_layer *l) { (void)l; }
static void data_backward(dlt_layer *l) { (void)l; }

static void data_destroy(dlt_layer *l)
{
    free(l->state);
    l->state = NULL;
}

const dlt_data_params *dlt_layer_data_params(const dlt_layer *l)
{
    if (!l || !l->state || (l->ops != &dlt__data_ops && l->ops != &dlt__hdf5_data_ops))
        return NULL;
    return &((const data_state *)l->state)->params;
}

const dlt_layer_ops dlt__data_ops = {
    .type = "Data",
    .setup = data_setup,
    .forward = data_forward,
    .backward = data_backward,
    .destroy = data_destroy,
    .setup_gpu = DLT__GPU(dlt__data_setup_gpu),
    .forward_gpu = DLT__GPU(dlt__data_forward_gpu),
    .backward_gpu = DLT__GPU(dlt__data_backward_gpu),
    .destroy_gpu = DLT__GPU(dlt__data_destroy_gpu),
};

const dlt_layer_ops dlt__hdf5_data_ops = {
    .type = "HDF5Data",
    .setup = data_setup,
    .forward = data_forward,
    .backward = data_backward,
    .destroy = data_destroy,
    .setup_gpu = DLT__GPU(dlt__data_setup_gpu),
    .forward_gpu = DLT__GPU(dlt__data_forward_gpu),
    .backward_gpu = DLT__GPU(dlt__data_backward_gpu),
    .destroy_gpu = DLT__GPU(dlt__data_destroy_gpu),
};
