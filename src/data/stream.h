/* stream.h - one rank's samples of a TRAIN epoch streamed from disk, for
 * sets that do not fit the memory budget (see data.h for the rule).
 *
 * Epoch e: the HDF5 chunks (of samples along N) in a permutation of
 * (seed, e), the same on every rank, laid end to end; rank r takes stream
 * positions [r*S, (r+1)*S). Its segments (whole chunks, plus at most a
 * partial one at each end) are read in order, each with one contiguous
 * read, into a shuffle buffer of M samples: output t draws a random buffer
 * entry (RNG of (seed, e, r)), whose place the next stream sample takes.
 * The order is a pure function of (seed, e, r, W, S, M), so a position
 * (e, t) is rebuilt exactly after a resume: the buffer's history is
 * replayed on indices, then the samples it holds are read chunk by chunk. */
#ifndef DLTRAIN_DATA_STREAM_H
#define DLTRAIN_DATA_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset_internal.h"

typedef struct dlt__stream dlt__stream;
/* SHARE: samples each rank serves per epoch (S); BUFFER: shuffle buffer
 * samples (M, at least 1; at most S are used). */
int dlt__stream_open(const dlt_dataset *ds, int rank, int world, uint64_t seed, size_t share,
                     size_t buffer, dlt__stream **out);
void dlt__stream_close(dlt__stream *s);
/* Samples per chunk: the file's chunking, or about 1 MiB if it has none. */
size_t dlt__stream_chunk(const dlt__stream *s);
/* Make sample T of epoch E the next one served (nothing to do when the
 * stream is already there, as in sequential use). */
int dlt__stream_seek(dlt__stream *s, long epoch, size_t t);
/* The next sample: its dataset INDEX and REF, valid until the next call. */
int dlt__stream_next(dlt__stream *s, size_t *index, dlt__sample_ref *ref);

#endif
