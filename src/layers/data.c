/* data.c - Data and HDF5Data layers. They only declare their tops: the
 * training loop copies each batch, already transformed, into them. The
 * prototxt gives batch_size and transform_param; the files come from the
 * command line (--train/--val) instead of `source`. With four tops the
 * layer serves a caption set: data, input_words, target_words, cont. */
#include <stdlib.h>

#include "dltrain/error.h"
#include "layers/layers.h"

/* Per rank: 2^24 samples, far beyond any memory for real images; the
 * loader counts samples of a step in int. */
#define DATA_BATCH_MAX (1L << 24)

typedef struct data_state {
    dlt_data_params params;
} data_state;

/* Caffe's TransformationParameter; force_color/force_gray concern
 * decoding, which dltrain-prep fixes (--color/--gray) when building. */
static int read_transform(const dlt_cfg *tp, const char *layer, dlt_data_params *dp)
{
    char wb[256];
    double sc;
    long crop;
    int fc, fg;
    DLT_TRY(dlt_cfg_float(tp, "scale", 1, &sc));
    dp->scale = (float)sc;
    DLT_TRY(dlt_cfg_bool(tp, "mirror", 0, &dp->mirror));
    DLT_TRY(dlt_cfg_int(tp, "crop_size", 0, &crop));
    if (crop < 0 || crop > 65535)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': crop_size must be between 0 and 65535 (the "
                 "largest JPEG side), got %ld",
                 dlt_cfg_where(dlt_cfg_get(tp, "crop_size"), wb, sizeof wb), layer, crop);
    dp->crop_size = (int)crop;
    DLT_TRY(dlt_cfg_bool(tp, "force_color", 0, &fc));
    DLT_TRY(dlt_cfg_bool(tp, "force_gray", 0, &fg));
    if (fc || fg)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': transform_param %s is not supported: the "
                 "dataset's channels are fixed when it is built (dltrain-prep --color/--gray)",
                 dlt_cfg_where(dlt_cfg_get(tp, fc ? "force_color" : "force_gray"), wb, sizeof wb),
                 layer, fc ? "force_color" : "force_gray");
    DLT_TRY(dlt_cfg_string(tp, "mean_file", NULL, &dp->mean_file));
    int nmv = dlt_cfg_count(tp, "mean_value");
    if (nmv > 4)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': %d mean_value entries; at most 4 (one per "
                 "channel)", dlt_cfg_where(tp, wb, sizeof wb), layer, nmv);
    if (nmv && dp->mean_file)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': give mean_file or mean_value, not both",
                 dlt_cfg_where(tp, wb, sizeof wb), layer);
    for (int i = 0; i < nmv; i++) {
        double v;
        DLT_TRY(dlt_cfg_node_float(dlt_cfg_nth(tp, "mean_value", i), &v));
        dp->mean_value[i] = (float)v;
    }
    dp->n_mean_value = nmv;
    return 0;
}

static int data_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256];
    const char *name = l->name;
    int hdf5 = l->ops == &dlt__hdf5_data_ops;
    const char *pname = hdf5 ? "hdf5_data_param" : "data_param";
    if (l->nbottom != 0 || l->ntop < 1 || l->ntop == 3 || l->ntop > 4)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': %s takes no bottom and 1 or 2 tops (data, "
                 "label), or 4 for a caption set (data, input_words, target_words, cont); got "
                 "%d and %d", dlt_cfg_where(msg, wb, sizeof wb), name, l->ops->type, l->nbottom,
                 l->ntop);
    const dlt_cfg *p = dlt_cfg_get(msg, pname);
    if (!p)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': %s needs %s { batch_size }",
                 dlt_cfg_where(msg, wb, sizeof wb), name, l->ops->type, pname);
    long batch;
    DLT_TRY(dlt_cfg_int(p, "batch_size", 0, &batch));
    if (batch <= 0 || batch > DATA_BATCH_MAX)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': %s needs batch_size between 1 and %ld (per "
                 "rank), got %ld",
                 dlt_cfg_where(dlt_cfg_get(p, "batch_size") ? dlt_cfg_get(p, "batch_size") : p,
                              wb, sizeof wb), name, pname, DATA_BATCH_MAX, batch);
    const dlt_cfg *src = dlt_cfg_get(p, "source"), *backend = dlt_cfg_get(p, "backend");
    if (src || backend) {
        dlt_cfg_mark_used(src);
        dlt_cfg_mark_used(backend);
        dlt_note_once("data source", "layer '%s': source/backend in the prototxt are replaced "
                      "by --train/--val", name);
    }
    if (hdf5) {
        int shuffle; /* the loader shuffles the TRAIN phase every epoch either way */
        DLT_TRY(dlt_cfg_bool(p, "shuffle", 0, &shuffle));
    } else {
        long skip, prefetch;
        DLT_TRY(dlt_cfg_int(p, "rand_skip", 0, &skip));
        if (skip)
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': rand_skip is not supported yet",
                     dlt_cfg_where(dlt_cfg_get(p, "rand_skip"), wb, sizeof wb), name);
        DLT_TRY(dlt_cfg_int(p, "prefetch", 4, &prefetch)); /* our loader has its own queue */
        /* Deprecated DataParameter transforms (Caffe moved them to transform_param). */
        static const char *const old[] = {"scale", "mean_file", "crop_size", "mirror",
                                          "force_encoded_color", NULL};
        for (int i = 0; old[i]; i++)
            DLT_TRY(dlt__cfg_reject(p, name, old[i], "in data_param (use transform_param)"));
    }

    /* Caption sets: T time steps, the dataset's (T_max + 1) unless set here
     * (a dltrain extension of data_param). */
    long seq;
    DLT_TRY(dlt_cfg_int(p, "sequence_length", 0, &seq));
    if (seq < 0 || seq > 65537 || (seq && l->ntop != 4))
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': sequence_length %ld: %s", dlt_cfg_where(
                 dlt_cfg_get(p, "sequence_length"), wb, sizeof wb), name, seq, seq && l->ntop !=
                 4 ? "only a caption data layer (4 tops) has one" : "expected 1 .. 65537");
    if (l->ntop == 4 && !seq)
        seq = ctx->seq_len;
    if (l->ntop == 4 && seq <= 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s' has 4 tops (data, input_words, target_words, "
                 "cont: caption batches) but the dataset has no captions; HINT: build it with "
                 "dltrain-prep --format captions", dlt_cfg_where(msg, wb, sizeof wb), name);
    dlt_data_params dp = {.batch_size = (int)batch, .scale = 1, .seq_len = (int)seq};
    const dlt_cfg *tp = dlt_cfg_get(msg, "transform_param");
    if (tp)
        DLT_TRY(read_transform(tp, name, &dp));

    if (ctx->input_c <= 0 || ctx->input_h <= 0 || ctx->input_w <= 0)
        DLT_FAIL(DLT_ERR_INTERNAL, "layer '%s': the dataset's sample shape is unknown "
                 "(%dx%dx%d)", name, ctx->input_c, ctx->input_h, ctx->input_w);
    if (dp.crop_size > ctx->input_h || dp.crop_size > ctx->input_w)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': crop_size %d is larger than the dataset's %d x "
                 "%d images", dlt_cfg_where(dlt_cfg_get(tp, "crop_size"), wb, sizeof wb), name,
                 dp.crop_size, ctx->input_h, ctx->input_w);
    data_state *s = dlt_calloc(1, sizeof *s);
    s->params = dp;
    l->state = s;
    int oh = dp.crop_size ? dp.crop_size : ctx->input_h;
    int ow = dp.crop_size ? dp.crop_size : ctx->input_w;
    DLT_TRY(dlt__top_shape(l, msg, 0, batch, ctx->input_c, oh, ow));
    if (l->ntop == 2)
        DLT_TRY(dlt__top_shape(l, msg, 1, batch, 1, 1, 1));
    for (int i = 1; l->ntop == 4 && i < 4; i++) /* (T, N) as Caffe's recurrent layers take */
        DLT_TRY(dlt__top_shape(l, msg, i, seq, batch, 1, 1));
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
};

const dlt_layer_ops dlt__hdf5_data_ops = {
    .type = "HDF5Data",
    .setup = data_setup,
    .forward = data_forward,
    .backward = data_backward,
    .destroy = data_destroy,
};
