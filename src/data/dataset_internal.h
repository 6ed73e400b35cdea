/* dataset_internal.h - raw access to an open dataset's samples for the
 * loader (no copy, no conversion), and range reads of a dataset whose
 * samples stay on disk (dlt_dataset_open_lazy; the streaming loader). */
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
/* Sample INDEX of a set held in memory (dlt_dataset_in_memory). */
void dlt__dataset_ref(const dlt_dataset *ds, size_t index, dlt__sample_ref *ref);

/* How the samples are stored in the file. */
enum { DLT__KIND_U8, DLT__KIND_F32, DLT__KIND_JPEG };
typedef struct dlt__dataset_layout {
    int kind;            /* DLT__KIND_* */
    int data_rank;       /* dimensions of /data (4 or 2; 1 for /jpeg) */
    size_t chunk;        /* samples per HDF5 chunk; 0 if not chunked */
    size_t sample_bytes; /* in memory: c*h*w bytes (u8), floats (f32); 0 for JPEG */
} dlt__dataset_layout;
const dlt__dataset_layout *dlt__dataset_get_layout(const dlt_dataset *ds);
/* The file's checksums (data/dataset_crc.h). */
struct dlt__dataset_checks;
const struct dlt__dataset_checks *dlt__dataset_get_checks(const dlt_dataset *ds);
int32_t dlt__dataset_label(const dlt_dataset *ds, size_t index);

/* Samples [first, first+count) as read from the file: u8 or f32 samples
 * back to back in bytes, or JPEG records back to back with (count+1)
 * offsets. Buffers grow as needed and are reused across reads. */
typedef struct dlt__records {
    size_t first, count;
    uint8_t *bytes;
    size_t cap;
    size_t *off;       /* JPEG only */
    size_t off_cap;
} dlt__records;
void dlt__records_free(dlt__records *rec);
/* Sample INDEX (first <= INDEX < first+count) of REC; label from DS. */
void dlt__records_ref(const dlt_dataset *ds, const dlt__records *rec, size_t index,
                      dlt__sample_ref *ref);

/* An open file handle for range reads; one per thread. */
typedef struct dlt__range_reader dlt__range_reader;
int dlt__range_reader_open(const dlt_dataset *ds, dlt__range_reader **out);
void dlt__range_reader_close(dlt__range_reader *rr);
/* Read samples [FIRST, FIRST+COUNT) into REC (one contiguous hyperslab).
 * A file with checksums is read in whole CRC blocks, verified: REC may
 * then start before FIRST and end after FIRST+COUNT (rec->first says). */
int dlt__range_read(dlt__range_reader *rr, size_t first, size_t count, dlt__records *rec);

#endif
