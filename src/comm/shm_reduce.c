/* shm_reduce.c - allreduce (sum) through a node shared-memory window,
 * hierarchical across nodes. Each rank owns one slot of CHUNK floats in
 * the window; slice q of a round belongs to local rank q. Per round:
 * every rank copies into its slot all but its own slice (only the others
 * read them); barrier; rank r sums its own slice from its buffer and the
 * others' slots, writing the sum to its buffer and, for the others, to its
 * slot (with several nodes, first allreducing that slice among the ranks
 * with the same local rank); barrier; everyone copies the others' slices
 * out of their slots; barrier (slots are reused). Per rank and round of n
 * floats on P ranks that is about 2n read and 2n written, where a
 * copy-in/copy-out scheme (and Open MPI's shared-memory allreduce) moves
 * about 3-4n each way: the bandwidth is what this path is bound by. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/shm_reduce.h"
#include "comm/transport.h"

struct dlt__shm_reduce {
    MPI_Comm node, cross;   /* ranks on this node; same local rank on all nodes */
    int lrank, lsize, nodes;
    MPI_Win win;
    float **slot;           /* (lsize) each rank's slot, mapped here */
    size_t chunk;
};

#define CHECK DLT__MPI_CHECK

dlt__shm_reduce *dlt__shm_reduce_create(MPI_Comm world, size_t chunk)
{
    int wrank;
    CHECK(MPI_Comm_rank(world, &wrank));
    MPI_Comm node;
    CHECK(MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, wrank, MPI_INFO_NULL, &node));
    int lrank, lsize;
    CHECK(MPI_Comm_rank(node, &lrank));
    CHECK(MPI_Comm_size(node, &lsize));
    int mm[2] = {lsize, -lsize};
    CHECK(MPI_Allreduce(MPI_IN_PLACE, mm, 2, MPI_INT, MPI_MAX, world));
    if (mm[0] != -mm[1]) { /* uneven nodes: slices would not line up */
        CHECK(MPI_Comm_free(&node));
        return NULL;
    }
    dlt__shm_reduce *s = dlt_calloc(1, sizeof *s);
    s->node = node;
    s->lrank = lrank;
    s->lsize = lsize;
    s->chunk = chunk > 0 ? chunk : 1;
    CHECK(MPI_Comm_split(world, lrank, wrank, &s->cross));
    CHECK(MPI_Comm_size(s->cross, &s->nodes));
    float *mine;
    CHECK(MPI_Win_allocate_shared((MPI_Aint)(s->chunk * sizeof(float)), sizeof(float), MPI_INFO_NULL,
                                  node, &mine, &s->win));
    s->slot = dlt_calloc(lsize, sizeof *s->slot);
    for (int q = 0; q < lsize; q++) {
        MPI_Aint size;
        int disp;
        CHECK(MPI_Win_shared_query(s->win, q, &size, &disp, &s->slot[q]));
    }
    CHECK(MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win));
    return s;
}

void dlt__shm_reduce_free(dlt__shm_reduce *s)
{
    if (!s)
        return;
    CHECK(MPI_Win_unlock_all(s->win));
    CHECK(MPI_Win_free(&s->win));
    CHECK(MPI_Comm_free(&s->cross));
    CHECK(MPI_Comm_free(&s->node));
    free(s->slot);
    free(s);
}

int dlt__shm_reduce_nodes(const dlt__shm_reduce *s) { return s->nodes; }

/* Stores to the window become visible to the node's ranks, and theirs to us. */
static void node_sync(dlt__shm_reduce *s)
{
    CHECK(MPI_Win_sync(s->win));
    CHECK(MPI_Barrier(s->node));
    CHECK(MPI_Win_sync(s->win));
}

static void slice(size_t n, int parts, int i, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)i / (size_t)parts;
    *hi = n * (size_t)(i + 1) / (size_t)parts;
}

static void round_sum(dlt__shm_reduce *s, float *buf, size_t n)
{
    size_t lo, hi;
    float *mine = s->slot[s->lrank];
    slice(n, s->lsize, s->lrank, &lo, &hi);
    memcpy(mine, buf, lo * sizeof(float)); /* all but my slice: the others sum those */
    memcpy(mine + hi, buf + hi, (n - hi) * sizeof(float));
    node_sync(s);
    /* Only this rank computes this slice, in rank order, so every rank gets
     * the same sums. */
    float *acc = buf + lo;
    for (int q = 0; q < s->lsize; q++) {
        if (q == s->lrank)
            continue;
        const float *x = s->slot[q] + lo;
        for (size_t k = 0; k < hi - lo; k++)
            acc[k] += x[k];
    }
    if (s->nodes > 1 && hi > lo)
        CHECK(MPI_Allreduce(MPI_IN_PLACE, acc, (int)(hi - lo), MPI_FLOAT, MPI_SUM, s->cross));
    memcpy(mine + lo, acc, (hi - lo) * sizeof(float));
    node_sync(s);
    for (int q = 0; q < s->lsize; q++) {
        if (q == s->lrank)
            continue;
        slice(n, s->lsize, q, &lo, &hi);
        memcpy(buf + lo, s->slot[q] + lo, (hi - lo) * sizeof(float));
    }
    node_sync(s); /* the slots are written again next round */
}

void dlt__shm_reduce_sum(dlt__shm_reduce *s, float *buf, size_t n)
{
    for (size_t off = 0; off < n; off += s->chunk)
        round_sum(s, buf + off, n - off < s->chunk ? n - off : s->chunk);
}

/* ---- the node shared-memory gradient transport (transport.h) ---- */

static void *shm_create(dlt_comm *c, size_t nbuckets, size_t bucket, char *why, size_t whylen)
{
    (void)nbuckets;
    dlt__shm_reduce *s = dlt__shm_reduce_create(dlt__comm_world(c), bucket);
    if (!s)
        snprintf(why, whylen, "needs the same number of ranks on every node");
    return s;
}

static void shm_free(void *t) { dlt__shm_reduce_free(t); }

/* Synchronous whatever the mode: the sum is done on return. */
static void shm_start(void *t, size_t b, float *buf, size_t n, int async)
{
    (void)b, (void)async;
    dlt__shm_reduce_sum(t, buf, n);
}

static void shm_wait(void *t, size_t started) { (void)t, (void)started; }

const dlt__transport dlt__shm_transport = {DLT_REDUCER_SHM, "shm", &dlt__host_memory, 1,
                                           shm_create, shm_free, shm_start, NULL, shm_wait};
