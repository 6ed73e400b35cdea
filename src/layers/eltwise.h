/* eltwise.h - internal: the Eltwise state (l->state) shared with src/cuda/eltwise.cu. */
#ifndef DLTRAIN_LAYERS_ELTWISE_H
#define DLTRAIN_LAYERS_ELTWISE_H

#include "layers/layers.h"

enum { OP_PROD, OP_SUM, OP_MAX };

typedef struct eltwise_state {
    int op;
    float coeff[DLT_MAX_BLOBS];
    int *argmax;   /* (count) MAX: which bottom won */
    /* dlt__eltwise_fuse_relu: the in-place ReLU after this layer, applied
     * in this layer's forward pass (and with TRAIN its backward in this
     * layer's chain backward); NULL: none. */
    dlt_layer *fused_relu;
} eltwise_state;

/* At layers[i], an Eltwise SUM of two bottoms followed by an in-place ReLU
 * on its top (a ResNet block's end): the Eltwise's CPU forward applies the
 * ReLU too, with the two layers' own arithmetic, in one pass. Returns 1
 * (the ReLU's forward is then to be skipped), or 0: no chain. With TRAIN
 * the net runs both backwards through dlt__eltwise_chain_backward at the
 * ReLU's turn. */
int dlt__eltwise_fuse_relu(dlt_layer *layers, int i, int n);
/* The ReLU's and the Eltwise's backward in one pass: the ReLU's gradient
 * times each coefficient into the bottoms' diffs, bit-identical to the two
 * backwards in turn (the top's own diff is left as it was when no bottom
 * shares it: nothing reads it afterwards). ELT is the chain's head. */
void dlt__eltwise_chain_backward(dlt_layer *elt);

/* GPU code: src/cuda/eltwise.cu (linked only with --with-cuda). */
int dlt__eltwise_setup_gpu(dlt_layer *l);
void dlt__eltwise_forward_gpu(dlt_layer *l);
void dlt__eltwise_backward_gpu(dlt_layer *l);
void dlt__eltwise_destroy_gpu(dlt_layer *l);

#endif
