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
/* Average the device buffer BUF (COUNT floats) over ranks, in buckets of
 * BUCKET_BYTES from the end (last layers first), on NCCL's own stream,
 * overlapping backward: begin() before backward; ready(DONE_FROM) from the
 * backward hook once the values at offsets >= DONE_FROM are final on the
 * compute stream (each bucket now complete starts after an event recorded
 * there); finish() starts the rest, scales by 1/ranks and makes the
 * compute stream wait. finish() polls NCCL's async error state while it
 * waits and aborts the communicator on failure (a dead peer never hangs us).
 * Returns the seconds finish() waited. */
void dlt__nccl_begin(dlt__nccl *n, float *buf, size_t count, size_t bucket_bytes);
void dlt__nccl_ready(dlt__nccl *n, size_t done_from);
double dlt__nccl_finish(dlt__nccl *n);
/* begin + finish: the whole buffer at once (after backward). */
void dlt__nccl_allreduce_mean(dlt__nccl *n, float *buf, size_t count, size_t bucket_bytes);
/* Backward hook adapter: dlt_net_set_backward_hook(net, dlt__nccl_hook, n). */
void dlt__nccl_hook(void *n, int layer, size_t done_from);
#ifdef __cplusplus
}
#endif
#endif
