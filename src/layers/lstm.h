/* lstm.h - internal: the LSTM state (l->state), whose sizes and
 * parameter indices src/cuda/lstm.cu reads. */
#ifndef DLTRAIN_LAYERS_LSTM_H
#define DLTRAIN_LAYERS_LSTM_H

#include <stddef.h>

#include "layers/layers.h"

typedef struct lstm_state {
    int T, N, H, X, S;   /* steps, streams, hidden units, input and static sizes */
    int has_static, expose;
    int p_static, p_hc;  /* parameter indices of W_xc_static and W_hc */
    float *G;            /* (T, N, 4H) gate values */
    float *C;            /* (T, N, H) cells */
    float *HC;           /* (T, N, H) cont * h_{t-1}: the input of W_hc */
    float *h0, *c0;      /* (N, H) initial state of this forward */
    float *hlast, *clast; /* (N, H) final state of the last forward */
    float *sx;           /* (N, 4H) the static input's contribution */
    float *dh, *dc;      /* (N, H) gradients flowing to the previous step */
    float *dsum;         /* (N, 4H) sum over t of the gate gradients (static) */
} lstm_state;

#endif
