/* slice.h - internal: the Slice geometry (l->state), shared with
 * src/cuda/slice.cu. */
#ifndef DLTRAIN_LAYERS_SLICE_H
#define DLTRAIN_LAYERS_SLICE_H

#include <stddef.h>

#include "layers/layers.h"

typedef struct slice_state {
    size_t outer;               /* product of the axes before the sliced one */
    size_t total;               /* sliced extent x inner */
    size_t chunk[DLT_MAX_BLOBS]; /* top i's extent x inner */
} slice_state;

#endif
