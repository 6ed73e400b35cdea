/* dataset_internal.h - raw access to an open dataset's samples for the
 * loader (no copy, no conversion). */
#ifndef DLTRAIN_DATA_DATASET_INTERNAL_H
#define DLTRAIN_DATA_DATASET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dltrain/data.h"

/* Exactly one of these is non-NULL for a sample: uint8 (c,h,w), float
 * (c,h,w), or JPEG bytes (*jpeg_n of them) still to decode. */
typedef struct dlt__sample_ref {
    const uint8_t *u8;
    const float *f32;
    const uint8_t *jpeg;
    size_t jpeg_n;
    int32_t label;
} dlt__sample_ref;
void dlt__dataset_ref(const dlt_dataset *ds, size_t index, dlt__sample_ref *ref);

#endif
