/* pooling.h - internal: the Pooling configuration shared by pooling.c and src/cuda/pooling.cu. */
#ifndef DLTRAIN_LAYERS_POOLING_H
#define DLTRAIN_LAYERS_POOLING_H

#include "layers/layers.h"

enum { POOL_MAX, POOL_AVE, POOL_STOCHASTIC };

typedef struct pool_config {
    int method;        /* POOL_MAX or POOL_AVE */
    int kh, kw, sh, sw, ph, pw;
    int c, h, w;       /* input channels and size */
    int ho, wo;        /* output size */
} pool_config;

const pool_config *dlt__pooling_config(const dlt_layer *l);

/* GPU code: src/cuda/pooling.cu (linked only with --with-cuda). */
int dlt__pooling_setup_gpu(dlt_layer *l);
void dlt__pooling_forward_gpu(dlt_layer *l);
void dlt__pooling_backward_gpu(dlt_layer *l);
void dlt__pooling_destroy_gpu(dlt_layer *l);

#endif
