/* test_lstm.c - LSTM (Caffe's RecurrentLayer contract) against a direct
 * loop in double written from Caffe's equations (gates i, f, o, g; cont = 0
 * drops h and c), and its gradients through time (T >= 4, resets in the
 * middle of the batch) against finite differences: x, the static input,
 * h0/c0 (expose_hidden) and every parameter blob in Caffe's shapes. */
#include "fd_harness.h"

typedef struct lstm_ref {
    int T, N, X, S, H, has_static, expose;
    const float *h0, *c0; /* (N, H) or NULL: zeros */
} lstm_ref;

static double sigm(double x) { return 1 / (1 + exp(-x)); }

/* h (T,N,H) and, after it, hT (N,H) and cT (N,H). */
static void ref_lstm(tcase *t, double *r, const void *arg)
{
    const lstm_ref *a = arg;
    const int T = a->T, N = a->N, X = a->X, S = a->S, H = a->H;
    const dlt_layer *l = &t->l;
    const float *x = t->bot[0].data, *cont = t->bot[1].data;
    const float *wx = l->param[0].data, *b = l->param[1].data;
    const float *ws = a->has_static ? l->param[2].data : NULL;
    const float *wh = l->param[a->has_static ? 3 : 2].data;
    double *h = dlt_calloc((size_t)N * H, sizeof(double));
    double *c = dlt_calloc((size_t)N * H, sizeof(double));
    for (int k = 0; k < N * H; k++) {
        h[k] = a->h0 ? a->h0[k] : 0;
        c[k] = a->c0 ? a->c0[k] : 0;
    }
    double *nh = dlt_malloc((size_t)N * H * sizeof(double));
    for (int s = 0; s < T; s++) {
        for (int n = 0; n < N; n++) {
            const double keep = cont[s * N + n];
            for (int j = 0; j < H; j++) {
                double pre[4];
                for (int q = 0; q < 4; q++) {
                    const int row = q * H + j;
                    double acc = b[row];
                    for (int i = 0; i < X; i++)
                        acc += (double)wx[row * X + i] * x[((size_t)s * N + n) * X + i];
                    for (int i = 0; i < S; i++)
                        acc += (double)ws[row * S + i] * t->bot[2].data[n * S + i];
                    for (int i = 0; i < H; i++)
                        acc += (double)wh[row * H + i] * keep * h[n * H + i];
                    pre[q] = acc;
                }
                const double ig = sigm(pre[0]), fg = sigm(pre[1]), og = sigm(pre[2]);
                const double gg = tanh(pre[3]);
                const double cn = keep * fg * c[n * H + j] + ig * gg;
                c[n * H + j] = cn; /* c of other units is not read again this step */
                nh[n * H + j] = og * tanh(cn);
            }
        }
        memcpy(h, nh, (size_t)N * H * sizeof(double));
        for (int k = 0; k < N * H; k++)
            r[(size_t)s * N * H + k] = h[k];
    }
    for (int k = 0; k < N * H; k++) {
        r[(size_t)T * N * H + k] = h[k];
        r[(size_t)T * N * H + N * H + k] = c[k];
    }
    free(h), free(c), free(nh);
}

/* One configuration: setup, shapes, forward against the loop (every top),
 * gradients of every differentiable bottom and parameter. */
static void lstm_case(const char *what, const char *text, lstm_ref a, const float *cont)
{
    tcase t;
    memset(&t, 0, sizeof t);
    const int T = a.T, N = a.N, H = a.H;
    int nb = 2;
    dlt_tensor_reshape(&t.bot[0], T, N, 2, a.X / 2);
    dlt_tensor_reshape(&t.bot[1], T, N, 1, 1);
    memcpy(t.bot[1].data, cont, (size_t)T * N * sizeof(float));
    if (a.has_static)
        dlt_tensor_reshape(&t.bot[nb++], N, a.S, 1, 1);
    if (a.expose) {
        dlt_tensor_reshape(&t.bot[nb++], 1, N, H, 1);
        dlt_tensor_reshape(&t.bot[nb++], 1, N, H, 1);
    }
    for (int i = 0; i < nb; i++)
        if (i != 1)
            fill_uniform(t.bot[i].data, t.bot[i].count, -1, 1);
    const int nt = a.expose ? 3 : 1;
    int st = make(&t, "LSTM", text, nb, nt, 0, NULL);
    const int hp = a.has_static ? 3 : 2;
    int ok = st == 0 && t.top[0].n == T && t.top[0].c == N && t.top[0].h == H &&
             t.l.nparam == hp + 1 && t.l.param[0].n == 4 * H && t.l.param[0].c == a.X &&
             t.l.param[1].count == (size_t)4 * H && t.l.param[hp].n == 4 * H &&
             t.l.param[hp].c == H && (!a.has_static || t.l.param[2].c == a.S) &&
             (!a.expose || (t.top[1].count == (size_t)N * H && t.top[2].count == (size_t)N * H));
    double e = INFINITY;
    if (ok) {
        if (a.expose)
            a.h0 = t.bot[nb - 2].data, a.c0 = t.bot[nb - 1].data;
        const size_t nh = (size_t)T * N * H;
        double *r = dlt_malloc((nh + 2 * N * H) * sizeof(double));
        ref_lstm(&t, r, &a);
        t.l.ops->forward(&t.l);
        e = max_rel_err_f(t.top[0].data, r, nh);
        if (a.expose) {
            double e1 = max_rel_err_f(t.top[1].data, r + nh, (size_t)N * H);
            double e2 = max_rel_err_f(t.top[2].data, r + nh + N * H, (size_t)N * H);
            e = fmax(e, fmax(e1, e2));
        }
        free(r);
    }
    TEST_OK(ok && e <= 1e-5, "lstm %s: Caffe's blob shapes, forward matches the loop (status "
            "%d, max rel err %.2g)", what, st, e);
    if (ok) {
        unsigned check = 1; /* x, the static input, h0, c0; never cont */
        for (int i = 2; i < nb; i++)
            check |= 1u << i;
        grad_test(&t, check, 1e-2, what);
    }
    destroy(&t);
}

/* Without expose_hidden the next forward starts from this one's final
 * state (Caffe): with cont = 1 at t = 0 the second pass differs from the
 * first and equals the loop started from the first pass's hT, cT. */
static void test_carry(void)
{
    enum { T = 4, N = 2, X = 4, H = 3 };
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], T, N, 2, 2);
    dlt_tensor_reshape(&t.bot[1], T, N, 1, 1);
    fill_uniform(t.bot[0].data, t.bot[0].count, -1, 1);
    for (int i = 0; i < T * N; i++)
        t.bot[1].data[i] = 1;
    int st = make(&t, "LSTM", "recurrent_param { num_output: 3 }", 2, 1, 0, NULL);
    double e1 = INFINITY, e2 = INFINITY;
    if (st == 0) {
        lstm_ref a = {T, N, X, 0, H, 0, 0, NULL, NULL};
        double r[T * N * H + 2 * N * H];
        ref_lstm(&t, r, &a);
        t.l.ops->forward(&t.l);
        e1 = max_rel_err_f(t.top[0].data, r, (size_t)T * N * H);
        float h0[N * H], c0[N * H];
        for (int k = 0; k < N * H; k++)
            h0[k] = (float)r[T * N * H + k], c0[k] = (float)r[T * N * H + N * H + k];
        a.h0 = h0, a.c0 = c0;
        ref_lstm(&t, r, &a);
        t.l.ops->forward(&t.l);
        e2 = max_rel_err_f(t.top[0].data, r, (size_t)T * N * H);
    }
    TEST_OK(st == 0 && e1 <= 1e-5 && e2 <= 1e-5, "lstm: the first pass starts from zeros, the "
            "next from the last final state (status %d, errs %.2g %.2g)", st, e1, e2);
    destroy(&t);
}

/* Data parallelism: the batch's streams split in two halves (two ranks)
 * compute the same hidden states as the whole batch, bit for bit. Sizes
 * where OpenBLAS's sgemm rounds a row by its place in the call (the reason
 * for InnerProduct's own kernel): with cblas_sgemm this fails. */
static void test_split(void)
{
    enum { T = 3, N = 48, HN = 24, X = 64, H = 16 };
    float cont[T * N];
    for (int i = 0; i < T * N; i++)
        cont[i] = i >= N && i % 7 != 3; /* starts at t = 0 and here and there later */
    const char *text = "recurrent_param { num_output: 16 }";
    tcase full;
    memset(&full, 0, sizeof full);
    dlt_tensor_reshape(&full.bot[0], T, N, 8, 8);
    dlt_tensor_reshape(&full.bot[1], T, N, 1, 1);
    fill_uniform(full.bot[0].data, full.bot[0].count, -1, 1);
    memcpy(full.bot[1].data, cont, sizeof cont);
    int st = make(&full, "LSTM", text, 2, 1, 0, NULL), same = st == 0;
    if (st == 0)
        full.l.ops->forward(&full.l);
    for (int half = 0; half < 2 && same; half++) {
        tcase t;
        memset(&t, 0, sizeof t);
        dlt_tensor_reshape(&t.bot[0], T, HN, 8, 8);
        dlt_tensor_reshape(&t.bot[1], T, HN, 1, 1);
        for (int s = 0; s < T; s++)
            for (int n = 0; n < HN; n++) {
                memcpy(t.bot[0].data + ((size_t)s * HN + n) * X,
                       full.bot[0].data + ((size_t)s * N + half * HN + n) * X, X * sizeof(float));
                t.bot[1].data[s * HN + n] = cont[s * N + half * HN + n];
            }
        same &= make(&t, "LSTM", text, 2, 1, 0, NULL) == 0;
        for (int p = 0; same && p < t.l.nparam; p++)
            memcpy(t.l.param[p].data, full.l.param[p].data, t.l.param[p].count * sizeof(float));
        if (same)
            t.l.ops->forward(&t.l);
        for (int s = 0; same && s < T; s++)
            same &= memcmp(t.top[0].data + (size_t)s * HN * H,
                           full.top[0].data + ((size_t)s * N + half * HN) * H,
                           (size_t)HN * H * sizeof(float)) == 0;
        destroy(&t);
    }
    TEST_OK(same, "lstm: two halves of the batch give the whole batch's hidden states bit for "
            "bit (status %d)", st);
    destroy(&full);
}

static void test_refused(void)
{
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 4, 3, 2, 1);
    dlt_tensor_reshape(&t.bot[1], 5, 3, 1, 1); /* T differs */
    int st = make(&t, "LSTM", "recurrent_param { num_output: 3 }", 2, 1, 0, NULL);
    TEST_OK(st < 0 && st > -100, "lstm refuses cont of another T (status %d)", st);
    destroy(&t);
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 4, 3, 2, 1);
    dlt_tensor_reshape(&t.bot[1], 4, 3, 1, 1);
    st = make(&t, "LSTM", "recurrent_param { num_output: 0 }", 2, 1, 0, NULL);
    TEST_OK(st < 0 && st > -100, "lstm refuses num_output 0 (status %d)", st);
    destroy(&t);
}

int main(void)
{
    fd_init();
    /* Every stream starts at t = 0; stream 1 starts again at t = 2 and
     * stream 2 at t = 3. */
    static const float cont1[4 * 3] = {0, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0};
    lstm_case("T=4 N=3 X=4 H=3, resets mid-batch", "recurrent_param { num_output: 3 "
              "weight_filler { type: \"uniform\" min: -0.1 max: 0.1 } }",
              (lstm_ref){4, 3, 4, 0, 3, 0, 0, NULL, NULL}, cont1);
    /* expose_hidden: streams 0 and 2 continue from h0/c0, stream 1 starts
     * fresh; stream 0 restarts at t = 2 and stream 1 at t = 4. */
    static const float cont2[5 * 3] = {1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1};
    lstm_case("T=5 N=3 static input, expose_hidden", "recurrent_param { num_output: 2 "
              "expose_hidden: true }", (lstm_ref){5, 3, 2, 3, 2, 1, 1, NULL, NULL}, cont2);
    lstm_case("T=5 N=3 expose_hidden, no static", "recurrent_param { num_output: 3 "
              "expose_hidden: true }", (lstm_ref){5, 3, 6, 0, 3, 0, 1, NULL, NULL}, cont2);
    test_carry();
    test_split();
    test_refused();
    TEST_DONE();
}
