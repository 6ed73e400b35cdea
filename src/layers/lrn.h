/* lrn.h - internal: the LRN state (l->state) shared with src/cuda/lrn.cu. */
#ifndef DLTRAIN_LAYERS_LRN_H
#define DLTRAIN_LAYERS_LRN_H

#include "layers/layers.h"

enum { ACROSS, WITHIN };

typedef struct lrn_state {
    int region, size;
    float alpha, beta, k;
    float *scale;   /* (N, C, H, W) the normalizer, kept for backward */
    float *tmp;     /* (H, W) WITHIN: per-plane work */
} lrn_state;

/* GPU code: src/cuda/lrn.cu (linked only with --with-cuda). */
int dlt__lrn_setup_gpu(dlt_layer *l);
void dlt__lrn_forward_gpu(dlt_layer *l);
void dlt__lrn_backward_gpu(dlt_layer *l);
void dlt__lrn_destroy_gpu(dlt_layer *l);

#endif
