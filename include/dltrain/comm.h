/* comm.h - the communicator: ranks, broadcast, gradient averaging.
 * The only module that calls MPI. Every MPI call is checked; a failure
 * prints the call, file:line, rank and host, then MPI_Abort. */
#ifndef DLTRAIN_COMM_H
#define DLTRAIN_COMM_H

#include <stddef.h>
#include <stdint.h>

typedef struct dlt_comm dlt_comm;

/* MPI_Init (works without mpirun as a single rank); installs the fatal
 * handler that aborts all ranks and sets the log identity. */
dlt_comm *dlt_comm_init(int *argc, char ***argv);
void dlt_comm_finalize(dlt_comm *c);
int dlt_comm_rank(const dlt_comm *c);
int dlt_comm_size(const dlt_comm *c);
int dlt_comm_local_rank(const dlt_comm *c); /* rank within the node */
int dlt_comm_local_size(const dlt_comm *c);
const char *dlt_comm_host(const dlt_comm *c);

void dlt_comm_bcast_floats(dlt_comm *c, float *buf, size_t n, int root);
void dlt_comm_bcast_bytes(dlt_comm *c, void *buf, size_t n, int root);
/* In-place average over ranks, in buckets of at most bucket_bytes
 * (reverse order: the last layers' gradients are reduced first, as a
 * later overlap with backward needs). */
void dlt_comm_allreduce_mean(dlt_comm *c, float *buf, size_t n);
void dlt_comm_allreduce_sum_doubles(dlt_comm *c, double *buf, int n);
long dlt_comm_allreduce_max_long(dlt_comm *c, long v);
void dlt_comm_gather_u64(dlt_comm *c, const uint64_t *mine, int n, uint64_t *all, int root);
void dlt_comm_scatter_u64(dlt_comm *c, const uint64_t *all, int n, uint64_t *mine, int root);
/* Fixed-size records from every rank to ROOT's ALL (world * N bytes). */
void dlt_comm_gather_bytes(dlt_comm *c, const void *mine, int n, void *all, int root);
/* Variable-size records: ROOT gets *ALL (malloc'd, rank order) and
 * COUNTS[r] bytes from rank r; N <= 1 GiB per rank, 2 GiB in all. */
void dlt_comm_gatherv_bytes(dlt_comm *c, const void *mine, size_t n, void **all,
                            size_t *counts, int root);
void dlt_comm_barrier(dlt_comm *c);
/* Observability: in-place maximum over ranks; the MPI library's version (first line). */
void dlt_comm_allreduce_max_doubles(dlt_comm *c, double *buf, int n);
void dlt_comm_library_version(char *buf, size_t size);
/* Abort every rank with EXIT_CODE (used by the fatal handler). */
void dlt_comm_abort(int exit_code) __attribute__((noreturn));

#endif
