/* scale.h - internal: the Scale state (l->state) shared with src/cuda/scale.cu. */
#ifndef DLTRAIN_LAYERS_SCALE_H
#define DLTRAIN_LAYERS_SCALE_H

#include "layers/layers.h"

typedef struct scale_state {
    int bias_term;
    float *x_saved;   /* (N, C, H, W) in place: the input, for dgamma */
    int saved_shared; /* x_saved is the BatchNorm's x_norm before this layer
                         (dlt__batchnorm_fuse_chain): it holds this layer's
                         input already; not written or freed here */
} scale_state;

/* Scale's backward for channel C: adds gamma's (and beta's) gradient of
 * the channel to the parameter diffs; with DX, writes dx = dy * gamma_c
 * (DX may be DY). X: the layer's input. */
void dlt__scale_backward_channel(dlt_layer *l, int c, const float *x, const float *dy, float *dx);

/* GPU code: src/cuda/scale.cu (linked only with --with-cuda). */
int dlt__scale_setup_gpu(dlt_layer *l);
void dlt__scale_forward_gpu(dlt_layer *l);
void dlt__scale_backward_gpu(dlt_layer *l);
void dlt__scale_destroy_gpu(dlt_layer *l);

#endif
