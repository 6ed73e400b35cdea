/* transport.h - internal to comm/: a gradient transport (MPI, node shared
 * memory, NCCL) is one table row. reducer.c owns the rest, once for all
 * of them: bucketing, overlap with backward, the communication thread,
 * averaging and the NaN/Inf check; a transport only sums one bucket in
 * place over all ranks, in the memory it declares.
 * Adding a transport touches four files: its source (src/comm/X_reduce.c,
 * defining one const dlt__transport), its row (and extern line) in
 * reducer.c's table, its line in Makefile.am, and its dlt_reducer_kind in
 * include/dltrain/reducer.h. */
#ifndef DLTRAIN_COMM_TRANSPORT_H
#define DLTRAIN_COMM_TRANSPORT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "dltrain/device.h"
#include "dltrain/reducer.h"

#define DLT__NONE ((size_t)-1)

/* Arithmetic on the buffer where it lives (host or device memory). */
typedef struct dlt__memory_ops {
    dlt_memory where;
    /* 1: each bucket's local values are scanned for NaN/Inf before it is
     * reduced (cheap on the host; on a device it would cost a sync per
     * bucket, so there the averaged values are scanned when bad). */
    int scan_each_bucket;
    /* X[0, N) *= F (F == 1: untouched); returns 1 when every value is finite. */
    int (*scale_finite)(float *x, size_t n, float f);
    /* Highest index in [LO, HI) holding NaN/Inf, or DLT__NONE. */
    size_t (*last_nonfinite)(const float *x, size_t lo, size_t hi);
} dlt__memory_ops;

extern const dlt__memory_ops dlt__host_memory; /* reducer.c */

typedef struct dlt__transport {
    dlt_reducer_kind kind;
    const char *name;                  /* "mpi", "shm", "nccl": logs, --reducer */
    const dlt__memory_ops *memory;     /* the buffers it sums */
    int comm_thread;                   /* 1: THREAD mode may call start() on a
                                        * communication thread (MPI_THREAD_SERIALIZED);
                                        * 0: THREAD runs as OVERLAP */
    /* Collective over C, for NBUCKETS buckets of at most BUCKET floats.
     * NULL (on every rank alike) when it cannot run here; WHY says why. */
    void *(*create)(dlt_comm *c, size_t nbuckets, size_t bucket, char *why, size_t whylen);
    void (*free)(void *t); /* collective */
    /* Start the in-place sum over ranks of bucket B (BUF, N floats), after
     * the gradients written so far. ASYNC: it may still run on return
     * (overlap mode); else it is done on return. */
    void (*start)(void *t, size_t b, float *buf, size_t n, int async);
    /* Let the started asynchronous sums progress; NULL: they need no help. */
    void (*progress)(void *t, size_t started);
    /* Buckets [0, STARTED) done and visible to what runs next. */
    void (*wait)(void *t, size_t started);
} dlt__transport;

#ifdef __cplusplus
}
#endif

#endif
