/* mpi_reduce.c - the MPI gradient transport: MPI_Iallreduce per bucket in
 * overlap mode (progressed with MPI_Test between layers: Open MPI
 * advances requests only inside MPI calls), MPI_Allreduce otherwise. */
#include <stdlib.h>

#include "comm/comm_internal.h"
#include "comm/transport.h"

#define CHECK DLT__MPI_CHECK

typedef struct mpi_state {
    MPI_Comm world;
    size_t nbuckets;
    MPI_Request *req; /* (nbuckets) MPI_REQUEST_NULL when not pending */
} mpi_state;

static void *mpi_create(dlt_comm *c, size_t nbuckets, size_t bucket, char *why, size_t whylen)
{
    (void)bucket, (void)why, (void)whylen;
    mpi_state *s = dlt_calloc(1, sizeof *s);
    s->world = dlt__comm_world(c);
    s->nbuckets = nbuckets;
    s->req = dlt_calloc(nbuckets + 1, sizeof(MPI_Request));
    for (size_t b = 0; b <= nbuckets; b++)
        s->req[b] = MPI_REQUEST_NULL;
    return s;
}

static void mpi_free(void *t)
{
    mpi_state *s = t;
    free(s->req);
    free(s);
}

static void mpi_start(void *t, size_t b, float *buf, size_t n, int async)
{
    mpi_state *s = t;
    if (async)
        CHECK(MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, s->world, &s->req[b]));
    else
        CHECK(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, s->world));
}

static void mpi_progress(void *t, size_t started)
{
    mpi_state *s = t;
    for (size_t b = 0; b < started; b++)
        if (s->req[b] != MPI_REQUEST_NULL) {
            int done;
            CHECK(MPI_Test(&s->req[b], &done, MPI_STATUS_IGNORE));
        }
}

static void mpi_wait(void *t, size_t started)
{
    mpi_state *s = t;
    CHECK(MPI_Waitall((int)started, s->req, MPI_STATUSES_IGNORE));
}

const dlt__transport dlt__mpi_transport = {DLT_REDUCER_MPI, "mpi", &dlt__host_memory, 1,
                                           mpi_create, mpi_free, mpi_start, mpi_progress, mpi_wait};
