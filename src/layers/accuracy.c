/* accuracy.c - Accuracy: fraction of (non-ignored) labels among the top_k
 * scores along accuracy_param axis (default 1; 2 for (T,N,V,1) word
 * scores). Ties count against the prediction, as in Caffe's
 * accuracy_layer.cpp: the label is correct when fewer than top_k other
 * classes score >= the true class. */
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/accuracy.h"

static int acc_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256];
    const char *name = l->name;
    if (l->nbottom != 2 || l->ntop != 1)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': Accuracy takes 2 bottoms (scores, labels) "
                 "and 1 top (got %d and %d)", dlt_cfg_where(msg, wb, sizeof wb), name,
                 l->nbottom, l->ntop);
    accuracy_config cfg = {.top_k = 1};
    const dlt_cfg *p = dlt_cfg_get(msg, "accuracy_param");
    const dlt_tensor *x = l->bottom[0], *lab = l->bottom[1];
    const int d[4] = {x->n, x->c, x->h, x->w};
    long axis = 1;
    if (p) {
        DLT_TRY(dlt_cfg_int(p, "axis", 1, &axis));
        if (axis < 0)
            axis += 4;
        if (axis < 0 || axis > 3)
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': accuracy_param axis must be in [-4, 3] for "
                     "NCHW blobs", dlt_cfg_where(dlt_cfg_get(p, "axis"), wb, sizeof wb), name);
    }
    if (p) {
        long k, ig;
        DLT_TRY(dlt_cfg_int(p, "top_k", 1, &k));
        if (k < 1)
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': top_k must be >= 1 (got %ld)",
                     dlt_cfg_where(dlt_cfg_get(p, "top_k"), wb, sizeof wb), name, k);
        if (k > d[axis])
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': top_k %ld is more than the %d classes",
                     dlt_cfg_where(dlt_cfg_get(p, "top_k"), wb, sizeof wb), name, k, d[axis]);
        cfg.top_k = (int)k;
        if (dlt_cfg_get(p, "ignore_label")) {
            DLT_TRY(dlt_cfg_int(p, "ignore_label", 0, &ig));
            cfg.has_ignore = 1, cfg.ignore_label = (int)ig;
        }
    }
    cfg.outer = cfg.inner = 1;
    for (int a = 0; a < 4; a++)
        if (a < axis)
            cfg.outer *= (size_t)d[a];
        else if (a > axis)
            cfg.inner *= (size_t)d[a];
    cfg.C = d[axis];
    size_t want = cfg.outer * cfg.inner;
    if (lab->count != want)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': %zu labels for %zu predictions; the label "
                 "blob must have one entry per position of the axes other than axis %ld of %d x "
                 "%d x %d x %d", dlt_cfg_where(msg, wb, sizeof wb), name, lab->count, want, axis,
                 x->n, x->c, x->h, x->w);
    accuracy_config *c = dlt_malloc(sizeof *c);
    *c = cfg;
    l->state = c;
    DLT_TRY(dlt__top_shape(l, msg, 0, 1, 1, 1, 1));
    (void)ctx;
    return 0;
}

static void acc_forward(dlt_layer *l)
{
    const accuracy_config *cfg = l->state;
    const dlt_tensor *x = l->bottom[0];
    const int C = cfg->C;
    const size_t outer = cfg->outer, inner = cfg->inner;
    const float *label = l->bottom[1]->data;
    size_t correct = 0, count = 0;
    for (size_t o = 0; o < outer; o++) {
        const float *xo = x->data + o * C * inner;
        for (size_t j = 0; j < inner; j++) {
            int lv = (int)label[o * inner + j];
            if (cfg->has_ignore && lv == cfg->ignore_label)
                continue;
            count++;
            if (lv < 0 || lv >= C)
                continue; /* a label outside the classes is never predicted */
            float t = xo[lv * inner + j];
            int better = -1; /* the true class itself counts once */
            for (int c = 0; c < C && better < cfg->top_k; c++)
                better += xo[c * inner + j] >= t;
            correct += better < cfg->top_k;
        }
    }
    l->top[0]->data[0] = count ? (float)((double)correct / count) : 0.0f;
}

/* Accuracy has no gradient. If the net asks anyway (its scores bottom
 * also feeds a loss), write zeros, keeping the "bottom diffs are written"
 * contract that split blobs rely on when they sum their readers' diffs. */
static void acc_backward(dlt_layer *l)
{
    if (l->propagate_down[0])
        memset(l->bottom[0]->diff, 0, l->bottom[0]->count * sizeof(float));
}

static void acc_destroy(dlt_layer *l)
{
    free(l->state);
    l->state = NULL;
}

const dlt_layer_ops dlt__accuracy_ops = {
    .type = "Accuracy",
    .setup = acc_setup,
    .forward = acc_forward,
    .backward = acc_backward,
    .destroy = acc_destroy,
};
