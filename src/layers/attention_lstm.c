/* attention_lstm.c - AttentionLSTM: the soft-attention LSTM decoder of Show,
 * Attend and Tell (Xu et al. 2015, sec. 3.1.2 and 4.2). Bottoms: features
 * (N,C,H,W) (L = H*W locations of C values), embedded words (T,N,E), cont
 * (T,N). Per step t, from the previous hidden state h (zeroed where cont is
 * 0, as LSTM):
 *   e_l = v . tanh(W_fa f_l + b_a + W_ha h),  alpha = softmax_l(e),
 *   z = sum_l alpha_l f_l,  gates = W_x x_t + b + W_z z + W_h h  (i, f, o, g)
 * and the LSTM step of lstm_cell.h. Tops: hidden states (T,N,Hd,1), and
 * optionally the attention maps (T,N,L,1) and the contexts z (T,N,C,1) (for
 * the paper's deep output, eq. 7: a word predicted from h, z and the
 * embedded previous word). Parameters, in this order:
 *   W_x (4Hd, E), b (4Hd), W_z (4Hd, C), W_h (4Hd, Hd),
 *   W_fa (A, C), W_ha (A, Hd), b_a (A), v (1, A).
 * doubly_stochastic: lambda adds lambda/N sum_n sum_l (1 - sum_t alpha)^2
 * (sec. 4.2.1) to the objective: its gradient is added in backward. The
 * state before t = 0 (and wherever cont is 0) is zero, or with init_state
 * (sec. 3.1.2) predicted from the mean feature fm = (1/L) sum_l f_l:
 *   h0 = tanh(W_ih fm + b_ih),  c0 = tanh(W_ic fm + b_ic)
 * with four more parameters after v: W_ih (Hd, C), b_ih (Hd), W_ic (Hd, C),
 * b_ic (Hd). Each batch holds whole captions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/attention_lstm.h"
#include "layers/lstm_cell.h"

static int att_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256], s0[64], s1[64], s2[64];
    if (l->nbottom != 3 || l->ntop < 1 || l->ntop > 3)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': AttentionLSTM takes bottoms features, words, "
                 "cont and tops h[, attention[, context]] (got %d and %d)",
                 dlt_cfg_where(msg, wb, sizeof wb), l->name, l->nbottom, l->ntop);
    const dlt_cfg *p = dlt_cfg_get(msg, "attention_lstm_param");
    if (!p)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': AttentionLSTM needs attention_lstm_param "
                 "{ num_output }", dlt_cfg_where(msg, wb, sizeof wb), l->name);
    long hd, a;
    double lambda;
    DLT_TRY(dlt_cfg_int(p, "num_output", 0, &hd));
    DLT_TRY(dlt_cfg_int(p, "attention_dim", hd, &a));
    DLT_TRY(dlt_cfg_float(p, "doubly_stochastic", 0, &lambda));
    int init;
    DLT_TRY(dlt_cfg_bool(p, "init_state", 0, &init));
    if (hd <= 0 || a <= 0 || !(lambda >= 0))
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': attention_lstm_param needs num_output >= 1, "
                 "attention_dim >= 1 and doubly_stochastic >= 0 (got %ld, %ld, %g)",
                 dlt_cfg_where(p, wb, sizeof wb), l->name, hd, a, lambda);
    dlt_filler wf, bf;
    DLT_TRY(dlt_filler_parse(dlt_cfg_get(p, "weight_filler"), &wf));
    DLT_TRY(dlt_filler_parse(dlt_cfg_get(p, "bias_filler"), &bf));
    const dlt_tensor *f = l->bottom[0], *x = l->bottom[1], *cont = l->bottom[2];
    const int T = x->n, N = f->n;
    if (cont->n != T || cont->count != (size_t)T * N || x->count % cont->count)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': features %s, words %s and cont %s must be "
                 "(N,C,H,W), (T,N,E) and (T,N)", dlt_cfg_where(msg, wb, sizeof wb), l->name,
                 dlt__shape_str(f, s0, sizeof s0), dlt__shape_str(x, s1, sizeof s1),
                 dlt__shape_str(cont, s2, sizeof s2));
    for (int i = 0; i < l->ntop; i++)
        for (int j = 0; j < 3; j++)
            if (l->top[i] == l->bottom[j])
                DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': AttentionLSTM cannot work in place",
                         dlt_cfg_where(msg, wb, sizeof wb), l->name);
    att_state *s = dlt_calloc(1, sizeof *s);
    l->state = s;
    s->T = T, s->N = N, s->E = (int)(x->count / cont->count), s->C = f->c;
    s->L = f->h * f->w, s->Hd = (int)hd, s->A = (int)a, s->lambda = (float)lambda;
    s->init = init;
    const int64_t H4 = 4 * hd;
    /* The scratch of all steps (GEMM sides are ints). */
    char sbuf[320];
    dlt_size_ctx sz;
    dlt__layer_size_ctx(l, msg, sbuf, sizeof sbuf, &sz);
    const int64_t rows[2] = {T, N}, locs[2] = {N, s->L}, gates[3] = {T, N, H4};
    const int64_t mlp[4] = {T, N, s->L, a};
    DLT_TRY(dlt_size_prod(&sz, "steps x streams", rows, 2, DLT_DIM_MAX, NULL));
    DLT_TRY(dlt_size_prod(&sz, "samples x locations", locs, 2, DLT_DIM_MAX, NULL));
    DLT_TRY(dlt_size_prod(&sz, "gate values of all steps", gates, 3, DLT_COUNT_MAX, NULL));
    DLT_TRY(dlt_size_prod(&sz, "attention activations of all steps", mlp, 4, DLT_COUNT_MAX, NULL));
    DLT_TRY(dlt__add_param(l, msg, H4, s->E, 1, 1, &wf));
    DLT_TRY(dlt__add_param(l, msg, H4, 1, 1, 1, &bf));
    DLT_TRY(dlt__add_param(l, msg, H4, s->C, 1, 1, &wf));
    DLT_TRY(dlt__add_param(l, msg, H4, hd, 1, 1, &wf));
    DLT_TRY(dlt__add_param(l, msg, a, s->C, 1, 1, &wf));
    DLT_TRY(dlt__add_param(l, msg, a, hd, 1, 1, &wf));
    DLT_TRY(dlt__add_param(l, msg, a, 1, 1, 1, &bf));
    DLT_TRY(dlt__add_param(l, msg, 1, a, 1, 1, &wf));
    for (int k = 0; init && k < 2; k++) { /* W_ih, b_ih, W_ic, b_ic */
        DLT_TRY(dlt__add_param(l, msg, hd, s->C, 1, 1, &wf));
        DLT_TRY(dlt__add_param(l, msg, hd, 1, 1, 1, &bf));
    }
    DLT_TRY(dlt__top_shape(l, msg, 0, T, N, hd, 1));
    if (l->ntop >= 2)
        DLT_TRY(dlt__top_shape(l, msg, 1, T, N, s->L, 1));
    if (l->ntop == 3)
        DLT_TRY(dlt__top_shape(l, msg, 2, T, N, s->C, 1));
    const size_t tn = (size_t)T * N, nl = (size_t)N * s->L;
    s->Ft = dlt_calloc(nl * s->C, sizeof(float));
    s->Fp = dlt_calloc(nl * s->A, sizeof(float));
    s->U = dlt_calloc(tn * s->L * s->A, sizeof(float));
    s->alpha = dlt_calloc(tn * s->L, sizeof(float));
    s->Z = dlt_calloc(tn * s->C, sizeof(float));
    s->G = dlt_calloc(tn * H4, sizeof(float));
    s->Cc = dlt_calloc(tn * hd, sizeof(float));
    s->HC = dlt_calloc(tn * hd, sizeof(float));
    s->ah = dlt_calloc((size_t)N * s->A, sizeof(float));
    s->dh = dlt_calloc((size_t)N * hd, sizeof(float));
    s->dc = dlt_calloc((size_t)N * hd, sizeof(float));
    s->dz = dlt_calloc((size_t)N * s->C, sizeof(float));
    s->dah = dlt_calloc((size_t)N * s->A, sizeof(float));
    s->dFp = dlt_calloc(nl * s->A, sizeof(float));
    s->dFt = dlt_calloc(nl * s->C, sizeof(float));
    s->dg = dlt_calloc((size_t)N * H4, sizeof(float));
    if (init) {
        s->fm = dlt_calloc((size_t)N * s->C, sizeof(float));
        s->H0 = dlt_calloc((size_t)N * hd, sizeof(float));
        s->C0 = dlt_calloc((size_t)N * hd, sizeof(float));
        s->CP = dlt_calloc(tn * hd, sizeof(float));
        s->dH0 = dlt_calloc((size_t)N * hd, sizeof(float));
        s->dC0 = dlt_calloc((size_t)N * hd, sizeof(float));
        s->ones = dlt_calloc((size_t)N, sizeof(float));
        for (int n = 0; n < N; n++)
            s->ones[n] = 1.0f;
    }
    (void)ctx;
    return 0;
}

/* Step t's attention: alpha (N, L) and the context Z (N, C) from hc. */
static void attend(dlt_layer *l, att_state *s, int t, const float *hc)
{
    const int N = s->N, L = s->L, A = s->A, C = s->C;
    const float *v = l->param[P_V].data;
    dlt__rgemm(0, 1, N, A, s->Hd, hc, l->param[P_WHA].data, 0.0f, s->ah);
    for (int n = 0; n < N; n++) {
        float *al = s->alpha + ((size_t)t * N + n) * L;
        float m = -INFINITY;
        for (int i = 0; i < L; i++) {
            const float *fp = s->Fp + ((size_t)n * L + i) * A, *ah = s->ah + (size_t)n * A;
            float *u = s->U + (((size_t)t * N + n) * L + i) * A;
            float e = 0;
            for (int k = 0; k < A; k++) {
                u[k] = tanhf(fp[k] + ah[k]);
                e += v[k] * u[k];
            }
            al[i] = e;
            m = e > m ? e : m;
        }
        double sum = 0;
        for (int i = 0; i < L; i++)
            sum += al[i] = expf(al[i] - m);
        for (int i = 0; i < L; i++)
            al[i] = (float)(al[i] / sum);
        /* z = alpha^T F_n: (1 x L)(L x C) */
        dlt__rgemm(0, 0, 1, C, L, al, s->Ft + (size_t)n * L * C, 0.0f,
                   s->Z + ((size_t)t * N + n) * C);
    }
}

/* init_state: fm, then h0 = tanh(W_ih fm + b_ih) and c0 likewise. */
static void init_state_forward(dlt_layer *l, att_state *s)
{
    const int N = s->N, L = s->L, C = s->C, Hd = s->Hd;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            double acc = 0;
            for (int i = 0; i < L; i++)
                acc += s->Ft[((size_t)n * L + i) * C + c];
            s->fm[(size_t)n * C + c] = (float)(acc / L);
        }
    float *out[2] = {s->H0, s->C0};
    for (int k = 0; k < 2; k++) {
        const float *b = l->param[k ? P_BIC : P_BIH].data;
        for (int n = 0; n < N; n++)
            memcpy(out[k] + (size_t)n * Hd, b, (size_t)Hd * sizeof(float));
        dlt__rgemm(0, 1, N, Hd, C, s->fm, l->param[k ? P_WIC : P_WIH].data, 1.0f, out[k]);
        for (size_t j = 0; j < (size_t)N * Hd; j++)
            out[k][j] = tanhf(out[k][j]);
    }
}

static void att_forward(dlt_layer *l)
{
    att_state *s = l->state;
    const int T = s->T, N = s->N, L = s->L, C = s->C, Hd = s->Hd, H4 = 4 * Hd, A = s->A;
    const float *f = l->bottom[0]->data, *cont = l->bottom[2]->data;
    float *hout = l->top[0]->data;
    for (int n = 0; n < N; n++) /* (C, L) -> (L, C) per sample */
        for (int c = 0; c < C; c++)
            for (int i = 0; i < L; i++)
                s->Ft[((size_t)n * L + i) * C + c] = f[((size_t)n * C + c) * L + i];
    for (size_t r = 0; r < (size_t)N * L; r++)
        memcpy(s->Fp + r * A, l->param[P_BA].data, (size_t)A * sizeof(float));
    dlt__rgemm(0, 1, N * L, A, C, s->Ft, l->param[P_WFA].data, 1.0f, s->Fp);
    for (size_t r = 0; r < (size_t)T * N; r++)
        memcpy(s->G + r * H4, l->param[P_B].data, (size_t)H4 * sizeof(float));
    dlt__rgemm(0, 1, T * N, H4, s->E, l->bottom[1]->data, l->param[P_WX].data, 1.0f, s->G);
    if (s->init)
        init_state_forward(l, s);
    for (int t = 0; t < T; t++) {
        const size_t o = (size_t)t * N;
        float *hc = s->HC + o * Hd, *g = s->G + o * H4;
        for (int n = 0; n < N; n++)
            for (int j = 0; j < Hd; j++) {
                const size_t k = (size_t)n * Hd + j;
                const float keep = t ? cont[o + n] : 0.0f;
                const float hp = t ? hout[(o - N) * Hd + k] : 0.0f;
                if (!s->init) {
                    hc[k] = keep * hp;
                    continue;
                }
                /* where a caption starts, the predicted state replaces the last one */
                const float cp = t ? s->Cc[(o - N) * Hd + k] : 0.0f;
                hc[k] = keep ? hp : s->H0[k];
                s->CP[o * Hd + k] = keep ? cp : s->C0[k];
            }
        attend(l, s, t, hc);
        dlt__rgemm(0, 1, N, H4, C, s->Z + o * C, l->param[P_WZ].data, 1.0f, g);
        dlt__rgemm(0, 1, N, H4, Hd, hc, l->param[P_WH].data, 1.0f, g);
        if (s->init)
            dlt__lstm_step_forward(N, Hd, g, s->CP + o * Hd, s->ones, s->Cc + o * Hd,
                                   hout + o * Hd);
        else
            dlt__lstm_step_forward(N, Hd, g, t ? s->Cc + (o - N) * Hd : NULL, cont + o,
                                   s->Cc + o * Hd, hout + o * Hd);
    }
    if (l->ntop >= 2)
        memcpy(l->top[1]->data, s->alpha, (size_t)T * N * L * sizeof(float));
    if (l->ntop == 3)
        memcpy(l->top[2]->data, s->Z, (size_t)T * N * C * sizeof(float));
    double pen = 0;
    for (int n = 0; n < N && s->lambda > 0; n++)
        for (int i = 0; i < L; i++) {
            double sa = 0;
            for (int t = 0; t < T; t++)
                sa += s->alpha[((size_t)t * N + n) * L + i];
            pen += (1 - sa) * (1 - sa);
        }
    s->penalty = s->lambda * pen / N;
}

/* init_state: the gradient D reaching step t's previous state (h or c)
 * goes to the last step where the caption continues (cont 1) and to the
 * predicted initial state where it starts (t = 0 or cont 0). */
static void split_state_grad(att_state *s, int t, const float *cont, float *d, float *d0)
{
    const size_t nh = (size_t)s->N * s->Hd;
    for (size_t k = 0; k < nh; k++) {
        const int n = (int)(k / (size_t)s->Hd);
        if (t && cont[(size_t)t * s->N + n])
            continue;
        d0[k] += d[k];
        d[k] = 0.0f;
    }
}

/* init_state: through the tanh to W_ih, b_ih, W_ic, b_ic and, spread
 * evenly over the L locations, to the features (dFt). */
static void init_state_backward(dlt_layer *l, att_state *s)
{
    const int N = s->N, L = s->L, C = s->C, Hd = s->Hd;
    float *dfm = dlt_calloc((size_t)N * C, sizeof(float));
    float *dpre = dlt_malloc((size_t)N * Hd * sizeof(float));
    const float *out[2] = {s->H0, s->C0}, *dout[2] = {s->dH0, s->dC0};
    for (int k = 0; k < 2; k++) {
        for (size_t j = 0; j < (size_t)N * Hd; j++)
            dpre[j] = dout[k][j] * (1.0f - out[k][j] * out[k][j]);
        dlt__rgemm(1, 0, Hd, C, N, dpre, s->fm, 1.0f, l->param[k ? P_WIC : P_WIH].diff);
        float *db = l->param[k ? P_BIC : P_BIH].diff;
        for (int j = 0; j < Hd; j++) {
            double acc = 0;
            for (int n = 0; n < N; n++)
                acc += dpre[(size_t)n * Hd + j];
            db[j] += (float)acc;
        }
        dlt__rgemm(0, 0, N, C, Hd, dpre, l->param[k ? P_WIC : P_WIH].data, 1.0f, dfm);
    }
    for (int n = 0; n < N; n++)
        for (int i = 0; i < L; i++)
            for (int c = 0; c < C; c++)
                s->dFt[((size_t)n * L + i) * C + c] += dfm[(size_t)n * C + c] / L;
    free(dfm), free(dpre);
}

static void att_backward(dlt_layer *l)
{
    att_state *s = l->state;
    const int T = s->T, N = s->N, L = s->L, C = s->C, Hd = s->Hd, H4 = 4 * Hd, A = s->A;
    const size_t nh = (size_t)N * Hd;
    const float *cont = l->bottom[2]->data, *dhout = l->top[0]->diff;
    const float *dalpha_top = l->ntop >= 2 ? l->top[1]->diff : NULL;
    const float *dz_top = l->ntop == 3 ? l->top[2]->diff : NULL;
    const float *v = l->param[P_V].data;
    float *dv = l->param[P_V].diff;
    memset(s->dh, 0, nh * sizeof(float));
    memset(s->dc, 0, nh * sizeof(float));
    memset(s->dFp, 0, (size_t)N * L * A * sizeof(float));
    memset(s->dFt, 0, (size_t)N * L * C * sizeof(float));
    if (s->init) {
        memset(s->dH0, 0, nh * sizeof(float));
        memset(s->dC0, 0, nh * sizeof(float));
    }
    /* d penalty / d alpha_t = -2 lambda/N (1 - sum_t alpha): the same every t. */
    float *dpen = dlt_calloc((size_t)N * L + 1, sizeof(float));
    for (int n = 0; n < N && s->lambda > 0; n++)
        for (int i = 0; i < L; i++) {
            double sa = 0;
            for (int t = 0; t < T; t++)
                sa += s->alpha[((size_t)t * N + n) * L + i];
            dpen[(size_t)n * L + i] = (float)(-2.0 * s->lambda / N * (1 - sa));
        }
    float *da = dlt_malloc((size_t)L * sizeof(float) + 1);
    for (int t = T - 1; t >= 0; t--) {
        const size_t o = (size_t)t * N;
        const float *hc = s->HC + o * Hd;
        for (size_t k = 0; k < nh; k++)
            s->dh[k] += dhout[o * Hd + k];
        if (s->init) {
            dlt__lstm_step_backward(N, Hd, s->G + o * H4, s->Cc + o * Hd, s->CP + o * Hd,
                                    s->ones, s->dh, s->dc, s->dg, s->dc);
            split_state_grad(s, t, cont, s->dc, s->dC0); /* the previous cell's share */
        } else {
            dlt__lstm_step_backward(N, Hd, s->G + o * H4, s->Cc + o * Hd,
                                    t ? s->Cc + (o - N) * Hd : NULL, cont + o, s->dh, s->dc,
                                    s->dg, s->dc);
        }
        memcpy(s->G + o * H4, s->dg, (size_t)N * H4 * sizeof(float));
        const float *dg = s->dg;
        /* gates <- W_z z and W_h hc */
        dlt__rgemm(1, 0, H4, C, N, dg, s->Z + o * C, 1.0f, l->param[P_WZ].diff);
        dlt__rgemm(1, 0, H4, Hd, N, dg, hc, 1.0f, l->param[P_WH].diff);
        dlt__rgemm(0, 0, N, C, H4, dg, l->param[P_WZ].data, 0.0f, s->dz);
        for (size_t k = 0; dz_top && k < (size_t)N * C; k++) /* the context top's share */
            s->dz[k] += dz_top[o * C + k];
        dlt__rgemm(0, 0, N, Hd, H4, dg, l->param[P_WH].data, 0.0f, s->dh);
        /* z = sum alpha F, alpha = softmax(e), e = v . u, u = tanh(Fp + ah) */
        memset(s->dah, 0, (size_t)N * A * sizeof(float));
        for (int n = 0; n < N; n++) {
            const float *al = s->alpha + (o + n) * L, *Fn = s->Ft + (size_t)n * L * C;
            const float *dz = s->dz + (size_t)n * C;
            double dot = 0;
            for (int i = 0; i < L; i++) {
                double acc = dpen[(size_t)n * L + i];
                if (dalpha_top)
                    acc += dalpha_top[(o + n) * L + i];
                for (int c = 0; c < C; c++) {
                    acc += (double)dz[c] * Fn[(size_t)i * C + c];
                    s->dFt[((size_t)n * L + i) * C + c] += al[i] * dz[c];
                }
                da[i] = (float)acc;
                dot += acc * al[i];
            }
            for (int i = 0; i < L; i++) {
                const float de = (float)(al[i] * (da[i] - dot));
                const float *u = s->U + ((o + n) * L + i) * A;
                float *dfp = s->dFp + ((size_t)n * L + i) * A, *dah = s->dah + (size_t)n * A;
                for (int k = 0; k < A; k++) {
                    dv[k] += de * u[k];
                    const float du = de * v[k] * (1.0f - u[k] * u[k]);
                    dfp[k] += du;
                    dah[k] += du;
                }
            }
        }
        dlt__rgemm(1, 0, A, Hd, N, s->dah, hc, 1.0f, l->param[P_WHA].diff);
        dlt__rgemm(0, 0, N, Hd, A, s->dah, l->param[P_WHA].data, 1.0f, s->dh);
        if (s->init)
            split_state_grad(s, t, cont, s->dh, s->dH0);
        else
            for (int n = 0; n < N; n++) /* h_{t-1} entered as cont * h_{t-1}; none before t = 0 */
                for (int j = 0; j < Hd; j++)
                    s->dh[(size_t)n * Hd + j] *= cont[o + n];
    }
    free(da), free(dpen);
    /* Step-independent parts, over all steps at once. */
    const float *dG = s->G;
    dlt__rgemm(1, 0, H4, s->E, T * N, dG, l->bottom[1]->data, 1.0f, l->param[P_WX].diff);
    float *db = l->param[P_B].diff;
    for (int k = 0; k < H4; k++) {
        double acc = 0;
        for (size_t r = 0; r < (size_t)T * N; r++)
            acc += dG[r * H4 + k];
        db[k] += (float)acc;
    }
    float *dba = l->param[P_BA].diff;
    for (int k = 0; k < A; k++) {
        double acc = 0;
        for (size_t r = 0; r < (size_t)N * L; r++)
            acc += s->dFp[r * A + k];
        dba[k] += (float)acc;
    }
    dlt__rgemm(1, 0, A, C, N * L, s->dFp, s->Ft, 1.0f, l->param[P_WFA].diff);
    if (s->init)
        init_state_backward(l, s);
    if (l->propagate_down[0]) {
        dlt__rgemm(0, 0, N * L, C, A, s->dFp, l->param[P_WFA].data, 1.0f, s->dFt);
        float *df = l->bottom[0]->diff;
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++)
                for (int i = 0; i < L; i++)
                    df[((size_t)n * C + c) * L + i] = s->dFt[((size_t)n * L + i) * C + c];
    }
    if (l->propagate_down[1])
        dlt__rgemm(0, 0, T * N, s->E, H4, dG, l->param[P_WX].data, 0.0f,
                   l->bottom[1]->diff);
    if (l->propagate_down[2])
        memset(l->bottom[2]->diff, 0, l->bottom[2]->count * sizeof(float));
}

static void att_destroy(dlt_layer *l)
{
    att_state *s = l->state;
    if (!s)
        return;
    free(s->Ft), free(s->Fp), free(s->U), free(s->alpha), free(s->Z), free(s->G), free(s->Cc);
    free(s->HC), free(s->ah), free(s->dh), free(s->dc), free(s->dz), free(s->dah), free(s->dFp);
    free(s->dFt), free(s->dg);
    free(s->fm), free(s->H0), free(s->C0), free(s->CP), free(s->dH0), free(s->dC0), free(s->ones);
    free(s);
    l->state = NULL;
}

const dlt_layer_ops dlt__attention_lstm_ops = {
    .type = "AttentionLSTM",
    .setup = att_setup,
    .forward = att_forward,
    .backward = att_backward,
    .destroy = att_destroy,
};
