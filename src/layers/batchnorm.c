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
        DLT_TRY(dlt__top_shape(l, msg, 0, x->n, x->c, x->h, x->w));
    DLT_TRY(dlt__add_param(l, msg, 1, x->c, 1, 1, NULL)); /* constant 0 */
    DLT_TRY(dlt__add_param(l, msg, 1, x->c, 1, 1, NULL));
    DLT_TRY(dlt__add_param(l, msg, 1, 1, 1, 1, NULL));
    l->params_not_trained = 1;
    return 0;
}

static void bn_forward(dlt_layer *l)
{
    bn_state *s = l->state;
    const dlt_tensor *x = l->bottom[0];
    const int N = x->n, C = x->c;
    const size_t P = (size_t)x->h * x->w;
    float *mean_b = l->param[0].data, *var_b = l->param[1].data, *fac = l->param[2].data;
    float *y = l->top[0]->data;
    if (s->global) {
        const double f = fac[0] == 0 ? 0 : 1.0 / fac[0];
        for (int c = 0; c < C; c++) {
            s->acc[c] = mean_b[c] * f;
            s->inv_std[c] = (float)(1.0 / sqrt(var_b[c] * f + s->eps));
        }
    } else {
        const double m = (double)N * P;
        for (int c = 0; c < C; c++)
            s->acc[c] = s->acc2[c] = 0;
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) {
                const float *xp = x->data + ((size_t)n * C + c) * P;
                double a = 0;
                for (size_t p = 0; p < P; p++)
                    a += xp[p];
                s->acc[c] += a;
            }
        for (int c = 0; c < C; c++)
            s->acc[c] /= m;
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) {
                const float *xp = x->data + ((size_t)n * C + c) * P;
                const double mu = s->acc[c];
                double a = 0;
                for (size_t p = 0; p < P; p++)
                    a += (xp[p] - mu) * (xp[p] - mu);
                s->acc2[c] += a;
            }
        const double corr = m > 1 ? m / (m - 1) : 1;
        fac[0] = fac[0] * s->maf + 1;
        for (int c = 0; c < C; c++) {
            double var = s->acc2[c] / m;
            s->inv_std[c] = (float)(1.0 / sqrt(var + s->eps));
            mean_b[c] = (float)(mean_b[c] * (double)s->maf + s->acc[c]);
            var_b[c] = (float)(var_b[c] * (double)s->maf + corr * var);
        }
    }
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            const size_t o = ((size_t)n * C + c) * P;
            const float mu = (float)s->acc[c], is = s->inv_std[c];
            for (size_t p = 0; p < P; p++)
                y[o + p] = (x->data[o + p] - mu) * is;
        }
}

/* Train: dx = (dy - mean(dy) - y * mean(dy * y)) / sqrt(var + eps), per
 * channel (Caffe's form; needs only y, so in place works). Global: dy / std. */
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
    if (s->global) {
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) {
                const size_t o = ((size_t)n * C + c) * P;
                for (size_t p = 0; p < P; p++)
                    dx[o + p] = dy[o + p] * s->inv_std[c];
            }
        return;
    }
    const double m = (double)N * P;
    for (int c = 0; c < C; c++)
        s->acc[c] = s->acc2[c] = 0;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            const size_t o = ((size_t)n * C + c) * P;
            double a = 0, b = 0;
            for (size_t p = 0; p < P; p++)
                a += dy[o + p], b += (double)dy[o + p] * y[o + p];
            s->acc[c] += a, s->acc2[c] += b;
        }
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            const size_t o = ((size_t)n * C + c) * P;
            const float md = (float)(s->acc[c] / m), mdy = (float)(s->acc2[c] / m);
            for (size_t p = 0; p < P; p++)
                dx[o + p] = (dy[o + p] - md - y[o + p] * mdy) * s->inv_std[c];
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
