/* accuracy.h - internal: the accuracy configuration (l->state) shared with src/cuda/accuracy.cu. */
#ifndef DLTRAIN_LAYERS_ACCURACY_H
#define DLTRAIN_LAYERS_ACCURACY_H

#include "layers/layers.h"

typedef struct accuracy_config {
    int top_k;
    int has_ignore, ignore_label;
    size_t outer, inner; /* the axes before and after accuracy_param axis */
    int C;               /* classes: the extent of that axis */
} accuracy_config;

/* GPU code: src/cuda/accuracy.cu (linked only with --with-cuda). */
int dlt__accuracy_setup_gpu(dlt_layer *l);
void dlt__accuracy_forward_gpu(dlt_layer *l);
void dlt__accuracy_backward_gpu(dlt_layer *l);
void dlt__accuracy_destroy_gpu(dlt_layer *l);

#endif
