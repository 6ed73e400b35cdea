/* batchnorm.h - internal: the BatchNorm state (l->state) shared with src/cuda/batchnorm.cu. */
#ifndef DLTRAIN_LAYERS_BATCHNORM_H
#define DLTRAIN_LAYERS_BATCHNORM_H

#include "layers/layers.h"

typedef struct bn_state {
    int global;          /* use_global_stats */
    float maf, eps;
    float *inv_std;      /* (C) 1/sqrt(var + eps) of the last forward */
    double *acc, *acc2;  /* (C) work */
    /* Inference chain (dlt__batchnorm_fuse_chain): the in-place Scale and
     * ReLU after this layer, applied in this layer's pass; NULL: none. */
    const dlt_layer *fused_scale, *fused_relu;
} bn_state;

/* At layers[i], a BatchNorm on global statistics (TEST) followed by an
 * in-place Scale and optionally an in-place ReLU on its top: makes the
 * BatchNorm's CPU forward apply them too, in the same order and float
 * rounding, in one pass over the tensor. Returns how many layers after i
 * it absorbed (their forward is then to be skipped; 0: no chain). */
int dlt__batchnorm_fuse_chain(dlt_layer *layers, int i, int n);

/* GPU code: src/cuda/batchnorm.cu (linked only with --with-cuda). */
int dlt__batchnorm_setup_gpu(dlt_layer *l);
void dlt__batchnorm_forward_gpu(dlt_layer *l);
void dlt__batchnorm_backward_gpu(dlt_layer *l);
void dlt__batchnorm_destroy_gpu(dlt_layer *l);

#endif
