/* fd_harness.c - what every layer test shares: build a layer over test
 * tensors, check its gradients against central finite differences in
 * double (objective L = sum top * r with fixed random r), and check a
 * forward against a direct loop in double (layer_case). */
#include "fd_harness.h"

dlt_rng rng;
const dlt_layer_context ctx0 = {DLT_PHASE_TRAIN, 1, 28, 28, 0};
dlt_compute_ctx compute;
double (*fd_extra_objective)(tcase *t);

void fd_init(void)
{
    dlt_rng_seed(&rng, 12345);
    dlt_compute_ctx_init(&compute);
}

void fill_uniform(float *x, size_t n, double a, double b)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(a + (b - a) * dlt_rng_uniform(&rng));
}

/* Values spaced 0.05 apart in random order: no ties, and a +-1e-2 step
 * never reorders them (max pooling, ReLU kinks stay put). */
void fill_distinct(float *x, size_t n)
{
    uint32_t *perm = dlt_malloc(n * sizeof *perm);
    dlt_permutation(perm, n, dlt_rng_next(&rng), 0);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(((double)perm[i] - n / 2.0 + 0.5) * 0.05);
    free(perm);
}

/* Build a layer of TYPE whose `layer { }` body is TEXT; the caller has
 * shaped t->bot[0..nb). Parameters get owned buffers with values in [-1, 1]. */
int make(tcase *t, const char *type, const char *text, int nb, int nt, int inplace,
                const dlt_layer_context *ctx)
{
    dlt_layer *l = &t->l;
    memset(l, 0, sizeof *l);
    snprintf(t->name, sizeof t->name, "test_%s", type);
    l->ops = dlt_layer_find(type);
    l->name = t->name;
    l->compute = &compute;
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
    return dlt_cfg_check_unused(t->root, NULL) ? -102 : 0;
}

void destroy(tcase *t)
{
    if (t->l.ops && t->l.ops->destroy)
        t->l.ops->destroy(&t->l);
    for (int i = 0; i < t->l.nparam; i++)
        dlt_tensor_release(&t->l.param[i]);
    for (int i = 0; i < MAXB; i++) {
        dlt_tensor_release(&t->bot[i]);
        dlt_tensor_release(&t->top[i]);
    }
    dlt_cfg_free(t->root);
    t->root = NULL;
}

/* Worst |a - b| / max(1, |a|, |b|) over N pairs. */
double max_rel_err(const double *a, const double *b, size_t n)
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

double max_rel_err_f(const float *a, const double *b, size_t n)
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
    return fd_extra_objective ? L + fd_extra_objective(t) : L;
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
void grad_test(tcase *t, unsigned check, double eps, const char *what)
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

/* ---- Layers of the full set: each forward against a direct loop in
 * double (REF fills ref[] from the bottoms), then finite differences. ---- */

/* Build TYPE over NB bottoms of shape SHAPES[b] (values in [-1, 1], or
 * distinct values when DISTINCT), check the top shape EXPECT and the
 * forward against REF (tolerance TOL), then the gradients of the bottoms
 * in CHECK and of every parameter. */
void layer_case(const char *what, const char *type, const char *text, int nb,
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
