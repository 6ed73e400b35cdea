/* tensor.h - float32 NCHW tensors with a value and a gradient buffer. */
#ifndef DLTRAIN_TENSOR_H
#define DLTRAIN_TENSOR_H

#include <stddef.h>
#include <stdint.h>

/* Always four axes (N, C, H, W); a vector of K per sample is (N, K, 1, 1),
 * a label is (N, 1, 1, 1). Like a Caffe blob it carries data and diff. */
typedef struct dlt_tensor {
    int n, c, h, w;
    size_t count;     /* n*c*h*w */
    size_t capacity;  /* allocated elements, when owned */
    float *data;      /* (n, c, h, w) values */
    float *diff;      /* (n, c, h, w) gradient of the loss w.r.t. data */
    int owned;        /* 1: data/diff allocated by the tensor; 0: views */
    /* GPU runs: device copies of data/diff (NULL on CPU). The host buffers
     * stay the tensor's interface; src/core/tensor_device.c moves values. */
    float *gdata;     /* (n, c, h, w) on the device */
    float *gdiff;     /* (n, c, h, w) on the device */
    int gowned;       /* 1: gdata/gdiff allocated for this tensor; 0: views */
    int diff_shared;  /* 1: diff points into memory the net owns (dlt_net_share_diffs) */
} dlt_tensor;

/* Set the shape and (for owned tensors) grow the buffers; new memory is 0. */
void dlt_tensor_reshape(dlt_tensor *t, int n, int c, int h, int w);
/* Point data/diff at external memory (parameters in the net's flat buffer). */
void dlt_tensor_view(dlt_tensor *t, int n, int c, int h, int w, float *data, float *diff);
void dlt_tensor_release(dlt_tensor *t); /* frees owned buffers, zeroes t */
/* Device side (all no-ops for a tensor without device copies):
 * allocate gdata/gdiff for COUNT elements (zeroed), point them at
 * external device memory, copy values between host and device. */
void dlt_tensor_to_device(dlt_tensor *t);
void dlt_tensor_device_view(dlt_tensor *t, float *gdata, float *gdiff);
void dlt_tensor_upload(dlt_tensor *t);         /* data: host -> device */
void dlt_tensor_download(dlt_tensor *t);       /* data: device -> host */
void dlt_tensor_download_diff(dlt_tensor *t);  /* diff: device -> host */
/* DST's diff = sum of the diffs of SRCS[0..n) (split blobs), on the device
 * when DST has device copies, else on the host. */
void dlt_tensor_sum_diffs(dlt_tensor *dst, dlt_tensor *const *srcs, int n);
static inline int dlt_tensor_on_device(const dlt_tensor *t) { return t->gdata != NULL; }
static inline size_t dlt_tensor_sample_size(const dlt_tensor *t)
{
    return (size_t)t->c * t->h * t->w;
}

/* A batch of samples as a net takes it: N transformed samples (float
 * NCHW) and their labels. A view: the buffers belong to whoever made it
 * (the net, for dlt_net_input; a loader's caller; an evaluator). */
typedef struct dlt_batch {
    int n, c, h, w;
    float *data;   /* (n, c, h, w) */
    float *label;  /* (n) class indices as floats, or NULL: unlabelled */
    /* Caption batches (a data layer with four tops), else NULL and t 0:
     * word ids as floats, each (t, n) (dlt_loader_fetch_seq). */
    int t;
    float *input_words, *target_words, *cont;
} dlt_batch;

/* Deterministic RNG (xoshiro256**), seeded with splitmix64. */
typedef struct dlt_rng {
    uint64_t s[4];
} dlt_rng;
void dlt_rng_seed(dlt_rng *r, uint64_t seed);
uint64_t dlt_rng_next(dlt_rng *r);
double dlt_rng_uniform(dlt_rng *r);          /* [0, 1) */
double dlt_rng_gaussian(dlt_rng *r);         /* N(0, 1), Box-Muller */
uint64_t dlt_rng_below(dlt_rng *r, uint64_t n); /* [0, n), unbiased */
/* Fisher-Yates permutation of 0..n-1, a pure function of (seed, stream). */
void dlt_permutation(uint32_t *perm, size_t n, uint64_t seed, uint64_t stream);

#endif
