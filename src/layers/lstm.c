/* lstm.c - LSTM with Caffe's RecurrentLayer contract (recurrent_layer.cpp,
 * lstm_layer.cpp): bottoms x (T,N,...), cont (T,N) sequence-continuation
 * markers (0: a sequence starts, the previous h and c are dropped), an
 * optional static input (N,...), and with expose_hidden the initial h0, c0
 * (1,N,H) bottoms and final hT, cT tops. Caffe's parameter blobs and gate
 * order (i, f, o, g), so Caffe LSTM weights load one to one:
 *   W_xc (4H, X), b_c (4H), [W_xc_static (4H, S)], W_hc (4H, H). */
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "layers/layers.h"
#include "layers/lstm.h"
#include "layers/lstm_cell.h"

static int lstm_setup(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx)
{
    char wb[256], sb[64], sc[64];
    const dlt_cfg *p = dlt_cfg_get(msg, "recurrent_param");
    if (!p)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': LSTM needs recurrent_param { num_output }",
                 dlt_cfg_where(msg, wb, sizeof wb), l->name);
    long h;
    int expose;
    DLT_TRY(dlt_cfg_int(p, "num_output", 0, &h));
    if (h <= 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': recurrent_param needs num_output >= 1 (got %ld)",
                 dlt_cfg_where(p, wb, sizeof wb), l->name, h);
    DLT_TRY(dlt_cfg_bool(p, "expose_hidden", 0, &expose));
    int debug_info; /* Caffe prints the unrolled net's activations; nothing to do here */
    DLT_TRY(dlt_cfg_bool(p, "debug_info", 0, &debug_info));
    dlt_filler wf, bf;
    DLT_TRY(dlt_filler_parse(dlt_cfg_get(p, "weight_filler"), &wf));
    DLT_TRY(dlt_filler_parse(dlt_cfg_get(p, "bias_filler"), &bf));
    const int nb = l->nbottom, base = expose ? 4 : 2;
    if ((nb != base && nb != base + 1) || l->ntop != (expose ? 3 : 1))
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': LSTM takes bottoms x, cont[, x_static]%s and "
                 "%s (got %d bottoms, %d tops)", dlt_cfg_where(msg, wb, sizeof wb), l->name,
                 expose ? ", h0, c0" : "", expose ? "tops h, hT, cT (expose_hidden)" : "1 top",
                 nb, l->ntop);
    const dlt_tensor *x = l->bottom[0], *cont = l->bottom[1];
    const int T = x->n;
    if (cont->n != T || cont->count % (size_t)T || (size_t)T * (cont->count / T) > x->count ||
        x->count % cont->count)
        DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': cont %s must be (T, N) with x %s (T, N, ...)",
                 dlt_cfg_where(msg, wb, sizeof wb), l->name, dlt__shape_str(cont, sc, sizeof sc),
                 dlt__shape_str(x, sb, sizeof sb));
    for (int i = 0; i < l->ntop; i++)
        for (int j = 0; j < nb; j++)
            if (l->top[i] == l->bottom[j])
                DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': LSTM cannot work in place",
                         dlt_cfg_where(msg, wb, sizeof wb), l->name);
    lstm_state *s = dlt_calloc(1, sizeof *s);
    l->state = s;
    s->T = T, s->N = (int)(cont->count / T), s->H = (int)h, s->expose = expose;
    s->X = (int)(x->count / cont->count);
    s->has_static = nb == base + 1;
    const int N = s->N, H = s->H;
    if (s->has_static) {
        const dlt_tensor *xs = l->bottom[2];
        if (xs->n != N)
            DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': the static input %s must be (N, ...) with "
                     "N = %d", dlt_cfg_where(msg, wb, sizeof wb), l->name,
                     dlt__shape_str(xs, sb, sizeof sb), N);
        s->S = (int)dlt_tensor_sample_size(xs);
    }
    if (expose)
        for (int i = base - 2; i < base; i++) {
            const dlt_tensor *b = l->bottom[i + (s->has_static ? 1 : 0)];
            if (b->count != (size_t)N * H)
                DLT_FAIL(DLT_ERR_PARSE, "%s: layer '%s': %s %s must be (1, N, H) = (1, %d, %d)",
                         dlt_cfg_where(msg, wb, sizeof wb), l->name, i == base - 2 ? "h0" : "c0",
                         dlt__shape_str(b, sb, sizeof sb), N, H);
        }
    /* The scratch of all steps' gates (T*N rows of 4H: GEMM sides are ints). */
    char sbuf[320];
    dlt_size_ctx sz;
    dlt__layer_size_ctx(l, msg, sbuf, sizeof sbuf, &sz);
    const int64_t rows[2] = {T, N}, gates[3] = {T, N, 4 * (int64_t)H};
    DLT_TRY(dlt_size_prod(&sz, "steps x streams", rows, 2, DLT_DIM_MAX, NULL));
    DLT_TRY(dlt_size_prod(&sz, "gate values of all steps", gates, 3, DLT_COUNT_MAX, NULL));
    DLT_TRY(dlt__add_param(l, msg, 4 * (int64_t)H, s->X, 1, 1, &wf));
    DLT_TRY(dlt__add_param(l, msg, 4 * (int64_t)H, 1, 1, 1, &bf));
    if (s->has_static) {
        s->p_static = l->nparam;
        DLT_TRY(dlt__add_param(l, msg, 4 * (int64_t)H, s->S, 1, 1, &wf));
    }
    s->p_hc = l->nparam;
    DLT_TRY(dlt__add_param(l, msg, 4 * (int64_t)H, H, 1, 1, &wf));
    DLT_TRY(dlt__top_shape(l, msg, 0, T, N, H, 1));
    if (expose) {
        DLT_TRY(dlt__top_shape(l, msg, 1, 1, N, H, 1));
        DLT_TRY(dlt__top_shape(l, msg, 2, 1, N, H, 1));
    }
    const size_t tn = (size_t)T * N;
    s->G = dlt_calloc(tn * 4 * H, sizeof(float));
    s->C = dlt_calloc(tn * H, sizeof(float));
    s->HC = dlt_calloc(tn * H, sizeof(float));
    s->h0 = dlt_calloc((size_t)N * H, sizeof(float));
    s->c0 = dlt_calloc((size_t)N * H, sizeof(float));
    s->hlast = dlt_calloc((size_t)N * H, sizeof(float));
    s->clast = dlt_calloc((size_t)N * H, sizeof(float));
    s->sx = dlt_calloc((size_t)N * 4 * H, sizeof(float));
    s->dh = dlt_calloc((size_t)N * H, sizeof(float));
    s->dc = dlt_calloc((size_t)N * H, sizeof(float));
    s->dsum = dlt_calloc((size_t)N * 4 * H, sizeof(float));
    (void)ctx;
    return 0;
}

/* The bottoms h0 and c0 (expose_hidden), after x, cont and x_static. */
static dlt_tensor *hidden_bottom(dlt_layer *l, const lstm_state *s, int which)
{
    return l->bottom[2 + s->has_static + which];
}

static void lstm_forward(dlt_layer *l)
{
    lstm_state *s = l->state;
    const int T = s->T, N = s->N, H = s->H, G4 = 4 * H;
    const float *cont = l->bottom[1]->data;
    float *hout = l->top[0]->data;
    /* Without expose_hidden Caffe (RecurrentLayer::Forward) starts from the
     * previous pass's final state; cont = 0 at the first step, as a batch of
     * whole sequences has, makes that irrelevant. */
    const dlt_tensor *h0 = s->expose ? hidden_bottom(l, s, 0) : NULL;
    const dlt_tensor *c0 = s->expose ? hidden_bottom(l, s, 1) : NULL;
    memcpy(s->h0, h0 ? h0->data : s->hlast, (size_t)N * H * sizeof(float));
    memcpy(s->c0, c0 ? c0->data : s->clast, (size_t)N * H * sizeof(float));
    /* All steps' input transform in one product: G = x W_xc^T + b_c. */
    const float *b = l->param[1].data;
    for (size_t r = 0; r < (size_t)T * N; r++)
        memcpy(s->G + r * G4, b, (size_t)G4 * sizeof(float));
    dlt__rgemm(0, 1, T * N, G4, s->X, l->bottom[0]->data, l->param[0].data, 1.0f, s->G);
    if (s->has_static)
        dlt__rgemm(0, 1, N, G4, s->S, l->bottom[2]->data, l->param[s->p_static].data, 0.0f,
                   s->sx);
    for (int t = 0; t < T; t++) {
        const size_t o = (size_t)t * N;
        const float *hprev = t ? hout + (o - N) * H : s->h0;
        const float *cprev = t ? s->C + (o - N) * H : s->c0;
        float *hc = s->HC + o * H, *g = s->G + o * G4;
        for (int n = 0; n < N; n++)
            for (int j = 0; j < H; j++)
                hc[(size_t)n * H + j] = cont[o + n] * hprev[(size_t)n * H + j];
        dlt__rgemm(0, 1, N, G4, H, hc, l->param[s->p_hc].data, 1.0f, g);
        if (s->has_static)
            for (size_t k = 0; k < (size_t)N * G4; k++)
                g[k] += s->sx[k];
        dlt__lstm_step_forward(N, H, g, cprev, cont + o, s->C + o * H, hout + o * H);
    }
    const size_t last = (size_t)(T - 1) * N * H;
    memcpy(s->hlast, hout + last, (size_t)N * H * sizeof(float));
    memcpy(s->clast, s->C + last, (size_t)N * H * sizeof(float));
    if (s->expose) {
        memcpy(l->top[1]->data, hout + last, (size_t)N * H * sizeof(float));
        memcpy(l->top[2]->data, s->C + last, (size_t)N * H * sizeof(float));
    }
}

static void lstm_backward(dlt_layer *l)
{
    lstm_state *s = l->state;
    const int T = s->T, N = s->N, H = s->H, G4 = 4 * H;
    const size_t nh = (size_t)N * H;
    const float *cont = l->bottom[1]->data, *dhout = l->top[0]->diff;
    const float *whc = l->param[s->p_hc].data;
    if (s->expose) {
        memcpy(s->dh, l->top[1]->diff, nh * sizeof(float));
        memcpy(s->dc, l->top[2]->diff, nh * sizeof(float));
    } else {
        memset(s->dh, 0, nh * sizeof(float));
        memset(s->dc, 0, nh * sizeof(float));
    }
    /* G becomes the gate gradients (pre-activation) step by step, from the
     * last; the gate values of step t are not needed once it is done. */
    float *dg = dlt_malloc((size_t)N * G4 * sizeof(float));
    for (int t = T - 1; t >= 0; t--) {
        const size_t o = (size_t)t * N;
        const float *cprev = t ? s->C + (o - N) * H : s->c0;
        for (size_t k = 0; k < nh; k++)
            s->dh[k] += dhout[o * H + k];
        dlt__lstm_step_backward(N, H, s->G + o * G4, s->C + o * H, cprev, cont + o, s->dh, s->dc,
                                dg, s->dc);
        memcpy(s->G + o * G4, dg, (size_t)N * G4 * sizeof(float));
        /* dW_hc += dg^T hc; d(hc) = dg W_hc, and h_{t-1} gets cont * that. */
        dlt__rgemm(1, 0, G4, H, N, dg, s->HC + o * H, 1.0f, l->param[s->p_hc].diff);
        dlt__rgemm(0, 0, N, H, G4, dg, whc, 0.0f, s->dh);
        for (int n = 0; n < N; n++)
            for (int j = 0; j < H; j++)
                s->dh[(size_t)n * H + j] *= cont[o + n];
    }
    free(dg);
    const float *dG = s->G; /* (T*N, 4H) */
    dlt__rgemm(1, 0, G4, s->X, T * N, dG, l->bottom[0]->data, 1.0f, l->param[0].diff);
    float *db = l->param[1].diff;
    for (int k = 0; k < G4; k++) {
        double acc = 0;
        for (size_t r = 0; r < (size_t)T * N; r++)
            acc += dG[r * G4 + k];
        db[k] += (float)acc;
    }
    if (l->propagate_down[0])
        dlt__rgemm(0, 0, T * N, s->X, G4, dG, l->param[0].data, 0.0f, l->bottom[0]->diff);
    if (l->propagate_down[1]) /* markers have no gradient */
        memset(l->bottom[1]->diff, 0, l->bottom[1]->count * sizeof(float));
    if (s->has_static) {
        memset(s->dsum, 0, (size_t)N * G4 * sizeof(float));
        for (int t = 0; t < T; t++)
            for (size_t k = 0; k < (size_t)N * G4; k++)
                s->dsum[k] += dG[(size_t)t * N * G4 + k];
        dlt__rgemm(1, 0, G4, s->S, N, s->dsum, l->bottom[2]->data, 1.0f,
                   l->param[s->p_static].diff);
        if (l->propagate_down[2])
            dlt__rgemm(0, 0, N, s->S, G4, s->dsum, l->param[s->p_static].data, 0.0f,
                       l->bottom[2]->diff);
    }
    if (s->expose) {
        const int ih = 2 + s->has_static;
        if (l->propagate_down[ih])
            memcpy(hidden_bottom(l, s, 0)->diff, s->dh, nh * sizeof(float));
        if (l->propagate_down[ih + 1])
            memcpy(hidden_bottom(l, s, 1)->diff, s->dc, nh * sizeof(float));
    }
}

static void lstm_destroy(dlt_layer *l)
{
    lstm_state *s = l->state;
    if (!s)
        return;
    free(s->G), free(s->C), free(s->HC), free(s->h0), free(s->c0), free(s->sx);
    free(s->hlast), free(s->clast);
    free(s->dh), free(s->dc), free(s->dsum);
    free(s);
    l->state = NULL;
}

const dlt_layer_ops dlt__lstm_ops = {
    .type = "LSTM",
    .setup = lstm_setup,
    .forward = lstm_forward,
    .backward = lstm_backward,
    .destroy = lstm_destroy,
};
