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

/* GPU code of layers without a private header: Sigmoid, TanH and Flatten
 * (src/cuda/activations.cu, flatten.cu; the setup/destroy pair is shared:
 * they keep no GPU state) and Dropout (src/cuda/dropout.cu). */
int dlt__activation_setup_gpu(dlt_layer *l);
void dlt__activation_destroy_gpu(dlt_layer *l);
void dlt__sigmoid_forward_gpu(dlt_layer *l);
void dlt__sigmoid_backward_gpu(dlt_layer *l);
void dlt__tanh_forward_gpu(dlt_layer *l);
void dlt__tanh_backward_gpu(dlt_layer *l);
void dlt__flatten_forward_gpu(dlt_layer *l);
void dlt__flatten_backward_gpu(dlt_layer *l);
int dlt__dropout_setup_gpu(dlt_layer *l);
void dlt__dropout_forward_gpu(dlt_layer *l);
void dlt__dropout_backward_gpu(dlt_layer *l);
void dlt__dropout_destroy_gpu(dlt_layer *l);
/* Dropout: draw the next mask from the layer's RNG, as the CPU forward
 * does, and return it (count bytes, 1 = kept) with the kept-value scale;
 * NULL at test time (identity). The GPU code uploads it, so both paths
 * draw identical masks and checkpoints restore them. */
const unsigned char *dlt__dropout_next_mask(dlt_layer *l, float *scale);

extern const dlt_layer_ops dlt__data_ops;       /* "Data" */
extern const dlt_layer_ops dlt__hdf5_data_ops;  /* "HDF5Data" (same code) */
extern const dlt_layer_ops dlt__conv_ops;
extern const dlt_layer_ops dlt__pooling_ops;
extern const dlt_layer_ops dlt__inner_product_ops;
extern const dlt_layer_ops dlt__relu_ops;
extern const dlt_layer_ops dlt__softmax_loss_ops;
extern const dlt_layer_ops dlt__accuracy_ops;
extern const dlt_layer_ops dlt__sigmoid_ops;
extern const dlt_layer_ops dlt__tanh_ops;
extern const dlt_layer_ops dlt__dropout_ops;
extern const dlt_layer_ops dlt__softmax_ops;
extern const dlt_layer_ops dlt__concat_ops;
extern const dlt_layer_ops dlt__eltwise_ops;
extern const dlt_layer_ops dlt__flatten_ops;
extern const dlt_layer_ops dlt__lrn_ops;
extern const dlt_layer_ops dlt__batchnorm_ops;
extern const dlt_layer_ops dlt__scale_ops;

/* Read a 2-D size the way Caffe's ConvolutionParameter/PoolingParameter
 * spell it: NAME once (both axes), NAME twice (h then w, repeated field),
 * or STEM_h and STEM_w together (kernel_size: stem "kernel"). Absent: *h = *w = def. P may be NULL.
 * MIN is the smallest allowed value. Errors name FILE:LINE:COL and the layer. */
int dlt__cfg_hw(const dlt_cfg *p, const char *layer, const char *name,
               const char *stem, long def, long min, int *h, int *w);

/* Fail with "not supported yet" if field NAME of P is present. */
int dlt__cfg_reject(const dlt_cfg *p, const char *layer, const char *name,
                   const char *what);

/* Fail unless L has NB bottoms and NT tops (-1: any number >= 1). */
int dlt__check_arity(const dlt_layer *l, const dlt_cfg *msg, const char *type, int nb, int nt);

/* "(N,C,H,W)" of T into BUF, for shape error messages. */
const char *dlt__shape_str(const dlt_tensor *t, char *buf, int size);

/* Apply a net's thread count (dlt_compute_ctx.threads; 0: leave the
 * libraries as they are) on the calling thread, once per change. */
void dlt__cpu_use_threads(int n);

/* Free l->state (for layers whose state is one allocation). */
void dlt__free_state(dlt_layer *l);

#endif
