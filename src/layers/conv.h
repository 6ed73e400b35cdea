/* conv.h - internal: the Convolution configuration shared by conv.c and src/cuda/conv.cu. */
#ifndef DLTRAIN_LAYERS_CONV_H
#define DLTRAIN_LAYERS_CONV_H

#include "layers/layers.h"

#include "layers/im2col.h"

typedef struct conv_config {
    int num_output;    /* K */
    int group;
    int bias_term;
    dlt__conv_geom g;  /* per image: C, H, W, kernel, stride, pad, Ho, Wo */
} conv_config;

const conv_config *dlt__conv_config(const dlt_layer *l);
/* 1 while the layer runs on oneDNN (backend dnnl, no fallback so far). */
int dlt__conv_uses_dnnl(const dlt_layer *l);
/* 1 on oneDNN's plain NCHW layouts, 0 on its blocked ones, -1 not on oneDNN. */
int dlt__conv_dnnl_plain_layouts(const dlt_layer *l);
/* Training and inference: an in-place ReLU (slope 0) after the oneDNN
 * convolution LAYERS[I] done by its forward; 1 when fused (the net then
 * skips the ReLU's forward), else 0. */
int dlt__conv_fuse_relu(dlt_layer *layers, int i, int n);

/* GPU code: src/cuda/conv.cu (linked only with --with-cuda). */
int dlt__conv_setup_gpu(dlt_layer *l);
void dlt__conv_forward_gpu(dlt_layer *l);
void dlt__conv_backward_gpu(dlt_layer *l);
void dlt__conv_destroy_gpu(dlt_layer *l);

#endif
