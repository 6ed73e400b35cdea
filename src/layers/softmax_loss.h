/* softmax_loss.h - internal: the SoftmaxWithLoss state (l->state) shared with src/cuda/softmax_loss.cu. */
#ifndef DLTRAIN_LAYERS_SOFTMAX_LOSS_H
#define DLTRAIN_LAYERS_SOFTMAX_LOSS_H

#include "layers/layers.h"

enum { NORM_FULL, NORM_VALID, NORM_BATCH_SIZE, NORM_NONE };

typedef struct softmax_loss_state {
    int has_ignore, ignore_label;
    int normalization;   /* NORM_* */
    /* softmax_param axis splits the bottom into outer x C x inner (axis 1
     * of NCHW: N x C x H*W; axis 2 of (T,N,V,1) word scores: T*N x V x 1). */
    size_t outer, inner;
    int C;
    float *prob;         /* (N, C, H, W) softmax of the bottom */
    size_t prob_count;
    double normalizer;   /* of the last forward, used by backward */
} softmax_loss_state;

/* GPU code: src/cuda/softmax_loss.cu (linked only with --with-cuda). */
int dlt__softmax_loss_setup_gpu(dlt_layer *l);
void dlt__softmax_loss_forward_gpu(dlt_layer *l);
void dlt__softmax_loss_backward_gpu(dlt_layer *l);
void dlt__softmax_loss_destroy_gpu(dlt_layer *l);

#endif
