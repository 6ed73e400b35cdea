/* conv_dnnl.c - Convolution through oneDNN's C API: the primitives of one
 * layer's fixed shape, made on first use and kept. Each primitive works in
 * the layouts oneDNN prefers for it (blocked nChw16c and friends on AVX-512:
 * its direct JIT kernels, 3-13x faster than its GEMM kernels on plain NCHW
 * for the backward of cifar10_quick's layers); the layer's NCHW buffers are
 * reordered into and out of scratch buffers this module owns and every
 * layer shares (one primitive runs at a time). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

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
/* Scratch buffers: the primitive-layout copy of the first activation
 * argument (src or diff_dst), of the second (dst, diff_src or diff_dst),
 * of the weights (or their gradient) and of the bias (stays plain so far). */
enum { SCR_IN, SCR_OUT, SCR_WEI, SCR_BIAS, NSCRATCH };
#define MAX_ARGS 4

/* One argument of a primitive: the layer's plain buffer, and when the
 * primitive wants another layout, a copy in a scratch buffer with the
 * reorder that fills it (input) or empties it (output). */
typedef struct op_arg {
    int arg;                   /* DNNL_ARG_* */
    int output;
    dnnl_memory_t user;        /* plain layout; data handle set per call */
    dnnl_memory_t inner;       /* the primitive's layout, or NULL: use user */
    dnnl_primitive_t reorder;
    int scratch;               /* SCR_* holding inner */
    size_t bytes;
} op_arg;

typedef struct op {
    dnnl_primitive_t prim;
    int nargs;
    op_arg a[MAX_ARGS];
} op;

struct dlt__conv_dnnl {
    conv_config cfg;
    int n, wchunk;
    int nthr;                        /* OpenMP threads the primitives were made for */
    int plain;                       /* NCHW/OIHW throughout: no reorders (wants_plain) */
    int failed[NOPS];                /* no implementation for this shape */
    int relu;                        /* the forward applies ReLU (a post-op) */
    dnnl_alg_kind_t alg;             /* the forward's algorithm: winograd or direct */
    dnnl_primitive_desc_t fwd_pd;    /* also the hint for the backward ones */
    op op[NOPS];
    dnnl_memory_desc_t x, xw, w, b, y, yw; /* plain; xw, yw: WCHUNK samples */
};

/* Owned by this module: one engine and stream for the process, and the
 * scratch buffers (grown to the largest need, freed with the last layer). */
static dnnl_engine_t engine;
static dnnl_stream_t stream;
static void *scratch[NSCRATCH];
static size_t scratch_size[NSCRATCH];
static int live_layers;

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

static void *scratch_get(int which, size_t bytes)
{
    if (bytes > scratch_size[which]) {
        free(scratch[which]);
        size_t rounded = (bytes + 4095) & ~(size_t)4095;
        scratch[which] = dlt_aligned_alloc(64, rounded);
        scratch_size[which] = rounded;
    }
    return scratch[which];
}

static void plain_md(dnnl_memory_desc_t *md, int nd, const dnnl_dims_t dims, dnnl_format_tag_t tag)
{
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(md, nd, dims, dnnl_f32, tag));
}

/* The layouts the primitive picks (format_tag_any), or with PLAIN the
 * layer's own NCHW/OIHW (oneDNN runs its GEMM kernels on them then). */
static void layout_md(dnnl_memory_desc_t *md, const dnnl_memory_desc_t *plain, int use_plain)
{
    if (use_plain) {
        *md = *plain;
        return;
    }
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(md, plain->ndims, plain->dims, dnnl_f32,
                                            dnnl_format_tag_any));
}

/* Whether a layer runs on plain layouts: a 1x1, stride-1, unpadded
 * convolution is one sgemm per sample on NCHW (no im2col), and then the
 * reorders into and out of the blocked layouts cost more than the direct
 * kernel saves where the planes are large, or where the layer widens the
 * channels. Measured per layer on ResNet-50 b8 (EPYC Zen 3, AVX2, 1
 * thread, CPU time, forward+backward): 28x28 and larger 18-41% faster
 * plain, 14x14 widening (256 -> 1024) 13-19% faster, 14x14 narrowing and
 * 7x7 8-50% slower; 3x3 and 7x7 kernels 20-54% slower plain. DLT_DNNL_LAYOUT
 * = blocked or plain overrides the rule (for measuring). */
static int wants_plain(const conv_config *c)
{
    static int forced = -1;
    if (forced == -1) {
        const char *e = getenv("DLT_DNNL_LAYOUT");
        forced = e && !strcmp(e, "plain") ? 1 : e && !strcmp(e, "blocked") ? 0 : -2;
    }
    if (forced >= 0)
        return forced;
    const dlt__conv_geom *g = &c->g;
    if (g->kh != 1 || g->kw != 1 || g->sh != 1 || g->sw != 1 || g->ph || g->pw || c->group != 1)
        return 0;
    const long plane = (long)g->ho * g->wo;
    return plane >= 28 * 28 || (plane >= 14 * 14 && c->num_output > g->c);
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
    d->plain = wants_plain(c);
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
    live_layers++;
    return d;
}

int dlt__conv_dnnl_is_plain(const dlt__conv_dnnl *d) { return d->plain; }

static void drop_op(op *o)
{
    for (int i = 0; i < o->nargs; i++) {
        op_arg *a = &o->a[i];
        if (a->reorder)
            dnnl_primitive_destroy(a->reorder);
        if (a->inner)
            dnnl_memory_destroy(a->inner);
        dnnl_memory_destroy(a->user);
    }
    if (o->prim)
        dnnl_primitive_destroy(o->prim);
    *o = (op){0};
}

static void drop_primitives(dlt__conv_dnnl *d)
{
    for (int i = 0; i < NOPS; i++)
        drop_op(&d->op[i]);
    if (d->fwd_pd)
        dnnl_primitive_desc_destroy(d->fwd_pd);
    d->fwd_pd = NULL;
}

void dlt__conv_dnnl_fuse_relu(dlt__conv_dnnl *d)
{
    if (d->relu)
        return;
    drop_primitives(d); /* the forward is made again with the post-op */
    d->relu = 1;
}

/* Caffe's output size rounds down: oneDNN accepts the same left and right
 * padding then (its size check divides by the stride the same way). */
static void window(const dlt__conv_geom *g, dnnl_dims_t stride, dnnl_dims_t dil, dnnl_dims_t pad)
{
    stride[0] = g->sh, stride[1] = g->sw;
    dil[0] = (g->dh > 1 ? g->dh : 1) - 1, dil[1] = (g->dw > 1 ? g->dw : 1) - 1; /* 0: dense */
    pad[0] = g->ph, pad[1] = g->pw;
}

/* Primitive descriptor from an op descriptor (ATTR: NULL or post-ops), or
 * NULL where oneDNN has no implementation for it (the caller falls back). */
static dnnl_primitive_desc_t make_pd(const void *desc, const_dnnl_primitive_attr_t attr,
                                     const_dnnl_primitive_desc_t hint)
{
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_primitive_desc_create(&pd, desc, attr, engine, hint);
    if (st == dnnl_unimplemented || st == dnnl_invalid_arguments)
        return NULL;
    DNNL_CHECK(st);
    return pd;
}

/* Argument ARG of the primitive made from PD: the plain layout USER, and a
 * reorder through scratch buffer SCR when PD wants another layout (QUERY). */
static void add_arg(op *o, const_dnnl_primitive_desc_t pd, int arg, dnnl_query_t query,
                    int index, const dnnl_memory_desc_t *user, int output, int scr)
{
    op_arg *a = &o->a[o->nargs++];
    a->arg = arg;
    a->output = output;
    a->scratch = scr;
    a->user = make_memory(user);
    const dnnl_memory_desc_t *inner = dnnl_primitive_desc_query_md(pd, query, index);
    if (dnnl_memory_desc_equal(inner, user))
        return;
    a->inner = make_memory(inner);
    a->bytes = dnnl_memory_desc_get_size(inner);
    dnnl_primitive_desc_t rpd;
    DNNL_CHECK(output ? dnnl_reorder_primitive_desc_create(&rpd, inner, engine, user, engine, NULL)
                      : dnnl_reorder_primitive_desc_create(&rpd, user, engine, inner, engine, NULL));
    DNNL_CHECK(dnnl_primitive_create(&a->reorder, rpd));
    dnnl_primitive_desc_destroy(rpd);
}

/* Winograd F(4x4, 3x3) for 3x3, stride-1, undilated, ungrouped layers
 * where oneDNN has it (its AVX-512 kernels: forward, backward data and
 * weights): 4x fewer multiplies in the transformed domain, ResNet-50
 * training 8-9% faster (bench/README.md), at a rounding error a few times
 * the direct algorithm's (a 64-channel 28x28 layer: 5e-5 of the largest
 * value against 1e-5; tests/layers/test_conv bounds both at 1e-4). Elsewhere,
 * or with DLT_CONV_ALG=direct, the direct algorithm. */
static int wants_winograd(const dlt__conv_dnnl *d)
{
    static int off = -1;
    if (off == -1) {
        const char *e = getenv("DLT_CONV_ALG");
        off = e && !strcmp(e, "direct");
    }
    const dlt__conv_geom *g = &d->cfg.g;
    return !off && g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->dh <= 1 &&
           g->dw <= 1 && d->cfg.group == 1;
}

static int make_forward(dlt__conv_dnnl *d)
{
    dnnl_dims_t s, dl, p;
    window(&d->cfg.g, s, dl, p);
    dnnl_memory_desc_t x, w, y;
    layout_md(&x, &d->x, d->plain), layout_md(&w, &d->w, d->plain), layout_md(&y, &d->y, d->plain);
    dnnl_convolution_desc_t desc;
    d->alg = wants_winograd(d) ? dnnl_convolution_winograd : dnnl_convolution_direct;
    if (dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_training,
            d->alg, &x, &w, d->cfg.bias_term ? &d->b : NULL, &y,
            s, dl, p, p) != dnnl_success)
        return -1;
    dnnl_primitive_attr_t attr = NULL;
    if (d->relu) {
        /* max(x, 0) as the ReLU layer computes it (ReLU's own forward is
         * skipped: net.c plan_fusions); eltwise_relu with alpha 0 is a
         * vmaxps against zero in the JIT kernels: NaN and -0 give +0, as
         * tests/layers/test_conv checks */
        dnnl_post_ops_t po;
        DNNL_CHECK(dnnl_primitive_attr_create(&attr));
        DNNL_CHECK(dnnl_post_ops_create(&po));
        DNNL_CHECK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
        DNNL_CHECK(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_post_ops_destroy(po);
    }
    d->fwd_pd = make_pd(&desc, attr, NULL);
    if (!d->fwd_pd && d->alg == dnnl_convolution_winograd) { /* none for this ISA or shape */
        d->alg = desc.alg_kind = dnnl_convolution_direct;
        d->fwd_pd = make_pd(&desc, attr, NULL);
    }
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (!d->fwd_pd)
        return -1;
    op *o = &d->op[OP_FWD];
    DNNL_CHECK(dnnl_primitive_create(&o->prim, d->fwd_pd));
    add_arg(o, d->fwd_pd, DNNL_ARG_SRC, dnnl_query_src_md, 0, &d->x, 0, SCR_IN);
    add_arg(o, d->fwd_pd, DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, &d->w, 0, SCR_WEI);
    add_arg(o, d->fwd_pd, DNNL_ARG_DST, dnnl_query_dst_md, 0, &d->y, 1, SCR_OUT);
    if (d->cfg.bias_term)
        add_arg(o, d->fwd_pd, DNNL_ARG_BIAS, dnnl_query_weights_md, 1, &d->b, 0, SCR_BIAS);
    return 0;
}

static int make_backward(dlt__conv_dnnl *d, int which)
{
    if (!d->fwd_pd && make_forward(d) < 0)
        return -1;
    dnnl_dims_t s, dl, p;
    window(&d->cfg.g, s, dl, p);
    const int data = which == OP_BWD_DATA;
    dnnl_memory_desc_t x, w, y;
    layout_md(&x, data ? &d->x : &d->xw, d->plain), layout_md(&w, &d->w, d->plain);
    layout_md(&y, data ? &d->y : &d->yw, d->plain);
    dnnl_convolution_desc_t desc;
    dnnl_status_t st = data
        ? dnnl_dilated_convolution_backward_data_desc_init(&desc, d->alg,
              &x, &w, &y, s, dl, p, p)
        : dnnl_dilated_convolution_backward_weights_desc_init(&desc, d->alg,
              &x, &w, NULL, &y, s, dl, p, p); /* bias gradient: conv.c, in double */
    if (st != dnnl_success)
        return -1;
    dnnl_primitive_desc_t pd = make_pd(&desc, NULL, d->fwd_pd);
    if (!pd && d->alg == dnnl_convolution_winograd) { /* the forward's algorithm, else direct */
        desc.alg_kind = dnnl_convolution_direct;
        pd = make_pd(&desc, NULL, d->fwd_pd);
    }
    if (!pd)
        return -1;
    op *o = &d->op[which];
    DNNL_CHECK(dnnl_primitive_create(&o->prim, pd));
    if (data) {
        /* diff_dst in SCR_OUT, where backward weights keeps it too (run_backward) */
        add_arg(o, pd, DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0, &d->y, 0, SCR_OUT);
        add_arg(o, pd, DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, &d->w, 0, SCR_WEI);
        add_arg(o, pd, DNNL_ARG_DIFF_SRC, dnnl_query_diff_src_md, 0, &d->x, 1, SCR_IN);
    } else {
        add_arg(o, pd, DNNL_ARG_SRC, dnnl_query_src_md, 0, &d->xw, 0, SCR_IN);
        add_arg(o, pd, DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0, &d->yw, 0, SCR_OUT);
        add_arg(o, pd, DNNL_ARG_DIFF_WEIGHTS, dnnl_query_diff_weights_md, 0, &d->w, 1, SCR_WEI);
    }
    dnnl_primitive_desc_destroy(pd);
    return 0;
}

/* Operation WHICH, made now if missing or made for another thread count;
 * NULL when oneDNN has no implementation for this shape. */
static op *get(dlt__conv_dnnl *d, int which)
{
    int nthr = omp_get_max_threads();
    if (nthr != d->nthr) {
        drop_primitives(d);
        d->nthr = nthr;
    }
    op *o = &d->op[which];
    if (!o->prim && !d->failed[which]) {
        int st = which == OP_FWD ? (d->fwd_pd ? -1 : make_forward(d)) : make_backward(d, which);
        if (st < 0 || !o->prim)
            d->failed[which] = 1;
    }
    return o->prim ? o : NULL;
}

static const_dnnl_primitive_desc_t prim_pd(const_dnnl_primitive_t p)
{
    const_dnnl_primitive_desc_t pd;
    DNNL_CHECK(dnnl_primitive_get_primitive_desc(p, &pd));
    return pd;
}

static void wait_for(void) { DNNL_CHECK(dnnl_stream_wait(stream)); }

static void reorder(op_arg *a)
{
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, a->output ? a->inner : a->user},
                               {DNNL_ARG_TO, a->output ? a->user : a->inner}};
    DNNL_CHECK(dnnl_primitive_execute(a->reorder, stream, 2, args));
}

/* Runs O on the plain buffers PTR[i] (one per argument, in the order they
 * were added; NULL leaves an optional last argument out): inputs reordered
 * in, the primitive, outputs reordered out. */
static void run_reusing(op *o, float *const *ptr, int reuse)
{
    dnnl_exec_arg_t args[MAX_ARGS];
    int nargs = 0;
    for (int i = 0; i < o->nargs; i++) {
        op_arg *a = &o->a[i];
        if (!ptr[i])
            continue;
        DNNL_CHECK(dnnl_memory_set_data_handle(a->user, ptr[i]));
        if (a->inner) {
            DNNL_CHECK(dnnl_memory_set_data_handle(a->inner, scratch_get(a->scratch, a->bytes)));
            if (!a->output && i != reuse)
                reorder(a);
        }
        args[nargs++] = (dnnl_exec_arg_t){a->arg, a->inner ? a->inner : a->user};
    }
    DNNL_CHECK(dnnl_primitive_execute(o->prim, stream, nargs, args));
    for (int i = 0; i < o->nargs; i++)
        if (ptr[i] && o->a[i].inner && o->a[i].output)
            reorder(&o->a[i]);
    wait_for();
}

static void run(op *o, float *const *ptr) { run_reusing(o, ptr, -1); }

int dlt__conv_dnnl_backward(dlt__conv_dnnl *d, const float *x, const float *dy, const float *w,
                            float *dw, float *dx)
{
    if (d->wchunk != d->n || !dx)
        return -1;
    op *od = get(d, OP_BWD_DATA), *ow = get(d, OP_BWD_WEIGHTS);
    if (!od || !ow)
        return -1;
    float *pd[MAX_ARGS] = {(float *)dy, (float *)w, dx, NULL};
    run(od, pd);
    /* Argument 1 of backward weights is diff_dst: the same layout already in SCR_OUT? */
    const op_arg *ad = &od->a[0], *aw = &ow->a[1];
    const int same = ad->inner && aw->inner && ad->scratch == aw->scratch &&
                     dnnl_memory_desc_equal(dnnl_primitive_desc_query_md(
                                                prim_pd(od->prim), dnnl_query_diff_dst_md, 0),
                                            dnnl_primitive_desc_query_md(
                                                prim_pd(ow->prim), dnnl_query_diff_dst_md, 0));
    float *pw[MAX_ARGS] = {(float *)x, (float *)dy, dw, NULL};
    run_reusing(ow, pw, same ? 1 : -1);
    return 0;
}

int dlt__conv_dnnl_forward(dlt__conv_dnnl *d, const float *x, const float *w, const float *b,
                           float *y)
{
    op *o = get(d, OP_FWD);
    if (!o)
        return -1;
    float *ptr[MAX_ARGS] = {(float *)x, (float *)w, y, (float *)b};
    run(o, ptr);
    return 0;
}

int dlt__conv_dnnl_backward_data(dlt__conv_dnnl *d, const float *dy, const float *w, float *dx)
{
    op *o = get(d, OP_BWD_DATA);
    if (!o)
        return -1;
    float *ptr[MAX_ARGS] = {(float *)dy, (float *)w, dx, NULL};
    run(o, ptr);
    return 0;
}

int dlt__conv_dnnl_backward_weights(dlt__conv_dnnl *d, const float *x, const float *dy,
                                    float *dw)
{
    op *o = get(d, OP_BWD_WEIGHTS);
    if (!o)
        return -1;
    float *ptr[MAX_ARGS] = {(float *)x, (float *)dy, dw, NULL};
    run(o, ptr);
    return 0;
}

void dlt__conv_dnnl_destroy(dlt__conv_dnnl *d)
{
    if (!d)
        return;
    drop_primitives(d);
    free(d);
    if (--live_layers == 0)
        for (int i = 0; i < NSCRATCH; i++) {
            free(scratch[i]);
            scratch[i] = NULL;
            scratch_size[i] = 0;
        }
}
