/* softmax_loss.h - internal: the SoftmaxWithLoss state (l->state) shared with src/cuda/softmax_loss.cu. */
#ifndef DLTRAIN_LAYERS_SOFTMAX_LOSS_H
#define DLTRAIN_LAYERS_SOFTMAX_LOSS_H

#include "layers/layers.h"

enum { NORM_FULL, NORM_VALID, NORM_BATCH_SIZE, NORM_NONE };

typedef struct softmax_loss_state {
    int has_ignore, ignore_label;
    int normalization;   /* NORM_* */
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
