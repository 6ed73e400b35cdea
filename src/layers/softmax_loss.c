/* softmax_loss.c - SoftmaxWithLoss: softmax over softmax_param axis (default
 * 1, channels), then the mean negative log-likelihood of the labels,
 * normalized as Caffe's loss_param (softmax_loss_layer.cpp). Every position
 * of the other axes has a label: per-pixel labels for spatial outputs,
 * per-word labels for (T,N,V,1) scores with axis 2. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/softmax_loss.h"

static int sml_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256];
    const char *name = l->name;
    if (l->nbottom != 2 || l->ntop < 1 || l->ntop > 2)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': SoftmaxWithLoss takes 2 bottoms (scores, "
                 "labels) and 1 or 2 tops (got %d and %d)", dlt_cfg_where(msg, wb, sizeof wb),
                 name, l->nbottom, l->ntop);
    softmax_loss_state *s = dlt_calloc(1, sizeof *s);
    l->state = s;
    s->normalization = NORM_VALID;
    const dlt_cfg *lp = dlt_cfg_get(msg, "loss_param");
    if (lp) {
        static const char *const norms[] = {"FULL", "VALID", "BATCH_SIZE", "NONE", NULL};
        long ig;
        int normalize;
        if (dlt_cfg_get(lp, "ignore_label")) {
            DLT_TRY(dlt_cfg_int(lp, "ignore_label", 0, &ig));
            s->has_ignore = 1, s->ignore_label = (int)ig;
        }
        /* Caffe: the deprecated `normalize` applies only if normalization is unset. */
        if (dlt_cfg_get(lp, "normalization")) {
            DLT_TRY(dlt_cfg_enum(lp, "normalization", norms, NORM_VALID, &s->normalization));
            DLT_TRY(dlt_cfg_bool(lp, "normalize", 1, &normalize));
        } else if (dlt_cfg_get(lp, "normalize")) {
            DLT_TRY(dlt_cfg_bool(lp, "normalize", 1, &normalize));
            s->normalization = normalize ? NORM_VALID : NORM_BATCH_SIZE;
        }
    }
    const dlt_cfg *sp = dlt_cfg_get(msg, "softmax_param");
    long axis = 1;
    if (sp) {
        static const char *const engines[] = {"DEFAULT", "CAFFE", "CUDNN", NULL};
        int engine;
        DLT_TRY(dlt_cfg_int(sp, "axis", 1, &axis));
        if (axis < 0)
            axis += 4;
        if (axis < 0 || axis > 3)
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': softmax_param axis must be in [-4, 3] for "
                     "NCHW blobs", dlt_cfg_where(dlt_cfg_get(sp, "axis"), wb, sizeof wb), name);
        DLT_TRY(dlt_cfg_enum(sp, "engine", engines, 0, &engine));
    }
    const dlt_tensor *x = l->bottom[0], *lab = l->bottom[1];
    const int d[4] = {x->n, x->c, x->h, x->w};
    size_t outer = 1, inner = 1;
    for (int a = 0; a < 4; a++)
        if (a < axis)
            outer *= (size_t)d[a];
        else if (a > axis)
            inner *= (size_t)d[a];
    s->outer = outer, s->inner = inner, s->C = d[axis];
    if (lab->count != outer * inner)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': %zu labels for %zu predictions; the label "
                 "blob must have one entry per position of the axes other than axis %ld of %d x "
                 "%d x %d x %d", dlt_cfg_where(msg, wb, sizeof wb), name, lab->count,
                 outer * inner, axis, x->n, x->c, x->h, x->w);
    s->prob_count = x->count;
    s->prob = dlt_malloc(x->count * sizeof(float) + 1);
    DLT_TRY(dlt__top_shape(l, msg, 0, 1, 1, 1, 1));
    if (l->ntop == 2)
        DLT_TRY(dlt__top_shape(l, msg, 1, x->n, x->c, x->h, x->w));
    l->is_loss = 1;
    (void)ctx;
    return 0;
}

static void sml_forward(dlt_layer *l)
{
    softmax_loss_state *s = l->state;
    const dlt_tensor *x = l->bottom[0];
    const int C = s->C;
    const size_t outer = s->outer, inner = s->inner;
    const float *label = l->bottom[1]->data;
    double loss = 0;
    size_t valid = 0;
    for (size_t o = 0; o < outer; o++) {
        const float *xo = x->data + o * C * inner;
        float *po = s->prob + o * C * inner;
        for (size_t j = 0; j < inner; j++) {
            /* Subtract the max so exp() cannot overflow. */
            float m = -FLT_MAX;
            for (int c = 0; c < C; c++)
                if (xo[c * inner + j] > m)
                    m = xo[c * inner + j];
            double sum = 0;
            for (int c = 0; c < C; c++) {
                float e = expf(xo[c * inner + j] - m);
                po[c * inner + j] = e;
                sum += e;
            }
            for (int c = 0; c < C; c++)
                po[c * inner + j] = (float)(po[c * inner + j] / sum);
            int lv = (int)label[o * inner + j];
            if (s->has_ignore && lv == s->ignore_label)
                continue;
            if (lv < 0 || lv >= C)
                dlt_fatal("layer '%s': label %d out of range [0, %d) at sample %zu; "
                          "the data's classes must fit num_output of the last layer",
                          l->name, lv, C, o);
            float pl = po[lv * inner + j];
            loss -= log(pl > FLT_MIN ? pl : FLT_MIN);
            valid++;
        }
    }
    double norm;
    switch (s->normalization) {
    case NORM_FULL: norm = (double)(outer * inner); break;
    case NORM_VALID: norm = (double)valid; break;
    case NORM_BATCH_SIZE: norm = (double)outer; break;
    default: norm = 1; break;
    }
    if (norm < 1) /* Caffe: max(1, normalizer), so an all-ignored batch gives 0 */
        norm = 1;
    s->normalizer = norm;
    l->top[0]->data[0] = (float)(loss / norm);
    if (l->ntop == 2)
        memcpy(l->top[1]->data, s->prob, s->prob_count * sizeof(float));
}

static void sml_backward(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    softmax_loss_state *s = l->state;
    const int C = s->C;
    const size_t outer = s->outer, inner = s->inner;
    const float *label = l->bottom[1]->data;
    float *dx = l->bottom[0]->diff;
    const float scale = (float)(l->loss_weight[0] / s->normalizer);
    for (size_t o = 0; o < outer; o++) {
        const float *po = s->prob + o * C * inner;
        float *dxo = dx + o * C * inner;
        for (size_t j = 0; j < inner; j++) {
            int lv = (int)label[o * inner + j];
            if (s->has_ignore && lv == s->ignore_label) {
                for (int c = 0; c < C; c++)
                    dxo[c * inner + j] = 0;
                continue;
            }
            for (int c = 0; c < C; c++)
                dxo[c * inner + j] = (po[c * inner + j] - (c == lv)) * scale;
        }
    }
}

static void sml_destroy(dlt_layer *l)
{
    softmax_loss_state *s = l->state;
    if (!s)
        return;
    free(s->prob);
    free(s);
    l->state = NULL;
}

const dlt_layer_ops dlt__softmax_loss_ops = {
    .type = "SoftmaxWithLoss",
    .setup = sml_setup,
    .forward = sml_forward,
    .backward = sml_backward,
    .destroy = sml_destroy,
};
