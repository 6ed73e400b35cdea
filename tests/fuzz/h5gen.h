/* h5gen.h - fuzz input -> a well-formed HDF5 file whose contents (objects,
 * names, types, shapes, chunking, attribute and data values) the input
 * decides. libhdf5's own parser is not the target: fed raw mutated bytes,
 * HDF5 1.10 itself crashes (H5HG_read) or loops within seconds, which
 * would drown what the harnesses are for: dltrain's readers, given any
 * file HDF5 accepts. h5gen.py writes existing files in this encoding (the
 * seed corpora).
 *
 * Encoding (little-endian), a sequence of records until the input ends:
 *   0 NAME TYPE RANK DIM... CHUNK DATA   dataset NAME (a path: groups are
 *        made), RANK = 1 + byte % 4, CHUNK 0: contiguous, else chunked with
 *        chunk dims min(dim, CHUNK); DATA only when the dataset has at most
 *        H5GEN_MAX_ELEMENTS elements (else created unwritten: fill values)
 *   1 TARGET NAME TYPE RANK DIM... DATA   attribute NAME on the root
 *        (TARGET even) or the last dataset; RANK = byte % 2 (scalar or 1-D)
 *   other: end
 * NAME: length byte (at most 63) and the characters. DIM: a byte < 255 is
 * the size, 255 is followed by a uint32 size. TYPE % 14: u8 i8 i16 i32 u32
 * i64 u64 f32 f64 vlen-u8 vlen-string string16 f32be i32be. DATA: each
 * element's bytes; a vlen element is its length (a byte < 255, or 255
 * and a uint16) and its bytes. A
 * truncated input reads as zeros. */
#ifndef DLTRAIN_TESTS_FUZZ_H5GEN_H
#define DLTRAIN_TESTS_FUZZ_H5GEN_H

#include <stddef.h>
#include <stdint.h>

#define H5GEN_MAX_ELEMENTS 65536

/* Write the file DATA describes to PATH: 0, or -1 when HDF5 refused to
 * create even the file (a record it refuses is skipped). */
int h5gen_write(const uint8_t *data, size_t size, const char *path);

#endif
