/* layers.h - internal: the ops of each layer type (one file each) for the
 * registry, and small helpers the layer files share. */
#ifndef DLTRAIN_LAYERS_H
#define DLTRAIN_LAYERS_H

#include "config.h"
#include "dltrain/layer.h"
#include "dltrain/size.h"

/* The ops table of each type in layers.def (src/layers/NAME.c), and the
 * GPU entry points of each GPU row (src/cuda/; defined only with
 * --with-cuda, referenced only by registry.c in that build). */
#define DLT_LAYER(TYPE, NAME) extern const dlt_layer_ops dlt__##NAME##_ops;
#define DLT_LAYER_GPU(TYPE, NAME, SETUP, RUN)                 \
    extern const dlt_layer_ops dlt__##NAME##_ops;             \
    int dlt__##SETUP##_setup_gpu(dlt_layer *l);               \
    void dlt__##RUN##_forward_gpu(dlt_layer *l);              \
    void dlt__##RUN##_backward_gpu(dlt_layer *l);             \
    void dlt__##SETUP##_destroy_gpu(dlt_layer *l);
#include "layers/layers.def"

/* Dropout: draw the next mask from the layer's RNG, as the CPU forward
 * does, and return it (count bytes, 1 = kept) with the kept-value scale;
 * NULL at test time (identity). The GPU code uploads it, so both paths
 * draw identical masks and checkpoints restore them. */
const unsigned char *dlt__dropout_next_mask(dlt_layer *l, float *scale);

/* Read a 2-D size the way Caffe's ConvolutionParameter/PoolingParameter
 * spell it: NAME once (both axes), NAME twice (h then w, repeated field),
 * or STEM_h and STEM_w together (kernel_size: stem "kernel"). Absent: *h = *w = def. P may be NULL.
 * MIN is the smallest allowed value. Errors name FILE:LINE:COL and the layer. */
int dlt__cfg_hw(const dlt_cfg *p, const char *layer, const char *name,
               const char *stem, long def, long min, int *h, int *w);

/* Fail with "not supported yet" if field NAME of P is present. */
int dlt__cfg_reject(const dlt_cfg *p, const char *layer, const char *name,
                   const char *what);

/* Checked sizes in setup (dltrain/size.h): CTX's messages open with
 * "FILE:LINE:COL: layer 'NAME'" (of NODE, or the layer's MSG) and fail
 * with DLT_ERR_PARSE. BUF holds the text; it must outlive CTX. */
void dlt__layer_size_ctx(const dlt_layer *l, const dlt_cfg *node, char *buf, int size,
                         dlt_size_ctx *ctx);
/* Every top and parameter of every layer is shaped through these: the
 * shape is checked against dltrain/size.h's limits (naming the layer, the
 * blob and the value) before the tensor is sized. */
int dlt__top_shape(dlt_layer *l, const dlt_cfg *msg, int i, int64_t n, int64_t c, int64_t h,
                   int64_t w);
int dlt__add_param(dlt_layer *l, const dlt_cfg *msg, int64_t n, int64_t c, int64_t h, int64_t w,
                   const dlt_filler *filler);

/* Fail unless L has NB bottoms and NT tops (-1: any number >= 1). */
int dlt__check_arity(const dlt_layer *l, const dlt_cfg *msg, const char *type, int nb, int nt);

/* "(N,C,H,W)" of T into BUF, for shape error messages. */
const char *dlt__shape_str(const dlt_tensor *t, char *buf, int size);

/* Apply a net's thread count (dlt_compute_ctx.threads; 0: leave the
 * libraries as they are) on the calling thread, once per change. */
void dlt__cpu_use_threads(int n);

/* C (N x NC, row-major) = init (NC values, or NULL: zero) + A (N x NA) op(B),
 * op(B)[a][j] = trans ? b[j*ldb + a] : b[a*ldb + j]: InnerProduct's kernel
 * (inner_product.c), which computes every row as one fixed sequence
 * whatever N, so a batch split over ranks gives the same rows bit for bit. */
void dlt__gemm_rows(int N, int NC, int NA, const float *a, int trans, const float *b, int ldb,
                    const float *init, float *c);
/* The same product and bits with the rows of C in the vector lanes
 * (gemm_rows_lanes.c); 0, nothing done, where the CPU has no AVX2 + FMA or
 * the shape runs faster in dlt__gemm_rows's panels. */
int dlt__gemm_rows_lanes(int N, int NC, int NA, const float *a, int trans, const float *b, int ldb,
                         const float *init, float *c);

/* Free l->state (for layers whose state is one allocation). */
void dlt__free_state(dlt_layer *l);

#endif
