/* test_attention_lstm.c - AttentionLSTM (Show, Attend and Tell's soft
 * attention decoder) against a direct loop in double written from the
 * paper's equations, and its gradients through time (T >= 4, a reset in the
 * middle of the batch, with and without the doubly stochastic penalty, whose
 * value the objective adds here from the attention maps) against finite
 * differences: features, words and all eight parameter blobs (twelve with
 * init_state, whose h0, c0 from the mean feature also restart a caption
 * in the middle of the batch). */
#include "fd_harness.h"

typedef struct att_ref {
    int T, N, C, L, E, Hd, A;
    int init; /* init_state */
} att_ref;

static double lambda_; /* the doubly_stochastic of the case under test */

static double sigm(double x) { return 1 / (1 + exp(-x)); }

/* h (T,N,Hd), then alpha (T,N,L), then the contexts z (T,N,C). */
static void ref_att(tcase *t, double *r, const void *arg)
{
    const att_ref *a = arg;
    const int T = a->T, N = a->N, C = a->C, L = a->L, E = a->E, Hd = a->Hd, A = a->A;
    const dlt_layer *l = &t->l;
    const float *F = t->bot[0].data, *x = t->bot[1].data, *cont = t->bot[2].data;
    const float *wx = l->param[0].data, *b = l->param[1].data, *wz = l->param[2].data;
    const float *wh = l->param[3].data, *wfa = l->param[4].data, *wha = l->param[5].data;
    const float *ba = l->param[6].data, *v = l->param[7].data;
    double *h = dlt_calloc((size_t)N * Hd, sizeof(double));
    double *c = dlt_calloc((size_t)N * Hd, sizeof(double));
    double *nh = dlt_calloc((size_t)N * Hd, sizeof(double));
    double *alpha = r + (size_t)T * N * Hd, *zout = alpha + (size_t)T * N * L;
    /* init_state: h0 = tanh(W_ih fm + b_ih), c0 = tanh(W_ic fm + b_ic), fm the mean feature */
    double *h0 = dlt_calloc((size_t)N * Hd, sizeof(double));
    double *c0 = dlt_calloc((size_t)N * Hd, sizeof(double));
    for (int n = 0; a->init && n < N; n++)
        for (int j = 0; j < Hd; j++) {
            double ph = l->param[9].data[j], pc = l->param[11].data[j];
            for (int cc = 0; cc < C; cc++) {
                double fm = 0;
                for (int i = 0; i < L; i++)
                    fm += F[(n * C + cc) * L + i];
                fm /= L;
                ph += l->param[8].data[j * C + cc] * fm;
                pc += l->param[10].data[j * C + cc] * fm;
            }
            h0[n * Hd + j] = tanh(ph), c0[n * Hd + j] = tanh(pc);
        }
    for (int s = 0; s < T; s++) {
        for (int n = 0; n < N; n++) {
            const double keep = s ? cont[s * N + n] : 0; /* zero state before t = 0 */
            double hp[64], cp[64], e[64], z[64];
            for (int j = 0; j < Hd; j++) {
                hp[j] = keep ? h[n * Hd + j] : h0[n * Hd + j];
                cp[j] = keep ? c[n * Hd + j] : c0[n * Hd + j];
            }
            double m = -INFINITY, sum = 0;
            for (int i = 0; i < L; i++) {
                double ei = 0;
                for (int k = 0; k < A; k++) {
                    double u = ba[k];
                    for (int cc = 0; cc < C; cc++)
                        u += (double)wfa[k * C + cc] * F[(n * C + cc) * L + i];
                    for (int j = 0; j < Hd; j++)
                        u += (double)wha[k * Hd + j] * hp[j];
                    ei += v[k] * tanh(u);
                }
                e[i] = ei;
                m = fmax(m, ei);
            }
            for (int i = 0; i < L; i++)
                sum += e[i] = exp(e[i] - m);
            for (int i = 0; i < L; i++)
                alpha[((size_t)s * N + n) * L + i] = e[i] / sum;
            for (int cc = 0; cc < C; cc++) {
                z[cc] = 0;
                for (int i = 0; i < L; i++)
                    z[cc] += alpha[((size_t)s * N + n) * L + i] * F[(n * C + cc) * L + i];
                zout[((size_t)s * N + n) * C + cc] = z[cc];
            }
            for (int j = 0; j < Hd; j++) {
                double pre[4];
                for (int q = 0; q < 4; q++) {
                    const int row = q * Hd + j;
                    double acc = b[row];
                    for (int i = 0; i < E; i++)
                        acc += (double)wx[row * E + i] * x[((size_t)s * N + n) * E + i];
                    for (int cc = 0; cc < C; cc++)
                        acc += (double)wz[row * C + cc] * z[cc];
                    for (int i = 0; i < Hd; i++)
                        acc += (double)wh[row * Hd + i] * hp[i];
                    pre[q] = acc;
                }
                const double cn = sigm(pre[1]) * cp[j] + sigm(pre[0]) * tanh(pre[3]);
                c[n * Hd + j] = cn;
                nh[n * Hd + j] = sigm(pre[2]) * tanh(cn);
            }
        }
        memcpy(h, nh, (size_t)N * Hd * sizeof(double));
        for (int k = 0; k < N * Hd; k++)
            r[(size_t)s * N * Hd + k] = h[k];
    }
    free(h), free(c), free(nh), free(h0), free(c0);
}

/* lambda/N sum_n sum_l (1 - sum_t alpha)^2 from the attention top. */
static double penalty(tcase *t)
{
    const dlt_tensor *al = &t->top[1];
    const int T = al->n, N = al->c, L = al->h;
    double p = 0;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < L; i++) {
            double s = 0;
            for (int k = 0; k < T; k++)
                s += al->data[((size_t)k * N + n) * L + i];
            p += (1 - s) * (1 - s);
        }
    return lambda_ * p / N;
}

static void att_case(const char *what, const char *text, att_ref a, int Hf, int Wf, int nt,
                     const float *cont, double lambda)
{
    tcase t;
    memset(&t, 0, sizeof t);
    const int T = a.T, N = a.N;
    dlt_tensor_reshape(&t.bot[0], N, a.C, Hf, Wf);
    dlt_tensor_reshape(&t.bot[1], T, N, a.E, 1);
    dlt_tensor_reshape(&t.bot[2], T, N, 1, 1);
    fill_uniform(t.bot[0].data, t.bot[0].count, -1, 1);
    fill_uniform(t.bot[1].data, t.bot[1].count, -1, 1);
    memcpy(t.bot[2].data, cont, (size_t)T * N * sizeof(float));
    int st = make(&t, "AttentionLSTM", text, 3, nt, 0, NULL);
    const dlt_layer *l = &t.l;
    const int H4 = 4 * a.Hd;
    int ok = st == 0 && t.top[0].n == T && t.top[0].c == N && t.top[0].h == a.Hd &&
             (nt == 1 || (t.top[1].n == T && t.top[1].c == N && t.top[1].h == a.L)) &&
             (nt < 3 || (t.top[2].n == T && t.top[2].c == N && t.top[2].h == a.C)) &&
             l->nparam == (a.init ? 12 : 8) && l->param[0].n == H4 && l->param[0].c == a.E &&
             l->param[1].count == (size_t)H4 && l->param[2].c == a.C && l->param[3].c == a.Hd &&
             l->param[4].n == a.A && l->param[4].c == a.C && l->param[5].c == a.Hd &&
             l->param[6].count == (size_t)a.A && l->param[7].count == (size_t)a.A &&
             (!a.init || (l->param[8].n == a.Hd && l->param[8].c == a.C &&
                          l->param[9].count == (size_t)a.Hd && l->param[10].n == a.Hd &&
                          l->param[10].c == a.C && l->param[11].count == (size_t)a.Hd));
    double e = INFINITY;
    if (ok) {
        const size_t nh = (size_t)T * N * a.Hd, nl = (size_t)T * N * a.L;
        const size_t nz = (size_t)T * N * a.C;
        double *r = dlt_malloc((nh + nl + nz) * sizeof(double));
        ref_att(&t, r, &a);
        t.l.ops->forward(&t.l);
        e = max_rel_err_f(t.top[0].data, r, nh);
        if (nt >= 2)
            e = fmax(e, max_rel_err_f(t.top[1].data, r + nh, nl));
        if (nt == 3)
            e = fmax(e, max_rel_err_f(t.top[2].data, r + nh + nl, nz));
        free(r);
    }
    TEST_OK(ok && e <= 1e-5, "attention lstm %s: blob shapes, forward (h%s) matches the loop "
            "(status %d, max rel err %.2g)", what,
            nt == 3 ? ", alpha and z" : nt == 2 ? " and alpha" : "", st, e);
    if (ok) {
        lambda_ = lambda;
        fd_extra_objective = lambda > 0 ? penalty : NULL;
        grad_test(&t, 3, 1e-2, what);
        fd_extra_objective = NULL;
    }
    destroy(&t);
}

/* Data parallelism: the batch split in two halves (two ranks) computes the
 * same hidden states and attention maps as the whole batch, bit for bit, at
 * sizes where cblas_sgemm would not (see test_lstm.c). */
static void test_split(const char *text)
{
    enum { T = 3, N = 48, HN = 24, C = 32, L = 4, E = 32, Hd = 16 };
    float cont[T * N];
    for (int i = 0; i < T * N; i++)
        cont[i] = i >= N && i % 7 != 3;
    tcase full;
    memset(&full, 0, sizeof full);
    dlt_tensor_reshape(&full.bot[0], N, C, 2, 2);
    dlt_tensor_reshape(&full.bot[1], T, N, E, 1);
    dlt_tensor_reshape(&full.bot[2], T, N, 1, 1);
    fill_uniform(full.bot[0].data, full.bot[0].count, -1, 1);
    fill_uniform(full.bot[1].data, full.bot[1].count, -1, 1);
    memcpy(full.bot[2].data, cont, sizeof cont);
    int st = make(&full, "AttentionLSTM", text, 3, 2, 0, NULL), same = st == 0;
    if (st == 0)
        full.l.ops->forward(&full.l);
    for (int half = 0; half < 2 && same; half++) {
        tcase t;
        memset(&t, 0, sizeof t);
        dlt_tensor_reshape(&t.bot[0], HN, C, 2, 2);
        dlt_tensor_reshape(&t.bot[1], T, HN, E, 1);
        dlt_tensor_reshape(&t.bot[2], T, HN, 1, 1);
        memcpy(t.bot[0].data, full.bot[0].data + (size_t)half * HN * C * L,
               (size_t)HN * C * L * sizeof(float));
        for (int s = 0; s < T; s++)
            for (int n = 0; n < HN; n++) {
                memcpy(t.bot[1].data + ((size_t)s * HN + n) * E,
                       full.bot[1].data + ((size_t)s * N + half * HN + n) * E, E * sizeof(float));
                t.bot[2].data[s * HN + n] = cont[s * N + half * HN + n];
            }
        same &= make(&t, "AttentionLSTM", text, 3, 2, 0, NULL) == 0;
        for (int p = 0; same && p < t.l.nparam; p++)
            memcpy(t.l.param[p].data, full.l.param[p].data, t.l.param[p].count * sizeof(float));
        if (same)
            t.l.ops->forward(&t.l);
        for (int s = 0; same && s < T; s++) {
            same &= memcmp(t.top[0].data + (size_t)s * HN * Hd,
                           full.top[0].data + ((size_t)s * N + half * HN) * Hd,
                           (size_t)HN * Hd * sizeof(float)) == 0;
            same &= memcmp(t.top[1].data + (size_t)s * HN * L,
                           full.top[1].data + ((size_t)s * N + half * HN) * L,
                           (size_t)HN * L * sizeof(float)) == 0;
        }
        destroy(&t);
    }
    TEST_OK(same, "attention lstm %s: two halves of the batch give the whole batch's hidden "
            "states and maps bit for bit (status %d)", text, st);
    destroy(&full);
}

static void test_refused(void)
{
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 2, 3, 2, 2);
    dlt_tensor_reshape(&t.bot[1], 4, 2, 3, 1);
    dlt_tensor_reshape(&t.bot[2], 4, 3, 1, 1); /* N differs from the features' */
    int st = make(&t, "AttentionLSTM", "attention_lstm_param { num_output: 3 }", 3, 1, 0, NULL);
    TEST_OK(st < 0 && st > -100, "attention lstm refuses cont of another N (status %d)", st);
    destroy(&t);
}

int main(void)
{
    fd_init();
    /* Stream 1 starts a new caption at t = 2 (cont 0). */
    static const float cont[4 * 2] = {0, 0, 1, 1, 1, 0, 1, 1};
    const att_ref a = {4, 2, 3, 4, 3, 3, 2};
    att_case("T=4 N=2 C=3 L=2x2 E=3 Hd=3 A=2, maps", "attention_lstm_param { num_output: 3 "
             "attention_dim: 2 }", a, 2, 2, 2, cont, 0);
    /* T = 5 steps over L = 2 locations: sum_t alpha is far from 1, so the
     * penalty's gradient is large (a backward without it fails here). */
    static const float cont5[5 * 3] = {0, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1};
    const att_ref d = {5, 3, 2, 2, 2, 2, 3};
    att_case("T=5 L=1x2, doubly stochastic 2.5", "attention_lstm_param { num_output: 2 "
             "attention_dim: 3 doubly_stochastic: 2.5 }", d, 1, 2, 2, cont5, 2.5);
    const att_ref b = {5, 3, 2, 6, 2, 2, 3};
    att_case("T=5 N=3 L=3x2, hidden top only", "attention_lstm_param { num_output: 2 "
             "attention_dim: 3 weight_filler { type: \"xavier\" } }", b, 3, 2, 1, cont5, 0);
    /* init_state: the predicted state at t = 0 and again where stream 1 restarts. */
    const att_ref ai = {4, 2, 3, 4, 3, 3, 2, 1};
    att_case("T=4 N=2 L=2x2, init_state, maps", "attention_lstm_param { num_output: 3 "
             "attention_dim: 2 init_state: true }", ai, 2, 2, 2, cont, 0);
    static const float cont6[6 * 3] = {0, 0, 0, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1};
    const att_ref bi = {6, 3, 2, 6, 2, 3, 3, 1};
    att_case("T=6 N=3 L=3x2, init_state, resets at t = 2, 3, 4, doubly stochastic 0.5, "
             "context top", "attention_lstm_param { num_output: 3 attention_dim: 3 "
             "init_state: true doubly_stochastic: 0.5 }", bi, 3, 2, 3, cont6, 0.5);
    att_case("T=4 N=2 L=2x2, context top", "attention_lstm_param { num_output: 3 "
             "attention_dim: 2 }", a, 2, 2, 3, cont, 0);
    test_split("attention_lstm_param { num_output: 16 attention_dim: 16 }");
    test_split("attention_lstm_param { num_output: 16 attention_dim: 16 init_state: true }");
    test_refused();
    TEST_DONE();
}
