/* ckpt_internal.h - checksums shared by the checkpoint writer, loader and
 * verifier: every dataset carries a "crc32" attribute over its values. */
#ifndef DLTRAIN_CKPT_INTERNAL_H
#define DLTRAIN_CKPT_INTERNAL_H

#include <hdf5.h>
#include <stddef.h>

/* CRC-32 (zlib's polynomial) of N bytes. */
unsigned long dlt__ckpt_crc(const void *buf, size_t n);
/* Store the CRC of BUF as attribute "crc32" of DSET. */
int dlt__ckpt_write_crc(hid_t dset, const void *buf, size_t n, const char *path);
/* Compare BUF (just read from DSET) with its "crc32" attribute; the error
 * names the dataset NAME and the file PATH. */
int dlt__ckpt_check_crc(hid_t dset, const void *buf, size_t n, const char *name, const char *path);

#endif
