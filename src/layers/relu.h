/* relu.h - internal: the relu configuration (l->state) shared with src/cuda/relu.cu. */
#ifndef DLTRAIN_LAYERS_RELU_H
#define DLTRAIN_LAYERS_RELU_H

#include "layers/layers.h"

typedef struct relu_config {
    float negative_slope;
} relu_config;

/* GPU code: src/cuda/relu.cu (linked only with --with-cuda). */
int dlt__relu_setup_gpu(dlt_layer *l);
void dlt__relu_forward_gpu(dlt_layer *l);
void dlt__relu_backward_gpu(dlt_layer *l);
void dlt__relu_destroy_gpu(dlt_layer *l);

#endif
