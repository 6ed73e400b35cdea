/* comm.c - the communicator over MPI: rank identity, broadcast, gradient
 * averaging in buckets, small reductions. Every MPI call goes through
 * MPI_CHECK, which names the call, file:line, rank and host and aborts
 * the whole job so that no rank waits forever. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dltrain/comm.h"
#include "dltrain/error.h"
#include "comm/comm_internal.h"

/* Gradient buckets: a few MB each, reduced last layer first. */
#define BUCKET_BYTES (4u << 20)

struct dlt_comm {
    int rank, size;
    int local_rank, local_size;
    char host[MPI_MAX_PROCESSOR_NAME];
    MPI_Comm world;
    int we_initialized;
};

/* Every MPI call is checked: see comm_internal.h. */
#define MPI_CHECK(call) DLT__MPI_CHECK(call)

void dlt_comm_abort(int exit_code)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin)
        MPI_Abort(MPI_COMM_WORLD, exit_code);
    exit(exit_code);
}

dlt_comm *dlt_comm_init(int *argc, char ***argv)
{
    dlt_comm *c = dlt_calloc(1, sizeof *c);
    int init = 0;
    MPI_Initialized(&init);
    if (!init) {
        int provided;
        /* SERIALIZED: one thread at a time calls MPI, the main thread or, during
         * backward, the reducer's communication thread (--allreduce thread). */
        if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
            dlt_error("MPI_Init_thread failed; is Open MPI installed (apt-get install openmpi-bin)?");
            exit(DLT_EXIT_FAILURE);
        }
        c->we_initialized = 1;
    }
    dlt_set_fatal_handler(dlt_comm_abort);
    /* Errors come back as codes so MPI_CHECK can report them with context. */
    MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    c->world = MPI_COMM_WORLD;
    MPI_CHECK(MPI_Comm_rank(c->world, &c->rank));
    MPI_CHECK(MPI_Comm_size(c->world, &c->size));
    int len = 0;
    MPI_CHECK(MPI_Get_processor_name(c->host, &len));
    MPI_Comm node;
    MPI_CHECK(MPI_Comm_split_type(c->world, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node));
    MPI_CHECK(MPI_Comm_rank(node, &c->local_rank));
    MPI_CHECK(MPI_Comm_size(node, &c->local_size));
    MPI_CHECK(MPI_Comm_free(&node));
    dlt_log_set_identity(c->rank, c->size, c->size > 1 ? c->host : NULL);
    return c;
}

void dlt_comm_finalize(dlt_comm *c)
{
    if (!c)
        return;
    if (c->we_initialized)
        MPI_CHECK(MPI_Finalize());
    free(c);
}

int dlt_comm_rank(const dlt_comm *c) { return c->rank; }
int dlt_comm_size(const dlt_comm *c) { return c->size; }
int dlt_comm_local_rank(const dlt_comm *c) { return c->local_rank; }
int dlt_comm_local_size(const dlt_comm *c) { return c->local_size; }
const char *dlt_comm_host(const dlt_comm *c) { return c->host; }

/* MPI counts are int: send large buffers in pieces. */
#define MAX_PIECE (1 << 30)

void dlt_comm_bcast_bytes(dlt_comm *c, void *buf, size_t n, int root)
{
    char *p = buf;
    while (n > 0) {
        int k = n > MAX_PIECE ? MAX_PIECE : (int)n;
        MPI_CHECK(MPI_Bcast(p, k, MPI_BYTE, root, c->world));
        p += k;
        n -= (size_t)k;
    }
}

void dlt_comm_bcast_floats(dlt_comm *c, float *buf, size_t n, int root)
{
    dlt_comm_bcast_bytes(c, buf, n * sizeof(float), root);
}

void dlt_comm_allreduce_mean(dlt_comm *c, float *buf, size_t n)
{
    if (c->size == 1)
        return;
    const size_t bucket = BUCKET_BYTES / sizeof(float);
    const float inv = 1.0f / (float)c->size;
    /* Reverse order: the last layers' gradients are complete first during
     * backward, so this is the order an overlapped version will use. */
    size_t end = n;
    while (end > 0) {
        size_t start = end > bucket ? end - bucket : 0;
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf + start, (int)(end - start), MPI_FLOAT, MPI_SUM,
                                c->world));
        for (size_t i = start; i < end; i++)
            buf[i] *= inv;
        end = start;
    }
}

void dlt_comm_allreduce_sum_doubles(dlt_comm *c, double *buf, int n)
{
    if (c->size > 1)
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, c->world));
}

long dlt_comm_allreduce_max_long(dlt_comm *c, long v)
{
    long r = v;
    if (c->size > 1)
        MPI_CHECK(MPI_Allreduce(&v, &r, 1, MPI_LONG, MPI_MAX, c->world));
    return r;
}

void dlt_comm_gather_u64(dlt_comm *c, const uint64_t *mine, int n, uint64_t *all, int root)
{
    MPI_CHECK(MPI_Gather(mine, n, MPI_UINT64_T, all, n, MPI_UINT64_T, root, c->world));
}

void dlt_comm_scatter_u64(dlt_comm *c, const uint64_t *all, int n, uint64_t *mine, int root)
{
    MPI_CHECK(MPI_Scatter(all, n, MPI_UINT64_T, mine, n, MPI_UINT64_T, root, c->world));
}

void dlt_comm_barrier(dlt_comm *c) { MPI_CHECK(MPI_Barrier(c->world)); }

MPI_Comm dlt__comm_world(const dlt_comm *c) { return c->world; }

/* Observability: per-rank maxima, fixed-size per-rank records gathered to
 * rank 0, and the MPI library's own version string. */
void dlt_comm_allreduce_max_doubles(dlt_comm *c, double *buf, int n)
{
    if (c->size > 1)
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_MAX, c->world));
}

void dlt_comm_gather_bytes(dlt_comm *c, const void *mine, int n, void *all, int root)
{
    MPI_CHECK(MPI_Gather(mine, n, MPI_BYTE, all, n, MPI_BYTE, root, c->world));
}

void dlt_comm_library_version(char *buf, size_t size)
{
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_CHECK(MPI_Get_library_version(v, &len));
    snprintf(buf, size, "%s", v);
    /* Open MPI's string runs on over several lines; the first says enough. */
    buf[strcspn(buf, "\n")] = '\0';
}

int dlt__comm_thread_level(void)
{
    int level = MPI_THREAD_SINGLE;
    MPI_CHECK(MPI_Query_thread(&level));
    return level;
}
