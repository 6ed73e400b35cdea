/* shm_reduce.h - in-place sum over all ranks through an MPI-3 shared
 * memory window per node: every rank copies its data in, sums one slice
 * of all copies, (several nodes: allreduces its slice with the ranks of
 * the same local rank on other nodes), and copies all slices back. */
#ifndef DLTRAIN_COMM_SHM_REDUCE_H
#define DLTRAIN_COMM_SHM_REDUCE_H

#include <stddef.h>

#include "comm/comm_internal.h"

typedef struct dlt__shm_reduce dlt__shm_reduce;

/* Collective over WORLD. CHUNK: floats per round (window size per rank).
 * Returns NULL (on every rank alike) when nodes hold different numbers
 * of ranks, the one case the slice scheme does not cover. */
dlt__shm_reduce *dlt__shm_reduce_create(MPI_Comm world, size_t chunk);
void dlt__shm_reduce_free(dlt__shm_reduce *s);
/* Sum BUF (N floats) over all ranks, in place; collective. */
void dlt__shm_reduce_sum(dlt__shm_reduce *s, float *buf, size_t n);
int dlt__shm_reduce_nodes(const dlt__shm_reduce *s);

#endif
