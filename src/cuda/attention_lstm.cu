/* attention_lstm.cu - AttentionLSTM on the GPU, step for step the CPU layer
 * (src/layers/attention_lstm.c, where the model and its parameters are
 * described): the products through cuBLAS (recurrent.cuh's row-major
 * wrapper), the attention MLP, its softmax and the context as kernels of
 * one thread per (sample, location) or (sample, value), the LSTM step as
 * LSTM's. Sums the CPU takes in double are taken in double; the parameter
 * gradients that are sums over samples and locations (v, the biases) are
 * one thread per output, in the CPU's order, so they need no atomics.
 * The doubly stochastic penalty's value (s->penalty, a diagnostic of the
 * CPU layer) is not computed here; its gradient is. */
#include <math.h>
#include <stdlib.h>

#include "cuda/recurrent.cuh"
extern "C" {
#include "layers/attention_lstm.h"
}

typedef struct att_gpu {
    float *Ft, *Fp, *U, *alpha, *Z, *G, *Cc, *HC; /* as att_state's */
    float *ah, *dh, *dc, *dz, *dah, *dFp, *dFt, *dg;
    float *dpen;       /* (N, L) the penalty's gradient per alpha */
    double *da;        /* (N, L) the gradient reaching alpha, before the softmax */
    float *de;         /* (N, L) ... and after it */
    float *DU;         /* (N, L, A) the attention MLP's pre-activation gradients of one step */
    float *fm, *H0, *C0, *CP, *dH0, *dC0, *dpre, *dfm; /* init_state only */
} att_gpu;

extern "C" int dlt__attention_lstm_setup_gpu(dlt_layer *l)
{
    const att_state *s = (const att_state *)l->state;
    const size_t tn = (size_t)s->T * s->N, nl = (size_t)s->N * s->L, H4 = 4 * (size_t)s->Hd;
    const size_t nh = (size_t)s->N * s->Hd;
    att_gpu *g = (att_gpu *)dlt_calloc(1, sizeof *g);
    g->Ft = dlt__gpu_floats(nl * s->C);
    g->Fp = dlt__gpu_floats(nl * s->A);
    g->U = dlt__gpu_floats(tn * s->L * s->A);
    g->alpha = dlt__gpu_floats(tn * s->L);
    g->Z = dlt__gpu_floats(tn * s->C);
    g->G = dlt__gpu_floats(tn * H4);
    g->Cc = dlt__gpu_floats(tn * s->Hd);
    g->HC = dlt__gpu_floats(tn * s->Hd);
    g->ah = dlt__gpu_floats((size_t)s->N * s->A);
    g->dh = dlt__gpu_floats(nh);
    g->dc = dlt__gpu_floats(nh);
    g->dz = dlt__gpu_floats((size_t)s->N * s->C);
    g->dah = dlt__gpu_floats((size_t)s->N * s->A);
    g->dFp = dlt__gpu_floats(nl * s->A);
    g->dFt = dlt__gpu_floats(nl * s->C);
    g->dg = dlt__gpu_floats((size_t)s->N * H4);
    g->dpen = dlt__gpu_floats(nl);
    g->da = (double *)dlt__dev_alloc((nl ? nl : 1) * sizeof(double));
    g->de = dlt__gpu_floats(nl);
    g->DU = dlt__gpu_floats(nl * s->A);
    if (s->init) {
        g->fm = dlt__gpu_floats((size_t)s->N * s->C);
        g->H0 = dlt__gpu_floats(nh);
        g->C0 = dlt__gpu_floats(nh);
        g->CP = dlt__gpu_floats(tn * s->Hd);
        g->dH0 = dlt__gpu_floats(nh);
        g->dC0 = dlt__gpu_floats(nh);
        g->dpre = dlt__gpu_floats(nh);
        g->dfm = dlt__gpu_floats((size_t)s->N * s->C);
    }
    l->gpu_state = g;
    return 0;
}

/* ---- forward kernels ---- */

/* (N, C, L) <-> (N, L, C): TO_LOC 1 gathers the features location-major,
 * 0 scatters the gradient back. */
static __global__ void transpose_features(const float *src, float *dst, int N, int C, int L, int to_loc)
{
    DLT_GRID_STRIDE(e, (size_t)N * C * L) {
        const size_t n = e / ((size_t)C * L), c = e / L % C, i = e % L; /* e indexes (n, c, i) */
        const size_t loc = (n * L + i) * C + c;
        if (to_loc)
            dst[loc] = src[e];
        else
            dst[e] = src[loc];
    }
}

/* init_state: fm (N, C) = the mean over the L locations, in double. */
static __global__ void mean_feature(const float *Ft, float *fm, int N, int C, int L)
{
    DLT_GRID_STRIDE(e, (size_t)N * C) {
        const size_t n = e / C, c = e % C;
        double acc = 0;
        for (int i = 0; i < L; i++)
            acc += Ft[(n * L + i) * C + c];
        fm[e] = (float)(acc / L);
    }
}

static __global__ void tanh_inplace(float *x, size_t n)
{
    DLT_GRID_STRIDE(i, n)
        x[i] = tanhf(x[i]);
}

/* Step t's input to W_ha and W_h: cont * h_{t-1} (0 at t = 0); with
 * init_state the predicted h0 where a caption starts, and the previous
 * cell each step uses into CP. */
static __global__ void step_state(int t, int N, int Hd, const float *cont, const float *hout, const float *Cc,
                                  const float *H0, const float *C0, float *hc, float *CP)
{
    DLT_GRID_STRIDE(k, (size_t)N * Hd) {
        const size_t o = (size_t)t * N, n = k / Hd;
        const float keep = t ? cont[o + n] : 0.0f;
        const float hp = t ? hout[(o - N) * Hd + k] : 0.0f;
        if (!H0) {
            hc[k] = keep * hp;
            continue;
        }
        const float cp = t ? Cc[(o - N) * Hd + k] : 0.0f;
        hc[k] = keep ? hp : H0[k];
        CP[o * Hd + k] = keep ? cp : C0[k];
    }
}

/* Per (n, i): u = tanh(Fp + ah) into U, and the score e = v . u into AL. */
static __global__ void att_scores(int N, int L, int A, const float *Fp, const float *ah, const float *v, float *U,
                                  float *al)
{
    DLT_GRID_STRIDE(r, (size_t)N * L) {
        const size_t n = r / L;
        const float *fp = Fp + r * A, *a = ah + n * A;
        float *u = U + r * A;
        float e = 0;
        for (int k = 0; k < A; k++) {
            u[k] = tanhf(fp[k] + a[k]);
            e += v[k] * u[k];
        }
        al[r] = e;
    }
}

/* Per n: the softmax of the L scores in place (the sum in double). */
static __global__ void att_softmax(int N, int L, float *al)
{
    DLT_GRID_STRIDE(n, (size_t)N) {
        float *a = al + n * L;
        float m = -INFINITY;
        for (int i = 0; i < L; i++)
            m = a[i] > m ? a[i] : m;
        double sum = 0;
        for (int i = 0; i < L; i++)
            sum += a[i] = expf(a[i] - m);
        for (int i = 0; i < L; i++)
            a[i] = (float)(a[i] / sum);
    }
}

/* Per (n, c): the context z = sum_i alpha_i f_i. */
static __global__ void att_context(int N, int L, int C, const float *al, const float *Ft, float *Z)
{
    DLT_GRID_STRIDE(e, (size_t)N * C) {
        const size_t n = e / C, c = e % C;
        float z = 0;
        for (int i = 0; i < L; i++)
            z += al[n * L + i] * Ft[(n * L + i) * C + c];
        Z[e] = z;
    }
}

/* Step t's attention: alpha (N, L) and the context Z (N, C) from hc. */
static void attend(dlt_layer *l, const att_state *s, att_gpu *g, int t, const float *hc)
{
    const int N = s->N, L = s->L, A = s->A, C = s->C;
    float *al = g->alpha + (size_t)t * N * L;
    dlt__gpu_rgemm(0, 1, N, A, s->Hd, hc, l->param[P_WHA].gdata, 0.0f, g->ah);
    DLT_LAUNCH(att_scores, (size_t)N * L, N, L, A, g->Fp, g->ah, l->param[P_V].gdata,
               g->U + (size_t)t * N * L * A, al);
    DLT_LAUNCH(att_softmax, (size_t)N, N, L, al);
    DLT_LAUNCH(att_context, (size_t)N * C, N, L, C, al, g->Ft, g->Z + (size_t)t * N * C);
}

/* init_state: h0 = tanh(W_ih fm + b_ih), c0 = tanh(W_ic fm + b_ic). */
static void init_state_forward(dlt_layer *l, const att_state *s, att_gpu *g)
{
    const int N = s->N, C = s->C, Hd = s->Hd;
    DLT_LAUNCH(mean_feature, (size_t)N * C, g->Ft, g->fm, N, C, s->L);
    float *out[2] = {g->H0, g->C0};
    for (int k = 0; k < 2; k++) {
        dlt__gpu_fill_rows(out[k], l->param[k ? P_BIC : P_BIH].gdata, (size_t)N, Hd);
        dlt__gpu_rgemm(0, 1, N, Hd, C, g->fm, l->param[k ? P_WIC : P_WIH].gdata, 1.0f, out[k]);
        DLT_LAUNCH(tanh_inplace, (size_t)N * Hd, out[k], (size_t)N * Hd);
    }
}

extern "C" void dlt__attention_lstm_forward_gpu(dlt_layer *l)
{
    const att_state *s = (const att_state *)l->state;
    att_gpu *g = (att_gpu *)l->gpu_state;
    const int T = s->T, N = s->N, L = s->L, C = s->C, Hd = s->Hd, H4 = 4 * Hd, A = s->A;
    const float *cont = l->bottom[2]->gdata;
    float *hout = l->top[0]->gdata;
    DLT_LAUNCH(transpose_features, (size_t)N * C * L, l->bottom[0]->gdata, g->Ft, N, C, L, 1);
    dlt__gpu_fill_rows(g->Fp, l->param[P_BA].gdata, (size_t)N * L, A);
    dlt__gpu_rgemm(0, 1, N * L, A, C, g->Ft, l->param[P_WFA].gdata, 1.0f, g->Fp);
    dlt__gpu_fill_rows(g->G, l->param[P_B].gdata, (size_t)T * N, H4);
    dlt__gpu_rgemm(0, 1, T * N, H4, s->E, l->bottom[1]->gdata, l->param[P_WX].gdata, 1.0f, g->G);
    if (s->init)
        init_state_forward(l, s, g);
    for (int t = 0; t < T; t++) {
        const size_t o = (size_t)t * N;
        float *hc = g->HC + o * Hd, *gt = g->G + o * H4;
        DLT_LAUNCH(step_state, (size_t)N * Hd, t, N, Hd, cont, hout, g->Cc, s->init ? g->H0 : NULL, g->C0, hc,
                   g->CP);
        attend(l, s, g, t, hc);
        dlt__gpu_rgemm(0, 1, N, H4, C, g->Z + o * C, l->param[P_WZ].gdata, 1.0f, gt);
        dlt__gpu_rgemm(0, 1, N, H4, Hd, hc, l->param[P_WH].gdata, 1.0f, gt);
        if (s->init) /* CP already holds the reset: no markers */
            dlt__gpu_lstm_step_forward(N, Hd, gt, g->CP + o * Hd, NULL, g->Cc + o * Hd, hout + o * Hd);
        else
            dlt__gpu_lstm_step_forward(N, Hd, gt, t ? g->Cc + (o - N) * Hd : NULL, cont + o, g->Cc + o * Hd,
                                       hout + o * Hd);
    }
    if (l->ntop >= 2)
        dlt__dev_copy(l->top[1]->gdata, g->alpha, (size_t)T * N * L);
    if (l->ntop == 3)
        dlt__dev_copy(l->top[2]->gdata, g->Z, (size_t)T * N * C);
}

/* ---- backward kernels ---- */

/* d penalty / d alpha_t = -2 lambda/N (1 - sum_t alpha), per (n, i). */
static __global__ void penalty_grad(int T, int N, int L, float lambda, const float *alpha, float *dpen)
{
    DLT_GRID_STRIDE(r, (size_t)N * L) {
        const size_t n = r / L, i = r % L;
        double sa = 0;
        for (int t = 0; t < T; t++)
            sa += alpha[((size_t)t * N + n) * L + i];
        dpen[r] = (float)(-2.0 * lambda / N * (1 - sa));
    }
}

/* init_state: the gradient D reaching step t's previous state goes to the
 * predicted initial state D0 where a caption starts (t = 0 or cont 0). */
static __global__ void split_state_grad(int t, int N, int Hd, const float *cont, float *d, float *d0)
{
    DLT_GRID_STRIDE(k, (size_t)N * Hd) {
        const size_t n = k / Hd;
        if (t && cont[(size_t)t * N + n])
            continue;
        d0[k] += d[k];
        d[k] = 0.0f;
    }
}

/* Per (n, i): the gradient reaching alpha_i (penalty, the attention top,
 * and the context: dz . f_i), in double. */
static __global__ void att_dalpha(int N, int L, int C, const float *dpen, const float *dalpha_top, const float *dz,
                                  const float *Ft, double *da)
{
    DLT_GRID_STRIDE(r, (size_t)N * L) {
        const size_t n = r / L;
        double acc = dpen[r];
        if (dalpha_top)
            acc += dalpha_top[r];
        for (int c = 0; c < C; c++)
            acc += (double)dz[n * C + c] * Ft[r * C + c];
        da[r] = acc;
    }
}

/* Per n: through the softmax, de_i = alpha_i (da_i - sum_j da_j alpha_j). */
static __global__ void att_dsoftmax(int N, int L, const float *al, const double *da, float *de)
{
    DLT_GRID_STRIDE(n, (size_t)N) {
        double dot = 0;
        for (int i = 0; i < L; i++)
            dot += da[n * L + i] * al[n * L + i];
        for (int i = 0; i < L; i++)
            de[n * L + i] = (float)(al[n * L + i] * ((float)da[n * L + i] - dot));
    }
}

/* dFt[n, i, c] += alpha_i dz_c: the context's gradient to the features. */
static __global__ void att_dfeatures(int N, int L, int C, const float *al, const float *dz, float *dFt)
{
    DLT_GRID_STRIDE(e, (size_t)N * L * C) {
        const size_t r = e / C, n = r / L, c = e % C;
        dFt[e] += al[r] * dz[n * C + c];
    }
}

/* Per (n, i, k): du = de v_k (1 - u^2), into DU and added to dFp. */
static __global__ void att_du(int N, int L, int A, const float *de, const float *v, const float *U, float *DU,
                              float *dFp)
{
    DLT_GRID_STRIDE(e, (size_t)N * L * A) {
        const size_t r = e / A, k = e % A;
        const float u = U[e];
        const float du = de[r] * v[k] * (1.0f - u * u);
        DU[e] = du;
        dFp[e] += du;
    }
}

/* Per (n, k): dah = sum_i du (W_ha h's gradient). */
static __global__ void att_dah(int N, int L, int A, const float *DU, float *dah)
{
    DLT_GRID_STRIDE(e, (size_t)N * A) {
        const size_t n = e / A, k = e % A;
        float acc = 0;
        for (int i = 0; i < L; i++)
            acc += DU[(n * L + i) * A + k];
        dah[e] = acc;
    }
}

/* Per k: dv_k += sum over (n, i) of de u_k, in the CPU's order. */
static __global__ void att_dv(int N, int L, int A, const float *de, const float *U, float *dv)
{
    DLT_GRID_STRIDE(k, (size_t)A) {
        float acc = dv[k];
        for (size_t r = 0; r < (size_t)N * L; r++)
            acc += de[r] * U[r * A + k];
        dv[k] = acc;
    }
}

static __global__ void tanh_grad(const float *y, const float *dy, float *dx, size_t n)
{
    DLT_GRID_STRIDE(i, n)
        dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

/* dFt[n, i, c] += dfm[n, c] / L: the mean feature's gradient, spread. */
static __global__ void spread_mean_grad(int N, int L, int C, const float *dfm, float *dFt)
{
    DLT_GRID_STRIDE(e, (size_t)N * L * C) {
        const size_t n = e / ((size_t)L * C), c = e % C;
        dFt[e] += dfm[n * C + c] / L;
    }
}

/* Step t's attention backward, from g->dz: the parameters v, the scratch
 * dFp (summed over steps), dFt and dah (this step's). */
static void attend_backward(dlt_layer *l, const att_state *s, att_gpu *g, int t)
{
    const int N = s->N, L = s->L, A = s->A, C = s->C;
    const size_t o = (size_t)t * N;
    const float *al = g->alpha + o * L, *U = g->U + o * L * A;
    const float *dalpha_top = l->ntop >= 2 ? l->top[1]->gdiff + o * L : NULL;
    DLT_LAUNCH(att_dalpha, (size_t)N * L, N, L, C, g->dpen, dalpha_top, g->dz, g->Ft, g->da);
    DLT_LAUNCH(att_dfeatures, (size_t)N * L * C, N, L, C, al, g->dz, g->dFt);
    DLT_LAUNCH(att_dsoftmax, (size_t)N, N, L, al, g->da, g->de);
    DLT_LAUNCH(att_dv, (size_t)A, N, L, A, g->de, U, l->param[P_V].gdiff);
    DLT_LAUNCH(att_du, (size_t)N * L * A, N, L, A, g->de, l->param[P_V].gdata, U, g->DU, g->dFp);
    DLT_LAUNCH(att_dah, (size_t)N * A, N, L, A, g->DU, g->dah);
}

/* init_state: through the tanh to W_ih, b_ih, W_ic, b_ic and, spread
 * evenly over the L locations, to the features (dFt). */
static void init_state_backward(dlt_layer *l, const att_state *s, att_gpu *g)
{
    const int N = s->N, C = s->C, Hd = s->Hd;
    const size_t nh = (size_t)N * Hd;
    dlt__dev_zero(g->dfm, (size_t)N * C * sizeof(float));
    const float *out[2] = {g->H0, g->C0}, *dout[2] = {g->dH0, g->dC0};
    for (int k = 0; k < 2; k++) {
        DLT_LAUNCH(tanh_grad, nh, out[k], dout[k], g->dpre, nh);
        dlt__gpu_rgemm(1, 0, Hd, C, N, g->dpre, g->fm, 1.0f, l->param[k ? P_WIC : P_WIH].gdiff);
        dlt__gpu_col_sums_add(g->dpre, (size_t)N, Hd, l->param[k ? P_BIC : P_BIH].gdiff);
        dlt__gpu_rgemm(0, 0, N, C, Hd, g->dpre, l->param[k ? P_WIC : P_WIH].gdata, 1.0f, g->dfm);
    }
    DLT_LAUNCH(spread_mean_grad, (size_t)N * s->L * C, N, s->L, C, g->dfm, g->dFt);
}

extern "C" void dlt__attention_lstm_backward_gpu(dlt_layer *l)
{
    const att_state *s = (const att_state *)l->state;
    att_gpu *g = (att_gpu *)l->gpu_state;
    const int T = s->T, N = s->N, L = s->L, C = s->C, Hd = s->Hd, H4 = 4 * Hd, A = s->A;
    const size_t nh = (size_t)N * Hd;
    const float *cont = l->bottom[2]->gdata, *dhout = l->top[0]->gdiff;
    const float *dz_top = l->ntop == 3 ? l->top[2]->gdiff : NULL;
    dlt__dev_zero(g->dh, nh * sizeof(float));
    dlt__dev_zero(g->dc, nh * sizeof(float));
    dlt__dev_zero(g->dFp, (size_t)N * L * A * sizeof(float));
    dlt__dev_zero(g->dFt, (size_t)N * L * C * sizeof(float));
    if (s->init) {
        dlt__dev_zero(g->dH0, nh * sizeof(float));
        dlt__dev_zero(g->dC0, nh * sizeof(float));
    }
    if (s->lambda > 0)
        DLT_LAUNCH(penalty_grad, (size_t)N * L, T, N, L, s->lambda, g->alpha, g->dpen);
    else
        dlt__dev_zero(g->dpen, (size_t)N * L * sizeof(float));
    for (int t = T - 1; t >= 0; t--) {
        const size_t o = (size_t)t * N;
        const float *hc = g->HC + o * Hd;
        dlt__dev_add(g->dh, dhout + o * Hd, nh);
        if (s->init) {
            dlt__gpu_lstm_step_backward(N, Hd, g->G + o * H4, g->Cc + o * Hd, g->CP + o * Hd, NULL, g->dh, g->dc,
                                        g->dg, g->dc);
            DLT_LAUNCH(split_state_grad, nh, t, N, Hd, cont, g->dc, g->dC0); /* the previous cell's share */
        } else {
            dlt__gpu_lstm_step_backward(N, Hd, g->G + o * H4, g->Cc + o * Hd, t ? g->Cc + (o - N) * Hd : NULL,
                                        cont + o, g->dh, g->dc, g->dg, g->dc);
        }
        dlt__dev_copy(g->G + o * H4, g->dg, (size_t)N * H4);
        /* gates <- W_z z and W_h hc */
        dlt__gpu_rgemm(1, 0, H4, C, N, g->dg, g->Z + o * C, 1.0f, l->param[P_WZ].gdiff);
        dlt__gpu_rgemm(1, 0, H4, Hd, N, g->dg, hc, 1.0f, l->param[P_WH].gdiff);
        dlt__gpu_rgemm(0, 0, N, C, H4, g->dg, l->param[P_WZ].gdata, 0.0f, g->dz);
        if (dz_top) /* the context top's share */
            dlt__dev_add(g->dz, dz_top + o * C, (size_t)N * C);
        dlt__gpu_rgemm(0, 0, N, Hd, H4, g->dg, l->param[P_WH].gdata, 0.0f, g->dh);
        attend_backward(l, s, g, t);
        dlt__gpu_rgemm(1, 0, A, Hd, N, g->dah, hc, 1.0f, l->param[P_WHA].gdiff);
        dlt__gpu_rgemm(0, 0, N, Hd, A, g->dah, l->param[P_WHA].gdata, 1.0f, g->dh);
        if (s->init)
            DLT_LAUNCH(split_state_grad, nh, t, N, Hd, cont, g->dh, g->dH0);
        else /* h_{t-1} entered as cont * h_{t-1} */
            dlt__gpu_scale_rows(g->dh, g->dh, cont + o, N, Hd);
    }
    /* Step-independent parts, over all steps at once. */
    const float *dG = g->G;
    dlt__gpu_rgemm(1, 0, H4, s->E, T * N, dG, l->bottom[1]->gdata, 1.0f, l->param[P_WX].gdiff);
    dlt__gpu_col_sums_add(dG, (size_t)T * N, H4, l->param[P_B].gdiff);
    dlt__gpu_col_sums_add(g->dFp, (size_t)N * L, A, l->param[P_BA].gdiff);
    dlt__gpu_rgemm(1, 0, A, C, N * L, g->dFp, g->Ft, 1.0f, l->param[P_WFA].gdiff);
    if (s->init)
        init_state_backward(l, s, g);
    if (l->propagate_down[0]) {
        dlt__gpu_rgemm(0, 0, N * L, C, A, g->dFp, l->param[P_WFA].gdata, 1.0f, g->dFt);
        DLT_LAUNCH(transpose_features, (size_t)N * C * L, g->dFt, l->bottom[0]->gdiff, N, C, L, 0);
    }
    if (l->propagate_down[1])
        dlt__gpu_rgemm(0, 0, T * N, s->E, H4, dG, l->param[P_WX].gdata, 0.0f, l->bottom[1]->gdiff);
    if (l->propagate_down[2])
        dlt__dev_zero(l->bottom[2]->gdiff, l->bottom[2]->count * sizeof(float));
}

extern "C" void dlt__attention_lstm_destroy_gpu(dlt_layer *l)
{
    att_gpu *g = (att_gpu *)l->gpu_state;
    if (!g)
        return;
    float *bufs[] = {g->Ft, g->Fp,  g->U,  g->alpha, g->Z,  g->G,   g->Cc, g->HC,  g->ah,   g->dh,
                     g->dc, g->dz,  g->dah, g->dFp,  g->dFt, g->dg, g->dpen, g->de, g->DU, g->fm,
                     g->H0, g->C0, g->CP, g->dH0, g->dC0, g->dpre, g->dfm};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        dlt__dev_free(bufs[i]);
    dlt__dev_free(g->da);
    free(g);
}
