/* net.c - builds a network DAG from a Caffe NetParameter for one phase,
 * owns the blobs and the flat parameter/gradient buffers, and runs
 * forward and backward in file order / reverse file order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "dltrain/half.h"
#include "dltrain/net.h"
#include "dltrain/size.h"
#include "layers/batchnorm.h"
#include "layers/conv.h"
#include "layers/eltwise.h"

/* A named blob as the prototxt sees it. In-place layers (top == bottom)
 * keep the same tensor under the same name. */
typedef struct blob {
    char *name;
    dlt_tensor *t;
    int producer;       /* layer index, -1 for none */
    int needs_grad;     /* some parameter upstream: backward must reach it */
    int consumers;      /* layers reading it (for net outputs and splits) */
} blob;

/* When one blob feeds several layers that propagate gradients, each
 * consumer gets its own diff buffer (a view sharing the data), and the
 * diffs are summed before the producer's backward: Caffe's SplitLayer. */
typedef struct split {
    dlt_tensor *orig;     /* the producer's top */
    dlt_tensor **copies;  /* one per consumer */
    int ncopies;
    /* The last layer writing orig (its producer, or the last in-place layer
     * on it, say a ReLU): the copies' diffs are summed into orig's diff just
     * before that layer's backward, once. Summing again at an earlier
     * in-place writer would overwrite what the later ones computed. */
    int summed_at;
} split;

struct dlt_net {
    char *name;
    dlt_layer *layers;   /* (nlayers) in file order */
    const dlt_cfg **msgs; /* (nlayers) each layer's message in the NetParameter (not owned) */
    int nlayers;
    blob *blobs;
    int nblobs;
    split *splits;
    int nsplits;
    float **diff_pool;   /* dlt_net_share_diffs's buffers */
    int ndiff_pool;
    float *params;       /* (nparams) all parameter blobs, layer order */
    float *grads;        /* (nparams) their gradients */
    size_t nparams;
    int owns_params;
    int *outputs;        /* blob indices of net outputs */
    int noutputs;
    int data_layer;      /* -1 if none */
    dlt_backward_hook backward_hook; /* NULL: none (see dlt_net_set_backward_hook) */
    void *backward_hook_ctx;
    size_t *grads_done_from; /* (nlayers+1) [i]: lowest grad offset of layers >= i */
    /* GPU runs (dlt_net_to_device): device copies of params/grads. */
    float *gparams;      /* (nparams) on the device */
    float *ggrads;       /* (nparams) on the device */
    const dlt_net *param_owner; /* set by dlt_net_share_params */
    dlt_compute_ctx compute; /* how its layers compute; each layer's ->compute points here */
    int *fused_into;     /* (nlayers) 1 + the layer whose CPU forward also does this
                          * one's (BatchNorm + Scale + ReLU, Convolution + ReLU), 0: runs
                          * itself; NULL: none */
    int *backward_by;    /* (nlayers) 1 + the BatchNorm whose chain backward
                          * (dlt__batchnorm_chain_backward) also does this layer's, run at
                          * the chain's last layer; 0: runs itself; NULL: none */
    double loss_scale;   /* dlt_net_set_loss_scale: loss layers' weights carry it; 1: none */
};

/* --precision amp and bf16: the values 16-bit storage would keep, at the
 * tensor's device copy when it has one (the GPU path: FP32 kernels with
 * 16-bit rounding around them), else on the host (the CPU reference). */
static int stores_half(const dlt_net *net)
{
    return net->compute.precision == DLT_PRECISION_AMP || net->compute.precision == DLT_PRECISION_BF16;
}

static void round_stored(const dlt_net *net, float *host, float *dev, size_t n)
{
    if (dev)
        dlt_device_round_half(dev, n, net->compute.precision);
    else if (host)
        dlt_round_half(host, n, net->compute.precision);
}

/* Activations: every layer's tops but the input (labels are exact
 * integers, images 8-bit), the loss (FP32 by design) and accuracies. */
static void round_tops(const dlt_net *net, const dlt_layer *l)
{
    if (l->is_loss || dlt_layer_data_params(l) || strcmp(l->ops->type, "Accuracy") == 0)
        return;
    for (int t = 0; t < l->ntop; t++)
        round_stored(net, l->top[t]->data, l->top[t]->gdata, l->top[t]->count);
}

/* Gradients: the bottom diffs backward wrote and the parameter
 * gradients, except BatchNorm's statistics (FP32, never trained). The
 * parameter gradients are rounded as accumulated: with iter_size > 1 the
 * GPU path would round each pass's part before adding it in FP32. */
static void round_grads(const dlt_net *net, const dlt_layer *l)
{
    for (int b = 0; b < l->nbottom; b++)
        if (l->propagate_down[b])
            round_stored(net, l->bottom[b]->diff, l->bottom[b]->gdiff, l->bottom[b]->count);
    if (l->params_not_trained)
        return;
    for (int p = 0; p < l->nparam; p++)
        round_stored(net, l->param[p].diff, l->param[p].gdiff, l->param[p].count);
}

static int find_blob(const dlt_net *net, const char *name)
{
    for (int i = net->nblobs - 1; i >= 0; i--)
        if (strcmp(net->blobs[i].name, name) == 0)
            return i;
    return -1;
}

static int add_blob(dlt_net *net, const char *name, int producer)
{
    net->blobs = dlt_realloc(net->blobs, (net->nblobs + 1) * sizeof *net->blobs);
    blob *b = &net->blobs[net->nblobs];
    memset(b, 0, sizeof *b);
    b->name = dlt_strdup(name);
    b->t = dlt_calloc(1, sizeof(dlt_tensor));
    b->producer = producer;
    return net->nblobs++;
}

/* Caffe's NetStateRule check, phase only: with include rules a layer is
 * in when one matches; with exclude rules it is out when one matches. */
static int phase_rule_matches(const dlt_cfg *rule, int phase, int *matches)
{
    static const char *const phases[] = {"TRAIN", "TEST", NULL};
    int p = -1;
    DLT_TRY(dlt_cfg_enum(rule, "phase", phases, -1, &p));
    *matches = (p < 0 || p == phase);
    return 0;
}

int dlt_net_layer_in_phase(const dlt_cfg *lp, int phase, int *in)
{
    int ninc = dlt_cfg_count(lp, "include"), nexc = dlt_cfg_count(lp, "exclude");
    char where[256];
    if (ninc && nexc)
        DLT_FAIL(DLT_ERR_PARSE, "%s: a layer may have include or exclude rules, not both",
                 dlt_cfg_where(lp, where, sizeof where));
    *in = ninc ? 0 : 1;
    for (int i = 0; i < ninc; i++) {
        int m;
        DLT_TRY(phase_rule_matches(dlt_cfg_nth(lp, "include", i), phase, &m));
        if (m)
            *in = 1;
    }
    for (int i = 0; i < nexc; i++) {
        int m;
        DLT_TRY(phase_rule_matches(dlt_cfg_nth(lp, "exclude", i), phase, &m));
        if (m)
            *in = 0;
    }
    return 0;
}

/* Split bookkeeping: give consumer a private-diff view of ORIG. */
static dlt_tensor *split_view(dlt_net *net, dlt_tensor *orig)
{
    split *s = NULL;
    for (int i = 0; i < net->nsplits; i++)
        if (net->splits[i].orig == orig)
            s = &net->splits[i];
    if (!s) {
        net->splits = dlt_realloc(net->splits, (net->nsplits + 1) * sizeof *net->splits);
        s = &net->splits[net->nsplits++];
        memset(s, 0, sizeof *s);
        s->orig = orig;
    }
    dlt_tensor *v = dlt_calloc(1, sizeof *v);
    float *diff = dlt_calloc(orig->count, sizeof(float));
    dlt_tensor_view(v, orig->n, orig->c, orig->h, orig->w, orig->data, diff);
    s->copies = dlt_realloc(s->copies, (s->ncopies + 1) * sizeof *s->copies);
    s->copies[s->ncopies++] = v;
    return v;
}

static int read_param_specs(dlt_layer *l, const dlt_cfg *lp)
{
    char where[256];
    int n = dlt_cfg_count(lp, "param");
    if (n > l->nparam)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s' has %d param { } entries but %d parameter blobs",
                 dlt_cfg_where(dlt_cfg_nth(lp, "param", n - 1), where, sizeof where), l->name, n,
                 l->nparam);
    for (int i = 0; i < l->nparam; i++) {
        l->lr_mult[i] = 1.0f;
        l->decay_mult[i] = 1.0f;
    }
    for (int i = 0; i < n; i++) {
        const dlt_cfg *p = dlt_cfg_nth(lp, "param", i);
        double lr, decay;
        DLT_TRY(dlt_cfg_float(p, "lr_mult", 1.0, &lr));
        DLT_TRY(dlt_cfg_float(p, "decay_mult", 1.0, &decay));
        l->lr_mult[i] = (float)lr;
        l->decay_mult[i] = (float)decay;
        if (dlt_cfg_get(p, "name"))
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': shared parameters (param { name }) are not supported yet",
                     dlt_cfg_where(p, where, sizeof where), l->name);
    }
    for (int i = 0; l->params_not_trained && i < l->nparam; i++)
        l->lr_mult[i] = l->decay_mult[i] = 0.0f;
    return 0;
}

static int read_loss_weights(dlt_layer *l, const dlt_cfg *lp)
{
    char where[256];
    for (int i = 0; i < l->ntop; i++)
        l->loss_weight[i] = (l->is_loss && i == 0) ? 1.0f : 0.0f;
    int n = dlt_cfg_count(lp, "loss_weight");
    if (n > l->ntop)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': %d loss_weight values for %d tops",
                 dlt_cfg_where(lp, where, sizeof where), l->name, n, l->ntop);
    for (int i = 0; i < n; i++) {
        double w;
        DLT_TRY(dlt_cfg_node_float(dlt_cfg_nth(lp, "loss_weight", i), &w));
        if (w != 0 && !l->is_loss)
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': loss_weight on a non-loss layer is not supported",
                     dlt_cfg_where(dlt_cfg_nth(lp, "loss_weight", i), where, sizeof where), l->name);
        l->loss_weight[i] = (float)w;
    }
    return 0;
}

/* Build one layer: resolve bottoms, create tops, call setup. */
static int build_layer(dlt_net *net, const dlt_cfg *lp, int phase,
                       const dlt_layer_context *ctx)
{
    char where[256];
    dlt_cfg_where(lp, where, sizeof where);
    const char *name = NULL, *type = NULL;
    DLT_TRY(dlt_cfg_string(lp, "name", "", &name));
    DLT_TRY(dlt_cfg_string(lp, "type", NULL, &type));
    if (!type)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s' has no type", where, name);
    const dlt_layer_ops *ops = dlt_layer_find(type);
    if (!ops) {
        const dlt_cfg *tn = dlt_cfg_get(lp, "type");
        DLT_FAIL(DLT_ERR_PARSE, "%s: unknown layer type '%s' (layer '%s'); known types: %s",
                 dlt_cfg_where(tn, where, sizeof where), type, name, dlt_layer_type_list());
    }
    int idx = net->nlayers;
    dlt_layer *l = &net->layers[idx];
    memset(l, 0, sizeof *l);
    l->ops = ops;
    l->name = dlt_strdup(name);
    l->phase = phase;
    l->compute = &net->compute;
    net->msgs[idx] = lp;
    l->nbottom = dlt_cfg_count(lp, "bottom");
    l->ntop = dlt_cfg_count(lp, "top");
    if (l->nbottom > DLT_MAX_BLOBS || l->ntop > DLT_MAX_BLOBS)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': more than %d bottoms or tops", where, name,
                 DLT_MAX_BLOBS);
    net->nlayers++; /* from here on, dlt_net_free cleans the layer up */

    int bottom_blob[DLT_MAX_BLOBS];
    for (int i = 0; i < l->nbottom; i++) {
        const dlt_cfg *bn = dlt_cfg_nth(lp, "bottom", i);
        const char *bname;
        DLT_TRY(dlt_cfg_node_string(bn, &bname));
        int b = find_blob(net, bname);
        if (b < 0)
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': bottom '%s' is not produced by an earlier layer",
                     dlt_cfg_where(bn, where, sizeof where), name, bname);
        bottom_blob[i] = b;
        net->blobs[b].consumers++;
        l->bottom[i] = net->blobs[b].t;
    }
    for (int i = 0; i < l->ntop; i++) {
        const char *tname;
        DLT_TRY(dlt_cfg_node_string(dlt_cfg_nth(lp, "top", i), &tname));
        int inplace = -1;
        for (int j = 0; j < l->nbottom; j++)
            if (strcmp(net->blobs[bottom_blob[j]].name, tname) == 0)
                inplace = j;
        if (inplace >= 0) {
            l->top[i] = l->bottom[inplace];
            net->blobs[bottom_blob[inplace]].consumers--; /* in-place is not a reader */
        } else {
            int b = add_blob(net, tname, idx);
            l->top[i] = net->blobs[b].t;
        }
    }
    DLT_TRY(ops->setup(l, lp, ctx));
    DLT_TRY(read_param_specs(l, lp));
    DLT_TRY(read_loss_weights(l, lp));
    return 0;
}

/* After all layers are set up: decide which bottoms get gradients and
 * insert split views where a gradient-carrying blob has several readers. */
static void wire_gradients(dlt_net *net)
{
    for (int li = 0; li < net->nlayers; li++) {
        dlt_layer *l = &net->layers[li];
        int any = l->nparam > 0;
        for (int i = 0; i < l->nbottom; i++) {
            int needs = 0;
            for (int b = 0; b < net->nblobs; b++)
                if (net->blobs[b].t == l->bottom[i])
                    needs |= net->blobs[b].needs_grad;
            l->propagate_down[i] = needs;
            any |= needs;
        }
        for (int i = 0; i < l->ntop; i++)
            for (int b = 0; b < net->nblobs; b++)
                if (net->blobs[b].t == l->top[i])
                    net->blobs[b].needs_grad |= any;
    }
    /* Splits: a blob that needs gradients and has more than one reader. */
    for (int b = 0; b < net->nblobs; b++) {
        blob *bl = &net->blobs[b];
        if (!bl->needs_grad || bl->consumers < 2)
            continue;
        for (int li = 0; li < net->nlayers; li++) {
            dlt_layer *l = &net->layers[li];
            for (int i = 0; i < l->nbottom; i++) {
                if (l->bottom[i] != bl->t)
                    continue;
                int inplace = 0;
                for (int j = 0; j < l->ntop; j++)
                    inplace |= l->top[j] == bl->t;
                if (!inplace)
                    l->bottom[i] = split_view(net, bl->t);
            }
        }
    }
    for (int s = 0; s < net->nsplits; s++)
        for (int li = 0; li < net->nlayers; li++)
            for (int j = 0; j < net->layers[li].ntop; j++)
                if (net->layers[li].top[j] == net->splits[s].orig)
                    net->splits[s].summed_at = li;
}

static int allocate_params(dlt_net *net, uint64_t seed)
{
    int64_t total = 0;
    for (int li = 0; li < net->nlayers; li++)
        for (int p = 0; p < net->layers[li].nparam; p++) {
            char who[256];
            const dlt_size_ctx sc = {who, DLT_ERR_PARSE};
            snprintf(who, sizeof who, "layer '%s'", net->layers[li].name);
            DLT_TRY(dlt_size_add(&sc, "the net's parameter count", total,
                                 (int64_t)net->layers[li].param[p].count, DLT_COUNT_MAX, &total));
        }
    net->nparams = total;
    net->params = dlt_calloc((size_t)total, sizeof(float));
    net->grads = dlt_calloc((size_t)total, sizeof(float));
    net->owns_params = 1;
    dlt_rng rng;
    dlt_rng_seed(&rng, seed);
    size_t off = 0;
    for (int li = 0; li < net->nlayers; li++) {
        dlt_layer *l = &net->layers[li];
        for (int p = 0; p < l->nparam; p++) {
            dlt_tensor *t = &l->param[p];
            dlt_tensor_view(t, t->n, t->c, t->h, t->w, net->params + off, net->grads + off);
            dlt_filler_fill(&l->param_filler[p], t, &rng);
            off += t->count;
        }
    }
    return 0;
}

static void find_outputs(dlt_net *net)
{
    net->outputs = dlt_calloc(net->nblobs + 1, sizeof(int));
    for (int b = 0; b < net->nblobs; b++) {
        blob *bl = &net->blobs[b];
        if (bl->consumers == 0 && bl->producer >= 0 && net->layers[bl->producer].ops != NULL &&
            !dlt_layer_data_params(&net->layers[bl->producer]))
            net->outputs[net->noutputs++] = b;
    }
}

/* Chains of layers one layer's pass can do (each chain's head keeps the
 * rest's forward): BatchNorm + Scale (+ ReLU) (see dlt__batchnorm_fuse_chain;
 * in TRAIN their backward is one pass too), a oneDNN Convolution + in-place
 * ReLU in both phases (dlt__conv_fuse_relu; the ReLU's backward still runs),
 * an Eltwise SUM + in-place ReLU (dlt__eltwise_fuse_relu; in TRAIN one
 * backward pass too). */
static void fuse_backward(dlt_net *net, int head, int k)
{
    if (!net->backward_by)
        net->backward_by = dlt_calloc(net->nlayers, sizeof(int));
    for (int j = 0; j <= k; j++)
        net->backward_by[head + j] = head + 1;
}

static void plan_fusions(dlt_net *net, int phase)
{
    const int exact = !stores_half(net); /* no 16-bit rounding between the layers */
    for (int i = 0; i < net->nlayers; i++) {
        int k = dlt__batchnorm_fuse_chain(net->layers, i, net->nlayers, exact);
        if (k && ((const bn_state *)net->layers[i].state)->train_chain)
            fuse_backward(net, i, k);
        if (!k)
            k = dlt__conv_fuse_relu(net->layers, i, net->nlayers);
        if (!k && exact && (k = dlt__eltwise_fuse_relu(net->layers, i, net->nlayers)) &&
            phase == DLT_PHASE_TRAIN)
            fuse_backward(net, i, k);
        if (k && !net->fused_into)
            net->fused_into = dlt_calloc(net->nlayers, sizeof(int));
        for (int j = 1; j <= k; j++)
            net->fused_into[i + j] = i + 1;
        i += k;
    }
}

int dlt_net_create(const dlt_cfg *np, int phase, int input_c, int input_h, int input_w,
                   uint64_t seed, const dlt_compute_ctx *compute, dlt_net **out)
{
    return dlt_net_create_seq(np, phase, input_c, input_h, input_w, 0, seed, compute, out);
}

int dlt_net_create_seq(const dlt_cfg *np, int phase, int input_c, int input_h, int input_w,
                       int seq_len, uint64_t seed, const dlt_compute_ctx *compute, dlt_net **out)
{
    char where[256];
    *out = NULL;
    if (dlt_cfg_count(np, "layers") > 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: the V1 'layers' format is not supported; convert the file with "
                 "Caffe's upgrade_net_proto_text",
                 dlt_cfg_where(dlt_cfg_get(np, "layers"), where, sizeof where));
    dlt_net *net = dlt_calloc(1, sizeof *net);
    net->data_layer = -1;
    net->loss_scale = 1;
    if (compute)
        net->compute = *compute;
    else
        dlt_compute_ctx_init(&net->compute);
    const char *name;
    int force_backward;
    int st = dlt_cfg_string(np, "name", "", &name);
    if (st == 0)
        st = dlt_cfg_bool(np, "force_backward", 0, &force_backward);
    if (st < 0) {
        free(net);
        return st;
    }
    net->name = dlt_strdup(name);
    int nl = dlt_cfg_count(np, "layer");
    net->layers = dlt_calloc(nl + 1, sizeof(dlt_layer));
    net->msgs = dlt_calloc(nl + 1, sizeof *net->msgs);
    dlt_layer_context ctx = {phase, input_c, input_h, input_w, seq_len};
    for (int i = 0; i < nl && st == 0; i++) {
        const dlt_cfg *lp = dlt_cfg_nth(np, "layer", i);
        int in;
        st = dlt_net_layer_in_phase(lp, phase, &in);
        if (st == 0 && in) {
            st = build_layer(net, lp, phase, &ctx);
            if (st == 0 && net->data_layer < 0 && dlt_layer_data_params(&net->layers[net->nlayers - 1]))
                net->data_layer = net->nlayers - 1;
        }
    }
    if (st == 0 && net->nlayers == 0) {
        dlt_error("%s: the net has no layers in the %s phase", dlt_cfg_where(np, where, sizeof where),
                  phase == DLT_PHASE_TRAIN ? "TRAIN" : "TEST");
        st = DLT_ERR_PARSE;
    }
    if (st == 0) {
        wire_gradients(net);
        st = allocate_params(net, seed);
        find_outputs(net);
    }
    if (st == 0 && !net->compute.no_fusion)
        plan_fusions(net, phase);
    if (st < 0) {
        dlt_net_free(net);
        return st;
    }
    *out = net;
    return 0;
}

void dlt_net_free(dlt_net *net)
{
    if (!net)
        return;
    for (int i = 0; i < net->nlayers; i++) {
        dlt_layer *l = &net->layers[i];
        dlt_layer_free_gpu(l);
        if (l->ops && l->ops->destroy)
            l->ops->destroy(l);
        free(l->name);
    }
    for (int b = 0; b < net->nblobs; b++) {
        dlt_tensor_release(net->blobs[b].t);
        free(net->blobs[b].t);
        free(net->blobs[b].name);
    }
    for (int s = 0; s < net->nsplits; s++) {
        for (int c = 0; c < net->splits[s].ncopies; c++) {
            if (!net->splits[s].copies[c]->diff_shared)
                free(net->splits[s].copies[c]->diff);
            dlt_device_free(net->splits[s].copies[c]->gdiff);
            free(net->splits[s].copies[c]);
        }
        free(net->splits[s].copies);
    }
    for (int i = 0; i < net->ndiff_pool; i++)
        free(net->diff_pool[i]);
    free(net->diff_pool);
    if (net->owns_params) {
        free(net->params);
        free(net->grads);
        dlt_device_free(net->gparams);
        dlt_device_free(net->ggrads);
    }
    free(net->splits);
    free(net->blobs);
    free(net->layers);
    free(net->msgs);
    free(net->fused_into);
    free(net->backward_by);
    free(net->outputs);
    free(net->grads_done_from);
    free(net->name);
    free(net);
}

int dlt_net_share_blobs(dlt_net *net, const dlt_net *other)
{
    const dlt_layer *data = dlt_net_data_layer(net);
    const dlt_tensor **used = dlt_calloc((size_t)other->nblobs + 1, sizeof *used);
    int nused = 0, shared = 0;
    for (int b = 0; b < net->nblobs; b++) {
        dlt_tensor *t = net->blobs[b].t;
        int is_input = 0;
        for (int k = 0; data && k < data->ntop; k++)
            is_input |= data->top[k] == t; /* the loader may fill these ahead */
        const dlt_tensor *o = dlt_net_blob(other, net->blobs[b].name);
        int taken = 0;
        for (int u = 0; u < nused; u++)
            taken |= used[u] == o;
        if (!t->owned || is_input || !o || taken || o->capacity < t->count || !o->data || !o->diff)
            continue;
        used[nused++] = o;
        int n = t->n, c = t->c, h = t->h, w = t->w;
        dlt_tensor_release(t);
        dlt_tensor_view(t, n, c, h, w, o->data, o->diff);
        for (int s = 0; s < net->nsplits; s++) /* split views read the producer's data */
            if (net->splits[s].orig == t)
                for (int k = 0; k < net->splits[s].ncopies; k++)
                    net->splits[s].copies[k]->data = t->data;
        shared++;
    }
    free(used);
    return shared;
}

int dlt_net_share_params(dlt_net *net, const dlt_net *other)
{
    for (int li = 0; li < net->nlayers; li++) {
        dlt_layer *l = &net->layers[li];
        if (l->nparam == 0)
            continue;
        const dlt_layer *src = NULL;
        for (int j = 0; j < other->nlayers && !src; j++)
            if (strcmp(other->layers[j].name, l->name) == 0)
                src = &other->layers[j];
        if (!src || src->nparam != l->nparam)
            DLT_FAIL(DLT_ERR_FORMAT, "layer '%s' of the %s net has no matching layer with %d parameter "
                     "blobs in the TRAIN net", l->name, "TEST", l->nparam);
        for (int p = 0; p < l->nparam; p++) {
            const dlt_tensor *s = &src->param[p];
            dlt_tensor *t = &l->param[p];
            if (s->count != t->count)
                DLT_FAIL(DLT_ERR_FORMAT, "layer '%s' parameter %d: shape (%d,%d,%d,%d) differs from the "
                         "TRAIN net's (%d,%d,%d,%d)", l->name, p, t->n, t->c, t->h, t->w, s->n, s->c,
                         s->h, s->w);
            dlt_tensor_view(t, t->n, t->c, t->h, t->w, s->data, s->diff);
        }
    }
    if (net->owns_params) {
        free(net->params);
        free(net->grads);
    }
    net->params = other->params;
    net->grads = other->grads;
    net->nparams = other->nparams;
    net->owns_params = 0;
    net->param_owner = other;
    return 0;
}

/* Whether layers FROM..TO all run on the CPU (a fused chain's head does
 * the others' work only then; see dlt__batchnorm_fuse_chain). */
static int chain_on_cpu(const dlt_net *net, int from, int to)
{
    for (int j = from; j <= to; j++)
        if (net->layers[j].on_gpu)
            return 0;
    return 1;
}

int dlt_net_layer_fused(const dlt_net *net, int index)
{
    return index >= 0 && index < net->nlayers && net->fused_into && net->fused_into[index] &&
           chain_on_cpu(net, net->fused_into[index] - 1, index);
}

float dlt_net_forward(dlt_net *net) { return dlt_net_forward_from(net, 0); }

float dlt_net_forward_from(dlt_net *net, int first)
{
    double loss = 0;
    /* A layer fused into an earlier head runs in the head's pass: start there. */
    if (first > 0 && first < net->nlayers && net->fused_into && net->fused_into[first] &&
        chain_on_cpu(net, net->fused_into[first] - 1, first))
        first = net->fused_into[first] - 1;
    for (int i = first < 0 ? 0 : first; i < net->nlayers; i++) {
        dlt_layer *l = &net->layers[i];
        if (dlt_net_layer_fused(net, i))
            continue; /* done by its chain's head */
        dlt_layer_forward(l);
        if (stores_half(net))
            round_tops(net, l);
        for (int t = 0; t < l->ntop; t++)
            if (l->loss_weight[t] != 0) {
                dlt_tensor_download(l->top[t]); /* GPU runs: the loss value */
                loss += (double)l->loss_weight[t] * l->top[t]->data[0];
            }
    }
    return (float)(loss / net->loss_scale); /* exact: the scale is a power of two */
}

void dlt_net_set_loss_scale(dlt_net *net, double scale)
{
    if (scale == net->loss_scale)
        return;
    for (int i = 0; i < net->nlayers; i++)
        for (int t = 0; t < net->layers[i].ntop; t++)
            net->layers[i].loss_weight[t] = (float)(net->layers[i].loss_weight[t] / net->loss_scale * scale);
    net->loss_scale = scale;
}

static void sum_split_diffs(dlt_net *net, int index)
{
    for (int s = 0; s < net->nsplits; s++) {
        split *sp = &net->splits[s];
        if (sp->summed_at == index)
            dlt_tensor_sum_diffs(sp->orig, sp->copies, sp->ncopies);
    }
}

void dlt_net_set_backward_hook(dlt_net *net, dlt_backward_hook fn, void *ctx)
{
    net->backward_hook = fn;
    net->backward_hook_ctx = ctx;
    if (net->grads_done_from)
        return; /* the layout does not change */
    net->grads_done_from = dlt_malloc((net->nlayers + 1) * sizeof(size_t));
    size_t lo = net->nparams;
    net->grads_done_from[net->nlayers] = lo;
    for (int i = net->nlayers - 1; i >= 0; i--) {
        const dlt_layer *l = &net->layers[i];
        for (int p = 0; p < l->nparam; p++) {
            size_t off = (size_t)(l->param[p].diff - net->grads);
            if (l->param[p].diff && off < lo)
                lo = off;
        }
        net->grads_done_from[i] = lo;
    }
}

int dlt_net_sum_split_diffs(dlt_net *net, int i)
{
    dlt_layer *l = &net->layers[i];
    int any = l->nparam > 0;
    for (int b = 0; b < l->nbottom; b++)
        any |= l->propagate_down[b];
    if (any)
        sum_split_diffs(net, i);
    return any;
}

int dlt_net_backward_layer(dlt_net *net, int i)
{
    if (!dlt_net_sum_split_diffs(net, i))
        return 0;
    const int head = net->backward_by ? net->backward_by[i] - 1 : -1;
    int tail = i;
    while (head >= 0 && tail + 1 < net->nlayers && net->backward_by[tail + 1] == head + 1)
        tail++;
    if (head >= 0 && chain_on_cpu(net, head, tail)) {
        /* A fused chain: all of it at its last layer, nothing at the others. */
        if (i == tail && net->layers[head].ops == &dlt__batchnorm_ops)
            dlt__batchnorm_chain_backward(&net->layers[head]);
        else if (i == tail)
            dlt__eltwise_chain_backward(&net->layers[head]);
        return 1;
    }
    dlt_layer_backward(&net->layers[i]); /* CPU or GPU code of the layer */
    if (stores_half(net))
        round_grads(net, &net->layers[i]);
    return 1;
}

void dlt_net_backward(dlt_net *net)
{
    for (int i = net->nlayers - 1; i >= 0; i--) {
        /* Layers above i are done: their gradients may travel now. */
        if (net->backward_hook)
            net->backward_hook(net->backward_hook_ctx, i + 1, net->grads_done_from[i + 1]);
        dlt_net_backward_layer(net, i);
    }
    if (net->backward_hook)
        net->backward_hook(net->backward_hook_ctx, 0, net->grads_done_from[0]);
}

void dlt_net_zero_grads(dlt_net *net)
{
    memset(net->grads, 0, net->nparams * sizeof(float));
    if (net->ggrads)
        dlt_device_zero(net->ggrads, net->nparams * sizeof(float));
}
size_t dlt_net_param_count(const dlt_net *net) { return net->nparams; }
float *dlt_net_params(dlt_net *net) { return net->params; }
float *dlt_net_grads(dlt_net *net) { return net->grads; }
int dlt_net_num_layers(const dlt_net *net) { return net->nlayers; }
dlt_layer *dlt_net_layer(const dlt_net *net, int i) { return &net->layers[i]; }
const dlt_cfg *dlt_net_layer_cfg(const dlt_net *net, int i) { return net->msgs[i]; }
const dlt_compute_ctx *dlt_net_compute(const dlt_net *net) { return &net->compute; }
const char *dlt_net_name(const dlt_net *net) { return net->name; }

dlt_tensor *dlt_net_blob(const dlt_net *net, const char *name)
{
    int b = find_blob(net, name);
    return b < 0 ? NULL : net->blobs[b].t;
}

void dlt_net_set_rng(dlt_net *net, dlt_rng *rng)
{
    for (int i = 0; i < net->nlayers; i++)
        net->layers[i].rng = rng;
}

dlt_layer *dlt_net_data_layer(const dlt_net *net)
{
    return net->data_layer >= 0 ? &net->layers[net->data_layer] : NULL;
}

int dlt_net_input(dlt_net *net, dlt_batch *view)
{
    memset(view, 0, sizeof *view);
    dlt_layer *dl = dlt_net_data_layer(net);
    if (!dl)
        DLT_FAIL(DLT_ERR_ARG, "net '%s' has no Data or HDF5Data layer to take input",
                 dlt_net_name(net));
    const dlt_tensor *x = dl->top[0];
    view->n = x->n, view->c = x->c, view->h = x->h, view->w = x->w;
    view->data = x->data;
    view->label = dl->ntop == 2 ? dl->top[1]->data : NULL;
    if (dl->ntop == 4) { /* a caption data layer: data, input_words, target_words, cont */
        view->t = dl->top[1]->n;
        view->input_words = dl->top[1]->data;
        view->target_words = dl->top[2]->data;
        view->cont = dl->top[3]->data;
    }
    return DLT_OK;
}

int dlt_net_set_input(dlt_net *net, const dlt_batch *b)
{
    dlt_batch in;
    DLT_TRY(dlt_net_input(net, &in));
    if (b->n < 0 || b->n > in.n || b->c != in.c || b->h != in.h || b->w != in.w)
        DLT_FAIL(DLT_ERR_ARG, "net '%s' takes batches of up to %d x %d x %d x %d; got %d x %d x "
                 "%d x %d", dlt_net_name(net), in.n, in.c, in.h, in.w, b->n, b->c, b->h, b->w);
    size_t per = (size_t)in.c * in.h * in.w, n = (size_t)b->n;
    if (b->data != in.data)
        memcpy(in.data, b->data, n * per * sizeof(float));
    memset(in.data + n * per, 0, ((size_t)in.n - n) * per * sizeof(float));
    if (in.label) {
        if (b->label && b->label != in.label)
            memcpy(in.label, b->label, n * sizeof(float));
        else if (!b->label)
            memset(in.label, 0, n * sizeof(float));
        memset(in.label + n, 0, ((size_t)in.n - n) * sizeof(float));
    }
    return DLT_OK;
}

int dlt_net_num_outputs(const dlt_net *net) { return net->noutputs; }
const char *dlt_net_output_name(const dlt_net *net, int i) { return net->blobs[net->outputs[i]].name; }

float dlt_net_output_value(const dlt_net *net, int i)
{
    dlt_tensor *t = net->blobs[net->outputs[i]].t;
    dlt_tensor_download(t);
    double s = 0;
    for (size_t k = 0; k < t->count; k++)
        s += t->data[k];
    return t->count ? (float)(s / t->count) : 0.0f;
}

int dlt_net_output_is_loss(const dlt_net *net, int i)
{
    const blob *b = &net->blobs[net->outputs[i]];
    return b->producer >= 0 && net->layers[b->producer].is_loss;
}

int dlt_net_to_device(dlt_net *net, dlt_device_kind kind)
{
    if (kind != DLT_DEVICE_GPU || net->nlayers == 0 || net->layers[0].on_gpu)
        return 0;
    for (int li = 0; li < net->nlayers; li++) /* fail before allocating anything */
        if (!dlt_layer_find_gpu(net->layers[li].ops))
            DLT_FAIL(DLT_ERR_ARG, "layer '%s': layer type %s has no GPU implementation; use --device cpu",
                     net->layers[li].name, net->layers[li].ops->type);
    if (net->owns_params) {
        size_t bytes = (net->nparams ? net->nparams : 1) * sizeof(float);
        net->gparams = dlt_device_alloc(bytes);
        net->ggrads = dlt_device_alloc(bytes);
        if (net->nparams)
            dlt_device_upload(net->gparams, net->params, net->nparams * sizeof(float));
    } else {
        if (!net->param_owner->gparams)
            DLT_FAIL(DLT_ERR_INTERNAL, "internal: move the TRAIN net to the device before the TEST net");
        net->gparams = net->param_owner->gparams;
        net->ggrads = net->param_owner->ggrads;
    }
    for (int li = 0; li < net->nlayers; li++) {
        dlt_layer *l = &net->layers[li];
        for (int p = 0; p < l->nparam; p++) {
            size_t off = (size_t)(l->param[p].data - net->params);
            dlt_tensor_device_view(&l->param[p], net->gparams + off, net->ggrads + off);
        }
    }
    for (int s = 0; s < net->nsplits; s++) {
        split *sp = &net->splits[s];
        dlt_tensor_to_device(sp->orig);
        for (int c = 0; c < sp->ncopies; c++) {
            dlt_tensor *v = sp->copies[c];
            dlt_tensor_device_view(v, sp->orig->gdata,
                                   dlt_device_alloc((v->count ? v->count : 1) * sizeof(float)));
        }
    }
    for (int li = 0; li < net->nlayers; li++)
        DLT_TRY(dlt_layer_to_gpu(&net->layers[li]));
    return 0;
}

dlt_memory dlt_net_memory(const dlt_net *net) { return net->ggrads ? DLT_DEVICE : DLT_HOST; }
float *dlt_net_compute_grads(dlt_net *net) { return net->ggrads ? net->ggrads : net->grads; }

void dlt_net_describe_compute(const dlt_net *net)
{
    const dlt_compute_ctx *c = dlt_net_compute(net);
    if (dlt_net_memory(net) == DLT_DEVICE) {
        dlt_info("cuDNN: workspace limit %zu MiB per convolution%s", c->cudnn_workspace_limit >> 20,
                 c->cudnn_deterministic ? ", deterministic algorithms" : "");
        return;
    }
    dlt_conv_backend cb = dlt_compute_conv_backend(c);
    dlt_info("convolution backend %s%s", dlt_conv_backend_name(cb),
             cb == DLT_CONV_DNNL ? " (oneDNN, OpenMP threads = BLAS threads)" : " (im2col + sgemm)");
    /* What dlt_cpu_short_idle_spins left in force (the user's values win). */
    const char *wait = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    const char *tmo = getenv("OPENBLAS_THREAD_TIMEOUT");
    dlt_info("idle worker threads: OMP_WAIT_POLICY=%s GOMP_SPINCOUNT=%s "
             "OPENBLAS_THREAD_TIMEOUT=%s (short spins unless set in the environment)",
             wait ? wait : "(unset)", spin ? spin : "(unset)", tmo ? tmo : "(unset)");
    char isa[160];
    dlt_info("CPU instruction set: %s", dlt_cpu_isa_describe(isa, sizeof isa));
}

void dlt_net_sync(dlt_net *net, dlt_memory where)
{
    if (where == DLT_HOST)
        dlt_net_params_to_host(net);
    else
        dlt_net_params_to_device(net);
}

void dlt_net_wait(dlt_net *net)
{
    if (net->ggrads)
        dlt_device_synchronize();
}

void dlt_net_grads_to_host(dlt_net *net)
{
    if (net->ggrads && net->nparams)
        dlt_device_download(net->grads, net->ggrads, net->nparams * sizeof(float));
}

void dlt_net_params_to_host(dlt_net *net)
{
    if (net->gparams && net->nparams)
        dlt_device_download(net->params, net->gparams, net->nparams * sizeof(float));
}

void dlt_net_params_to_device(dlt_net *net)
{
    if (net->gparams && net->nparams)
        dlt_device_upload(net->gparams, net->params, net->nparams * sizeof(float));
}

float *dlt_net_device_params(dlt_net *net) { return net->gparams; }
float *dlt_net_device_grads(dlt_net *net) { return net->ggrads; }

/* ---- sharing diff buffers by liveness ---- */

typedef struct diff_user {
    dlt_tensor *t;
    int lo, hi;     /* layers between which its diff is live in backward */
    int slot;
} diff_user;

static diff_user *user_of(diff_user *u, int n, const dlt_tensor *t)
{
    for (int i = 0; i < n; i++)
        if (u[i].t == t)
            return &u[i];
    return NULL;
}

static void widen(diff_user *u, int layer)
{
    u->lo = layer < u->lo ? layer : u->lo;
    u->hi = layer > u->hi ? layer : u->hi;
}

static int by_size_desc(const void *a, const void *b)
{
    size_t x = ((const diff_user *)a)->t->count, y = ((const diff_user *)b)->t->count;
    return x < y ? 1 : x > y ? -1 : 0;
}

size_t dlt_net_share_diffs(dlt_net *net)
{
    if (net->ndiff_pool || net->layers[0].on_gpu)
        return 0;
    int cap = net->nblobs + 1;
    for (int s = 0; s < net->nsplits; s++)
        cap += net->splits[s].ncopies;
    diff_user *u = dlt_calloc((size_t)cap, sizeof *u);
    int n = 0;
    for (int b = 0; b < net->nblobs; b++) {
        dlt_tensor *t = net->blobs[b].t;
        if (t->owned && t->diff && t->count)
            u[n++] = (diff_user){t, net->nlayers, -1, -1};
    }
    for (int s = 0; s < net->nsplits; s++)
        for (int c = 0; c < net->splits[s].ncopies; c++)
            if (net->splits[s].copies[c]->count)
                u[n++] = (diff_user){net->splits[s].copies[c], net->nlayers, -1, -1};
    /* Every layer that has the tensor as a bottom or top, and for a split
     * copy the producer of its original too (it sums the copies' diffs). */
    for (int i = 0; i < net->nlayers; i++) {
        const dlt_layer *l = &net->layers[i];
        for (int k = 0; k < l->nbottom + l->ntop; k++) {
            const dlt_tensor *t = k < l->nbottom ? l->bottom[k] : l->top[k - l->nbottom];
            diff_user *x = user_of(u, n, t);
            if (x)
                widen(x, i);
            for (int s = 0; s < net->nsplits; s++)
                if (k >= l->nbottom && net->splits[s].orig == t)
                    for (int c = 0; c < net->splits[s].ncopies; c++)
                        if ((x = user_of(u, n, net->splits[s].copies[c])) != NULL)
                            widen(x, i);
        }
    }
    qsort(u, (size_t)n, sizeof *u, by_size_desc);
    size_t *slot_size = dlt_calloc((size_t)n + 1, sizeof *slot_size), before = 0, after = 0;
    int nslots = 0;
    for (int i = 0; i < n; i++) {
        before += u[i].t->count * sizeof(float);
        for (int s = 0; s < nslots && u[i].slot < 0; s++) {
            int clash = 0;
            for (int j = 0; j < i && !clash; j++)
                clash = u[j].slot == s && !(u[j].hi < u[i].lo || u[i].hi < u[j].lo);
            if (!clash)
                u[i].slot = s;
        }
        if (u[i].slot < 0) /* sorted by size: a new slot is sized by its first user */
            slot_size[u[i].slot = nslots++] = u[i].t->count;
    }
    net->diff_pool = dlt_calloc((size_t)nslots + 1, sizeof *net->diff_pool);
    for (int s = 0; s < nslots; s++) {
        net->diff_pool[s] = dlt_calloc(slot_size[s], sizeof(float));
        after += slot_size[s] * sizeof(float);
    }
    net->ndiff_pool = nslots;
    for (int i = 0; i < n; i++) {
        dlt_tensor *t = u[i].t;
        if (!t->diff_shared)
            free(t->diff); /* blobs own theirs (reshape); split copies too (split_view) */
        t->diff = net->diff_pool[u[i].slot];
        t->diff_shared = 1;
    }
    free(slot_size);
    free(u);
    return before > after ? before - after : 0;
}
