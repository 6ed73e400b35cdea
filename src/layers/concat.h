/* concat.h - internal: the Concat state (l->state) shared with src/cuda/concat.cu. */
#ifndef DLTRAIN_LAYERS_CONCAT_H
#define DLTRAIN_LAYERS_CONCAT_H

#include "layers/layers.h"

typedef struct concat_state {
    int axis;
    size_t outer;              /* product of the axes before AXIS */
    size_t chunk[DLT_MAX_BLOBS]; /* per bottom: its AXIS extent times the inner size */
    size_t total;              /* sum of chunk[] */
} concat_state;

/* GPU code: src/cuda/concat.cu (linked only with --with-cuda). */
int dlt__concat_setup_gpu(dlt_layer *l);
void dlt__concat_forward_gpu(dlt_layer *l);
void dlt__concat_backward_gpu(dlt_layer *l);
void dlt__concat_destroy_gpu(dlt_layer *l);

#endif
