/* conv_dnnl.c - Convolution through oneDNN's C API: the primitives of one
 * layer's fixed shape, made on first use and kept, run on the layer's own
 * NCHW buffers (the memory objects only change their data handles). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdlib.h>

#include "dltrain/error.h"
#include "layers/conv_dnnl.h"

/* A failing oneDNN call outside primitive creation is a bug or no memory. */
#define DNNL_CHECK(call)                                                              \
    do {                                                                              \
        dnnl_status_t dnnl_st_ = (call);                                              \
        if (dnnl_st_ != dnnl_success)                                                 \
            dlt_fatal("oneDNN: %s failed: %s", #call, dnnl_status_name(dnnl_st_));    \
    } while (0)

enum { OP_FWD, OP_BWD_DATA, OP_BWD_WEIGHTS, NOPS };

struct dlt__conv_dnnl {
    conv_config cfg;
    int n, wchunk;
    int nthr;                        /* OpenMP threads the primitives were made for */
    int failed[NOPS];                /* no implementation for this shape */
    dnnl_primitive_desc_t fwd_pd;    /* also the hint for the backward ones */
    dnnl_primitive_t op[NOPS];
    dnnl_memory_desc_t x, xw, w, b, y, yw; /* xw, yw: WCHUNK samples */
    dnnl_memory_t mx, mw, mb, my;    /* data handles set per call */
    dnnl_memory_t mxw, myw;
};

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static const char *dnnl_status_name(dnnl_status_t st)
{
    switch (st) {
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented";
    case dnnl_runtime_error: return "runtime error";
    default: return "error";
    }
}

static void init_engine(void)
{
    if (engine)
        return;
    DNNL_CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    DNNL_CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
}

static void plain_md(dnnl_memory_desc_t *md, int nd, const dnnl_dims_t dims, dnnl_format_tag_t tag)
{
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(md, nd, dims, dnnl_f32, tag));
}

static dnnl_memory_t make_memory(const dnnl_memory_desc_t *md)
{
    dnnl_memory_t m;
    DNNL_CHECK(dnnl_memory_create(&m, md, engine, DNNL_MEMORY_NONE));
    return m;
}

dlt__conv_dnnl *dlt__conv_dnnl_create(const conv_config *c, int n, int wchunk)
{
    init_engine();
    dlt__conv_dnnl *d = dlt_calloc(1, sizeof *d);
    d->cfg = *c;
    d->n = n;
    d->wchunk = wchunk;
    const dlt__conv_geom *g = &c->g;
    const int K = c->num_output, G = c->group;
    dnnl_dims_t xd = {n, g->c, g->h, g->w}, yd = {n, K, g->ho, g->wo};
    plain_md(&d->x, 4, xd, dnnl_nchw);
    plain_md(&d->y, 4, yd, dnnl_nchw);
    xd[0] = yd[0] = wchunk;
    plain_md(&d->xw, 4, xd, dnnl_nchw);
    plain_md(&d->yw, 4, yd, dnnl_nchw);
    if (G > 1) {
        dnnl_dims_t wd = {G, K / G, g->c / G, g->kh, g->kw}; /* same bytes as (K, C/G, kh, kw) */
        plain_md(&d->w, 5, wd, dnnl_goihw);
    } else {
        dnnl_dims_t wd = {K, g->c, g->kh, g->kw};
        plain_md(&d->w, 4, wd, dnnl_oihw);
    }
    dnnl_dims_t bd = {K};
    plain_md(&d->b, 1, bd, dnnl_a);
    d->mx = make_memory(&d->x);
    d->my = make_memory(&d->y);
    d->mxw = make_memory(&d->xw);
    d->myw = make_memory(&d->yw);
    d->mw = make_memory(&d->w);
    d->mb = make_memory(&d->b);
    return d;
}

static void drop_primitives(dlt__conv_dnnl *d)
{
    for (int i = 0; i < NOPS; i++) {
        if (d->op[i])
            dnnl_primitive_destroy(d->op[i]);
        d->op[i] = NULL;
    }
    if (d->fwd_pd)
        dnnl_primitive_desc_destroy(d->fwd_pd);
    d->fwd_pd = NULL;
}

/* Caffe's output size rounds down: oneDNN accepts the same left and right
 * padding then (its size check divides by the stride the same way). */
static void window(const dlt__conv_geom *g, dnnl_dims_t stride, dnnl_dims_t dil, dnnl_dims_t pad)
{
    stride[0] = g->sh, stride[1] = g->sw;
    dil[0] = (g->dh > 1 ? g->dh : 1) - 1, dil[1] = (g->dw > 1 ? g->dw : 1) - 1; /* 0: dense */
    pad[0] = g->ph, pad[1] = g->pw;
}

/* Primitive descriptor from an op descriptor; NULL when unimplemented. */
static dnnl_primitive_desc_t make_pd(const void *desc, const_dnnl_primitive_desc_t hint)
{
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_primitive_desc_create(&pd, desc, NULL, engine, hint);
    if (st == dnnl_unimplemented || st == dnnl_invalid_arguments)
        return NULL;
    DNNL_CHECK(st);
    return pd;
}

static int make_forward(dlt__conv_dnnl *d)
{
    dnnl_dims_t s, dl, p;
    window(&d->cfg.g, s, dl, p);
    dnnl_convolution_desc_t desc;
    if (dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_training,
            dnnl_convolution_direct, &d->x, &d->w, d->cfg.bias_term ? &d->b : NULL, &d->y,
            s, dl, p, p) != dnnl_success)
        return -1;
    d->fwd_pd = make_pd(&desc, NULL);
    if (!d->fwd_pd)
        return -1;
    DNNL_CHECK(dnnl_primitive_create(&d->op[OP_FWD], d->fwd_pd));
    return 0;
}

static int make_backward(dlt__conv_dnnl *d, int which)
{
    if (!d->fwd_pd && make_forward(d) < 0)
        return -1;
    dnnl_dims_t s, dl, p;
    window(&d->cfg.g, s, dl, p);
    dnnl_convolution_desc_t desc;
    dnnl_status_t st = which == OP_BWD_DATA
        ? dnnl_dilated_convolution_backward_data_desc_init(&desc, dnnl_convolution_direct,
              &d->x, &d->w, &d->y, s, dl, p, p)
        : dnnl_dilated_convolution_backward_weights_desc_init(&desc, dnnl_convolution_direct,
              &d->xw, &d->w, d->cfg.bias_term ? &d->b : NULL, &d->yw, s, dl, p, p);
    if (st != dnnl_success)
        return -1;
    dnnl_primitive_desc_t pd = make_pd(&desc, d->fwd_pd);
    if (!pd)
        return -1;
    DNNL_CHECK(dnnl_primitive_create(&d->op[which], pd));
    dnnl_primitive_desc_destroy(pd);
    return 0;
}

/* The primitive WHICH, made now if missing or made for another thread count. */
static dnnl_primitive_t get(dlt__conv_dnnl *d, int which)
{
    int nthr = omp_get_max_threads();
    if (nthr != d->nthr) {
        drop_primitives(d);
        d->nthr = nthr;
    }
    if (!d->op[which] && !d->failed[which]) {
        int st = which == OP_FWD ? (d->fwd_pd ? -1 : make_forward(d)) : make_backward(d, which);
        if (st < 0 || !d->op[which])
            d->failed[which] = 1;
    }
    return d->op[which];
}

static void run(dnnl_primitive_t prim, int nargs, const dnnl_exec_arg_t *args)
{
    DNNL_CHECK(dnnl_primitive_execute(prim, stream, nargs, args));
    DNNL_CHECK(dnnl_stream_wait(stream));
}

static void set(dnnl_memory_t m, const float *p) { DNNL_CHECK(dnnl_memory_set_data_handle(m, (void *)p)); }

int dlt__conv_dnnl_forward(dlt__conv_dnnl *d, const float *x, const float *w, const float *b,
                           float *y)
{
    dnnl_primitive_t prim = get(d, OP_FWD);
    if (!prim)
        return -1;
    set(d->mx, x), set(d->mw, w), set(d->my, y);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, d->mx}, {DNNL_ARG_WEIGHTS, d->mw},
                               {DNNL_ARG_DST, d->my}, {DNNL_ARG_BIAS, d->mb}};
    if (b)
        set(d->mb, b);
    run(prim, b ? 4 : 3, args);
    return 0;
}

int dlt__conv_dnnl_backward_data(dlt__conv_dnnl *d, const float *dy, const float *w, float *dx)
{
    dnnl_primitive_t prim = get(d, OP_BWD_DATA);
    if (!prim)
        return -1;
    set(d->my, dy), set(d->mw, w), set(d->mx, dx);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, d->my}, {DNNL_ARG_WEIGHTS, d->mw},
                               {DNNL_ARG_DIFF_SRC, d->mx}};
    run(prim, 3, args);
    return 0;
}

int dlt__conv_dnnl_backward_weights(dlt__conv_dnnl *d, const float *x, const float *dy,
                                    float *dw, float *db)
{
    dnnl_primitive_t prim = get(d, OP_BWD_WEIGHTS);
    if (!prim)
        return -1;
    set(d->mxw, x), set(d->myw, dy), set(d->mw, dw);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, d->mxw}, {DNNL_ARG_DIFF_DST, d->myw},
                               {DNNL_ARG_DIFF_WEIGHTS, d->mw}, {DNNL_ARG_DIFF_BIAS, d->mb}};
    if (db)
        set(d->mb, db);
    run(prim, db ? 4 : 3, args);
    return 0;
}

void dlt__conv_dnnl_destroy(dlt__conv_dnnl *d)
{
    if (!d)
        return;
    drop_primitives(d);
    dnnl_memory_t mems[] = {d->mx, d->mw, d->mb, d->my, d->mxw, d->myw};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        dnnl_memory_destroy(mems[i]);
    free(d);
}
