/* batchnorm.c - BatchNorm as Caffe (batch_norm_layer.cpp): normalizes each
 * channel to zero mean, unit variance; no scale/shift (a Scale layer
 * follows). Three parameter blobs that SGD never touches: running mean
 * sum (C), running variance sum (C), and their scale factor (1); the
 * estimates are blob / factor. At train time the batch statistics are
 * used and the blobs are updated as
 *   factor = maf * factor + 1,  mean = maf * mean + mu,
 *   var = maf * var + m/(m-1) * sigma^2   (m = N*H*W, unbiased);
 * use_global_stats (default: true in TEST) uses the estimates instead.
 * Statistics are summed in double. In place allowed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/batchnorm.h"
#include "layers/plane_sums.h"

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
    l->state = s;
    if (l->top[0] != x)
        dlt_tensor_reshape(l->top[0], x->n, x->c, x->h, x->w);
    dlt_layer_add_param(l, 1, x->c, 1, 1, NULL); /* constant 0 */
    dlt_layer_add_param(l, 1, x->c, 1, 1, NULL);
    dlt_layer_add_param(l, 1, 1, 1, 1, NULL);
    l->params_not_trained = 1;
    return 0;
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
        for (int n = 0; n < N; n++) {
            const size_t o = ((size_t)n * C + c) * P;
#pragma omp simd
            for (size_t p = 0; p < P; p++)
                y[o + p] = (xd[o + p] - mu) * is;
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

/* Train: dx = (dy - mean(dy) - y * mean(dy * y)) / sqrt(var + eps), per
 * channel (Caffe's form; needs only y, so in place works). Global: dy / std.
 * Threads split the channels, as in the forward. */
static void bn_backward(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    bn_state *s = l->state;
    const dlt_tensor *x = l->bottom[0];
    const int N = x->n, C = x->c;
    const size_t P = (size_t)x->h * x->w;
    const float *y = l->top[0]->data, *dy = l->top[0]->diff;
    float *dx = l->bottom[0]->diff;
    const int global = s->global;
    const double m = (double)N * P;
    const float *inv_std = s->inv_std;
#pragma omp parallel for schedule(static) if ((size_t)N * C * P >= DLT__PAR_MIN)
    for (int c = 0; c < C; c++) {
        const float is = inv_std[c];
        float md = 0, mdy = 0;
        if (!global) {
            double a = 0, b = 0;
            for (int n = 0; n < N; n++) {
                const size_t o = ((size_t)n * C + c) * P;
                double pa, pb;
                dlt__plane_sum_dot(dy + o, y + o, P, &pa, &pb);
                a += pa, b += pb;
            }
            md = (float)(a / m), mdy = (float)(b / m);
        }
        for (int n = 0; n < N; n++) {
            const size_t o = ((size_t)n * C + c) * P;
            if (global) {
#pragma omp simd
                for (size_t p = 0; p < P; p++)
                    dx[o + p] = dy[o + p] * is;
            } else {
#pragma omp simd
                for (size_t p = 0; p < P; p++)
                    dx[o + p] = (dy[o + p] - md - y[o + p] * mdy) * is;
            }
        }
    }
}

static void bn_destroy(dlt_layer *l)
{
    bn_state *s = l->state;
    if (s) {
        free(s->inv_std);
        free(s->acc);
        free(s->acc2);
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
