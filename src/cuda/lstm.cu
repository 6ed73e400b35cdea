/* lstm.cu - LSTM on the GPU, step for step the CPU layer (src/layers/lstm.c):
 * all steps' input transform in one cuBLAS product, then per step the
 * recurrent product and the cell kernel (recurrent.cuh); backward through
 * time likewise. The device scratch mirrors the CPU state's buffers. */
#include <stdlib.h>

#include "cuda/recurrent.cuh"
extern "C" {
#include "layers/lstm.h"
}

typedef struct lstm_gpu {
    float *G, *C, *HC;          /* (T, N, 4H), (T, N, H), (T, N, H) */
    float *h0, *c0;             /* (N, H) this forward's initial state */
    float *hlast, *clast;       /* (N, H) the last forward's final state */
    float *sx;                  /* (N, 4H) the static input's contribution */
    float *dh, *dc, *dg, *dsum; /* (N, H), (N, H), (N, 4H), (N, 4H) */
} lstm_gpu;

extern "C" int dlt__lstm_setup_gpu(dlt_layer *l)
{
    const lstm_state *s = (const lstm_state *)l->state;
    const size_t tn = (size_t)s->T * s->N, nh = (size_t)s->N * s->H;
    lstm_gpu *g = (lstm_gpu *)dlt_calloc(1, sizeof *g);
    g->G = dlt__gpu_floats(tn * 4 * s->H);
    g->C = dlt__gpu_floats(tn * s->H);
    g->HC = dlt__gpu_floats(tn * s->H);
    g->h0 = dlt__gpu_floats(nh);
    g->c0 = dlt__gpu_floats(nh);
    g->hlast = dlt__gpu_floats(nh);
    g->clast = dlt__gpu_floats(nh);
    g->sx = dlt__gpu_floats(4 * nh);
    g->dh = dlt__gpu_floats(nh);
    g->dc = dlt__gpu_floats(nh);
    g->dg = dlt__gpu_floats(4 * nh);
    g->dsum = dlt__gpu_floats(4 * nh);
    l->gpu_state = g;
    return 0;
}

/* The bottoms h0 and c0 (expose_hidden), after x, cont and x_static. */
static dlt_tensor *hidden_bottom(dlt_layer *l, const lstm_state *s, int which)
{
    return l->bottom[2 + s->has_static + which];
}

extern "C" void dlt__lstm_forward_gpu(dlt_layer *l)
{
    const lstm_state *s = (const lstm_state *)l->state;
    lstm_gpu *g = (lstm_gpu *)l->gpu_state;
    const int T = s->T, N = s->N, H = s->H, G4 = 4 * H;
    const size_t nh = (size_t)N * H;
    const float *cont = l->bottom[1]->gdata;
    float *hout = l->top[0]->gdata;
    /* Without expose_hidden the previous pass's final state, as on the CPU. */
    dlt__dev_copy(g->h0, s->expose ? hidden_bottom(l, s, 0)->gdata : g->hlast, nh);
    dlt__dev_copy(g->c0, s->expose ? hidden_bottom(l, s, 1)->gdata : g->clast, nh);
    dlt__gpu_fill_rows(g->G, l->param[1].gdata, (size_t)T * N, G4);
    dlt__gpu_rgemm(0, 1, T * N, G4, s->X, l->bottom[0]->gdata, l->param[0].gdata, 1.0f, g->G);
    if (s->has_static)
        dlt__gpu_rgemm(0, 1, N, G4, s->S, l->bottom[2]->gdata, l->param[s->p_static].gdata, 0.0f, g->sx);
    for (int t = 0; t < T; t++) {
        const size_t o = (size_t)t * N;
        const float *hprev = t ? hout + (o - N) * H : g->h0;
        const float *cprev = t ? g->C + (o - N) * H : g->c0;
        float *hc = g->HC + o * H, *gt = g->G + o * G4;
        dlt__gpu_scale_rows(hc, hprev, cont + o, N, H);
        dlt__gpu_rgemm(0, 1, N, G4, H, hc, l->param[s->p_hc].gdata, 1.0f, gt);
        if (s->has_static)
            dlt__dev_add(gt, g->sx, (size_t)N * G4);
        dlt__gpu_lstm_step_forward(N, H, gt, cprev, cont + o, g->C + o * H, hout + o * H);
    }
    const size_t last = (size_t)(T - 1) * nh;
    dlt__dev_copy(g->hlast, hout + last, nh);
    dlt__dev_copy(g->clast, g->C + last, nh);
    if (s->expose) {
        dlt__dev_copy(l->top[1]->gdata, hout + last, nh);
        dlt__dev_copy(l->top[2]->gdata, g->C + last, nh);
    }
}

static __global__ void sum_steps(const float *dG, int T, size_t per_step, float *out)
{
    DLT_GRID_STRIDE(k, per_step) {
        float acc = 0.0f; /* the CPU's order and precision: float, t ascending */
        for (int t = 0; t < T; t++)
            acc += dG[(size_t)t * per_step + k];
        out[k] = acc;
    }
}

extern "C" void dlt__lstm_backward_gpu(dlt_layer *l)
{
    const lstm_state *s = (const lstm_state *)l->state;
    lstm_gpu *g = (lstm_gpu *)l->gpu_state;
    const int T = s->T, N = s->N, H = s->H, G4 = 4 * H;
    const size_t nh = (size_t)N * H;
    const float *cont = l->bottom[1]->gdata, *dhout = l->top[0]->gdiff;
    if (s->expose) {
        dlt__dev_copy(g->dh, l->top[1]->gdiff, nh);
        dlt__dev_copy(g->dc, l->top[2]->gdiff, nh);
    } else {
        dlt__dev_zero(g->dh, nh * sizeof(float));
        dlt__dev_zero(g->dc, nh * sizeof(float));
    }
    /* G becomes the gate gradients step by step, from the last. */
    for (int t = T - 1; t >= 0; t--) {
        const size_t o = (size_t)t * N;
        const float *cprev = t ? g->C + (o - N) * H : g->c0;
        dlt__dev_add(g->dh, dhout + o * H, nh);
        dlt__gpu_lstm_step_backward(N, H, g->G + o * G4, g->C + o * H, cprev, cont + o, g->dh, g->dc, g->dg,
                                    g->dc);
        dlt__dev_copy(g->G + o * G4, g->dg, (size_t)N * G4);
        dlt__gpu_rgemm(1, 0, G4, H, N, g->dg, g->HC + o * H, 1.0f, l->param[s->p_hc].gdiff);
        dlt__gpu_rgemm(0, 0, N, H, G4, g->dg, l->param[s->p_hc].gdata, 0.0f, g->dh);
        dlt__gpu_scale_rows(g->dh, g->dh, cont + o, N, H);
    }
    const float *dG = g->G; /* (T*N, 4H) */
    dlt__gpu_rgemm(1, 0, G4, s->X, T * N, dG, l->bottom[0]->gdata, 1.0f, l->param[0].gdiff);
    dlt__gpu_col_sums_add(dG, (size_t)T * N, G4, l->param[1].gdiff);
    if (l->propagate_down[0])
        dlt__gpu_rgemm(0, 0, T * N, s->X, G4, dG, l->param[0].gdata, 0.0f, l->bottom[0]->gdiff);
    if (l->propagate_down[1]) /* markers have no gradient */
        dlt__dev_zero(l->bottom[1]->gdiff, l->bottom[1]->count * sizeof(float));
    if (s->has_static) {
        DLT_LAUNCH(sum_steps, (size_t)N * G4, dG, T, (size_t)N * G4, g->dsum);
        dlt__gpu_rgemm(1, 0, G4, s->S, N, g->dsum, l->bottom[2]->gdata, 1.0f, l->param[s->p_static].gdiff);
        if (l->propagate_down[2])
            dlt__gpu_rgemm(0, 0, N, s->S, G4, g->dsum, l->param[s->p_static].gdata, 0.0f, l->bottom[2]->gdiff);
    }
    if (s->expose) {
        const int ih = 2 + s->has_static;
        if (l->propagate_down[ih])
            dlt__dev_copy(hidden_bottom(l, s, 0)->gdiff, g->dh, nh);
        if (l->propagate_down[ih + 1])
            dlt__dev_copy(hidden_bottom(l, s, 1)->gdiff, g->dc, nh);
    }
}

extern "C" void dlt__lstm_destroy_gpu(dlt_layer *l)
{
    lstm_gpu *g = (lstm_gpu *)l->gpu_state;
    if (!g)
        return;
    float *bufs[] = {g->G, g->C, g->HC, g->h0, g->c0, g->hlast, g->clast, g->sx, g->dh, g->dc, g->dg, g->dsum};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        dlt__dev_free(bufs[i]);
    free(g);
}
