/* dropout.c - Dropout as Caffe: at train time each value is kept with
 * probability 1 - p and scaled by 1 / (1 - p); at test time the identity.
 * The mask comes from l->rng (the rank's RNG, checkpointed), so resumed
 * runs draw the same masks. In place allowed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"

typedef struct dropout_state {
    float ratio;       /* p */
    float scale;       /* 1 / (1 - p) */
    int train;         /* phase TRAIN: drop; TEST: copy */
    uint8_t *mask;     /* (N, C, H, W) 1 = kept */
    size_t count;
    dlt_rng own_rng;   /* used while no net RNG is set (unit tests) */
} dropout_state;

static int dropout_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256];
    DLT_TRY(dlt__check_arity(l, msg, "Dropout", 1, 1));
    const dlt_cfg *p = dlt_cfg_get(msg, "dropout_param");
    double ratio = 0.5;
    int scale_train = 1;
    if (p) {
        DLT_TRY(dlt_cfg_float(p, "dropout_ratio", 0.5, &ratio));
        DLT_TRY(dlt_cfg_bool(p, "scale_train", 1, &scale_train));
    }
    if (!(ratio >= 0 && ratio < 1))
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': dropout_ratio must be in [0, 1), got %g",
                 dlt_cfg_where(p ? dlt_cfg_get(p, "dropout_ratio") : msg, wb, sizeof wb), l->name,
                 ratio);
    if (!scale_train)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': scale_train: false (scaling at test time) is "
                 "not supported", dlt_cfg_where(dlt_cfg_get(p, "scale_train"), wb, sizeof wb),
                 l->name);
    dropout_state *s = dlt_calloc(1, sizeof *s);
    s->ratio = (float)ratio;
    s->scale = (float)(1.0 / (1.0 - ratio));
    s->train = ctx->phase == DLT_PHASE_TRAIN;
    const dlt_tensor *x = l->bottom[0];
    s->count = x->count;
    s->mask = dlt_malloc(s->count + 1);
    uint64_t h = 1469598103934665603ULL; /* FNV-1a of the name: a fixed seed per layer */
    for (const char *c = l->name; c && *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    dlt_rng_seed(&s->own_rng, h);
    l->state = s;
    if (l->top[0] != x)
        DLT_TRY(dlt__top_shape(l, msg, 0, x->n, x->c, x->h, x->w));
    return 0;
}

static void draw_mask(dlt_layer *l)
{
    dropout_state *s = l->state;
    dlt_rng *r = l->rng ? l->rng : &s->own_rng;
    const size_t n = s->count;
    /* 32-bit thresholds: two mask bits per RNG draw. */
    const uint64_t thresh = (uint64_t)((double)s->ratio * 4294967296.0);
    for (size_t i = 0; i < n; i += 2) {
        uint64_t v = dlt_rng_next(r);
        s->mask[i] = (v & 0xffffffffu) >= thresh;
        if (i + 1 < n)
            s->mask[i + 1] = (v >> 32) >= thresh;
    }
}

const unsigned char *dlt__dropout_next_mask(dlt_layer *l, float *scale)
{
    dropout_state *s = l->state;
    if (!s->train)
        return NULL;
    draw_mask(l);
    *scale = s->scale;
    return s->mask;
}

static void dropout_forward(dlt_layer *l)
{
    dropout_state *s = l->state;
    const float *x = l->bottom[0]->data;
    float *y = l->top[0]->data;
    const size_t n = l->bottom[0]->count;
    if (!s->train) {
        if (y != x)
            memcpy(y, x, n * sizeof(float));
        return;
    }
    draw_mask(l);
    for (size_t i = 0; i < n; i++)
        y[i] = s->mask[i] ? x[i] * s->scale : 0.0f;
}

static void dropout_backward(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    dropout_state *s = l->state;
    const float *dy = l->top[0]->diff;
    float *dx = l->bottom[0]->diff;
    const size_t n = l->bottom[0]->count;
    if (!s->train) {
        if (dx != dy)
            memcpy(dx, dy, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++)
        dx[i] = s->mask[i] ? dy[i] * s->scale : 0.0f;
}

static void dropout_destroy(dlt_layer *l)
{
    dropout_state *s = l->state;
    if (s)
        free(s->mask);
    dlt__free_state(l);
}

const dlt_layer_ops dlt__dropout_ops = {
    .type = "Dropout",
    .setup = dropout_setup,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .destroy = dropout_destroy,
};
