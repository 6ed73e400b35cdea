/* test_layers.c - each layer type against an independent reference: a
 * direct loop in double for forward, central finite differences in double
 * for backward (objective L = sum top * r with fixed random r). */
#include <stdint.h>
#include <string.h>

#include "dltrain/cpu.h"
#include "dltrain/error.h"
#include "dltrain/layer.h"
#include "dltrain/prototxt.h"
#include "layers/conv.h"
#include "test.h"

#define MAXB 3

typedef struct tcase {
    dlt_layer l;
    dlt_tensor bot[MAXB], top[MAXB];
    int nb, nt, inplace;
    dlt_pnode *root;
    char name[32];
} tcase;

static dlt_rng rng;
static const dlt_layer_context ctx0 = {DLT_PHASE_TRAIN, 1, 28, 28};

static void fill_uniform(float *x, size_t n, double a, double b)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(a + (b - a) * dlt_rng_uniform(&rng));
}

/* Values spaced 0.05 apart in random order: no ties, and a +-1e-2 step
 * never reorders them (max pooling, ReLU kinks stay put). */
static void fill_distinct(float *x, size_t n)
{
    uint32_t *perm = dlt_malloc(n * sizeof *perm);
    dlt_permutation(perm, n, dlt_rng_next(&rng), 0);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(((double)perm[i] - n / 2.0 + 0.5) * 0.05);
    free(perm);
}

/* Build a layer of TYPE whose `layer { }` body is TEXT; the caller has
 * shaped t->bot[0..nb). Parameters get owned buffers with values in [-1, 1]. */
static int make(tcase *t, const char *type, const char *text, int nb, int nt, int inplace,
                const dlt_layer_context *ctx)
{
    dlt_layer *l = &t->l;
    memset(l, 0, sizeof *l);
    snprintf(t->name, sizeof t->name, "test_%s", type);
    l->ops = dlt_layer_find(type);
    l->name = t->name;
    t->nb = nb, t->nt = nt, t->inplace = inplace;
    for (int i = 0; i < nb; i++)
        l->bottom[i] = &t->bot[i];
    for (int i = 0; i < nt; i++)
        l->top[i] = inplace && i == 0 ? &t->bot[0] : &t->top[i];
    l->nbottom = nb, l->ntop = nt;
    l->loss_weight[0] = 1;
    t->root = NULL;
    if (!l->ops || dlt_pt_parse_string(text, "test.prototxt", &t->root) != 0)
        return -100;
    int st = l->ops->setup(l, t->root, ctx ? ctx : &ctx0);
    if (st)
        return st;
    for (int i = 0; i < l->nparam; i++) {
        dlt_tensor *p = &l->param[i];
        if (p->data)
            return -101; /* add_param must leave the buffer to the net */
        dlt_tensor_reshape(p, p->n, p->c, p->h, p->w);
        fill_uniform(p->data, p->count, -1, 1);
    }
    /* Every field the test wrote is one the layer supports. */
    return dlt_pt_check_unused(t->root, NULL) ? -102 : 0;
}

static void destroy(tcase *t)
{
    if (t->l.ops && t->l.ops->destroy)
        t->l.ops->destroy(&t->l);
    for (int i = 0; i < t->l.nparam; i++)
        dlt_tensor_release(&t->l.param[i]);
    for (int i = 0; i < MAXB; i++) {
        dlt_tensor_release(&t->bot[i]);
        dlt_tensor_release(&t->top[i]);
    }
    dlt_pt_free(t->root);
    t->root = NULL;
}

/* Worst |a - b| / max(1, |a|, |b|) over N pairs. */
static double max_rel_err(const double *a, const double *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double s = fmax(1.0, fmax(fabs(a[i]), fabs(b[i])));
        double e = fabs(a[i] - b[i]) / s;
        if (e > worst || e != e)
            worst = e != e ? INFINITY : e;
    }
    return worst;
}

static double max_rel_err_f(const float *a, const double *b, size_t n)
{
    double *ad = dlt_malloc(n * sizeof *ad + 1);
    for (size_t i = 0; i < n; i++)
        ad[i] = a[i];
    double e = max_rel_err(ad, b, n);
    free(ad);
    return e;
}

/* ---- finite-difference gradient check ---- */

typedef struct gradcheck {
    float *x0[MAXB];   /* saved bottom values (restored before each forward) */
    float *r[MAXB];    /* objective weights per top */
} gradcheck;

static double objective(tcase *t, gradcheck *g)
{
    for (int b = 0; b < t->nb; b++)
        memcpy(t->bot[b].data, g->x0[b], t->bot[b].count * sizeof(float));
    t->l.ops->forward(&t->l);
    double L = 0;
    for (int k = 0; k < t->nt; k++) {
        const dlt_tensor *y = t->l.top[k];
        for (size_t i = 0; i < y->count; i++)
            L += (double)y->data[i] * g->r[k][i];
    }
    return L;
}

static double numeric(tcase *t, gradcheck *g, float *v, double eps)
{
    float v0 = *v, vp = (float)(v0 + eps), vm = (float)(v0 - eps);
    *v = vp;
    double lp = objective(t, g);
    *v = vm;
    double lm = objective(t, g);
    *v = v0;
    return (lp - lm) / ((double)vp - vm);
}

/* Analytic gradients of L for the bottoms in CHECK (a bitmask) and every
 * parameter, against central differences. One TAP line per blob. Also
 * checks that parameter grads accumulate and bottom grads are overwritten. */
static void grad_test(tcase *t, unsigned check, double eps, const char *what)
{
    dlt_layer *l = &t->l;
    gradcheck g;
    memset(&g, 0, sizeof g);
    for (int b = 0; b < t->nb; b++) {
        g.x0[b] = dlt_malloc(t->bot[b].count * sizeof(float) + 1);
        memcpy(g.x0[b], t->bot[b].data, t->bot[b].count * sizeof(float));
    }
    for (int k = 0; k < t->nt; k++) {
        size_t n = l->top[k]->count;
        g.r[k] = dlt_malloc(n * sizeof(float) + 1);
        fill_uniform(g.r[k], n, -1, 1);
        if (k == 0 && l->is_loss)
            g.r[0][0] = l->loss_weight[0];
    }

    objective(t, &g);
    for (int k = 0; k < t->nt; k++)
        memcpy(l->top[k]->diff, g.r[k], l->top[k]->count * sizeof(float));
    for (int p = 0; p < l->nparam; p++)
        for (size_t i = 0; i < l->param[p].count; i++)
            l->param[p].diff[i] = 0.5f;
    for (int b = 0; b < t->nb; b++) {
        l->propagate_down[b] = (check >> b) & 1;
        if (!t->inplace && l->propagate_down[b])
            for (size_t i = 0; i < t->bot[b].count; i++)
                t->bot[b].diff[i] = 7.0f;
    }
    l->ops->backward(l);

    for (int b = 0; b < t->nb; b++) {
        if (!((check >> b) & 1))
            continue;
        size_t n = t->bot[b].count;
        double *an = dlt_malloc(n * sizeof(double)), *nu = dlt_malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++)
            an[i] = t->bot[b].diff[i];
        for (size_t i = 0; i < n; i++)
            nu[i] = numeric(t, &g, &g.x0[b][i], eps);
        double e = max_rel_err(an, nu, n);
        TEST_OK(e <= 1e-3, "%s: d/d bottom[%d] matches finite differences (%zu values, "
                "max rel err %.2g)", what, b, n, e);
        free(an), free(nu);
    }
    for (int p = 0; p < l->nparam && l->params_not_trained; p++) {
        int same = 1; /* statistics, not trained: backward leaves their diffs alone */
        for (size_t i = 0; i < l->param[p].count; i++)
            same &= l->param[p].diff[i] == 0.5f;
        TEST_OK(same, "%s: backward leaves the untrained param[%d] diff alone", what, p);
    }
    for (int p = 0; p < l->nparam && !l->params_not_trained; p++) {
        dlt_tensor *pt = &l->param[p];
        size_t n = pt->count;
        double *an = dlt_malloc(n * sizeof(double)), *nu = dlt_malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++)
            an[i] = (double)pt->diff[i] - 0.5; /* accumulated onto 0.5 */
        for (size_t i = 0; i < n; i++)
            nu[i] = numeric(t, &g, &pt->data[i], eps);
        double e = max_rel_err(an, nu, n);
        TEST_OK(e <= 1e-3, "%s: d/d param[%d] (%dx%dx%dx%d) accumulates the finite-difference "
                "gradient (max rel err %.2g)", what, p, pt->n, pt->c, pt->h, pt->w, e);
        free(an), free(nu);
    }
    for (int b = 0; b < t->nb; b++)
        free(g.x0[b]);
    for (int k = 0; k < t->nt; k++)
        free(g.r[k]);
}

/* ---- Convolution ---- */

typedef struct conv_ref {
    int K, G, kh, kw, sh, sw, ph, pw, bias;
    int dh, dw; /* dilation; 0 = 1 */
} conv_ref;

static void ref_conv(const dlt_tensor *x, const float *w, const float *b, const conv_ref *c,
                     int Ho, int Wo, double *y)
{
    int Cg = x->c / c->G, Kg = c->K / c->G;
    for (int n = 0; n < x->n; n++)
        for (int k = 0; k < c->K; k++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double acc = b ? b[k] : 0;
                    int g = k / Kg;
                    for (int ci = 0; ci < Cg; ci++)
                        for (int i = 0; i < c->kh; i++)
                            for (int j = 0; j < c->kw; j++) {
                                int ih = oh * c->sh - c->ph + i * (c->dh ? c->dh : 1),
                                    iw = ow * c->sw - c->pw + j * (c->dw ? c->dw : 1);
                                if (ih < 0 || ih >= x->h || iw < 0 || iw >= x->w)
                                    continue;
                                acc += (double)w[((k * Cg + ci) * c->kh + i) * c->kw + j] *
                                       x->data[((n * x->c + g * Cg + ci) * x->h + ih) * x->w + iw];
                            }
                    y[((n * c->K + k) * Ho + oh) * Wo + ow] = acc;
                }
}

/* dW and dx of the direct loop for top grad dy. */
static void ref_conv_backward(const dlt_tensor *x, const float *w, const float *dy,
                              const conv_ref *c, int Ho, int Wo, double *dw, double *dx)
{
    int Cg = x->c / c->G, Kg = c->K / c->G;
    memset(dw, 0, (size_t)c->K * Cg * c->kh * c->kw * sizeof(double));
    memset(dx, 0, x->count * sizeof(double));
    for (int n = 0; n < x->n; n++)
        for (int k = 0; k < c->K; k++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double gy = dy[((n * c->K + k) * Ho + oh) * Wo + ow];
                    int g = k / Kg;
                    for (int ci = 0; ci < Cg; ci++)
                        for (int i = 0; i < c->kh; i++)
                            for (int j = 0; j < c->kw; j++) {
                                int ih = oh * c->sh - c->ph + i * (c->dh ? c->dh : 1),
                                    iw = ow * c->sw - c->pw + j * (c->dw ? c->dw : 1);
                                if (ih < 0 || ih >= x->h || iw < 0 || iw >= x->w)
                                    continue;
                                size_t wi = ((size_t)(k * Cg + ci) * c->kh + i) * c->kw + j;
                                size_t xi = ((size_t)(n * x->c + g * Cg + ci) * x->h + ih) * x->w + iw;
                                dw[wi] += gy * x->data[xi];
                                dx[xi] += gy * w[wi];
                            }
                }
}

/* The backend under test, for the test names. */
static const char *conv_backend(void) { return dlt_conv_backend_name(dlt_conv_backend_get()); }

static void test_conv_case(const char *case_name, int N, int C, int H, int W, const conv_ref *c,
                           const char *text, int expect_ho, int expect_wo)
{
    char what[160];
    snprintf(what, sizeof what, "%s, %s", case_name, conv_backend());
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], N, C, H, W);
    fill_uniform(t.bot[0].data, t.bot[0].count, -1, 1);
    int st = make(&t, "Convolution", text, 1, 1, 0, NULL);
    const dlt_tensor *y = &t.top[0];
    int shape_ok = st == 0 && y->n == N && y->c == c->K && y->h == expect_ho && y->w == expect_wo &&
                   t.l.nparam == 1 + c->bias;
    double e = INFINITY;
    if (shape_ok) {
        t.l.ops->forward(&t.l);
        double *ref = dlt_malloc(y->count * sizeof(double));
        ref_conv(&t.bot[0], t.l.param[0].data, c->bias ? t.l.param[1].data : NULL, c, y->h,
                 y->w, ref);
        e = max_rel_err_f(y->data, ref, y->count);
        free(ref);
    }
    TEST_OK(shape_ok && e <= 1e-5, "conv %s: setup (status %d, top %dx%dx%dx%d) and forward "
            "match the direct loop (max rel err %.2g)", what, st, y->n, y->c, y->h, y->w, e);
    if (shape_ok)
        grad_test(&t, 1, 1e-2, what);
    if (shape_ok && dlt_conv_backend_get() == DLT_CONV_DNNL)
        TEST_OK(dlt__conv_uses_dnnl(&t.l), "conv %s: ran on oneDNN (no im2col fallback)", what);
    destroy(&t);
}

/* A batch processed in chunks (im2col: patch matrices; oneDNN: weight
 * gradient chunks, blocked layouts): forward and all three gradients
 * against the direct loops, on the layer shapes of LeNet at the per-rank
 * batches of tests/test_dist_equiv.sh. */
static void test_conv_batch(int N, int C, int H, int W, int K, int k, int p)
{
    conv_ref c = {.K = K, .G = 1, .kh = k, .kw = k, .sh = 1, .sw = 1, .ph = p, .pw = p, .bias = 1};
    char text[128], what[96];
    snprintf(text, sizeof text, "convolution_param { num_output: %d kernel_size: %d pad: %d }", K,
             k, p);
    snprintf(what, sizeof what, "%dx%dx%dx%d, %d outputs, k%d p%d, %s", N, C, H, W, K, k, p,
             conv_backend());
    const int Ho = H + 2 * p - k + 1, Wo = W + 2 * p - k + 1;
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], N, C, H, W);
    fill_uniform(t.bot[0].data, t.bot[0].count, -1, 1);
    int st = make(&t, "Convolution", text, 1, 1, 0, NULL);
    if (st) {
        TEST_OK(0, "conv batch %s: setup failed (%d)", what, st);
        destroy(&t);
        return;
    }
    dlt_tensor *y = &t.top[0];
    t.l.ops->forward(&t.l);
    double *ref = dlt_malloc(y->count * sizeof(double));
    ref_conv(&t.bot[0], t.l.param[0].data, t.l.param[1].data, &c, Ho, Wo, ref);
    double ef = max_rel_err_f(y->data, ref, y->count);
    free(ref);

    fill_uniform(y->diff, y->count, -1, 1);
    memset(t.l.param[0].diff, 0, t.l.param[0].count * sizeof(float));
    memset(t.l.param[1].diff, 0, t.l.param[1].count * sizeof(float));
    t.l.propagate_down[0] = 1;
    t.l.ops->backward(&t.l);
    double *dw = dlt_malloc(t.l.param[0].count * sizeof(double));
    double *dx = dlt_malloc(t.bot[0].count * sizeof(double));
    double *db = dlt_calloc(K, sizeof(double));
    ref_conv_backward(&t.bot[0], t.l.param[0].data, y->diff, &c, Ho, Wo, dw, dx);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < K; o++)
            for (int q = 0; q < Ho * Wo; q++)
                db[o] += y->diff[((size_t)n * K + o) * Ho * Wo + q];
    double ew = max_rel_err_f(t.l.param[0].diff, dw, t.l.param[0].count);
    double eb = max_rel_err_f(t.l.param[1].diff, db, K);
    double ex = max_rel_err_f(t.bot[0].diff, dx, t.bot[0].count);
    free(dw), free(dx), free(db);
    /* Training runs the same layer every step: a second forward and
     * backward must give the same bits (no state left from the first). */
    size_t nw = t.l.param[0].count, nx = t.bot[0].count;
    float *first = dlt_malloc((nw + K + nx) * sizeof(float));
    memcpy(first, t.l.param[0].diff, nw * sizeof(float));
    memcpy(first + nw, t.l.param[1].diff, K * sizeof(float));
    memcpy(first + nw + K, t.bot[0].diff, nx * sizeof(float));
    memset(t.l.param[0].diff, 0, nw * sizeof(float));
    memset(t.l.param[1].diff, 0, K * sizeof(float));
    t.l.ops->forward(&t.l);
    t.l.ops->backward(&t.l);
    int same = memcmp(first, t.l.param[0].diff, nw * sizeof(float)) == 0 &&
               memcmp(first + nw, t.l.param[1].diff, K * sizeof(float)) == 0 &&
               memcmp(first + nw + K, t.bot[0].diff, nx * sizeof(float)) == 0;
    free(first);
    TEST_OK(same, "conv batch %s: a second forward and backward give the same dW, db, dx", what);
    /* Sums of up to 1,250 (forward, dx) and 27,648 (dW) float products of
     * values up to 1 (the error is absolute below 1); the bias gradient is
     * summed in double on both backends (ranks must not change it). */
    TEST_OK(ef <= 1e-4 && ew <= 1e-3 && eb <= 1e-6 && ex <= 1e-4, "conv batch %s: forward, dW, "
            "db, dx match the direct loops (rel err %.2g, %.2g, %.2g, %.2g)", what, ef, ew, eb, ex);
    destroy(&t);
}

static void test_conv_chunked(void)
{
    test_conv_batch(7, 16, 24, 24, 2, 3, 1); /* im2col: 3 samples per chunk, 3+3+1 */
    static const int batches[] = {12, 16, 24, 48};
    for (int i = 0; i < 4; i++) {
        test_conv_batch(batches[i], 1, 28, 28, 20, 5, 0);  /* LeNet conv1 */
        test_conv_batch(batches[i], 20, 12, 12, 50, 5, 0); /* LeNet conv2 */
    }
}

static void test_conv(void)
{
    conv_ref c1 = {.K = 4, .G = 1, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .bias = 1};
    test_conv_case("k3 s1 p0", 2, 3, 7, 6, &c1,
                   "convolution_param { num_output: 4 kernel_size: 3 }", 5, 4);
    conv_ref c2 = {.K = 3, .G = 1, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .bias = 1};
    test_conv_case("k3 s2 p1", 2, 2, 7, 8, &c2,
                   "convolution_param { num_output: 3 kernel_size: 3 stride: 2 pad: 1 "
                   "weight_filler { type: \"xavier\" } bias_filler { type: \"constant\" value: 0.1 } }",
                   4, 4);
    conv_ref c3 = {.K = 2, .G = 1, .kh = 3, .kw = 2, .sh = 2, .sw = 1, .ph = 1, .pw = 0, .bias = 1};
    test_conv_case("3x2 kernel, stride 2x1, pad 1x0", 2, 2, 6, 5, &c3,
                   "convolution_param { num_output: 2 kernel_h: 3 kernel_w: 2 stride_h: 2 "
                   "stride_w: 1 pad_h: 1 pad_w: 0 }", 3, 4);
    conv_ref c4 = {.K = 6, .G = 2, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .bias = 1};
    test_conv_case("group 2", 2, 4, 5, 5, &c4,
                   "convolution_param { num_output: 6 kernel_size: 3 pad: 1 group: 2 }", 5, 5);
    conv_ref c5 = {.K = 3, .G = 1, .kh = 2, .kw = 2, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .bias = 0};
    test_conv_case("no bias, k2 s2 p1, batch 1", 1, 3, 5, 5, &c5,
                   "convolution_param { num_output: 3 kernel_size: 2 stride: 2 pad: 1 "
                   "bias_term: false }", 3, 3);
    test_conv_chunked();

    conv_ref c6 = {.K = 3, .G = 1, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 2, .pw = 2, .bias = 1,
                   .dh = 2, .dw = 2};
    test_conv_case("dilation 2 pad 2", 2, 2, 7, 6, &c6,
                   "convolution_param { num_output: 3 kernel_size: 3 pad: 2 dilation: 2 }", 7, 6);
    conv_ref c7 = {.K = 4, .G = 2, .kh = 2, .kw = 3, .sh = 2, .sw = 1, .ph = 0, .pw = 1, .bias = 0,
                   .dh = 3, .dw = 2};
    test_conv_case("dilation 3x2, group 2, stride 2x1, 2x3 kernel, no bias", 2, 2, 8, 7, &c7,
                   "convolution_param { num_output: 4 kernel_h: 2 kernel_w: 3 stride_h: 2 "
                   "stride_w: 1 pad_h: 0 pad_w: 1 dilation: 3 dilation: 2 group: 2 "
                   "bias_term: false }", 3, 5);
}

/* ---- Pooling ---- */

static void ref_pool(const dlt_tensor *x, int ave, int kh, int kw, int sh, int sw, int ph,
                     int pw, int Ho, int Wo, double *y)
{
    for (int pl = 0; pl < x->n * x->c; pl++)
        for (int oh = 0; oh < Ho; oh++)
            for (int ow = 0; ow < Wo; ow++) {
                double m = -INFINITY, sum = 0;
                int inside_pad = 0; /* window cells within the padded image */
                for (int i = 0; i < kh; i++)
                    for (int j = 0; j < kw; j++) {
                        int ih = oh * sh - ph + i, iw = ow * sw - pw + j;
                        if (ih < x->h + ph && iw < x->w + pw)
                            inside_pad++;
                        if (ih < 0 || ih >= x->h || iw < 0 || iw >= x->w)
                            continue;
                        double v = x->data[((size_t)pl * x->h + ih) * x->w + iw];
                        m = v > m ? v : m;
                        sum += v;
                    }
                y[((size_t)pl * Ho + oh) * Wo + ow] = ave ? sum / inside_pad : m;
            }
}

static void test_pool_case(const char *what, int N, int C, int H, int W, const char *text,
                           int ave, int kh, int kw, int s, int p, int eho, int ewo)
{
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], N, C, H, W);
    fill_distinct(t.bot[0].data, t.bot[0].count);
    int st = make(&t, "Pooling", text, 1, 1, 0, NULL);
    const dlt_tensor *y = &t.top[0];
    ASSERT_EQ(st == 0 && y->n == N && y->c == C ? y->h * 1000 + y->w : -1, eho * 1000 + ewo,
              "pool %s: output %dx%d -> %dx%d (Caffe rounds up)", what, H, W, y->h, y->w);
    if (st || y->h != eho || y->w != ewo) {
        destroy(&t);
        return;
    }
    t.l.ops->forward(&t.l);
    double *ref = dlt_malloc(y->count * sizeof(double));
    ref_pool(&t.bot[0], ave, kh, kw, s, s, p, p, eho, ewo, ref);
    double e = max_rel_err_f(y->data, ref, y->count);
    free(ref);
    TEST_OK(e <= 1e-6, "pool %s: forward matches the direct loop (max rel err %.2g)", what, e);
    grad_test(&t, 1, 1e-2, what);
    destroy(&t);
}

/* The gradient a MAX window sends back goes to its first maximum in
 * row-major order (Caffe); AVE spreads it over the padded area. */
static void ref_pool_backward(const dlt_tensor *x, int ave, int k, int s, int p, int Ho, int Wo,
                              const float *dy, double *dx)
{
    memset(dx, 0, x->count * sizeof(double));
    for (int pl = 0; pl < x->n * x->c; pl++)
        for (int oh = 0; oh < Ho; oh++)
            for (int ow = 0; ow < Wo; ow++) {
                const float *xp = x->data + (size_t)pl * x->h * x->w;
                double g = dy[((size_t)pl * Ho + oh) * Wo + ow];
                int h0 = oh * s - p, w0 = ow * s - p, best = -1, area = 0;
                for (int i = h0; i < h0 + k; i++)
                    for (int j = w0; j < w0 + k; j++)
                        area += i < x->h + p && j < x->w + p;
                for (int i = h0 < 0 ? 0 : h0; i < h0 + k && i < x->h; i++)
                    for (int j = w0 < 0 ? 0 : w0; j < w0 + k && j < x->w; j++) {
                        int q = i * x->w + j;
                        if (ave)
                            dx[(size_t)pl * x->h * x->w + q] += g / area;
                        else if (best < 0 || xp[q] > xp[best])
                            best = q;
                    }
                if (!ave)
                    dx[(size_t)pl * x->h * x->w + best] += g;
            }
}

/* cifar10_quick's pool1 shape: big enough for the threaded path, values
 * from {0, 1, 2, 3} so most windows have tied maxima. */
static void test_pool_big(const char *what, int ave, int p, int Ho, const char *text)
{
    const int N = 4, C = 16, H = 32, W = 32, k = 3, s = 2, Wo = Ho;
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], N, C, H, W);
    for (size_t i = 0; i < t.bot[0].count; i++)
        t.bot[0].data[i] = (float)(dlt_rng_next(&rng) % 4);
    int st = make(&t, "Pooling", text, 1, 1, 0, NULL);
    const dlt_tensor *y = &t.top[0];
    ASSERT_EQ(st == 0 ? y->h * 1000 + y->w : -1, Ho * 1000 + Wo, "pool %s: output %dx%d",
              what, Ho, Wo);
    if (st || y->h != Ho || y->w != Wo) {
        destroy(&t);
        return;
    }
    t.l.ops->forward(&t.l);
    double *ref = dlt_malloc(t.bot[0].count * sizeof(double));
    ref_pool(&t.bot[0], ave, k, k, s, s, p, p, Ho, Wo, ref);
    double e = max_rel_err_f(y->data, ref, y->count);
    TEST_OK(e <= 1e-6, "pool %s: forward matches the direct loop (max rel err %.2g)", what, e);
    fill_uniform(t.top[0].diff, y->count, -1, 1);
    t.l.propagate_down[0] = 1;
    t.l.ops->backward(&t.l);
    ref_pool_backward(&t.bot[0], ave, k, s, p, Ho, Wo, t.top[0].diff, ref);
    e = max_rel_err_f(t.bot[0].diff, ref, t.bot[0].count);
    TEST_OK(e <= 1e-5, "pool %s: backward matches the direct loop%s (max rel err %.2g)", what,
            ave ? "" : ", ties to the first maximum", e);
    free(ref);
    destroy(&t);
}

static void test_pool(void)
{
    test_pool_case("MAX k2 s2 (5x5)", 2, 3, 5, 5, "pooling_param { pool: MAX kernel_size: 2 "
                   "stride: 2 }", 0, 2, 2, 2, 0, 3, 3);
    test_pool_case("MAX k3 s2 p1", 2, 2, 6, 7, "pooling_param { pool: MAX kernel_size: 3 "
                   "stride: 2 pad: 1 }", 0, 3, 3, 2, 1, 4, 4);
    test_pool_case("MAX k2 s2 p1 (last window dropped)", 1, 2, 5, 5, "pooling_param { "
                   "kernel_size: 2 stride: 2 pad: 1 }", 0, 2, 2, 2, 1, 3, 3);
    test_pool_case("AVE k3 s2 p1", 2, 2, 6, 7, "pooling_param { pool: AVE kernel_size: 3 "
                   "stride: 2 pad: 1 }", 1, 3, 3, 2, 1, 4, 4);
    test_pool_case("AVE global", 2, 3, 4, 5, "pooling_param { pool: AVE global_pooling: true }",
                   1, 4, 5, 1, 0, 1, 1);
    /* Caffe rounds up: 16 windows without padding (the last overhangs), 17 with pad 1. */
    test_pool_big("MAX k3 s2 4x16x32x32", 0, 0, 16,
                  "pooling_param { pool: MAX kernel_size: 3 stride: 2 }");
    test_pool_big("MAX k3 s2 p1 4x16x32x32", 0, 1, 17,
                  "pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }");
    test_pool_big("AVE k3 s2 p1 4x16x32x32", 1, 1, 17,
                  "pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 }");
}

/* ---- InnerProduct ---- */

static void test_ip_case(const char *what, int bias, const char *text)
{
    const int N = 3, C = 2, H = 3, W = 2, K = 5, D = C * H * W;
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], N, C, H, W);
    fill_uniform(t.bot[0].data, t.bot[0].count, -1, 1);
    int st = make(&t, "InnerProduct", text, 1, 1, 0, NULL);
    const dlt_tensor *y = &t.top[0];
    int ok = st == 0 && y->n == N && y->c == K && y->h == 1 && y->w == 1 &&
             t.l.nparam == 1 + bias && t.l.param[0].n == K && t.l.param[0].c == D;
    double e = INFINITY;
    if (ok) {
        t.l.ops->forward(&t.l);
        double ref[N * K];
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++) {
                double acc = bias ? t.l.param[1].data[k] : 0;
                for (int d = 0; d < D; d++)
                    acc += (double)t.l.param[0].data[k * D + d] * t.bot[0].data[n * D + d];
                ref[n * K + k] = acc;
            }
        e = max_rel_err_f(y->data, ref, (size_t)N * K);
    }
    TEST_OK(ok && e <= 1e-5, "ip %s: weight K x D, forward matches the loop (status %d, max "
            "rel err %.2g)", what, st, e);
    if (ok)
        grad_test(&t, 1, 1e-2, what);
    destroy(&t);
}

static void test_ip(void)
{
    test_ip_case("with bias", 1, "inner_product_param { num_output: 5 weight_filler { type: "
                 "\"gaussian\" std: 0.01 } }");
    test_ip_case("no bias", 0, "inner_product_param { num_output: 5 bias_term: false }");
}

/* ---- ReLU ---- */

static void test_relu_case(const char *what, double slope, int inplace, const char *text)
{
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 2, 3, 4, 5);
    fill_distinct(t.bot[0].data, t.bot[0].count);
    /* Keep every input at least 0.025 from the kink. */
    for (size_t i = 0; i < t.bot[0].count; i++)
        if (fabsf(t.bot[0].data[i]) < 0.03f)
            t.bot[0].data[i] = 0.5f;
    size_t n = t.bot[0].count;
    double *ref = dlt_malloc(n * sizeof(double));
    float *x0 = dlt_malloc(n * sizeof(float));
    memcpy(x0, t.bot[0].data, n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        ref[i] = x0[i] > 0 ? x0[i] : slope * x0[i];
    int st = make(&t, "ReLU", text, 1, 1, inplace, NULL);
    double e = INFINITY;
    if (st == 0) {
        t.l.ops->forward(&t.l);
        e = max_rel_err_f(t.l.top[0]->data, ref, n);
        memcpy(t.bot[0].data, x0, n * sizeof(float)); /* in place overwrote the input */
    }
    free(ref);
    free(x0);
    TEST_OK(st == 0 && e <= 1e-7, "relu %s: forward (status %d, max rel err %.2g)", what, st, e);
    if (st == 0)
        grad_test(&t, 1, 1e-2, what);
    destroy(&t);
}

static void test_relu(void)
{
    test_relu_case("slope 0", 0, 0, "");
    test_relu_case("slope 0.1 in place", 0.1, 1, "relu_param { negative_slope: 0.1 }");
}

/* ---- SoftmaxWithLoss ---- */

static void test_softmax_case(const char *what, int N, int C, int H, int W, const char *text,
                              int ignore, int norm_batch, float loss_weight)
{
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], N, C, H, W);
    dlt_tensor_reshape(&t.bot[1], N, 1, H, W);
    fill_uniform(t.bot[0].data, t.bot[0].count, -3, 3);
    for (size_t i = 0; i < t.bot[1].count; i++)
        t.bot[1].data[i] = (float)dlt_rng_below(&rng, (uint64_t)C);
    if (ignore >= 0)
        t.bot[1].data[0] = t.bot[1].data[2] = (float)ignore;
    int st = make(&t, "SoftmaxWithLoss", text, 2, 1, 0, NULL);
    t.l.loss_weight[0] = loss_weight;
    int ok = st == 0 && t.l.is_loss && t.top[0].count == 1;
    double e = INFINITY, ref = 0;
    if (ok) {
        t.l.ops->forward(&t.l);
        size_t inner = (size_t)H * W, valid = 0;
        for (int n = 0; n < N; n++)
            for (size_t j = 0; j < inner; j++) {
                int lab = (int)t.bot[1].data[n * inner + j];
                if (lab == ignore)
                    continue;
                double z = 0;
                for (int c = 0; c < C; c++)
                    z += exp((double)t.bot[0].data[(n * C + c) * inner + j]);
                ref -= (double)t.bot[0].data[(n * C + lab) * inner + j] - log(z);
                valid++;
            }
        ref /= norm_batch ? (double)N : (double)valid;
        e = fabs(t.top[0].data[0] - ref) / fmax(1, fabs(ref));
    }
    TEST_OK(ok && e <= 1e-5, "softmax loss %s: loss %.6f vs reference %.6f (status %d)", what,
            ok ? t.top[0].data[0] : NAN, ref, st);
    if (ok) {
        for (size_t i = 0; i < t.bot[1].count; i++)
            t.bot[1].diff[i] = 3.0f;
        grad_test(&t, 1, 1e-2, what);
        int untouched = 1;
        for (size_t i = 0; i < t.bot[1].count; i++)
            untouched &= t.bot[1].diff[i] == 3.0f;
        if (ignore >= 0)
            TEST_OK(untouched && t.bot[0].diff[0] == 0.0f, "softmax loss %s: no gradient to "
                    "the labels or to ignored entries", what);
    }
    destroy(&t);
}

static void test_softmax(void)
{
    test_softmax_case("N=4 C=5, loss_weight 1.7", 4, 5, 1, 1, "", -1, 0, 1.7f);
    test_softmax_case("ignore_label 2 (VALID)", 5, 4, 1, 1, "loss_param { ignore_label: 2 }",
                      2, 0, 1.0f);
    test_softmax_case("spatial 2x3, BATCH_SIZE", 2, 3, 2, 3,
                      "loss_param { normalization: BATCH_SIZE }", -1, 1, 0.5f);
}

/* ---- Accuracy ---- */

static void test_accuracy(void)
{
    for (int k = 1; k <= 2; k++) {
        const int N = 50, C = 6;
        tcase t;
        memset(&t, 0, sizeof t);
        dlt_tensor_reshape(&t.bot[0], N, C, 1, 1);
        dlt_tensor_reshape(&t.bot[1], N, 1, 1, 1);
        fill_distinct(t.bot[0].data, t.bot[0].count);
        for (int n = 0; n < N; n++)
            t.bot[1].data[n] = (float)dlt_rng_below(&rng, C);
        char text[64];
        snprintf(text, sizeof text, "accuracy_param { top_k: %d }", k);
        int st = make(&t, "Accuracy", text, 2, 1, 0, NULL);
        int correct = 0;
        for (int n = 0; n < N; n++) {
            /* rank of the true class by sorting-free count of larger scores */
            int lab = (int)t.bot[1].data[n], rank = 0;
            for (int c = 0; c < C; c++)
                rank += t.bot[0].data[n * C + c] > t.bot[0].data[n * C + lab];
            correct += rank < k;
        }
        if (st == 0)
            t.l.ops->forward(&t.l);
        ASSERT_NEAR(st == 0 ? t.top[0].data[0] : -1, (double)correct / N, 1e-6,
                    "accuracy top_k %d: %d of %d correct", k, correct, N);
        destroy(&t);
    }

    /* Ties count against the prediction (Caffe); ignore_label drops a sample. */
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 4, 3, 1, 1);
    dlt_tensor_reshape(&t.bot[1], 4, 1, 1, 1);
    const float s[12] = {1, 1, 0,  /* tie with label 0: wrong at top 1 */
                         0, 2, 1,  /* label 1: right */
                         3, 2, 1,  /* label 2: wrong */
                         5, 5, 5}; /* label 9: ignored */
    const float lab[4] = {0, 1, 2, 9};
    memcpy(t.bot[0].data, s, sizeof s);
    memcpy(t.bot[1].data, lab, sizeof lab);
    int st = make(&t, "Accuracy", "accuracy_param { ignore_label: 9 }", 2, 1, 0, NULL);
    if (st == 0)
        t.l.ops->forward(&t.l);
    ASSERT_NEAR(st == 0 ? t.top[0].data[0] : -1, 1.0 / 3, 1e-6,
                "accuracy: ties count as wrong, ignored label skipped (1 of 3)");
    destroy(&t);

    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 4, 3, 1, 1);
    dlt_tensor_reshape(&t.bot[1], 3, 1, 1, 1);
    st = make(&t, "Accuracy", "", 2, 1, 0, NULL);
    ASSERT_EQ(st, DLT_ERR_PARSE, "accuracy: 3 labels for 4 predictions is an error");
    destroy(&t);
}

/* ---- Data layers, registry ---- */

static void test_data(void)
{
    dlt_layer_context ctx = {DLT_PHASE_TRAIN, 3, 8, 9};
    tcase t;
    memset(&t, 0, sizeof t);
    int st = make(&t, "Data", "data_param { source: \"x_lmdb\" backend: LMDB batch_size: 5 } "
                  "transform_param { scale: 0.00390625 }", 0, 2, 0, &ctx);
    const dlt_data_params *dp = st == 0 ? dlt_layer_data_params(&t.l) : NULL;
    TEST_OK(dp && dp->batch_size == 5 && fabsf(dp->scale - 0.00390625f) < 1e-9f &&
            t.top[0].n == 5 && t.top[0].c == 3 && t.top[0].h == 8 && t.top[0].w == 9 &&
            t.top[1].count == 5, "Data: batch 5, scale 1/256, tops 5x3x8x9 and 5 labels "
            "(status %d)", st);
    destroy(&t);

    memset(&t, 0, sizeof t);
    st = make(&t, "HDF5Data", "hdf5_data_param { source: \"list.txt\" batch_size: 2 "
              "shuffle: true }", 0, 2, 0, &ctx);
    dp = st == 0 ? dlt_layer_data_params(&t.l) : NULL;
    TEST_OK(dp && dp->batch_size == 2 && dp->scale == 1.0f && t.top[0].n == 2,
            "HDF5Data: batch 2, default scale 1 (status %d)", st);
    destroy(&t);

    memset(&t, 0, sizeof t);
    st = make(&t, "Data", "data_param { batch_size: 5 } transform_param { mirror: true "
              "crop_size: 2 mean_value: 1 mean_value: 2 }", 0, 2, 0, &ctx);
    dp = st == 0 ? dlt_layer_data_params(&t.l) : NULL;
    TEST_OK(dp && dp->mirror && dp->crop_size == 2 && dp->n_mean_value == 2 &&
            dp->mean_value[1] == 2.0f && t.top[0].h == 2 && t.top[0].w == 2,
            "Data: mirror, crop_size (top is cropped), mean_value read (status %d)", st);
    destroy(&t);

    memset(&t, 0, sizeof t);
    st = make(&t, "Data", "data_param { batch_size: 5 } transform_param { force_gray: true }",
              0, 2, 0, &ctx);
    ASSERT_EQ(st, DLT_ERR_PARSE, "Data: transform_param force_gray is rejected (fixed at prep)");
    destroy(&t);

    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 1, 1, 4, 4);
    st = make(&t, "ReLU", "", 1, 1, 0, NULL);
    TEST_OK(st == 0 && dlt_layer_data_params(&t.l) == NULL, "data params of a ReLU are NULL");
    destroy(&t);
}

static void test_registry(void)
{
    static const char *const types[] = {"Data", "HDF5Data", "Convolution", "Pooling",
                                        "InnerProduct", "ReLU", "SoftmaxWithLoss", "Accuracy",
                                        "Sigmoid", "TanH", "Dropout", "Softmax", "Concat",
                                        "Eltwise", "Flatten", "LRN", "BatchNorm", "Scale"};
    const int ntypes = (int)(sizeof types / sizeof types[0]);
    int found = 0;
    for (int i = 0; i < ntypes; i++) {
        const dlt_layer_ops *o = dlt_layer_find(types[i]);
        found += o && strcmp(o->type, types[i]) == 0 && strstr(dlt_layer_type_list(), types[i]);
    }
    TEST_OK(found == ntypes && !dlt_layer_find("relu") && !dlt_layer_find("Deconvolution"),
            "registry: %d types found by exact name, in the type list (%s)", ntypes,
            dlt_layer_type_list());
}

/* ---- Fillers ---- */

static void test_fillers(void)
{
    dlt_pnode *root = NULL;
    dlt_filler f;
    dlt_tensor w;
    memset(&w, 0, sizeof w);
    dlt_tensor_reshape(&w, 50, 20, 5, 5); /* fan_in 500, fan_out 1250 */
    int st = dlt_pt_parse_string("weight_filler { type: \"xavier\" }", "f.prototxt", &root);
    if (st == 0)
        st = dlt_filler_parse(dlt_pt_get(root, "weight_filler"), &f);
    double lim = sqrt(3.0 / 500), mn = 1e9, mx = -1e9, mean = 0, var = 0;
    if (st == 0) {
        dlt_filler_fill(&f, &w, &rng);
        for (size_t i = 0; i < w.count; i++) {
            mn = fmin(mn, w.data[i]), mx = fmax(mx, w.data[i]);
            mean += w.data[i];
            var += (double)w.data[i] * w.data[i];
        }
        mean /= w.count, var /= w.count;
    }
    TEST_OK(st == 0 && f.type == DLT_FILLER_XAVIER && mn >= -lim && mx <= lim &&
            mn < -0.95 * lim && mx > 0.95 * lim,
            "xavier: values within +-sqrt(3/fan_in) = %.4f and reach it (min %.4f max %.4f)",
            lim, mn, mx);
    TEST_OK(fabs(mean) < 0.05 * lim && fabs(var - lim * lim / 3) < 0.05 * lim * lim / 3,
            "xavier: mean %.2g ~ 0, variance %.3g ~ 1/fan_in = %.3g", mean, var, 1.0 / 500);
    dlt_pt_free(root);

    root = NULL;
    st = dlt_pt_parse_string("f { type: \"msra\" variance_norm: FAN_OUT }", "f.prototxt", &root);
    if (st == 0)
        st = dlt_filler_parse(dlt_pt_get(root, "f"), &f);
    var = 0;
    if (st == 0) {
        dlt_filler_fill(&f, &w, &rng);
        for (size_t i = 0; i < w.count; i++)
            var += (double)w.data[i] * w.data[i];
        var /= w.count;
    }
    TEST_OK(st == 0 && fabs(var - 2.0 / 1250) < 0.05 * 2.0 / 1250,
            "msra FAN_OUT: variance %.3g ~ 2/fan_out = %.3g", var, 2.0 / 1250);
    dlt_pt_free(root);

    root = NULL;
    st = dlt_pt_parse_string("a { type: \"uniform\" min: -2 max: 3 } b { type: \"constant\" "
                             "value: 0.25 } c { type: \"gaussian\" mean: 1 std: 0.5 }",
                             "f.prototxt", &root);
    dlt_filler fa, fb, fc;
    if (st == 0)
        st = dlt_filler_parse(dlt_pt_get(root, "a"), &fa) |
             dlt_filler_parse(dlt_pt_get(root, "b"), &fb) |
             dlt_filler_parse(dlt_pt_get(root, "c"), &fc);
    int ok = st == 0;
    if (ok) {
        dlt_filler_fill(&fa, &w, &rng);
        mn = 1e9, mx = -1e9;
        for (size_t i = 0; i < w.count; i++)
            mn = fmin(mn, w.data[i]), mx = fmax(mx, w.data[i]);
        ok &= mn >= -2 && mx < 3 && mn < -1.9 && mx > 2.9;
        dlt_filler_fill(&fb, &w, &rng);
        for (size_t i = 0; i < w.count; i++)
            ok &= w.data[i] == 0.25f;
        dlt_filler_fill(&fc, &w, &rng);
        mean = 0, var = 0;
        for (size_t i = 0; i < w.count; i++)
            mean += w.data[i];
        mean /= w.count;
        for (size_t i = 0; i < w.count; i++)
            var += (w.data[i] - mean) * (w.data[i] - mean);
        var /= w.count;
        ok &= fabs(mean - 1) < 0.02 && fabs(var - 0.25) < 0.0125;
    }
    TEST_OK(ok, "uniform [-2,3), constant 0.25, gaussian(1, 0.5) fill as configured");
    dlt_pt_free(root);

    root = NULL;
    st = dlt_pt_parse_string("f { type: \"bilinear\" }", "f.prototxt", &root);
    if (st == 0)
        st = dlt_filler_parse(dlt_pt_get(root, "f"), &f);
    ASSERT_EQ(st, DLT_ERR_PARSE, "unknown filler type 'bilinear' is an error");
    dlt_pt_free(root);

    dlt_filler_parse(NULL, &f);
    TEST_OK(f.type == DLT_FILLER_CONSTANT && f.value == 0 && f.max == 1 && f.std == 1 &&
            f.variance_norm == DLT_NORM_FAN_IN, "filler defaults are Caffe's");
    dlt_tensor_release(&w);
}

/* ---- Layers of the full set: each forward against a direct loop in
 * double (REF fills ref[] from the bottoms), then finite differences. ---- */

typedef void (*ref_fn)(tcase *t, double *ref, const void *arg);

/* Build TYPE over NB bottoms of shape SHAPES[b] (values in [-1, 1], or
 * distinct values when DISTINCT), check the top shape EXPECT and the
 * forward against REF (tolerance TOL), then the gradients of the bottoms
 * in CHECK and of every parameter. */
static void layer_case(const char *what, const char *type, const char *text, int nb,
                       const int (*shapes)[4], int distinct, int inplace, const int expect[4],
                       ref_fn ref, const void *arg, double tol, unsigned check,
                       const dlt_layer_context *ctx)
{
    tcase t;
    memset(&t, 0, sizeof t);
    for (int b = 0; b < nb; b++) {
        dlt_tensor_reshape(&t.bot[b], shapes[b][0], shapes[b][1], shapes[b][2], shapes[b][3]);
        if (distinct) { /* offset per bottom: no ties across bottoms either */
            fill_distinct(t.bot[b].data, t.bot[b].count);
            for (size_t i = 0; i < t.bot[b].count; i++)
                t.bot[b].data[i] += 0.05f / 3 * b;
        }
        else
            fill_uniform(t.bot[b].data, t.bot[b].count, -1, 1);
    }
    int st = make(&t, type, text, nb, 1, inplace, ctx);
    const dlt_tensor *y = t.l.top[0];
    int shape_ok = st == 0 && y->n == expect[0] && y->c == expect[1] && y->h == expect[2] &&
                   y->w == expect[3];
    double e = INFINITY;
    if (shape_ok) {
        size_t n0 = t.bot[0].count;
        float *x0 = dlt_malloc(n0 * sizeof(float));
        memcpy(x0, t.bot[0].data, n0 * sizeof(float));
        double *r = dlt_malloc(y->count * sizeof(double) + 1);
        ref(&t, r, arg);
        t.l.ops->forward(&t.l);
        e = max_rel_err_f(y->data, r, y->count);
        memcpy(t.bot[0].data, x0, n0 * sizeof(float)); /* in place overwrote it */
        free(r), free(x0);
    }
    TEST_OK(shape_ok && e <= tol, "%s: setup (status %d, top %dx%dx%dx%d) and forward match the "
            "direct loop (max rel err %.2g)", what, st, y->n, y->c, y->h, y->w, e);
    if (shape_ok)
        grad_test(&t, check, 1e-2, what);
    destroy(&t);
}

static void ref_sigmoid(tcase *t, double *r, const void *arg)
{
    (void)arg;
    for (size_t i = 0; i < t->bot[0].count; i++)
        r[i] = 1.0 / (1.0 + exp(-(double)t->bot[0].data[i]));
}

static void ref_tanh(tcase *t, double *r, const void *arg)
{
    (void)arg;
    for (size_t i = 0; i < t->bot[0].count; i++)
        r[i] = tanh((double)t->bot[0].data[i]);
}

/* Softmax over axis *(int *)arg of an NCHW blob. */
static void ref_softmax(tcase *t, double *r, const void *arg)
{
    const dlt_tensor *x = &t->bot[0];
    int axis = *(const int *)arg, d[4] = {x->n, x->c, x->h, x->w};
    size_t stride = 1;
    for (int k = axis + 1; k < 4; k++)
        stride *= (size_t)d[k];
    for (size_t i = 0; i < x->count; i++) {
        size_t pos = i / stride % (size_t)d[axis], base = i - pos * stride;
        double m = -INFINITY, sum = 0;
        for (int c = 0; c < d[axis]; c++)
            m = fmax(m, x->data[base + c * stride]);
        for (int c = 0; c < d[axis]; c++)
            sum += exp(x->data[base + c * stride] - m);
        r[i] = exp(x->data[i] - m) / sum;
    }
}

static void test_activations(void)
{
    const int s[1][4] = {{2, 3, 4, 5}}, e[4] = {2, 3, 4, 5};
    layer_case("sigmoid", "Sigmoid", "", 1, s, 0, 0, e, ref_sigmoid, NULL, 1e-6, 1, NULL);
    layer_case("sigmoid in place", "Sigmoid", "", 1, s, 0, 1, e, ref_sigmoid, NULL, 1e-6, 1, NULL);
    layer_case("tanh", "TanH", "", 1, s, 0, 0, e, ref_tanh, NULL, 1e-6, 1, NULL);
    layer_case("tanh in place", "TanH", "", 1, s, 0, 1, e, ref_tanh, NULL, 1e-6, 1, NULL);
    int a1 = 1, a3 = 3;
    layer_case("softmax axis 1", "Softmax", "", 1, s, 0, 0, e, ref_softmax, &a1, 1e-6, 1, NULL);
    layer_case("softmax axis -1 (w)", "Softmax", "softmax_param { axis: -1 }", 1, s, 0, 0, e,
               ref_softmax, &a3, 1e-6, 1, NULL);
}

/* Concat: output index -> (bottom, index) by walking the axis. */
static void ref_concat(tcase *t, double *r, const void *arg)
{
    int axis = *(const int *)arg;
    const dlt_tensor *y = t->l.top[0];
    int d[4] = {y->n, y->c, y->h, y->w};
    for (int n = 0; n < d[0]; n++)
        for (int c = 0; c < d[1]; c++)
            for (int h = 0; h < d[2]; h++)
                for (int w = 0; w < d[3]; w++) {
                    int idx[4] = {n, c, h, w}, b = 0;
                    while (idx[axis] >= (axis == 0 ? t->bot[b].n : axis == 1 ? t->bot[b].c
                                         : axis == 2 ? t->bot[b].h : t->bot[b].w)) {
                        idx[axis] -= axis == 0 ? t->bot[b].n : axis == 1 ? t->bot[b].c
                                     : axis == 2 ? t->bot[b].h : t->bot[b].w;
                        b++;
                    }
                    const dlt_tensor *x = &t->bot[b];
                    r[((n * d[1] + c) * d[2] + h) * d[3] + w] =
                        x->data[((idx[0] * x->c + idx[1]) * x->h + idx[2]) * x->w + idx[3]];
                }
}

static void test_concat(void)
{
    const int s1[3][4] = {{2, 3, 4, 5}, {2, 1, 4, 5}, {2, 2, 4, 5}}, e1[4] = {2, 6, 4, 5};
    int a1 = 1, a0 = 0, a2 = 2;
    layer_case("concat channels (3 bottoms)", "Concat", "", 3, s1, 0, 0, e1, ref_concat, &a1,
               0, 7, NULL);
    const int s0[2][4] = {{2, 3, 2, 2}, {1, 3, 2, 2}}, e0[4] = {3, 3, 2, 2};
    layer_case("concat axis 0", "Concat", "concat_param { axis: 0 }", 2, s0, 0, 0, e0,
               ref_concat, &a0, 0, 3, NULL);
    const int s2[2][4] = {{2, 3, 2, 2}, {2, 3, 3, 2}}, e2[4] = {2, 3, 5, 2};
    layer_case("concat axis 2 (concat_dim), only bottom 1 propagates", "Concat",
               "concat_param { concat_dim: 2 }", 2, s2, 0, 0, e2, ref_concat, &a2, 0, 2, NULL);
}

typedef struct elt_arg {
    int op; /* 0 prod, 1 sum, 2 max */
    double coeff[3];
} elt_arg;

static void ref_eltwise(tcase *t, double *r, const void *arg)
{
    const elt_arg *a = arg;
    for (size_t i = 0; i < t->bot[0].count; i++) {
        double v = a->op == 1 ? a->coeff[0] * t->bot[0].data[i] : t->bot[0].data[i];
        for (int b = 1; b < t->nb; b++) {
            double x = t->bot[b].data[i];
            v = a->op == 0 ? v * x : a->op == 1 ? v + a->coeff[b] * x : fmax(v, x);
        }
        r[i] = v;
    }
}

static void test_eltwise(void)
{
    const int s[3][4] = {{2, 3, 3, 2}, {2, 3, 3, 2}, {2, 3, 3, 2}}, e[4] = {2, 3, 3, 2};
    elt_arg sum = {1, {1, 1, 1}}, sumc = {1, {0.5, -2, 3}}, prod = {0, {0}}, max = {2, {0}};
    layer_case("eltwise SUM (default)", "Eltwise", "", 2, s, 0, 0, e, ref_eltwise, &sum, 1e-6, 3,
               NULL);
    layer_case("eltwise SUM coeff 0.5 -2 3", "Eltwise",
               "eltwise_param { operation: SUM coeff: 0.5 coeff: -2 coeff: 3 }", 3, s, 0, 0, e,
               ref_eltwise, &sumc, 1e-6, 7, NULL);
    layer_case("eltwise SUM in place on bottom 0", "Eltwise", "", 2, s, 0, 1, e, ref_eltwise,
               &sum, 1e-6, 3, NULL);
    layer_case("eltwise PROD (3 bottoms)", "Eltwise", "eltwise_param { operation: PROD }", 3, s,
               0, 0, e, ref_eltwise, &prod, 1e-6, 7, NULL);
    /* Distinct values: every max is unique and stays so under the +-1e-2 step. */
    layer_case("eltwise MAX", "Eltwise", "eltwise_param { operation: MAX }", 3, s, 1, 0, e,
               ref_eltwise, &max, 0, 7, NULL);
}

typedef struct lrn_arg {
    int within, size;
    double alpha, beta, k;
} lrn_arg;

static void ref_lrn(tcase *t, double *r, const void *arg)
{
    const lrn_arg *a = arg;
    const dlt_tensor *x = &t->bot[0];
    int pre = (a->size - 1) / 2;
    for (int n = 0; n < x->n; n++)
        for (int c = 0; c < x->c; c++)
            for (int h = 0; h < x->h; h++)
                for (int w = 0; w < x->w; w++) {
                    size_t i = (((size_t)n * x->c + c) * x->h + h) * x->w + w;
                    double acc = 0, scale;
                    if (!a->within) {
                        for (int j = c - pre; j <= c + pre; j++)
                            if (j >= 0 && j < x->c) {
                                double v = x->data[(((size_t)n * x->c + j) * x->h + h) * x->w + w];
                                acc += v * v;
                            }
                        scale = a->k + a->alpha / a->size * acc;
                    } else {
                        /* Caffe's AVE pooling: divisor = window clipped to the padded input. */
                        int h0 = h - pre, w0 = w - pre;
                        int h1 = fmin(h0 + a->size, x->h + pre), w1 = fmin(w0 + a->size, x->w + pre);
                        double div = (double)(h1 - h0) * (w1 - w0);
                        for (int hh = h0; hh < h1; hh++)
                            for (int ww = w0; ww < w1; ww++)
                                if (hh >= 0 && hh < x->h && ww >= 0 && ww < x->w) {
                                    double v = x->data[(((size_t)n * x->c + c) * x->h + hh) * x->w + ww];
                                    acc += v * v;
                                }
                        scale = 1 + a->alpha * acc / div;
                    }
                    r[i] = x->data[i] * pow(scale, -a->beta);
                }
}

static void test_lrn(void)
{
    const int s[1][4] = {{2, 7, 3, 4}}, e[4] = {2, 7, 3, 4};
    lrn_arg d = {0, 5, 1, 0.75, 1};
    layer_case("lrn ACROSS_CHANNELS defaults", "LRN", "", 1, s, 0, 0, e, ref_lrn, &d, 1e-5, 1, NULL);
    lrn_arg ax = {0, 3, 2.0, 0.6, 2.5};
    layer_case("lrn ACROSS size 3 alpha 2 beta 0.6 k 2.5", "LRN",
               "lrn_param { local_size: 3 alpha: 2 beta: 0.6 k: 2.5 norm_region: ACROSS_CHANNELS }",
               1, s, 0, 0, e, ref_lrn, &ax, 1e-5, 1, NULL);
    lrn_arg wi = {1, 3, 1.5, 0.75, 1};
    const int sw[1][4] = {{2, 2, 5, 6}}, ew[4] = {2, 2, 5, 6};
    layer_case("lrn WITHIN_CHANNEL size 3 alpha 1.5", "LRN",
               "lrn_param { local_size: 3 alpha: 1.5 norm_region: WITHIN_CHANNEL }", 1, sw, 0, 0,
               ew, ref_lrn, &wi, 1e-5, 1, NULL);
    lrn_arg wi5 = {1, 5, 0.5, 1.2, 1};
    layer_case("lrn WITHIN_CHANNEL size 5 beta 1.2 (k ignored, as Caffe)", "LRN",
               "lrn_param { local_size: 5 alpha: 0.5 beta: 1.2 k: 7 norm_region: WITHIN_CHANNEL }",
               1, sw, 0, 0, ew, ref_lrn, &wi5, 1e-5, 1, NULL);
}

/* BatchNorm, batch statistics: per channel (x - mean) / sqrt(var + eps). */
static void ref_bn(tcase *t, double *r, const void *arg)
{
    const dlt_tensor *x = &t->bot[0];
    const double eps = *(const double *)arg;
    size_t P = (size_t)x->h * x->w;
    for (int c = 0; c < x->c; c++) {
        double m = 0, v = 0, cnt = (double)x->n * P;
        for (int n = 0; n < x->n; n++)
            for (size_t p = 0; p < P; p++)
                m += x->data[((size_t)n * x->c + c) * P + p];
        m /= cnt;
        for (int n = 0; n < x->n; n++)
            for (size_t p = 0; p < P; p++) {
                double d = x->data[((size_t)n * x->c + c) * P + p] - m;
                v += d * d;
            }
        v /= cnt;
        for (int n = 0; n < x->n; n++)
            for (size_t p = 0; p < P; p++) {
                size_t i = ((size_t)n * x->c + c) * P + p;
                r[i] = (x->data[i] - m) / sqrt(v + eps);
            }
    }
}

/* BatchNorm with global statistics: blobs / factor. */
static void ref_bn_global(tcase *t, double *r, const void *arg)
{
    const dlt_tensor *x = &t->bot[0];
    const dlt_layer *l = &t->l;
    size_t P = (size_t)x->h * x->w;
    double f = 1.0 / l->param[2].data[0];
    (void)arg;
    for (size_t i = 0; i < x->count; i++) {
        int c = (int)(i / P % (size_t)x->c);
        r[i] = (x->data[i] - l->param[0].data[c] * f) / sqrt(l->param[1].data[c] * f + 1e-5);
    }
}

static void test_batchnorm(void)
{
    const int s[1][4] = {{3, 2, 2, 3}}, e[4] = {3, 2, 2, 3};
    double eps = 1e-5, eps2 = 0.1;
    layer_case("batchnorm train", "BatchNorm", "", 1, s, 0, 0, e, ref_bn, &eps, 1e-5, 1, NULL);
    layer_case("batchnorm train in place, eps 0.1", "BatchNorm", "batch_norm_param { eps: 0.1 }",
               1, s, 0, 1, e, ref_bn, &eps2, 1e-5, 1, NULL);

    /* Global statistics (TEST default): make the blobs positive first. */
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 3, 2, 2, 3);
    fill_uniform(t.bot[0].data, t.bot[0].count, -1, 1);
    const dlt_layer_context test_ctx = {DLT_PHASE_TEST, 1, 28, 28};
    int st = make(&t, "BatchNorm", "", 1, 1, 0, &test_ctx);
    double err = INFINITY;
    if (st == 0) {
        dlt_layer *l = &t.l;
        l->param[0].data[0] = 0.6f, l->param[0].data[1] = -0.4f;
        l->param[1].data[0] = 1.0f, l->param[1].data[1] = 0.3f;
        l->param[2].data[0] = 2.0f;
        double *r = dlt_malloc(t.bot[0].count * sizeof(double));
        ref_bn_global(&t, r, NULL);
        l->ops->forward(l);
        err = max_rel_err_f(t.top[0].data, r, t.top[0].count);
        free(r);
    }
    TEST_OK(st == 0 && t.l.params_not_trained && t.l.nparam == 3 && err <= 1e-6,
            "batchnorm TEST phase: global statistics blob/factor (max rel err %.2g); three "
            "untrained blobs", err);
    if (st == 0)
        grad_test(&t, 1, 1e-2, "batchnorm global stats");
    destroy(&t);

    /* Running averages as Caffe: factor = maf f + 1, mean = maf mean + mu,
     * var = maf var + m/(m-1) sigma^2. */
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 2, 1, 1, 2);
    t.bot[0].data[0] = 1, t.bot[0].data[1] = 2, t.bot[0].data[2] = 3, t.bot[0].data[3] = 6;
    st = make(&t, "BatchNorm", "batch_norm_param { moving_average_fraction: 0.5 }", 1, 1, 0, NULL);
    int ok = st == 0;
    if (ok) {
        dlt_layer *l = &t.l;
        l->param[0].data[0] = 4, l->param[1].data[0] = 2, l->param[2].data[0] = 1;
        l->ops->forward(l);
        /* mu = 3, sigma^2 = (4 + 1 + 0 + 9) / 4 = 3.5, unbiased 14/3 */
        ok = fabsf(l->param[2].data[0] - 1.5f) < 1e-6 && fabsf(l->param[0].data[0] - 5.0f) < 1e-6 &&
             fabs(l->param[1].data[0] - (1.0 + 14.0 / 3)) < 1e-5;
    }
    TEST_OK(ok, "batchnorm running statistics follow Caffe's update (factor %g mean %g var %g)",
            ok ? t.l.param[2].data[0] : 0., ok ? t.l.param[0].data[0] : 0.,
            ok ? t.l.param[1].data[0] : 0.);
    destroy(&t);
}

static void ref_scale(tcase *t, double *r, const void *arg)
{
    const dlt_tensor *x = &t->bot[0];
    const dlt_layer *l = &t->l;
    int bias = *(const int *)arg;
    size_t P = (size_t)x->h * x->w;
    for (size_t i = 0; i < x->count; i++) {
        int c = (int)(i / P % (size_t)x->c);
        r[i] = (double)x->data[i] * l->param[0].data[c] + (bias ? l->param[1].data[c] : 0);
    }
}

static void test_scale(void)
{
    const int s[1][4] = {{3, 4, 2, 3}}, e[4] = {3, 4, 2, 3};
    int b0 = 0, b1 = 1;
    layer_case("scale", "Scale", "", 1, s, 0, 0, e, ref_scale, &b0, 1e-6, 1, NULL);
    layer_case("scale bias_term in place", "Scale", "scale_param { bias_term: true }", 1, s, 0, 1,
               e, ref_scale, &b1, 1e-6, 1, NULL);
    /* Default fillers: scale 1, bias 0 (Caffe). */
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 1, 2, 1, 1);
    int st = make(&t, "Scale", "scale_param { bias_term: true }", 1, 1, 0, NULL);
    TEST_OK(st == 0 && t.l.param_filler[0].type == DLT_FILLER_CONSTANT &&
            t.l.param_filler[0].value == 1 && t.l.param_filler[1].value == 0,
            "scale: default fillers constant 1 (scale) and 0 (bias)");
    destroy(&t);
}

/* Flatten is a copy. */
static void ref_copy(tcase *t, double *r, const void *arg)
{
    (void)arg;
    for (size_t i = 0; i < t->bot[0].count; i++)
        r[i] = t->bot[0].data[i];
}

typedef struct ip_arg {
    int rows, dim, k, transpose;
} ip_arg;

static void ref_ip(tcase *t, double *r, const void *arg)
{
    const ip_arg *a = arg;
    const float *w = t->l.param[0].data, *b = t->l.param[1].data, *x = t->bot[0].data;
    for (int m = 0; m < a->rows; m++)
        for (int k = 0; k < a->k; k++) {
            double acc = b[k];
            for (int d = 0; d < a->dim; d++)
                acc += (double)x[m * a->dim + d] * (a->transpose ? w[d * a->k + k] : w[k * a->dim + d]);
            r[m * a->k + k] = acc;
        }
}

static void test_reshaping(void)
{
    const int s[1][4] = {{2, 3, 2, 2}}, e[4] = {2, 12, 1, 1};
    layer_case("flatten", "Flatten", "", 1, s, 0, 0, e, ref_copy, NULL, 0, 1, NULL);
    ip_arg a2 = {6, 4, 5, 0}, tr = {2, 12, 5, 1};
    const int e2[4] = {2, 3, 5, 1}, et[4] = {2, 5, 1, 1};
    layer_case("ip axis 2", "InnerProduct", "inner_product_param { num_output: 5 axis: 2 }", 1, s,
               0, 0, e2, ref_ip, &a2, 1e-5, 1, NULL);
    layer_case("ip transpose", "InnerProduct",
               "inner_product_param { num_output: 5 transpose: true }", 1, s, 0, 0, et, ref_ip,
               &tr, 1e-5, 1, NULL);
}

/* Dropout: kept values are x / (1 - p), the rest 0, the kept fraction is
 * about 1 - p, the gradient uses the same mask; TEST is the identity. */
static void test_dropout(void)
{
    tcase t;
    memset(&t, 0, sizeof t);
    const int N = 4, C = 50, H = 10, W = 10;
    dlt_tensor_reshape(&t.bot[0], N, C, H, W);
    fill_uniform(t.bot[0].data, t.bot[0].count, 0.5, 1.5);
    int st = make(&t, "Dropout", "dropout_param { dropout_ratio: 0.3 }", 1, 1, 0, NULL);
    int ok = st == 0;
    size_t kept = 0, n = t.bot[0].count;
    if (ok) {
        dlt_rng r;
        dlt_rng_seed(&r, 99);
        t.l.rng = &r;
        t.l.ops->forward(&t.l);
        for (size_t i = 0; i < n; i++) {
            float y = t.top[0].data[i], x = t.bot[0].data[i];
            if (y != 0) {
                kept++;
                ok &= fabsf(y - x / 0.7f) <= 1e-6f * fabsf(y);
            }
            t.top[0].diff[i] = 1.0f;
        }
        t.l.propagate_down[0] = 1;
        t.l.ops->backward(&t.l);
        for (size_t i = 0; i < n; i++)
            ok &= t.bot[0].diff[i] == (t.top[0].data[i] != 0 ? 1.0f / 0.7f : 0.0f) ||
                  fabsf(t.bot[0].diff[i] - 1.0f / 0.7f) < 1e-6f;
        /* Same RNG state -> same mask (resume); a different one -> another mask. */
        float *y1 = dlt_malloc(n * sizeof(float));
        memcpy(y1, t.top[0].data, n * sizeof(float));
        dlt_rng_seed(&r, 99);
        t.l.ops->forward(&t.l);
        ok &= memcmp(y1, t.top[0].data, n * sizeof(float)) == 0;
        t.l.ops->forward(&t.l);
        ok &= memcmp(y1, t.top[0].data, n * sizeof(float)) != 0;
        free(y1);
    }
    double frac = (double)kept / n;
    TEST_OK(ok && fabs(frac - 0.7) < 0.02, "dropout 0.3 train: kept values scaled by 1/0.7, "
            "kept fraction %.3f ~ 0.7, backward uses the mask, masks follow the RNG state", frac);
    destroy(&t);

    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 2, 3, 1, 1);
    fill_uniform(t.bot[0].data, t.bot[0].count, -1, 1);
    const dlt_layer_context test_ctx = {DLT_PHASE_TEST, 1, 28, 28};
    st = make(&t, "Dropout", "", 1, 1, 0, &test_ctx);
    ok = st == 0;
    if (ok) {
        t.l.ops->forward(&t.l);
        ok = memcmp(t.top[0].data, t.bot[0].data, t.bot[0].count * sizeof(float)) == 0;
    }
    TEST_OK(ok, "dropout TEST phase is the identity");
    if (st == 0)
        grad_test(&t, 1, 1e-2, "dropout test phase");
    destroy(&t);
}

/* Shapes that do not fit fail at setup naming the layer and the shapes. */
static void test_bad_shapes(void)
{
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 2, 3, 4, 4);
    dlt_tensor_reshape(&t.bot[1], 2, 3, 5, 4);
    int st = make(&t, "Concat", "", 2, 1, 0, NULL);
    TEST_OK(st == DLT_ERR_PARSE, "concat of 4x4 and 5x4 maps is a setup error (status %d)", st);
    destroy(&t);
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 2, 3, 4, 4);
    dlt_tensor_reshape(&t.bot[1], 2, 4, 4, 4);
    st = make(&t, "Eltwise", "", 2, 1, 0, NULL);
    TEST_OK(st == DLT_ERR_PARSE, "eltwise of 3 and 4 channels is a setup error (status %d)", st);
    destroy(&t);
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 2, 3, 4, 4);
    st = make(&t, "LRN", "lrn_param { local_size: 4 }", 1, 1, 0, NULL);
    TEST_OK(st == DLT_ERR_PARSE, "lrn with an even local_size is a setup error (status %d)", st);
    destroy(&t);
}

int main(void)
{
    char isa[160];
    printf("# cpu: %s\n", dlt_cpu_isa_describe(isa, sizeof isa));
    dlt_rng_seed(&rng, 12345);
    test_registry();
    test_fillers();
    /* Every convolution case on each backend this build has. */
    dlt_conv_backend_set(DLT_CONV_IM2COL);
    test_conv();
    if (dlt_conv_dnnl_available()) {
        dlt_conv_backend_set(DLT_CONV_DNNL);
        test_conv();
    } else {
        TEST_SKIP("conv on oneDNN: this build has no oneDNN (configure --without-dnnl, or "
                  "libdnnl-dev not installed)");
    }
    dlt_conv_backend_set(DLT_CONV_AUTO);
    test_pool();
    test_ip();
    test_relu();
    test_softmax();
    test_accuracy();
    test_data();
    test_activations();
    test_concat();
    test_eltwise();
    test_lrn();
    test_batchnorm();
    test_scale();
    test_reshaping();
    test_dropout();
    test_bad_shapes();
    TEST_DONE();
}
