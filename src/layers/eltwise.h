/* eltwise.h - internal: the Eltwise state (l->state) shared with src/cuda/eltwise.cu. */
#ifndef DLTRAIN_LAYERS_ELTWISE_H
#define DLTRAIN_LAYERS_ELTWISE_H

#include "layers/layers.h"

enum { OP_PROD, OP_SUM, OP_MAX };

typedef struct eltwise_state {
    int op;
    float coeff[DLT_MAX_BLOBS];
    int *argmax;   /* (count) MAX: which bottom won */
} eltwise_state;

/* GPU code: src/cuda/eltwise.cu (linked only with --with-cuda). */
int dlt__eltwise_setup_gpu(dlt_layer *l);
void dlt__eltwise_forward_gpu(dlt_layer *l);
void dlt__eltwise_backward_gpu(dlt_layer *l);
void dlt__eltwise_destroy_gpu(dlt_layer *l);

#endif
