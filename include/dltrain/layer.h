/* layer.h - the layer interface, the registry of layer types, fillers. */
#ifndef DLTRAIN_LAYER_H
#define DLTRAIN_LAYER_H

#include "dltrain/cfg.h"
#include "dltrain/compute.h"
#include "dltrain/tensor.h"

enum { DLT_PHASE_TRAIN = 0, DLT_PHASE_TEST = 1 };

/* Caffe's FillerParameter (same defaults). */
typedef enum {
    DLT_FILLER_CONSTANT, DLT_FILLER_GAUSSIAN, DLT_FILLER_XAVIER,
    DLT_FILLER_UNIFORM, DLT_FILLER_MSRA
} dlt_filler_type;
typedef enum { DLT_NORM_FAN_IN, DLT_NORM_FAN_OUT, DLT_NORM_AVERAGE } dlt_variance_norm;
typedef struct dlt_filler {
    dlt_filler_type type;  /* default constant */
    double value;          /* constant: 0 */
    double min, max;       /* uniform: 0, 1 */
    double mean, std;      /* gaussian: 0, 1 */
    dlt_variance_norm variance_norm; /* xavier/msra: FAN_IN */
} dlt_filler;
/* Read a filler message (NULL msg = defaults of type constant 0). */
int dlt_filler_parse(const dlt_cfg *msg, dlt_filler *f);
/* Fill t->data following Caffe: xavier uses fan_in = count/n,
 * fan_out = count/c, uniform in +-sqrt(3/fan). */
void dlt_filler_fill(const dlt_filler *f, dlt_tensor *t, dlt_rng *rng);

/* Values the net gives a layer at setup that are not in its prototxt. */
typedef struct dlt_layer_context {
    int phase;                        /* DLT_PHASE_TRAIN or DLT_PHASE_TEST */
    int input_c, input_h, input_w;    /* sample shape of the dataset (data layers) */
    int seq_len;                      /* caption sets: time steps of the word tops, else 0 */
} dlt_layer_context;

typedef struct dlt_layer dlt_layer;

typedef struct dlt_layer_ops {
    const char *type;  /* prototxt type name, e.g. "Convolution" */
    /* Read the layer's parameters from MSG (the whole `layer { }` message)
     * and its compute settings from l->compute, check bottom shapes,
     * reshape tops, declare parameters with
     * dlt_layer_add_param. Returns 0 or a status after printing an error
     * naming the layer and, for prototxt problems, FILE:LINE:COL. */
    int (*setup)(dlt_layer *l, const dlt_cfg *msg, const dlt_layer_context *ctx);
    void (*forward)(dlt_layer *l);
    /* Accumulates (+=) into parameter diffs; writes (=) bottom diffs
     * where l->propagate_down[i] is set. */
    void (*backward)(dlt_layer *l);
    void (*destroy)(dlt_layer *l); /* frees l->state contents; may be NULL */
} dlt_layer_ops;

/* A layer type's GPU code (src/cuda/NAME.cu), registered from the table of
 * layer types (src/layers/layers.def) in a CUDA build. setup runs after
 * the CPU setup, once the tensors have device copies; forward/backward
 * follow the CPU functions' contract on gdata/gdiff; destroy frees
 * l->gpu_state. */
typedef struct dlt_layer_gpu_ops {
    int (*setup)(dlt_layer *l);
    void (*forward)(dlt_layer *l);
    void (*backward)(dlt_layer *l);
    void (*destroy)(dlt_layer *l);
} dlt_layer_gpu_ops;

#define DLT_MAX_BLOBS 8
#define DLT_MAX_PARAMS 12 /* AttentionLSTM with init_state has 12 */

struct dlt_layer {
    const dlt_layer_ops *ops;
    char *name;
    /* The net's compute settings (backend, threads, cuDNN), set before
     * setup; setup, setup_gpu and the run read them, never a global. */
    const dlt_compute_ctx *compute;
    dlt_tensor *bottom[DLT_MAX_BLOBS];
    int nbottom;
    dlt_tensor *top[DLT_MAX_BLOBS];
    int ntop;
    int propagate_down[DLT_MAX_BLOBS]; /* set by the net before backward */
    dlt_tensor param[DLT_MAX_PARAMS];  /* views into the net's flat buffers */
    dlt_filler param_filler[DLT_MAX_PARAMS];
    float lr_mult[DLT_MAX_PARAMS];     /* from param { lr_mult }, default 1 */
    float decay_mult[DLT_MAX_PARAMS];  /* from param { decay_mult }, default 1 */
    int nparam;
    float loss_weight[DLT_MAX_BLOBS];  /* per top; 1 for the first top of a loss layer */
    int is_loss;                       /* set in setup by loss layers */
    int phase;
    void *state;                       /* layer-private, allocated in setup */
    /* Random source for stochastic layers (Dropout): the training loop's
     * per-rank RNG, whose state checkpoints save, set by dlt_net_set_rng;
     * NULL until then (such layers then use their own fixed-seed RNG). */
    dlt_rng *rng;
    /* Set in setup by layers whose parameters are statistics they update
     * themselves (BatchNorm, as Caffe): the net forces lr_mult and
     * decay_mult to 0 so no solver changes them. */
    int params_not_trained;
    int on_gpu;                        /* set by dlt_layer_to_gpu */
    const dlt_layer_gpu_ops *gpu_ops;  /* set by dlt_layer_to_gpu */
    void *gpu_state;                   /* layer-private GPU state (descriptors, workspaces) */
};

/* Declare parameter blob l->nparam with shape and filler; the net
 * allocates it in its flat buffer after setup and runs the filler. */
void dlt_layer_add_param(dlt_layer *l, int n, int c, int h, int w, const dlt_filler *filler);

/* Run the layer where it lives (CPU, or GPU after dlt_layer_to_gpu). */
void dlt_layer_forward(dlt_layer *l);
void dlt_layer_backward(dlt_layer *l);
/* Give the layer's tops, bottoms and parameters device copies first;
 * fails naming the layer when its type has no GPU implementation. */
int dlt_layer_to_gpu(dlt_layer *l);
void dlt_layer_free_gpu(dlt_layer *l);

/* Registry: one row per layer type (src/layers/registry.c). */
const dlt_layer_ops *dlt_layer_find(const char *type);
/* The GPU code of the type OPS implements; NULL when it has none or the
 * build has no CUDA. */
const dlt_layer_gpu_ops *dlt_layer_find_gpu(const dlt_layer_ops *ops);
/* Comma-separated list of known types, for error messages. */
const char *dlt_layer_type_list(void);



/* A layer's settings as its setup resolved them (defaults applied, Caffe's
 * spellings read), for code that writes the net in another format (model
 * export): no prototxt field is interpreted twice. Fields not of the
 * layer's type are 0. */
typedef enum { DLT_ELTWISE_PROD, DLT_ELTWISE_SUM, DLT_ELTWISE_MAX } dlt_eltwise_op;
typedef struct dlt_layer_desc {
    /* Convolution and Pooling: the window and the output size */
    int kh, kw, sh, sw, ph, pw;
    int dh, dw;                 /* Convolution: dilation (1: none) */
    int ho, wo;
    int group;                  /* Convolution */
    int num_output;             /* Convolution, InnerProduct, Embed; SoftmaxWithLoss: classes
                                 * along its axis */
    int input_dim;              /* Embed: rows of its table (the vocabulary it takes) */
    int bias_term;              /* Convolution, InnerProduct, Scale */
    int pool_ave;               /* Pooling: 1 AVE, 0 MAX */
    int axis;                   /* Concat, Softmax, InnerProduct (0..3 of NCHW) */
    int transpose;              /* InnerProduct: weight stored (D, K) */
    int lrn_within;             /* LRN: 1 WITHIN_CHANNEL, 0 ACROSS_CHANNELS */
    int lrn_size;
    float lrn_alpha, lrn_beta, lrn_k;
    dlt_eltwise_op eltwise_op;  /* Eltwise */
    float coeff[DLT_MAX_BLOBS]; /* Eltwise SUM: per bottom */
    float eps;                  /* BatchNorm */
    float negative_slope;       /* ReLU */
} dlt_layer_desc;
/* Fill OUT for L (any type; types without settings leave it zero). */
void dlt_layer_describe(const dlt_layer *l, dlt_layer_desc *out);

/* Data layers (Data, HDF5Data) have no forward work: each batch, already
 * transformed, reaches their tops (data, label) through the net's input
 * API (dlt_net_input, dlt_net_set_input). These are the settings the
 * input pipeline (loader, transform) needs from their prototxt. */
typedef struct dlt_data_params {
    int batch_size;  /* per rank: data_param / hdf5_data_param batch_size */
    float scale;     /* transform_param scale, default 1 */
    int crop_size;   /* transform_param crop_size, 0: none */
    int mirror;      /* transform_param mirror */
    const char *mean_file;  /* transform_param mean_file (.binaryproto or .h5 with /mean), or NULL */
    float mean_value[4];    /* transform_param mean_value, repeated */
    int n_mean_value;
    int seq_len;     /* caption data layer (4 tops): time steps T of the word tops, else 0 */
} dlt_data_params;
/* NULL when L is not a data layer. */
const dlt_data_params *dlt_layer_data_params(const dlt_layer *l);

#endif
