/* weights.h - trained weights from other files into a net, as Caffe's
 * `caffe train --weights`: a dltrain checkpoint, a Caffe HDF5 weights file
 * (.caffemodel.h5) or a binary .caffemodel (NetParameter, also the old V1
 * `layers` form), told apart by their content. */
#ifndef DLTRAIN_WEIGHTS_H
#define DLTRAIN_WEIGHTS_H

#include <stddef.h>

#include "dltrain/net.h"

typedef enum {
    DLT_WEIGHTS_UNKNOWN = 0,   /* none of the kinds below */
    DLT_WEIGHTS_DLTRAIN,       /* dltrain checkpoint (HDF5, dltrain_format attribute) */
    DLT_WEIGHTS_CAFFE_H5,      /* Caffe HDF5 weights: /data/LAYER/I, no dltrain_format */
    DLT_WEIGHTS_CAFFEMODEL,    /* Caffe binary NetParameter (protobuf) */
    DLT_WEIGHTS_DATASET_H5,    /* a dataset (dltrain-prep's, or Caffe's HDF5Data layout) */
    DLT_WEIGHTS_OTHER_H5       /* some other HDF5 file */
} dlt_weights_kind;

/* What PATH holds, read from its content (never its name): 0 with *KIND
 * set, or DLT_ERR_IO when it cannot be read. WHAT (may be NULL) receives
 * a phrase for messages ("a Caffe HDF5 weights file (.caffemodel.h5)",
 * "a JPEG image", "a text file", ...). */
int dlt_weights_detect(const char *path, dlt_weights_kind *kind, char *what, size_t what_size);

/* One parameter blob as a file stores it: its shape (Caffe's, any rank)
 * and its values. */
typedef struct dlt_weight_blob {
    int ndim;
    long dims[8];
    int legacy;          /* the shape came from BlobProto's num/channels/height/width */
    size_t count;
    float *data;
} dlt_weight_blob;

typedef struct dlt_weight_layer {
    char *name;
    int nblobs;
    dlt_weight_blob *blobs;
} dlt_weight_layer;

/* All the layers of one file that carry blobs, in file order. */
typedef struct dlt_weight_set {
    dlt_weights_kind kind;
    long iter;           /* a dltrain checkpoint's iteration; -1 otherwise */
    int nlayers;
    dlt_weight_layer *layers;
} dlt_weight_set;

/* Read every layer's blobs from PATH, of any kind above that holds
 * weights; a file of another kind is an error saying what it is. */
int dlt_weights_read(const char *path, dlt_weight_set *out);
void dlt_weight_set_free(dlt_weight_set *ws);

/* How dlt_weights_copy treats layers of NET the file lacks. */
typedef enum {
    DLT_WEIGHTS_PARTIAL = 0, /* fine-tuning: they keep their initial values (listed) */
    DLT_WEIGHTS_COMPLETE     /* evaluation: every layer with parameters must be in the file */
} dlt_weights_mode;

/* Copy WS into NET's host parameters by layer name (Caffe's
 * CopyTrainedLayersFrom): file layers the net lacks are skipped, net
 * layers the file lacks keep their values (both listed once in the log,
 * naming SOURCE); a different number of blobs or a shape mismatch is an
 * error naming the layer and both shapes. Shapes match when they agree
 * after dropping leading and trailing 1s, so legacy 4-D blobs (1,1,K,D)
 * and 1x1 kernels written (K,C) load as Caffe loads them. Returns the
 * number of layers copied, or <0. */
int dlt_weights_copy(dlt_net *net, const dlt_weight_set *ws, const char *source,
                     dlt_weights_mode mode);

/* --weights FILE[,FILE...]: read and copy each file in turn (a later file
 * overwrites the layers it shares with an earlier one, as in Caffe). ITER
 * (may be NULL) receives the last dltrain checkpoint's iteration, or -1. */
int dlt_weights_load(dlt_net *net, const char *list, dlt_weights_mode mode, long *iter);

/* Caffe's shape of parameter P of layer L (its natural rank: Convolution
 * weights 4-D, InnerProduct weights 2-D, others without the leading and
 * trailing 1s of dltrain's 4-D tensors). Returns the rank. */
int dlt_caffe_param_shape(const dlt_layer *l, int p, long dims[4]);

#endif
