/* onnx.c - model.onnx (ONNX opset 13) from a TEST net: one writer per
 * layer type in a table; each emits nodes that compute what the dltrain
 * layer computes, Caffe's rules included (pooling's rounded-up output
 * size, AVE pooling's divisor, LRN's alpha / size, BatchNorm's stored
 * scale factor). The protobuf messages are protoc-c's from proto/onnx.proto;
 * every allocation goes on one list, freed when the file is written. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dltrain/error.h"
#include "dltrain/export.h"
#include "dltrain/layer.h"
#include "export/deploy.h"
#include "proto/onnx.pb-c.h"

#define ONNX_OPSET 13
#define ONNX_IR_VERSION 7 /* the IR of opset 13's release */

/* A blob of the prototxt as an ONNX value: in-place layers give one blob
 * name several values, and ONNX names each value once. */
typedef struct value {
    const char *blob;
    const char *name;
    int rank;          /* 4 (N, C, H, W) or 2 (N, K) after InnerProduct and Flatten */
} value;

typedef struct ox {
    void **owned;      /* everything allocated for the model */
    size_t nowned;
    Onnx__NodeProto **nodes;
    size_t nnodes;
    Onnx__TensorProto **inits;
    size_t ninits;
    value *values;
    int nvalues;
    const char **names; /* every value and initializer name used */
    int nnames;
    const char **node_names; /* node names (their own namespace) */
    int nnode_names;
    dlt_net *net;
    int layer;         /* index of the layer being written */
} ox;

static void *own(ox *o, void *p)
{
    o->owned = dlt_realloc(o->owned, (o->nowned + 1) * sizeof *o->owned);
    o->owned[o->nowned++] = p;
    return p;
}
static void *ox_alloc(ox *o, size_t n) { return own(o, dlt_calloc(1, n ? n : 1)); }

static char *ox_printf(ox *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *ox_printf(ox *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = ox_alloc(o, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static int name_used(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return 1;
    return 0;
}

/* BASE, or BASE_2, BASE_3 ... : a name not yet in *NAMES, added to it. */
static const char *unique_in(ox *o, const char ***names, int *n, const char *base)
{
    const char *s = ox_printf(o, "%s", base);
    for (int k = 2; name_used(*names, *n, s); k++)
        s = ox_printf(o, "%s_%d", base, k);
    *names = dlt_realloc(*names, (size_t)(*n + 1) * sizeof **names);
    (*names)[(*n)++] = s;
    return s;
}

/* A value or initializer name not used yet. */
static const char *unique(ox *o, const char *base) { return unique_in(o, &o->names, &o->nnames, base); }

static const value *lookup(const ox *o, const char *blob)
{
    for (int i = o->nvalues - 1; i >= 0; i--)
        if (strcmp(o->values[i].blob, blob) == 0)
            return &o->values[i];
    return NULL;
}

/* Bind BLOB to the ONNX value NAME from here on. */
static void bind(ox *o, const char *blob, const char *name, int rank)
{
    o->values = dlt_realloc(o->values, (o->nvalues + 1) * sizeof *o->values);
    o->values[o->nvalues++] = (value){blob, name, rank};
}

/* A fresh value for BLOB (its own name the first time, else made unique). */
static const char *define(ox *o, const char *blob, int rank)
{
    const char *name = unique(o, blob);
    bind(o, blob, name, rank);
    return name;
}

static Onnx__NodeProto *node(ox *o, const char *op, const char *name, int nin,
                             const char *const *in, const char *out)
{
    Onnx__NodeProto *n = ox_alloc(o, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = ox_printf(o, "%s", op);
    n->name = (char *)unique_in(o, &o->node_names, &o->nnode_names, name);
    n->n_input = (size_t)nin;
    n->input = ox_alloc(o, (size_t)nin * sizeof(char *));
    for (int i = 0; i < nin; i++)
        n->input[i] = (char *)in[i];
    n->n_output = 1;
    n->output = ox_alloc(o, sizeof(char *));
    n->output[0] = (char *)out;
    o->nodes = dlt_realloc(o->nodes, (o->nnodes + 1) * sizeof *o->nodes);
    o->nodes[o->nnodes++] = n;
    return n;
}

static Onnx__AttributeProto *attr(ox *o, Onnx__NodeProto *n, const char *name,
                                  Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *a = ox_alloc(o, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = ox_printf(o, "%s", name);
    a->has_type = 1, a->type = type;
    Onnx__AttributeProto **v = ox_alloc(o, (n->n_attribute + 1) * sizeof *v);
    if (n->n_attribute)
        memcpy(v, n->attribute, n->n_attribute * sizeof *v);
    v[n->n_attribute++] = a;
    n->attribute = v;
    return a;
}

static void attr_int(ox *o, Onnx__NodeProto *n, const char *name, int64_t i)
{
    Onnx__AttributeProto *a = attr(o, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1, a->i = i;
}

static void attr_float(ox *o, Onnx__NodeProto *n, const char *name, float f)
{
    Onnx__AttributeProto *a = attr(o, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1, a->f = f;
}

static void attr_ints(ox *o, Onnx__NodeProto *n, const char *name, int k, ...)
{
    Onnx__AttributeProto *a = attr(o, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = (size_t)k;
    a->ints = ox_alloc(o, (size_t)k * sizeof *a->ints);
    va_list ap;
    va_start(ap, k);
    for (int i = 0; i < k; i++)
        a->ints[i] = va_arg(ap, int);
    va_end(ap);
}

/* An initializer NAME of DIMS holding DATA (not copied: the net's parameters
 * or a buffer of the model's list), little-endian floats in raw_data. */
static const char *initializer(ox *o, const char *name, const float *data, int ndims, ...)
{
    Onnx__TensorProto *t = ox_alloc(o, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = (char *)unique(o, name);
    t->has_data_type = 1, t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->n_dims = (size_t)ndims;
    t->dims = ox_alloc(o, (size_t)ndims * sizeof *t->dims);
    size_t count = 1;
    va_list ap;
    va_start(ap, ndims);
    for (int i = 0; i < ndims; i++)
        count *= (size_t)(t->dims[i] = va_arg(ap, int));
    va_end(ap);
    t->has_raw_data = 1;
    t->raw_data.len = count * sizeof(float);
    t->raw_data.data = (uint8_t *)data;
    o->inits = dlt_realloc(o->inits, (o->ninits + 1) * sizeof *o->inits);
    o->inits[o->ninits++] = t;
    return t->name;
}

static const char *scalar(ox *o, const char *name, float v)
{
    float *p = ox_alloc(o, sizeof *p);
    *p = v;
    return initializer(o, name, p, 0);
}

/* ---- the writers: one per layer type ---- */

typedef struct lctx {
    const dlt_layer *l;
    dlt_layer_desc d;
    const char *name;          /* layer name */
    /* Copies, not pointers into o->values: define() and bind() grow
     * that array while a writer still reads its inputs. */
    value in[DLT_MAX_BLOBS];
    const char *top;           /* top 0's blob name */
} lctx;

static int refuse(const lctx *c, const char *why)
{
    DLT_FAIL(DLT_ERR_FORMAT, "layer '%s' (%s): %s; ONNX export cannot express it", c->name,
             c->l->ops->type, why);
}

static int w_conv(ox *o, lctx *c)
{
    const dlt_layer *l = c->l;
    const dlt_layer_desc *d = &c->d;
    const dlt_tensor *w = &l->param[0];
    const char *in[3] = {c->in[0].name,
                         initializer(o, ox_printf(o, "%s/weight", c->name), w->data, 4, w->n,
                                     w->c, w->h, w->w),
                         NULL};
    if (d->bias_term)
        in[2] = initializer(o, ox_printf(o, "%s/bias", c->name), l->param[1].data, 1,
                            d->num_output);
    Onnx__NodeProto *n = node(o, "Conv", c->name, d->bias_term ? 3 : 2, in, define(o, c->top, 4));
    attr_ints(o, n, "kernel_shape", 2, d->kh, d->kw);
    attr_ints(o, n, "strides", 2, d->sh, d->sw);
    attr_ints(o, n, "pads", 4, d->ph, d->pw, d->ph, d->pw);
    attr_ints(o, n, "dilations", 2, d->dh, d->dw);
    attr_int(o, n, "group", d->group);
    return 0;
}

/* The end padding that gives ONNX's floor rounding Caffe's output size OUT
 * (pooling_layer.cpp: rounded up, less a last window that would start in
 * the padding), so no ceil_mode is needed: windows start at o*s - p, the
 * last one ends at in + end. */
static int pool_end_pad(const lctx *c, int in, int k, int s, int p, int out, int *end)
{
    int e = (out - 1) * s + k - in - p;
    *end = e > 0 ? e : 0;
    if ((in + p + *end - k) / s + 1 != out || *end >= k)
        return refuse(c, "its last window lies wholly outside the image");
    return 0;
}

/* Caffe's AVE divisor counts the window clipped to the padded image (in +
 * p at the end), ONNX's count_include_pad=0 the part inside the image:
 * their ratio per output position scales the ONNX average to Caffe's. */
static float *ave_ratio(ox *o, const dlt_layer_desc *d, int H, int W, int *ones)
{
    float *r = ox_alloc(o, (size_t)d->ho * d->wo * sizeof *r);
    *ones = 1;
    for (int y = 0; y < d->ho; y++)
        for (int x = 0; x < d->wo; x++) {
            int h0 = y * d->sh - d->ph, w0 = x * d->sw - d->pw;
            int h1 = h0 + d->kh < H + d->ph ? h0 + d->kh : H + d->ph;
            int w1 = w0 + d->kw < W + d->pw ? w0 + d->kw : W + d->pw;
            int caffe = (h1 - h0) * (w1 - w0);
            int hi = (h1 < H ? h1 : H) - (h0 > 0 ? h0 : 0);
            int wi = (w1 < W ? w1 : W) - (w0 > 0 ? w0 : 0);
            r[y * d->wo + x] = (float)(hi * wi) / (float)caffe;
            *ones &= hi * wi == caffe;
        }
    return r;
}

static int w_pool(ox *o, lctx *c)
{
    const dlt_layer_desc *d = &c->d;
    const dlt_tensor *x = c->l->bottom[0];
    int eh, ew;
    DLT_TRY(pool_end_pad(c, x->h, d->kh, d->sh, d->ph, d->ho, &eh));
    DLT_TRY(pool_end_pad(c, x->w, d->kw, d->sw, d->pw, d->wo, &ew));
    int ones = 1;
    float *ratio = d->pool_ave ? ave_ratio(o, d, x->h, x->w, &ones) : NULL;
    const char *out = ones ? define(o, c->top, 4) : unique(o, ox_printf(o, "%s/avg", c->name));
    Onnx__NodeProto *n = node(o, d->pool_ave ? "AveragePool" : "MaxPool", c->name, 1,
                              &c->in[0].name, out);
    attr_ints(o, n, "kernel_shape", 2, d->kh, d->kw);
    attr_ints(o, n, "strides", 2, d->sh, d->sw);
    attr_ints(o, n, "pads", 4, d->ph, d->pw, eh, ew);
    if (d->pool_ave)
        attr_int(o, n, "count_include_pad", 0);
    if (!ones) {
        const char *in[2] = {out, initializer(o, ox_printf(o, "%s/divisor", c->name), ratio, 4,
                                              1, 1, d->ho, d->wo)};
        node(o, "Mul", ox_printf(o, "%s/divisor", c->name), 2, in, define(o, c->top, 4));
    }
    return 0;
}

static int w_ip(ox *o, lctx *c)
{
    const dlt_layer_desc *d = &c->d;
    const dlt_tensor *w = &c->l->param[0];
    if (d->axis != 1)
        return refuse(c, "inner_product_param axis other than 1");
    const char *x = c->in[0].name;
    if (c->in[0].rank != 2) {
        const char *flat = unique(o, ox_printf(o, "%s/flatten", c->name));
        Onnx__NodeProto *n = node(o, "Flatten", flat, 1, &x, flat);
        attr_int(o, n, "axis", 1);
        x = flat;
    }
    int D = (int)(w->count / (size_t)d->num_output);
    const char *in[3] = {x, d->transpose
                                ? initializer(o, ox_printf(o, "%s/weight", c->name), w->data, 2, D,
                                              d->num_output)
                                : initializer(o, ox_printf(o, "%s/weight", c->name), w->data, 2,
                                              d->num_output, D),
                         NULL};
    if (d->bias_term)
        in[2] = initializer(o, ox_printf(o, "%s/bias", c->name), c->l->param[1].data, 1,
                            d->num_output);
    Onnx__NodeProto *n = node(o, "Gemm", c->name, d->bias_term ? 3 : 2, in, define(o, c->top, 2));
    attr_int(o, n, "transB", !d->transpose);
    return 0;
}

static int w_relu(ox *o, lctx *c)
{
    Onnx__NodeProto *n = node(o, c->d.negative_slope != 0 ? "LeakyRelu" : "Relu", c->name, 1,
                              &c->in[0].name, define(o, c->top, c->in[0].rank));
    if (c->d.negative_slope != 0)
        attr_float(o, n, "alpha", c->d.negative_slope);
    return 0;
}

static int w_unary(ox *o, lctx *c, const char *op)
{
    node(o, op, c->name, 1, &c->in[0].name, define(o, c->top, c->in[0].rank));
    return 0;
}
static int w_sigmoid(ox *o, lctx *c) { return w_unary(o, c, "Sigmoid"); }
static int w_tanh(ox *o, lctx *c) { return w_unary(o, c, "Tanh"); }

static int w_flatten(ox *o, lctx *c)
{
    Onnx__NodeProto *n = node(o, "Flatten", c->name, 1, &c->in[0].name, define(o, c->top, 2));
    attr_int(o, n, "axis", 1);
    return 0;
}

/* ACROSS: ONNX's LRN is Caffe's (bias k, alpha / size over the window of
 * channels). WITHIN (Caffe's LRNLayer builds it the same way): x / (1 +
 * alpha * avg_{size x size}(x^2))^beta, the average over the padded window. */
static int w_lrn(ox *o, lctx *c)
{
    const dlt_layer_desc *d = &c->d;
    const char *x = c->in[0].name;
    if (c->in[0].rank != 4)
        return refuse(c, "LRN on a 2-D blob");
    if (!d->lrn_within) {
        Onnx__NodeProto *n = node(o, "LRN", c->name, 1, &x, define(o, c->top, 4));
        attr_int(o, n, "size", d->lrn_size);
        attr_float(o, n, "alpha", d->lrn_alpha);
        attr_float(o, n, "beta", d->lrn_beta);
        attr_float(o, n, "bias", d->lrn_k);
        return 0;
    }
    const int pad = (d->lrn_size - 1) / 2;
    const char *sq = unique(o, ox_printf(o, "%s/square", c->name));
    const char *in2[2] = {x, x};
    node(o, "Mul", sq, 2, in2, sq);
    const char *avg = unique(o, ox_printf(o, "%s/average", c->name));
    Onnx__NodeProto *n = node(o, "AveragePool", avg, 1, &sq, avg);
    attr_ints(o, n, "kernel_shape", 2, d->lrn_size, d->lrn_size);
    attr_ints(o, n, "strides", 2, 1, 1);
    attr_ints(o, n, "pads", 4, pad, pad, pad, pad);
    attr_int(o, n, "count_include_pad", 1);
    const char *sc = unique(o, ox_printf(o, "%s/scaled", c->name));
    const char *in_a[2] = {avg, scalar(o, ox_printf(o, "%s/alpha", c->name), d->lrn_alpha)};
    node(o, "Mul", sc, 2, in_a, sc);
    const char *den = unique(o, ox_printf(o, "%s/denominator", c->name));
    const char *in_k[2] = {sc, scalar(o, ox_printf(o, "%s/one", c->name), 1.0f)};
    node(o, "Add", den, 2, in_k, den);
    const char *pw = unique(o, ox_printf(o, "%s/power", c->name));
    const char *in_b[2] = {den, scalar(o, ox_printf(o, "%s/minus_beta", c->name), -d->lrn_beta)};
    node(o, "Pow", pw, 2, in_b, pw);
    const char *in_y[2] = {x, pw};
    node(o, "Mul", c->name, 2, in_y, define(o, c->top, 4));
    return 0;
}

/* Caffe's BatchNorm stores sums and their factor: mean = blob0 / factor,
 * var = blob1 / factor (factor 0 reads as 0, as Caffe). A Scale right
 * after it on its output becomes ONNX BatchNormalization's scale and B. */
static int w_batchnorm(ox *o, lctx *c, const dlt_layer *scale, const char *top)
{
    const dlt_layer *l = c->l;
    const int C = l->bottom[0]->c;
    const float f = l->param[2].data[0] == 0 ? 0 : 1 / l->param[2].data[0];
    float *stats = ox_alloc(o, 4 * (size_t)C * sizeof *stats);
    float *mean = stats, *var = stats + C, *gamma = stats + 2 * C, *beta = stats + 3 * C;
    dlt_layer_desc sd;
    if (scale)
        dlt_layer_describe(scale, &sd);
    for (int i = 0; i < C; i++) {
        mean[i] = l->param[0].data[i] * f;
        var[i] = l->param[1].data[i] * f;
        gamma[i] = scale ? scale->param[0].data[i] : 1;
        beta[i] = scale && sd.bias_term ? scale->param[1].data[i] : 0;
    }
    const char *in[5] = {c->in[0].name,
                         initializer(o, ox_printf(o, "%s/scale", c->name), gamma, 1, C),
                         initializer(o, ox_printf(o, "%s/bias", c->name), beta, 1, C),
                         initializer(o, ox_printf(o, "%s/mean", c->name), mean, 1, C),
                         initializer(o, ox_printf(o, "%s/var", c->name), var, 1, C)};
    Onnx__NodeProto *n = node(o, "BatchNormalization", c->name, 5, in,
                              define(o, top, c->in[0].rank));
    attr_float(o, n, "epsilon", c->d.eps);
    return 0;
}

static int w_bn(ox *o, lctx *c) { return w_batchnorm(o, c, NULL, c->top); }

/* A Scale not folded into a BatchNorm: x * gamma (+ beta), per channel. */
static int w_scale(ox *o, lctx *c)
{
    const dlt_layer *l = c->l;
    const int C = l->bottom[0]->c, r4 = c->in[0].rank == 4;
    const char *g = r4 ? initializer(o, ox_printf(o, "%s/scale", c->name), l->param[0].data, 3,
                                     C, 1, 1)
                       : initializer(o, ox_printf(o, "%s/scale", c->name), l->param[0].data, 1, C);
    const char *in[2] = {c->in[0].name, g};
    const char *mul = c->d.bias_term ? unique(o, ox_printf(o, "%s/scaled", c->name))
                                     : define(o, c->top, c->in[0].rank);
    node(o, "Mul", c->name, 2, in, mul);
    if (c->d.bias_term) {
        const char *b = r4 ? initializer(o, ox_printf(o, "%s/bias", c->name), l->param[1].data,
                                         3, C, 1, 1)
                           : initializer(o, ox_printf(o, "%s/bias", c->name), l->param[1].data,
                                         1, C);
        const char *in2[2] = {mul, b};
        node(o, "Add", ox_printf(o, "%s/bias", c->name), 2, in2, define(o, c->top, c->in[0].rank));
    }
    return 0;
}

static int w_concat(ox *o, lctx *c)
{
    const char *in[DLT_MAX_BLOBS];
    for (int i = 0; i < c->l->nbottom; i++)
        in[i] = c->in[i].name;
    if (c->d.axis >= c->in[0].rank)
        return refuse(c, "a concat axis past the blob's 2 axes");
    Onnx__NodeProto *n = node(o, "Concat", c->name, c->l->nbottom, in,
                              define(o, c->top, c->in[0].rank));
    attr_int(o, n, "axis", c->d.axis);
    return 0;
}

/* SUM with coefficients: each bottom times its coefficient, then Sum. */
static int w_eltwise(ox *o, lctx *c)
{
    const int nb = c->l->nbottom, rank = c->in[0].rank;
    const char *in[DLT_MAX_BLOBS];
    for (int i = 0; i < nb; i++) {
        in[i] = c->in[i].name;
        if (c->d.eltwise_op == DLT_ELTWISE_SUM && c->d.coeff[i] != 1) {
            const char *m = unique(o, ox_printf(o, "%s/coeff%d", c->name, i));
            const char *in2[2] = {in[i], scalar(o, ox_printf(o, "%s/c%d", c->name, i),
                                                c->d.coeff[i])};
            node(o, "Mul", m, 2, in2, m);
            in[i] = m;
        }
    }
    if (c->d.eltwise_op == DLT_ELTWISE_PROD) { /* Mul takes two inputs */
        const char *acc = in[0];
        for (int i = 1; i < nb; i++) {
            const char *in2[2] = {acc, in[i]};
            const char *out = i == nb - 1 ? define(o, c->top, rank)
                                          : unique(o, ox_printf(o, "%s/prod%d", c->name, i));
            node(o, "Mul", c->name, 2, in2, out);
            acc = out;
        }
        return 0;
    }
    node(o, c->d.eltwise_op == DLT_ELTWISE_SUM ? "Sum" : "Max", c->name, nb, in,
         define(o, c->top, rank));
    return 0;
}

static int w_softmax(ox *o, lctx *c)
{
    if (c->d.axis >= c->in[0].rank)
        return refuse(c, "a softmax axis past the blob's 2 axes");
    Onnx__NodeProto *n = node(o, "Softmax", c->name, 1, &c->in[0].name,
                              define(o, c->top, c->in[0].rank));
    attr_int(o, n, "axis", c->d.axis);
    return 0;
}

static const struct {
    const char *type;
    int (*write)(ox *o, lctx *c);
} writers[] = {
    {"Convolution", w_conv},   {"Pooling", w_pool},     {"InnerProduct", w_ip},
    {"ReLU", w_relu},          {"Sigmoid", w_sigmoid},  {"TanH", w_tanh},
    {"Flatten", w_flatten},    {"LRN", w_lrn},          {"BatchNorm", w_bn},
    {"Scale", w_scale},        {"Concat", w_concat},    {"Eltwise", w_eltwise},
    {"Softmax", w_softmax},
};

/* Layer I+1 is a Scale reading exactly what BatchNorm I wrote, and nothing
 * else reads that before it is written again: fold the Scale in. */
static const dlt_layer *folded_scale(const dlt_net *net, const dlt__deploy *p, int i)
{
    if (i + 1 >= p->nlayers || p->role[i + 1] != DLT__DEPLOY_KEEP)
        return NULL;
    const dlt_layer *s = dlt_net_layer(net, i + 1);
    const char *bn_top = dlt__deploy_blob(net, i, "top", 0);
    if (strcmp(s->ops->type, "Scale") != 0 ||
        strcmp(dlt__deploy_blob(net, i + 1, "bottom", 0), bn_top) != 0)
        return NULL;
    if (strcmp(dlt__deploy_blob(net, i + 1, "top", 0), bn_top) == 0)
        return s; /* in place: the BatchNorm's value is gone */
    for (int j = i + 2; j < p->nlayers; j++) {
        if (p->role[j] == DLT__DEPLOY_DROP)
            continue;
        const dlt_layer *l = dlt_net_layer(net, j);
        for (int b = 0; b < l->nbottom; b++)
            if (strcmp(dlt__deploy_blob(net, j, "bottom", b), bn_top) == 0)
                return NULL;
        for (int t = 0; t < l->ntop; t++)
            if (strcmp(dlt__deploy_blob(net, j, "top", t), bn_top) == 0)
                return s;
    }
    return s;
}

static Onnx__ValueInfoProto *value_info(ox *o, const char *name, int rank, const int *dims)
{
    Onnx__ValueInfoProto *v = ox_alloc(o, sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = (char *)name;
    Onnx__TypeProto *t = ox_alloc(o, sizeof *t);
    onnx__type_proto__init(t);
    Onnx__TypeProto__Tensor *tt = ox_alloc(o, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1, tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    Onnx__TensorShapeProto *sh = ox_alloc(o, sizeof *sh);
    onnx__tensor_shape_proto__init(sh);
    sh->n_dim = (size_t)rank;
    sh->dim = ox_alloc(o, (size_t)rank * sizeof *sh->dim);
    for (int i = 0; i < rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = ox_alloc(o, sizeof *d);
        onnx__tensor_shape_proto__dimension__init(d);
        if (i == 0) { /* any batch size */
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = "batch";
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        }
        sh->dim[i] = d;
    }
    tt->shape = sh;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->type = t;
    return v;
}

static int write_layer(ox *o, const dlt__deploy *p, int i, int *skip_next)
{
    const dlt_layer *l = dlt_net_layer(o->net, i);
    lctx c = {.l = l, .name = l->name, .top = dlt__deploy_blob(o->net, i, "top", 0)};
    dlt_layer_describe(l, &c.d);
    if (p->role[i] == DLT__DEPLOY_PROB) { /* reads the scores only, not a loss's labels */
        const value *s = lookup(o, p->scores);
        if (!s)
            DLT_FAIL(DLT_ERR_INTERNAL, "layer '%s': scores '%s' have no ONNX value", l->name,
                     p->scores);
        Onnx__NodeProto *n = node(o, "Softmax", "prob", 1, &s->name, "prob");
        attr_int(o, n, "axis", p->prob_axis);
        bind(o, "prob", "prob", s->rank); /* the name reserved at the start */
        return 0;
    }
    for (int b = 0; b < l->nbottom; b++) {
        const char *blob = dlt__deploy_blob(o->net, i, "bottom", b);
        const value *v = lookup(o, blob);
        if (!v)
            DLT_FAIL(DLT_ERR_INTERNAL, "layer '%s': bottom '%s' has no ONNX value", l->name, blob);
        c.in[b] = *v;
    }
    if (p->role[i] == DLT__DEPLOY_IDENTITY) {
        bind(o, c.top, c.in[0].name, c.in[0].rank);
        return 0;
    }
    if (p->role[i] == DLT__DEPLOY_PROB) {
        const value *s = lookup(o, p->scores);
        Onnx__NodeProto *n = node(o, "Softmax", "prob", 1, &s->name, "prob");
        bind(o, "prob", "prob", s->rank); /* the name reserved at the start */
        attr_int(o, n, "axis", p->prob_axis);
        return 0;
    }
    if (strcmp(l->ops->type, "BatchNorm") == 0) {
        const dlt_layer *sc = folded_scale(o->net, p, i);
        if (sc) {
            *skip_next = 1;
            return w_batchnorm(o, &c, sc, dlt__deploy_blob(o->net, i + 1, "top", 0));
        }
    }
    if (l->ntop != 1)
        return refuse(&c, "a layer with several tops");
    for (size_t k = 0; k < sizeof writers / sizeof writers[0]; k++)
        if (strcmp(writers[k].type, l->ops->type) == 0)
            return writers[k].write(o, &c);
    return refuse(&c, "no ONNX operation for this layer type");
}

/* protobuf-c's output buffer, appending to a file. */
typedef struct file_buffer {
    ProtobufCBuffer base;
    FILE *f;
    int failed;
} file_buffer;

static void file_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    file_buffer *fb = (file_buffer *)b;
    if (!fb->failed && fwrite(data, 1, len, fb->f) != len)
        fb->failed = 1;
}

static int write_model(const Onnx__ModelProto *m, const char *outdir)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/model.onnx", outdir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
    file_buffer fb = {{file_append}, f, 0};
    protobuf_c_message_pack_to_buffer(&m->base, &fb.base);
    int bad = fb.failed | (fclose(f) != 0);
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        DLT_FAIL(DLT_ERR_IO, "error writing '%s': %s", path, strerror(errno));
    }
    return 0;
}

static int little_endian(void)
{
    const uint32_t one = 1;
    return *(const uint8_t *)&one == 1;
}

int dlt_export_onnx(dlt_net *net, const dlt_cfg *net_param, const char *outdir)
{
    if (!little_endian())
        DLT_FAIL(DLT_ERR_INTERNAL, "ONNX export writes the host's floats as raw_data, which ONNX "
                 "defines as little-endian; this host is big-endian");
    dlt__deploy plan;
    DLT_TRY(dlt__deploy_plan(net, net_param, &plan));
    ox o = {.net = net};
    const dlt_tensor *x = plan.input_t;
    const int in_dims[4] = {x->n, x->c, x->h, x->w};
    bind(&o, plan.input, unique(&o, plan.input), 4);
    unique(&o, "prob"); /* the output's name: a blob called prob gets another */
    int st = 0, skip = 0;
    for (int i = 0; i < plan.nlayers && st == 0; i++) {
        if (skip) {
            skip = 0;
            continue;
        }
        if (plan.role[i] != DLT__DEPLOY_DROP)
            st = write_layer(&o, &plan, i, &skip);
    }
    if (st == 0) {
        const value *prob = lookup(&o, "prob");
        const dlt_tensor *s = plan.scores_t;
        const int out_dims[4] = {s->n, s->c, s->h, s->w};
        Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
        g.name = (char *)(dlt_net_name(net)[0] ? dlt_net_name(net) : "dltrain");
        g.n_node = o.nnodes, g.node = o.nodes;
        g.n_initializer = o.ninits, g.initializer = o.inits;
        Onnx__ValueInfoProto *in = value_info(&o, plan.input, 4, in_dims);
        Onnx__ValueInfoProto *out = value_info(&o, prob->name, prob->rank, out_dims);
        g.n_input = 1, g.input = &in;
        g.n_output = 1, g.output = &out;
        Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
        opset.domain = "", opset.has_version = 1, opset.version = ONNX_OPSET;
        Onnx__OperatorSetIdProto *opsets[1] = {&opset};
        Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
        m.has_ir_version = 1, m.ir_version = ONNX_IR_VERSION;
        m.n_opset_import = 1, m.opset_import = opsets;
        m.producer_name = "dltrain-export", m.producer_version = PACKAGE_VERSION;
        m.doc_string = "Exported by dltrain-export: softmax probabilities 'prob' of input 'data' "
                       "prepared as preprocess.json says";
        m.graph = &g;
        st = write_model(&m, outdir);
    }
    for (size_t i = 0; i < o.nowned; i++)
        free(o.owned[i]);
    free(o.owned);
    free(o.nodes);
    free(o.inits);
    free(o.values);
    free(o.names);
    free(o.node_names);
    dlt__deploy_free(&plan);
    return st;
}
