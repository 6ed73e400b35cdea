/* attention_lstm.h - internal: the AttentionLSTM state (l->state) and
 * parameter order, whose sizes src/cuda/attention_lstm.cu reads. */
#ifndef DLTRAIN_LAYERS_ATTENTION_LSTM_H
#define DLTRAIN_LAYERS_ATTENTION_LSTM_H

#include <stddef.h>

#include "layers/layers.h"

enum { P_WX, P_B, P_WZ, P_WH, P_WFA, P_WHA, P_BA, P_V, P_WIH, P_BIH, P_WIC, P_BIC };

typedef struct att_state {
    int T, N, E, C, L, Hd, A;
    float lambda;        /* doubly_stochastic */
    int init;            /* init_state: h0, c0 from the mean feature */
    double penalty;      /* lambda/N sum (1 - sum_t alpha)^2 of the last forward */
    float *Ft;           /* (N, L, C) the features, location-major */
    float *Fp;           /* (N, L, A) W_fa f + b_a */
    float *U;            /* (T, N, L, A) tanh of the attention MLP */
    float *alpha;        /* (T, N, L) */
    float *Z;            /* (T, N, C) contexts */
    float *G;            /* (T, N, 4Hd) gate values, then gate gradients */
    float *Cc;           /* (T, N, Hd) cells */
    float *HC;           /* (T, N, Hd) cont * h_{t-1} */
    float *ah;           /* (N, A) scratch: W_ha h */
    float *dh, *dc;      /* (N, Hd) gradients flowing to the previous step */
    float *dz;           /* (N, C) */
    float *dah;          /* (N, A) */
    float *dFp;          /* (N, L, A) summed over steps */
    float *dFt;          /* (N, L, C) */
    float *dg;           /* (N, 4Hd) */
    /* init_state only: */
    float *fm;           /* (N, C) mean feature */
    float *H0, *C0;      /* (N, Hd) initial hidden state and cell */
    float *CP;           /* (T, N, Hd) the previous cell each step used */
    float *dH0, *dC0;    /* (N, Hd) their gradients, summed over steps */
    float *ones;         /* (N) cont for the step kernels: CP already holds the reset */
} att_state;

#endif
