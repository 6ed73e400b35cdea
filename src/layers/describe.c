/* describe.c - each layer type's resolved settings (dlt_layer_desc) read
 * from the state its setup made, for model export: the writers see the
 * numbers the layers compute with, not a second reading of the prototxt. */
#include <string.h>

#include "layers/batchnorm.h"
#include "layers/concat.h"
#include "layers/conv.h"
#include "layers/eltwise.h"
#include "layers/inner_product.h"
#include "layers/layers.h"
#include "layers/lrn.h"
#include "layers/pooling.h"
#include "layers/relu.h"
#include "layers/scale.h"
#include "layers/softmax.h"
#include "layers/softmax_loss.h"

static void conv_desc(const dlt_layer *l, dlt_layer_desc *d)
{
    const conv_config *c = dlt__conv_config(l);
    d->kh = c->g.kh, d->kw = c->g.kw, d->sh = c->g.sh, d->sw = c->g.sw;
    d->ph = c->g.ph, d->pw = c->g.pw;
    d->dh = c->g.dh ? c->g.dh : 1, d->dw = c->g.dw ? c->g.dw : 1;
    d->ho = c->g.ho, d->wo = c->g.wo;
    d->group = c->group, d->num_output = c->num_output, d->bias_term = c->bias_term;
    d->axis = 1;
}

static void pool_desc(const dlt_layer *l, dlt_layer_desc *d)
{
    const pool_config *c = dlt__pooling_config(l);
    d->kh = c->kh, d->kw = c->kw, d->sh = c->sh, d->sw = c->sw, d->ph = c->ph, d->pw = c->pw;
    d->dh = d->dw = 1;
    d->ho = c->ho, d->wo = c->wo;
    d->pool_ave = c->method == POOL_AVE;
}

static void ip_desc(const dlt_layer *l, dlt_layer_desc *d)
{
    const ip_config *c = l->state;
    const dlt_tensor *x = l->bottom[0];
    const int dims[4] = {x->n, x->c, x->h, x->w};
    long rows = dims[0];
    d->axis = 1; /* the first axis (>= 1, as setup allows) whose leading product is M */
    while (d->axis < 4 && rows != c->rows)
        rows *= dims[d->axis++];
    d->num_output = c->num_output, d->bias_term = c->bias_term, d->transpose = c->transpose;
}

static void lrn_desc(const dlt_layer *l, dlt_layer_desc *d)
{
    const lrn_state *s = l->state;
    d->lrn_within = s->region == WITHIN, d->lrn_size = s->size;
    d->lrn_alpha = s->alpha, d->lrn_beta = s->beta, d->lrn_k = s->k;
}

static void eltwise_desc(const dlt_layer *l, dlt_layer_desc *d)
{
    const eltwise_state *s = l->state;
    d->eltwise_op = s->op == OP_SUM ? DLT_ELTWISE_SUM
                  : s->op == OP_MAX ? DLT_ELTWISE_MAX : DLT_ELTWISE_PROD;
    memcpy(d->coeff, s->coeff, sizeof d->coeff);
}

static void bn_desc(const dlt_layer *l, dlt_layer_desc *d) { d->eps = ((const bn_state *)l->state)->eps; }
static void scale_desc(const dlt_layer *l, dlt_layer_desc *d)
{
    d->bias_term = ((const scale_state *)l->state)->bias_term;
    d->axis = 1;
}
static void concat_desc(const dlt_layer *l, dlt_layer_desc *d) { d->axis = ((const concat_state *)l->state)->axis; }
static void softmax_desc(const dlt_layer *l, dlt_layer_desc *d) { d->axis = ((const softmax_state *)l->state)->axis; }
static void softmax_loss_desc(const dlt_layer *l, dlt_layer_desc *d)
{
    d->num_output = ((const softmax_loss_state *)l->state)->C;
}
/* Embed's weight is (input_dim, num_output). */
static void embed_desc(const dlt_layer *l, dlt_layer_desc *d)
{
    d->input_dim = l->param[0].n, d->num_output = l->param[0].c;
}
static void relu_desc(const dlt_layer *l, dlt_layer_desc *d)
{
    d->negative_slope = ((const relu_config *)l->state)->negative_slope;
}

static const struct {
    const char *type;
    void (*fill)(const dlt_layer *l, dlt_layer_desc *d);
} describers[] = {
    {"Convolution", conv_desc}, {"Pooling", pool_desc},     {"InnerProduct", ip_desc},
    {"LRN", lrn_desc},          {"Eltwise", eltwise_desc}, {"BatchNorm", bn_desc},
    {"Scale", scale_desc},      {"Concat", concat_desc},   {"Softmax", softmax_desc},
    {"ReLU", relu_desc},        {"SoftmaxWithLoss", softmax_loss_desc},
    {"Embed", embed_desc},
};

void dlt_layer_describe(const dlt_layer *l, dlt_layer_desc *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof describers / sizeof describers[0]; i++)
        if (strcmp(l->ops->type, describers[i].type) == 0 && l->state)
            describers[i].fill(l, out);
}
