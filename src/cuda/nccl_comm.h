/* nccl_comm.h - internal: gradient averaging between GPUs with NCCL,
 * bootstrapped through the MPI communicator (rank 0's ncclUniqueId is
 * broadcast with dlt_comm_bcast_bytes). C-callable; no NCCL types. */
#ifndef DLTRAIN_CUDA_NCCL_COMM_H
#define DLTRAIN_CUDA_NCCL_COMM_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
#include "dltrain/comm.h"
typedef struct dlt__nccl dlt__nccl;
/* Every rank calls this with its GPU bound (collective). */
dlt__nccl *dlt__nccl_create(dlt_comm *comm);
void dlt__nccl_free(dlt__nccl *n);
/* Average the device buffer BUF (N floats) over ranks, in buckets of
 * BUCKET_BYTES from the end (last layers first), on NCCL's own stream.
 * Each bucket starts after an event recorded on the compute stream now;
 * the compute stream then waits for the last bucket. Polls NCCL's async
 * error state while waiting and aborts the communicator on failure. */
void dlt__nccl_allreduce_mean(dlt__nccl *n, float *buf, size_t count, size_t bucket_bytes);
#ifdef __cplusplus
}
#endif
#endif
