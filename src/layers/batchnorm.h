/* batchnorm.h - internal: the BatchNorm state (l->state) shared with src/cuda/batchnorm.cu. */
#ifndef DLTRAIN_LAYERS_BATCHNORM_H
#define DLTRAIN_LAYERS_BATCHNORM_H

#include "layers/layers.h"

typedef struct bn_state {
    int global;          /* use_global_stats */
    float maf, eps;
    float *inv_std;      /* (C) 1/sqrt(var + eps) of the last forward */
    double *acc, *acc2;  /* (C) work */
    /* TRAIN: (N, C, H, W) the normalized input of the last forward, which
     * the backward needs (Caffe's x_norm_): in-place layers after this one
     * (Scale, ReLU) overwrite the top. NULL in TEST. */
    float *x_norm;
    /* Chain (dlt__batchnorm_fuse_chain): the in-place Scale and ReLU after
     * this layer, applied in this layer's forward pass; NULL: none. With
     * TRAIN, the chain's backward is one pass too (train_chain). */
    dlt_layer *fused_scale, *fused_relu;
    int train_chain;
} bn_state;

/* At layers[i], a BatchNorm followed by an in-place Scale and optionally
 * an in-place ReLU on its top: makes the BatchNorm's CPU forward apply
 * them too, in the same order and float rounding, in one pass over the
 * tensor; the Scale then reads its saved input from the BatchNorm's
 * x_norm (one copy, not two). TRAIN chains are fused only with TRAIN_OK
 * (no 16-bit rounding of tops between the layers) and then also fuse the
 * backward (dlt__batchnorm_chain_backward). Returns how many layers after
 * i it absorbed (their forward is then to be skipped; 0: no chain). */
int dlt__batchnorm_fuse_chain(dlt_layer *layers, int i, int n, int train_ok);
/* The backward of a TRAIN chain's ReLU (if any), Scale and BatchNorm, in
 * one pass per channel with each layer's own arithmetic (bit-identical to
 * the three backwards in turn). BN is the chain's head. */
void dlt__batchnorm_chain_backward(dlt_layer *bn);

/* GPU code: src/cuda/batchnorm.cu (linked only with --with-cuda). */
int dlt__batchnorm_setup_gpu(dlt_layer *l);
void dlt__batchnorm_forward_gpu(dlt_layer *l);
void dlt__batchnorm_backward_gpu(dlt_layer *l);
void dlt__batchnorm_destroy_gpu(dlt_layer *l);

#endif
