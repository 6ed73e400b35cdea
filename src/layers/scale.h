/* scale.h - internal: the Scale state (l->state) shared with src/cuda/scale.cu. */
#ifndef DLTRAIN_LAYERS_SCALE_H
#define DLTRAIN_LAYERS_SCALE_H

#include "layers/layers.h"

typedef struct scale_state {
    int bias_term;
    float *x_saved;   /* (N, C, H, W) in place: the input, for dgamma */
} scale_state;

/* GPU code: src/cuda/scale.cu (linked only with --with-cuda). */
int dlt__scale_setup_gpu(dlt_layer *l);
void dlt__scale_forward_gpu(dlt_layer *l);
void dlt__scale_backward_gpu(dlt_layer *l);
void dlt__scale_destroy_gpu(dlt_layer *l);

#endif
