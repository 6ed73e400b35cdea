/* export.h - a trained net written out in formats other tools read. */
#ifndef DLTRAIN_EXPORT_H
#define DLTRAIN_EXPORT_H

#include "dltrain/cfg.h"
#include "dltrain/net.h"

/* Caffe: OUTDIR/deploy.prototxt (an Input layer of the net's input shape,
 * batch 1, then NET_PARAM's TEST-phase layers without data, loss and
 * accuracy layers; a Softmax named "prob" in place of a final
 * SoftmaxWithLoss), OUTDIR/weights.caffemodel (binary NetParameter, the
 * `layer` form) and OUTDIR/weights.caffemodel.h5 (Caffe's HDF5 layout,
 * /data/LAYER/I). NET is NET_PARAM's TEST net with its weights loaded (on
 * the host); OUTDIR must exist. Errors name the file. */
int dlt_export_caffe(dlt_net *net, const dlt_cfg *net_param, const char *outdir);

#endif
