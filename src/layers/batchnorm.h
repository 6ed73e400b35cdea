/* batchnorm.h - internal: the BatchNorm state (l->state) shared with src/cuda/batchnorm.cu. */
#ifndef DLTRAIN_LAYERS_BATCHNORM_H
#define DLTRAIN_LAYERS_BATCHNORM_H

#include "layers/layers.h"

typedef struct bn_state {
    int global;          /* use_global_stats */
    float maf, eps;
    float *inv_std;      /* (C) 1/sqrt(var + eps) of the last forward */
    double *acc, *acc2;  /* (C) work */
} bn_state;

/* GPU code: src/cuda/batchnorm.cu (linked only with --with-cuda). */
int dlt__batchnorm_setup_gpu(dlt_layer *l);
void dlt__batchnorm_forward_gpu(dlt_layer *l);
void dlt__batchnorm_backward_gpu(dlt_layer *l);
void dlt__batchnorm_destroy_gpu(dlt_layer *l);

#endif
