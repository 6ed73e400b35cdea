/* reducer.h - gradient averaging over ranks in buckets, overlapped with
 * backward: buckets cover the flat gradient buffer from the end (last
 * layers first); a bucket is reduced as soon as backward has finished all
 * of its gradients. One interface over every transport, chosen from where
 * the gradients live: in host memory MPI (MPI_Iallreduce / MPI_Allreduce)
 * or a node shared-memory reducer (each rank sums a slice; across nodes
 * the slices are allreduced among same-local-rank peers: hierarchical);
 * in device memory NCCL (builds with --with-cuda). */
#ifndef DLTRAIN_REDUCER_H
#define DLTRAIN_REDUCER_H

#include <stddef.h>

#include "dltrain/comm.h"
#include "dltrain/device.h"

/* OVERLAP: buckets start from the backward hook on the calling thread
 * (MPI_Iallreduce progressed between layers, the synchronous shm sum, or
 * NCCL on its own stream); THREAD: a communication thread reduces each
 * bucket (blocking calls) as the hook hands it over, so progress does not
 * depend on backward calling into MPI (host transports; NCCL overlaps
 * anyway); BLOCKING: all buckets after backward. */
typedef enum { DLT_ALLREDUCE_OVERLAP = 0, DLT_ALLREDUCE_BLOCKING = 1, DLT_ALLREDUCE_THREAD = 2 } dlt_allreduce_mode;
typedef enum {
    DLT_REDUCER_AUTO = 0, DLT_REDUCER_MPI = 1, DLT_REDUCER_SHM = 2, DLT_REDUCER_NCCL = 3
} dlt_reducer_kind;

typedef struct dlt_reducer_config {
    size_t bucket_bytes;      /* 0: 4 MB */
    dlt_allreduce_mode mode;
    dlt_reducer_kind kind;    /* AUTO: the fastest transport for WHERE, timed at creation
                               * (host: MPI or SHM; device: NCCL, the only one); a kind
                               * that cannot reduce WHERE falls back to AUTO, with a note */
    int sum_only;             /* 1: leave sums (tests, benchmarks); 0: divide by world size */
    dlt_memory where;         /* where BUF lives; 0 means DLT_HOST */
} dlt_reducer_config;

typedef struct dlt_reducer dlt_reducer;

/* Collective over all ranks of C. BUF (N floats, in CFG->where) is
 * reduced in place. */
dlt_reducer *dlt_reducer_create(dlt_comm *c, float *buf, size_t n, const dlt_reducer_config *cfg);
void dlt_reducer_free(dlt_reducer *r); /* collective */
/* The transport ("mpi", "shm", "nccl"; after AUTO's choice), and a line saying why. */
const char *dlt_reducer_kind_name(const dlt_reducer *r);
const char *dlt_reducer_choice_note(const dlt_reducer *r);
size_t dlt_reducer_bucket_count(const dlt_reducer *r);
/* The mode in force (THREAD becomes OVERLAP where it cannot run). */
dlt_allreduce_mode dlt_reducer_mode(const dlt_reducer *r);
/* --reducer NAME: "auto" or the name of a transport this build has; -1
 * for anything else. List: those names, space-separated ("auto mpi shm"). */
int dlt_reducer_kind_parse(const char *name);
void dlt_reducer_kind_list(char *buf, size_t size);

/* One reduction: begin, then ready() as gradients complete (a net
 * backward hook), then finish(). ready(DONE_FROM): elements at offsets
 * >= DONE_FROM are final; overlap mode starts the buckets they cover and
 * drives the pending ones. finish() reduces what is left, waits, averages
 * and returns 1 if every result is finite, 0 if some is NaN/Inf. */
void dlt_reducer_begin(dlt_reducer *r);
void dlt_reducer_ready(dlt_reducer *r, size_t done_from);
int dlt_reducer_finish(dlt_reducer *r);
/* After finish() returned 0: the offset that names where the NaN/Inf came
 * from, scanning last layers first, or (size_t)-1 when this rank cannot
 * tell (host memory: this rank's own values were finite, so another
 * rank's were not). *LOCAL: 1 when the offset is this rank's own value
 * before the reduction, 0 when it is the averaged value (device memory:
 * scanning each bucket before its sum would cost a sync per bucket). */
size_t dlt_reducer_nonfinite(const dlt_reducer *r, int *local);

/* Backward hook adapter: dlt_net_set_backward_hook(net, dlt_reducer_hook, r). */
void dlt_reducer_hook(void *reducer, int layer, size_t done_from);

#endif
