/* export.h - a trained net written in formats other tools read (model
 * export, dltrain-export): each format is one writer with the same
 * signature, and preprocess.json says how a deployment feeds the model. */
#ifndef DLTRAIN_EXPORT_H
#define DLTRAIN_EXPORT_H

#include "dltrain/cfg.h"
#include "dltrain/data.h"
#include "dltrain/net.h"

/* A format writer: NET is the TEST-phase net of NET_PARAM (the tree it was
 * built from, which gives each layer's bottom and top names) with its
 * trained parameters; the files go into the existing directory OUTDIR.
 * What deployment needs is kept: data, Accuracy and loss layers are left
 * out, Dropout is the identity, and the scores of the last loss (or
 * Softmax) layer go through a Softmax named "prob" (layers that only feed
 * other losses, GoogLeNet's side classifiers, are dropped). A layer the
 * format cannot express is an error naming it. */
typedef int (*dlt_export_fn)(dlt_net *net, const dlt_cfg *net_param, const char *outdir);

/* Caffe: OUTDIR/deploy.prototxt (an Input layer of the net's input shape,
 * batch 1, then NET_PARAM's TEST-phase layers without data, loss and
 * accuracy layers; a Softmax named "prob" in place of a final
 * SoftmaxWithLoss), OUTDIR/weights.caffemodel (binary NetParameter, the
 * `layer` form) and OUTDIR/weights.caffemodel.h5 (Caffe's HDF5 layout,
 * /data/LAYER/I). Errors name the file. */
int dlt_export_caffe(dlt_net *net, const dlt_cfg *net_param, const char *outdir);

/* OUTDIR/model.onnx: ONNX opset 13, IR version 7; input "data"
 * (batch, C, H, W) with a symbolic batch, output "prob". */
int dlt_export_onnx(dlt_net *net, const dlt_cfg *net_param, const char *outdir);

/* What a deployment needs to feed the model as training fed it, from the
 * one input pipeline's settings (data.h): the stored sample shape and how
 * images became samples (SPEC), the TEST data layer's transform_param of
 * NET (centre crop, mean, scale; no mirror), and the class names (N of
 * them, or none). Writes OUTDIR/preprocess.json and, for a mean_file,
 * OUTDIR/mean.npy (float32, C x H x W, of the stored sample shape). */
int dlt_export_preprocess(dlt_net *net, const dlt_input_spec *spec,
                          const char *const *classes, int n, const char *outdir);

#endif
