/* inner_product.h - internal: the inner_product configuration (l->state) shared with src/cuda/inner_product.cu. */
#ifndef DLTRAIN_LAYERS_INNER_PRODUCT_H
#define DLTRAIN_LAYERS_INNER_PRODUCT_H

#include "layers/layers.h"

typedef struct ip_config {
    int num_output;  /* K */
    int dim;         /* D: product of the bottom's axes from axis on */
    int rows;        /* M: product of the axes before axis */
    int bias_term;
    int transpose;   /* weight stored (D, K) */
} ip_config;

/* GPU code: src/cuda/inner_product.cu (linked only with --with-cuda). */
int dlt__inner_product_setup_gpu(dlt_layer *l);
void dlt__inner_product_forward_gpu(dlt_layer *l);
void dlt__inner_product_backward_gpu(dlt_layer *l);
void dlt__inner_product_destroy_gpu(dlt_layer *l);

#endif
