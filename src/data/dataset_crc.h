/* dataset_crc.h - a dataset's checksums (format: README "File formats"): a CRC-32C per
 * block of samples (/crc32c, the crc32c_block attribute) and of the labels
 * (label_crc32c), checked as blocks are read, and the file's size and date
 * at open, so that a file changed under a running job stops it. */
#ifndef DLTRAIN_DATA_DATASET_CRC_H
#define DLTRAIN_DATA_DATASET_CRC_H

#include <stddef.h>
#include <stdint.h>

#include "core/h5util.h"
#include "data/dataset_internal.h"

typedef struct dlt__dataset_checks {
    size_t block;         /* samples per CRC block; 0: the file has no checksums */
    uint32_t *crc;        /* (nblocks) */
    size_t nblocks;
    int has_label_crc;
    uint32_t label_crc;
    long long size;       /* the file's size and modification time at open */
    long long mtime_ns;
} dlt__dataset_checks;

/* Read the checksums of the open file F (N samples), if it has them, and
 * stat PATH; without checksums a note names the file once. */
int dlt__dataset_checks_read(hid_t f, const char *path, size_t n, dlt__dataset_checks *ck);
void dlt__dataset_checks_free(dlt__dataset_checks *ck);
/* LABELS (N) against label_crc32c, when the file has it. */
int dlt__dataset_checks_labels(const dlt__dataset_checks *ck, const char *path,
                               const int32_t *labels, size_t n);
/* The range [*FIRST, *FIRST + *COUNT) widened to whole CRC blocks. */
void dlt__dataset_checks_widen(const dlt__dataset_checks *ck, size_t n, size_t *first,
                               size_t *count);
/* Fails, naming the file and the chunk of FIRST, if the file's size or
 * date differ from those at open (FD: the reader's descriptor). */
int dlt__dataset_checks_unchanged(const dlt_dataset *ds, int fd, size_t first);
/* Every CRC block that REC (widened reads) holds, against /crc32c. */
int dlt__dataset_checks_verify(const dlt_dataset *ds, int fd, const dlt__records *rec);
/* CPU seconds this process has spent in dlt__dataset_checks_verify. */
double dlt__dataset_checks_cpu_seconds(void);
/* The POSIX descriptor under F (sec2 driver), or -1: FD arguments above
 * (-1: stat the path). */
int dlt__h5_file_fd(hid_t f);
/* The CRC rules, shared with the writer. */
uint32_t dlt__dataset_crc_jpeg(uint32_t crc, const uint8_t *rec, size_t n);
uint32_t dlt__dataset_crc_labels(uint32_t crc, const int32_t *labels, size_t n);

#endif
