/* layer.c - parameter declaration for layers, and configuration helpers the
 * layer files share (checked top and parameter shapes, 2-D sizes,
 * unsupported fields). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"

void dlt_layer_add_param(dlt_layer *l, int n, int c, int h, int w, const dlt_filler *filler)
{
    if (l->nparam >= DLT_MAX_PARAMS)
        dlt_fatal("internal: layer '%s' declares more than %d parameter blobs",
                  l->name ? l->name : "?", DLT_MAX_PARAMS);
    dlt_tensor *t = &l->param[l->nparam];
    /* Shape only: the net points data/diff into its flat buffers. */
    memset(t, 0, sizeof *t);
    t->n = n, t->c = c, t->h = h, t->w = w;
    t->count = (size_t)n * c * h * w;
    if (filler)
        l->param_filler[l->nparam] = *filler;
    else
        dlt_filler_parse(NULL, &l->param_filler[l->nparam]);
    l->nparam++;
}

static void size_ctx_named(const char *layer, const dlt_cfg *node, char *buf, int size,
                           dlt_size_ctx *ctx)
{
    char wb[200];
    snprintf(buf, (size_t)size, "%s: layer '%s'", dlt_cfg_where(node, wb, sizeof wb),
             layer ? layer : "?");
    ctx->who = buf;
    ctx->status = DLT_ERR_PARSE;
}

void dlt__layer_size_ctx(const dlt_layer *l, const dlt_cfg *node, char *buf, int size,
                         dlt_size_ctx *ctx)
{
    size_ctx_named(l->name, node, buf, size, ctx);
}

int dlt__top_shape(dlt_layer *l, const dlt_cfg *msg, int i, int64_t n, int64_t c, int64_t h,
                   int64_t w)
{
    char buf[320], what[32];
    dlt_size_ctx sc;
    dlt__layer_size_ctx(l, msg, buf, sizeof buf, &sc);
    snprintf(what, sizeof what, "top %d", i);
    DLT_TRY(dlt_size_shape(&sc, what, n, c, h, w));
    dlt_tensor_reshape(l->top[i], (int)n, (int)c, (int)h, (int)w);
    return 0;
}

int dlt__add_param(dlt_layer *l, const dlt_cfg *msg, int64_t n, int64_t c, int64_t h, int64_t w,
                   const dlt_filler *filler)
{
    char buf[320], what[32];
    dlt_size_ctx sc;
    dlt__layer_size_ctx(l, msg, buf, sizeof buf, &sc);
    snprintf(what, sizeof what, "parameter blob %d", l->nparam);
    DLT_TRY(dlt_size_shape(&sc, what, n, c, h, w));
    dlt_layer_add_param(l, (int)n, (int)c, (int)h, (int)w, filler);
    return 0;
}

/* Kernel, stride, pad and dilation: at most 2^30, so that sums like
 * H + 2 * pad stay exact (they are checked again where they are formed). */
#define HW_MAX ((int64_t)1 << 30)

static int read_uint(const dlt_cfg *node, const char *layer, long min, int *out)
{
    char buf[320];
    long v;
    DLT_TRY(dlt_cfg_node_int(node, &v));
    dlt_size_ctx sc;
    size_ctx_named(layer, node, buf, sizeof buf, &sc);
    DLT_TRY(dlt_size_range(&sc, node->name, v, min, HW_MAX));
    *out = (int)v;
    return 0;
}

int dlt__cfg_hw(const dlt_cfg *p, const char *layer, const char *name,
               const char *stem, long def, long min, int *h, int *w)
{
    char wb[256], nh[64], nw[64];
    *h = *w = (int)def;
    if (!p)
        return 0;
    snprintf(nh, sizeof nh, "%s_h", stem);
    snprintf(nw, sizeof nw, "%s_w", stem);
    const dlt_cfg *ph = dlt_cfg_get(p, nh), *pw = dlt_cfg_get(p, nw);
    int n = dlt_cfg_count(p, name);
    if (ph || pw) {
        if (!ph || !pw)
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': %s and %s must be given together",
                     dlt_cfg_where(ph ? ph : pw, wb, sizeof wb), layer, nh, nw);
        if (n > 0)
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': give either %s or %s/%s, not both",
                     dlt_cfg_where(ph, wb, sizeof wb), layer, name, nh, nw);
        DLT_TRY(read_uint(ph, layer, min, h));
        DLT_TRY(read_uint(pw, layer, min, w));
        return 0;
    }
    if (n == 0)
        return 0;
    if (n > 2)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': %s given %d times; expected one value "
                 "or two (h, w) for 2-D data",
                 dlt_cfg_where(dlt_cfg_nth(p, name, 2), wb, sizeof wb), layer, name, n);
    DLT_TRY(read_uint(dlt_cfg_nth(p, name, 0), layer, min, h));
    *w = *h;
    if (n == 2)
        DLT_TRY(read_uint(dlt_cfg_nth(p, name, 1), layer, min, w));
    return 0;
}

int dlt__cfg_reject(const dlt_cfg *p, const char *layer, const char *name,
                   const char *what)
{
    char wb[256];
    const dlt_cfg *f = p ? dlt_cfg_get(p, name) : NULL;
    if (f)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': %s is not supported yet%s%s",
                 dlt_cfg_where(f, wb, sizeof wb), layer, name, what ? " " : "",
                 what ? what : "");
    return 0;
}

int dlt__check_arity(const dlt_layer *l, const dlt_cfg *msg, const char *type, int nb, int nt)
{
    char wb[256];
    int bad_b = nb < 0 ? l->nbottom < 1 : l->nbottom != nb;
    int bad_t = nt < 0 ? l->ntop < 1 : l->ntop != nt;
    if (bad_b || bad_t) {
        char eb[16], et[16];
        snprintf(eb, sizeof eb, nb < 0 ? "1 or more" : "%d", nb);
        snprintf(et, sizeof et, nt < 0 ? "1 or more" : "%d", nt);
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': %s takes %s bottom(s) and %s top(s) (got %d and %d)",
                 dlt_cfg_where(msg, wb, sizeof wb), l->name, type, eb, et, l->nbottom, l->ntop);
    }
    return 0;
}

const char *dlt__shape_str(const dlt_tensor *t, char *buf, int size)
{
    snprintf(buf, (size_t)size, "(%d,%d,%d,%d)", t->n, t->c, t->h, t->w);
    return buf;
}

void dlt__free_state(dlt_layer *l)
{
    free(l->state);
    l->state = NULL;
}
