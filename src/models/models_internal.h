/* models_internal.h - shared by the weight readers (src/models/): the
 * per-kind readers that weights_load.c dispatches to. */
#ifndef DLTRAIN_MODELS_INTERNAL_H
#define DLTRAIN_MODELS_INTERNAL_H

#include <stddef.h>

#include "dltrain/weights.h"

/* Append a layer named NAME with NBLOBS empty blobs to WS; returns it. */
dlt_weight_layer *dlt__weight_set_add(dlt_weight_set *ws, const char *name, int nblobs);

/* Binary NetParameter in BUF: 1 if it parses and has at least one named
 * layer (new `layer` or V1 `layers` form), else 0. Prints nothing. */
int dlt__caffemodel_probe(const void *buf, size_t n);
/* Every layer with blobs of the .caffemodel at PATH into OUT. */
int dlt__caffemodel_read(const char *path, dlt_weight_set *out);

/* The blobs under /data/LAYER/I of the HDF5 file at PATH (a dltrain
 * checkpoint or Caffe's HDF5 weights; layer names with '/' are nested
 * groups) into OUT. */
int dlt__weights_h5_read(const char *path, dlt_weight_set *out);

/* The whole file at PATH in a malloc'd buffer. */
int dlt__read_whole_file(const char *path, unsigned char **buf, size_t *n);

#endif
