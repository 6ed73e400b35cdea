/* softmax.h - internal: the Softmax state (l->state) shared with src/cuda/softmax.cu. */
#ifndef DLTRAIN_LAYERS_SOFTMAX_H
#define DLTRAIN_LAYERS_SOFTMAX_H

#include "layers/layers.h"

/* The softmax axis seen as (outer, dim, inner) over an NCHW tensor. */
typedef struct softmax_state {
    int outer, dim, inner;
    int axis;       /* of the NCHW blob, 0..3 */
} softmax_state;

/* GPU code: src/cuda/softmax.cu (linked only with --with-cuda). */
int dlt__softmax_setup_gpu(dlt_layer *l);
void dlt__softmax_forward_gpu(dlt_layer *l);
void dlt__softmax_backward_gpu(dlt_layer *l);
void dlt__softmax_destroy_gpu(dlt_layer *l);

#endif
