/* batchnorm.c - BatchNorm as Caffe (batch_norm_layer.cpp): normalizes each
 * channel to zero mean, unit variance; no scale/shift (a Scale layer
 * follows). Three parameter blobs that SGD never touches: running mean
 * sum (C), running variance sum (C), and their scale factor (1); the
 * estimates are blob / factor. At train time the batch statistics are
 * used and the blobs are updated as
 *   factor = maf * factor + 1,  mean = maf * mean + mu,
 *   var = maf * var + m/(m-1) * sigma^2   (m = N*H*W, unbiased);
 * use_global_stats (default: true in TEST) uses the estimates instead.
 * Statistics are summed in double. In place allowed: in TRAIN the
 * normalized input is kept (x_norm) for the backward, since in-place
 * layers after this one overwrite the top. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/batchnorm.h"
#include "layers/plane_sums.h"
#include "layers/relu.h"
#include "layers/scale.h"

static int bn_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256];
    DLT_TRY(dlt__check_arity(l, msg, "BatchNorm", 1, 1));
    const dlt_cfg *p = dlt_cfg_get(msg, "batch_norm_param");
    int global = ctx->phase == DLT_PHASE_TEST;
    double maf = 0.999, eps = 1e-5;
    if (p) {
        DLT_TRY(dlt_cfg_bool(p, "use_global_stats", global, &global));
        DLT_TRY(dlt_cfg_float(p, "moving_average_fraction", 0.999, &maf));
        DLT_TRY(dlt_cfg_float(p, "eps", 1e-5, &eps));
    }
    if (!(eps > 0) || !(maf >= 0 && maf <= 1))
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': batch_norm_param needs eps > 0 and "
                 "moving_average_fraction in [0, 1]", dlt_cfg_where(p, wb, sizeof wb), l->name);
    const dlt_tensor *x = l->bottom[0];
    if (!global && (size_t)x->n * x->h * x->w < 2)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': batch statistics need more than one value per "
                 "channel, but the bottom is (%d,%d,%d,%d)", dlt_cfg_where(msg, wb, sizeof wb),
                 l->name, x->n, x->c, x->h, x->w);
    bn_state *s = dlt_calloc(1, sizeof *s);
    s->global = global, s->maf = (float)maf, s->eps = (float)eps;
    s->inv_std = dlt_malloc((size_t)x->c * sizeof(float));
    s->acc = dlt_malloc((size_t)x->c * sizeof(double));
    s->acc2 = dlt_malloc((size_t)x->c * sizeof(double));
    if (ctx->phase == DLT_PHASE_TRAIN)
        s->x_norm = dlt_malloc(x->count * sizeof(float) + 1);
    l->state = s;
    if (l->top[0] != x)
        DLT_TRY(dlt__top_shape(l, msg, 0, x->n, x->c, x->h, x->w));
    DLT_TRY(dlt__add_param(l, msg, 1, x->c, 1, 1, NULL)); /* constant 0 */
    DLT_TRY(dlt__add_param(l, msg, 1, x->c, 1, 1, NULL));
    DLT_TRY(dlt__add_param(l, msg, 1, 1, 1, 1, NULL));
    l->params_not_trained = 1;
    return 0;
}

/* Channel C of BatchNorm + Scale (+ ReLU), each step rounded to float as the
 * three layers' own passes round it; XN (TRAIN): the normalized input kept
 * for the backward, which is the Scale's input too. */
static void fused_pass(const float *x, float *y, float *xn, int c, int N, int C, size_t P,
                       float mu, float is, const dlt_layer *scale, const dlt_layer *relu)
{
    const scale_state *ss = scale->state;
    const float g = scale->param[0].data[c], b = ss->bias_term ? scale->param[1].data[c] : 0.0f;
    const float a = relu ? ((const relu_config *)relu->state)->negative_slope : 0.0f;
    for (int n = 0; n < N; n++) {
        const size_t o = ((size_t)n * C + c) * P;
        if (xn) {
#pragma omp simd
            for (size_t p = 0; p < P; p++)
                xn[o + p] = (x[o + p] - mu) * is;
        }
        if (relu) {
#pragma omp simd
            for (size_t p = 0; p < P; p++) {
                float v = (x[o + p] - mu) * is;
                v = v * g + b;
                float pos = v > 0.0f ? v : 0.0f, neg = v < 0.0f ? v : 0.0f;
                y[o + p] = pos + a * neg;
            }
        } else {
#pragma omp simd
            for (size_t p = 0; p < P; p++) {
                float v = (x[o + p] - mu) * is;
                y[o + p] = v * g + b;
            }
        }
    }
}

int dlt__batchnorm_fuse_chain(dlt_layer *layers, int i, int n, int train_ok)
{
    dlt_layer *bn = &layers[i];
    if (bn->ops != &dlt__batchnorm_ops || i + 1 >= n)
        return 0;
    bn_state *s = bn->state;
    const int train = s->x_norm != NULL;
    if (train && !train_ok)
        return 0;
    dlt_tensor *t = bn->top[0];
    dlt_layer *sc = &layers[i + 1];
    if (sc->ops != &dlt__scale_ops || sc->nbottom != 1 || sc->bottom[0] != t || sc->top[0] != t)
        return 0;
    dlt_layer *re = i + 2 < n ? &layers[i + 2] : NULL;
    if (re && (re->ops != &dlt__relu_ops || re->bottom[0] != t || re->top[0] != t))
        re = NULL;
    if (train) {
        /* The Scale's saved input is exactly x_norm: keep one copy. */
        scale_state *ss = sc->state;
        free(ss->x_saved);
        ss->x_saved = s->x_norm;
        ss->saved_shared = 1;
        s->train_chain = 1;
    }
    s->fused_scale = sc;
    s->fused_relu = re;
    return re ? 2 : 1;
}

/* Per channel on OpenMP threads: the N planes of one channel (a few hundred
 * KiB in a ResNet) are read three times while they sit in that core's
 * cache. Each channel is one thread's, summed plane by plane in a fixed
 * order: the same figures for any thread count. */
static void bn_forward(dlt_layer *l)
{
    bn_state *s = l->state;
    const dlt_tensor *x = l->bottom[0];
    const int N = x->n, C = x->c;
    const size_t P = (size_t)x->h * x->w;
    float *mean_b = l->param[0].data, *var_b = l->param[1].data, *fac = l->param[2].data;
    float *y = l->top[0]->data;
    const float *xd = x->data;
    const int global = s->global;
    const double m = (double)N * P, f = fac[0] == 0 ? 0 : 1.0 / fac[0];
    const float eps = s->eps;
    double *acc = s->acc, *acc2 = s->acc2;
    float *inv_std = s->inv_std;
    float *xn = s->x_norm;
    /* The net skips a fused layer's forward only where it runs on the CPU too. */
    const dlt_layer *scale = s->fused_scale && !s->fused_scale->on_gpu ? s->fused_scale : NULL;
    const dlt_layer *relu = scale && s->fused_relu && !s->fused_relu->on_gpu ? s->fused_relu : NULL;
#pragma omp parallel for schedule(static) if ((size_t)N * C * P >= DLT__PAR_MIN)
    for (int c = 0; c < C; c++) {
        if (global) {
            acc[c] = mean_b[c] * f;
            inv_std[c] = (float)(1.0 / sqrt(var_b[c] * f + eps));
        } else {
            double a = 0;
            for (int n = 0; n < N; n++)
                a += dlt__plane_sum(xd + ((size_t)n * C + c) * P, P);
            const double mu = a / m;
            double v = 0;
            for (int n = 0; n < N; n++)
                v += dlt__plane_sqdev(xd + ((size_t)n * C + c) * P, P, mu);
            acc[c] = mu, acc2[c] = v;
            inv_std[c] = (float)(1.0 / sqrt(v / m + eps));
        }
        const float mu = (float)acc[c], is = inv_std[c];
        if (scale) {
            fused_pass(xd, y, xn, c, N, C, P, mu, is, scale, relu);
            continue;
        }
        for (int n = 0; n < N; n++) {
            const size_t o = ((size_t)n * C + c) * P;
            if (xn) {
#pragma omp simd
                for (size_t p = 0; p < P; p++)
                    y[o + p] = xn[o + p] = (xd[o + p] - mu) * is;
            } else {
#pragma omp simd
                for (size_t p = 0; p < P; p++)
                    y[o + p] = (xd[o + p] - mu) * is;
            }
        }
    }
    if (!global) {
        const double corr = m > 1 ? m / (m - 1) : 1;
        fac[0] = fac[0] * s->maf + 1;
        for (int c = 0; c < C; c++) {
            mean_b[c] = (float)(mean_b[c] * (double)s->maf + acc[c]);
            var_b[c] = (float)(var_b[c] * (double)s->maf + corr * (acc2[c] / m));
        }
    }
}

/* Channel C of the backward, DX from DY and the normalized input Y. Train:
 * dx = (dy - mean(dy) - y * mean(dy * y)) / sqrt(var + eps) (Caffe's form),
 * y saved in x_norm (the top itself may have been overwritten since by
 * in-place layers). Global: dy / std. */
static void bn_backward_channel(const bn_state *s, int c, int N, int C, size_t P, const float *y,
                                const float *dy, float *dx)
{
    const float is = s->inv_std[c];
    if (s->global) {
        for (int n = 0; n < N; n++) {
            const size_t o = ((size_t)n * C + c) * P;
#pragma omp simd
            for (size_t p = 0; p < P; p++)
                dx[o + p] = dy[o + p] * is;
        }
        return;
    }
    const double m = (double)N * P;
    double a, b;
    dlt__channel_sum_dot(dy, y, c, N, C, P, &a, &b);
    const float md = (float)(a / m), mdy = (float)(b / m);
    for (int n = 0; n < N; n++) {
        const size_t o = ((size_t)n * C + c) * P;
#pragma omp simd
        for (size_t p = 0; p < P; p++)
            dx[o + p] = (dy[o + p] - md - y[o + p] * mdy) * is;
    }
}

/* Threads split the channels, as in the forward. */
static void bn_backward(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    const bn_state *s = l->state;
    const dlt_tensor *x = l->bottom[0];
    const int N = x->n, C = x->c;
    const size_t P = (size_t)x->h * x->w;
    const float *y = s->x_norm ? s->x_norm : l->top[0]->data, *dy = l->top[0]->diff;
    float *dx = l->bottom[0]->diff;
#pragma omp parallel for schedule(static) if ((size_t)N * C * P >= DLT__PAR_MIN)
    for (int c = 0; c < C; c++)
        bn_backward_channel(s, c, N, C, P, y, dy, dx);
}

/* Per channel on threads, the chain's three backwards in turn: the
 * channel's planes of the top's data, its diff and x_norm (a few hundred
 * KiB in a ResNet) are read from memory once and stay in the core's cache
 * for the rest. */
void dlt__batchnorm_chain_backward(dlt_layer *bn)
{
    const bn_state *s = bn->state;
    dlt_layer *sc = s->fused_scale, *re = s->fused_relu;
    const dlt_tensor *t = bn->top[0], *x = bn->bottom[0];
    const int N = x->n, C = x->c;
    const size_t P = (size_t)x->h * x->w;
    const float a = re ? ((const relu_config *)re->state)->negative_slope : 0.0f;
    const float *z = t->data, *xn = s->x_norm;
    float *d = t->diff; /* the top's gradient, turned in place into the Scale's input's */
    float *dx = bn->propagate_down[0] ? x->diff : NULL;
    const int scale_dx = sc->propagate_down[0];
#pragma omp parallel for schedule(static) if ((size_t)N * C * P >= DLT__PAR_MIN)
    for (int c = 0; c < C; c++) {
        for (int n = 0; n < N && re && re->propagate_down[0]; n++) {
            const size_t o = ((size_t)n * C + c) * P;
            dlt__relu_backward_range(a, z + o, d + o, d + o, P);
        }
        dlt__scale_backward_channel(sc, c, xn, d, scale_dx ? d : NULL);
        if (dx && scale_dx)
            bn_backward_channel(s, c, N, C, P, xn, d, dx);
    }
}

static void bn_destroy(dlt_layer *l)
{
    bn_state *s = l->state;
    if (s) {
        free(s->inv_std);
        free(s->acc);
        free(s->acc2);
        free(s->x_norm);
    }
    dlt__free_state(l);
}

const dlt_layer_ops dlt__batchnorm_ops = {
    .type = "BatchNorm",
    .setup = bn_setup,
    .forward = bn_forward,
    .backward = bn_backward,
    .destroy = bn_destroy,
};
