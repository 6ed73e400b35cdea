/* relu.h - internal: the relu configuration (l->state) shared with src/cuda/relu.cu. */
#ifndef DLTRAIN_LAYERS_RELU_H
#define DLTRAIN_LAYERS_RELU_H

#include "layers/layers.h"

typedef struct relu_config {
    float negative_slope;
} relu_config;

/* ReLU's backward on N elements: dx = dy * (x > 0 ? 1 : slope), X the
 * layer's input or, in place, its output (same sign). DX may be DY. */
void dlt__relu_backward_range(float slope, const float *x, const float *dy, float *dx, size_t n);

/* GPU code: src/cuda/relu.cu (linked only with --with-cuda). */
int dlt__relu_setup_gpu(dlt_layer *l);
void dlt__relu_forward_gpu(dlt_layer *l);
void dlt__relu_backward_gpu(dlt_layer *l);
void dlt__relu_destroy_gpu(dlt_layer *l);

#endif
