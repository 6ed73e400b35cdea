/* layers.h - internal: the ops of each layer type (one file each) for the
 * registry, and small helpers the layer files share. */
#ifndef DLTRAIN_LAYERS_H
#define DLTRAIN_LAYERS_H

#include "config.h"
#include "dltrain/layer.h"

/* A GPU entry point in an ops table: the function with --with-cuda,
 * NULL otherwise (then dlt_layer_to_gpu names the layer type). */
#ifdef HAVE_CUDA
#define DLT__GPU(fn) fn
#else
#define DLT__GPU(fn) NULL
#endif

/* GPU code of the Data/HDF5Data layers (src/cuda/data.cu). */
int dlt__data_setup_gpu(dlt_layer *l);
void dlt__data_forward_gpu(dlt_layer *l);
void dlt__data_backward_gpu(dlt_layer *l);
void dlt__data_destroy_gpu(dlt_layer *l);

extern const dlt_layer_ops dlt__data_ops;       /* "Data" */
extern const dlt_layer_ops dlt__hdf5_data_ops;  /* "HDF5Data" (same code) */
extern const dlt_layer_ops dlt__conv_ops;
extern const dlt_layer_ops dlt__pooling_ops;
extern const dlt_layer_ops dlt__inner_product_ops;
extern const dlt_layer_ops dlt__relu_ops;
extern const dlt_layer_ops dlt__softmax_loss_ops;
extern const dlt_layer_ops dlt__accuracy_ops;

/* Read a 2-D size the way Caffe's ConvolutionParameter/PoolingParameter
 * spell it: NAME once (both axes), NAME twice (h then w, repeated field),
 * or STEM_h and STEM_w together (kernel_size: stem "kernel"). Absent: *h = *w = def. P may be NULL.
 * MIN is the smallest allowed value. Errors name FILE:LINE:COL and the layer. */
int dlt__pt_hw(const dlt_pnode *p, const char *layer, const char *name,
               const char *stem, long def, long min, int *h, int *w);

/* Fail with "not supported yet" if field NAME of P is present. */
int dlt__pt_reject(const dlt_pnode *p, const char *layer, const char *name,
                   const char *what);

#endif
