/* reducer.c - bucketed gradient averaging, overlapped with backward.
 * Buckets tile the flat gradient buffer from its end (the last layers,
 * whose gradients backward produces first). In overlap mode the backward
 * hook starts a bucket (MPI_Iallreduce, or the shared-memory reducer,
 * which is synchronous) once every gradient in it is final, and tests the
 * pending requests between layers so MPI makes progress; finish() waits.
 * Thread mode hands ready buckets to a communication thread that reduces
 * them one by one with blocking calls (MPI needs MPI_THREAD_SERIALIZED:
 * while the thread works, the main thread makes no MPI call). Blocking
 * mode reduces all buckets after backward. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm_internal.h"
#include "comm/shm_reduce.h"
#include "dltrain/reducer.h"

#define DEFAULT_BUCKET_BYTES (4u << 20)
#define NONE ((size_t)-1)

struct dlt_reducer {
    MPI_Comm world;
    int world_size;
    float *buf;
    size_t n;
    dlt_reducer_config cfg;
    dlt_reducer_kind kind;      /* MPI or SHM after the AUTO choice */
    dlt__shm_reduce *shm;
    size_t nbuckets;
    size_t *lo, *hi;            /* (nbuckets) bucket b = [lo, hi), b = 0 is the last range */
    MPI_Request *req;           /* (nbuckets) MPI_REQUEST_NULL when not pending */
    size_t next;                /* first bucket not started yet */
    size_t bad_local;           /* see dlt_reducer_local_nonfinite */
    char note[256];
    /* thread mode: buckets [0, handed) may be reduced, [0, reduced) are */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t handed, reduced;
    int has_thread, stop;
};

#define CHECK DLT__MPI_CHECK

static double wtime(void) { return MPI_Wtime(); }

/* Highest non-finite offset in [lo, hi), or NONE. */
static size_t scan_nonfinite(const float *x, size_t lo, size_t hi)
{
    int bad = 0;
    for (size_t i = lo; i < hi; i++)
        bad |= !isfinite(x[i]);
    if (!bad)
        return NONE;
    for (size_t i = hi; i-- > lo;)
        if (!isfinite(x[i]))
            return i;
    return NONE;
}

static void start_bucket(dlt_reducer *r, size_t b)
{
    size_t lo = r->lo[b], hi = r->hi[b];
    if (r->bad_local == NONE)
        r->bad_local = scan_nonfinite(r->buf, lo, hi);
    if (r->world_size == 1)
        return;
    if (r->kind == DLT_REDUCER_SHM)
        dlt__shm_reduce_sum(r->shm, r->buf + lo, hi - lo);
    else if (r->cfg.mode == DLT_ALLREDUCE_OVERLAP) /* THREAD and BLOCKING: blocking calls */
        CHECK(MPI_Iallreduce(MPI_IN_PLACE, r->buf + lo, (int)(hi - lo), MPI_FLOAT, MPI_SUM, r->world,
                             &r->req[b]));
    else
        CHECK(MPI_Allreduce(MPI_IN_PLACE, r->buf + lo, (int)(hi - lo), MPI_FLOAT, MPI_SUM, r->world));
}

/* One timed sum of BUF with the current kind (for AUTO's choice). */
static double time_kind(dlt_reducer *r, float *buf, size_t n, int reps)
{
    double best = 1e30;
    for (int i = 0; i < reps; i++) {
        CHECK(MPI_Barrier(r->world));
        double t0 = wtime();
        if (r->kind == DLT_REDUCER_SHM)
            dlt__shm_reduce_sum(r->shm, buf, n);
        else
            CHECK(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, r->world));
        double t = wtime() - t0;
        CHECK(MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, r->world));
        if (t < best)
            best = t;
    }
    return best;
}

/* AUTO: time both on one bucket's worth of data; all ranks see the same maxima. */
static void choose_kind(dlt_reducer *r, size_t bucket)
{
    size_t n = bucket < r->n ? bucket : r->n;
    if (n == 0)
        n = 1;
    float *tmp = dlt_calloc(n, sizeof(float));
    r->kind = DLT_REDUCER_MPI;
    double t_mpi = time_kind(r, tmp, n, 5);
    r->kind = DLT_REDUCER_SHM;
    double t_shm = time_kind(r, tmp, n, 5);
    free(tmp);
    r->kind = t_shm < t_mpi ? DLT_REDUCER_SHM : DLT_REDUCER_MPI;
    snprintf(r->note, sizeof r->note, "auto: %s (%zu-float bucket: shm %.3f ms, MPI_Allreduce %.3f ms)",
             r->kind == DLT_REDUCER_SHM ? "shm" : "mpi", n, t_shm * 1e3, t_mpi * 1e3);
}

/* The communication thread: reduce bucket after bucket as they are handed over. */
static void *comm_thread(void *arg)
{
    dlt_reducer *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->stop && r->reduced == r->handed)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->reduced == r->handed) /* stop, nothing left */
            break;
        size_t b = r->reduced;
        pthread_mutex_unlock(&r->mu);
        start_bucket(r, b);
        pthread_mutex_lock(&r->mu);
        r->reduced = b + 1;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void hand_over(dlt_reducer *r, size_t upto)
{
    pthread_mutex_lock(&r->mu);
    r->handed = upto;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void start_thread(dlt_reducer *r)
{
    if (dlt__comm_thread_level() < MPI_THREAD_SERIALIZED) {
        r->cfg.mode = DLT_ALLREDUCE_OVERLAP;
        snprintf(r->note + strlen(r->note), sizeof r->note - strlen(r->note),
                 "; no communication thread (MPI gives no MPI_THREAD_SERIALIZED): overlapped instead");
        return;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    int e = pthread_create(&r->thread, NULL, comm_thread, r);
    if (e != 0)
        dlt_fatal("cannot start the gradient communication thread: %s", strerror(e));
    r->has_thread = 1;
}

dlt_reducer *dlt_reducer_create(dlt_comm *c, float *buf, size_t n, const dlt_reducer_config *cfg)
{
    dlt_reducer *r = dlt_calloc(1, sizeof *r);
    r->world = dlt__comm_world(c);
    r->world_size = dlt_comm_size(c);
    r->buf = buf;
    r->n = n;
    r->cfg = *cfg;
    size_t bucket = (cfg->bucket_bytes ? cfg->bucket_bytes : DEFAULT_BUCKET_BYTES) / sizeof(float);
    if (bucket < 1)
        bucket = 1;
    if (bucket > (size_t)1 << 28) /* MPI counts are int */
        bucket = (size_t)1 << 28;
    r->nbuckets = n ? (n + bucket - 1) / bucket : 0;
    r->lo = dlt_calloc(r->nbuckets + 1, sizeof(size_t));
    r->hi = dlt_calloc(r->nbuckets + 1, sizeof(size_t));
    r->req = dlt_calloc(r->nbuckets + 1, sizeof(MPI_Request));
    for (size_t b = 0; b < r->nbuckets; b++) {
        r->hi[b] = n - b * bucket;
        r->lo[b] = r->hi[b] > bucket ? r->hi[b] - bucket : 0;
        r->req[b] = MPI_REQUEST_NULL;
    }
    r->kind = cfg->kind == DLT_REDUCER_SHM ? DLT_REDUCER_SHM : DLT_REDUCER_MPI;
    snprintf(r->note, sizeof r->note, "%s (forced)", r->kind == DLT_REDUCER_SHM ? "shm" : "mpi");
    if (r->world_size > 1 && cfg->kind != DLT_REDUCER_MPI) {
        size_t chunk = bucket < n ? bucket : (n ? n : 1);
        r->shm = dlt__shm_reduce_create(r->world, chunk);
        if (!r->shm) {
            r->kind = DLT_REDUCER_MPI;
            snprintf(r->note, sizeof r->note, "mpi (shm needs the same number of ranks on every node)");
        } else if (cfg->kind == DLT_REDUCER_AUTO) {
            choose_kind(r, bucket);
        }
    } else if (r->world_size == 1) {
        snprintf(r->note, sizeof r->note, "single rank: nothing to reduce");
    }
    r->bad_local = NONE;
    if (cfg->mode == DLT_ALLREDUCE_THREAD && r->world_size > 1)
        start_thread(r);
    return r;
}

void dlt_reducer_free(dlt_reducer *r)
{
    if (!r)
        return;
    if (r->has_thread) {
        pthread_mutex_lock(&r->mu);
        r->stop = 1;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
    }
    dlt__shm_reduce_free(r->shm);
    free(r->lo);
    free(r->hi);
    free(r->req);
    free(r);
}

const char *dlt_reducer_kind_name(const dlt_reducer *r) { return r->kind == DLT_REDUCER_SHM ? "shm" : "mpi"; }
const char *dlt_reducer_choice_note(const dlt_reducer *r) { return r->note; }
size_t dlt_reducer_bucket_count(const dlt_reducer *r) { return r->nbuckets; }
size_t dlt_reducer_local_nonfinite(const dlt_reducer *r) { return r->bad_local; }

void dlt_reducer_begin(dlt_reducer *r)
{
    r->next = 0;
    r->bad_local = NONE;
    if (r->has_thread) { /* the thread is idle: every bucket of the last step is reduced */
        pthread_mutex_lock(&r->mu);
        r->handed = r->reduced = 0;
        pthread_mutex_unlock(&r->mu);
    }
}

/* Let pending MPI_Iallreduce calls progress (Open MPI advances them only
 * inside MPI calls). */
static void drive_progress(dlt_reducer *r)
{
    for (size_t b = 0; b < r->next; b++)
        if (r->req[b] != MPI_REQUEST_NULL) {
            int done;
            CHECK(MPI_Test(&r->req[b], &done, MPI_STATUS_IGNORE));
        }
}

void dlt_reducer_ready(dlt_reducer *r, size_t done_from)
{
    if (r->has_thread) {
        size_t upto = r->next;
        while (upto < r->nbuckets && r->lo[upto] >= done_from)
            upto++;
        if (upto != r->next)
            hand_over(r, r->next = upto);
        return;
    }
    if (r->cfg.mode != DLT_ALLREDUCE_OVERLAP)
        return;
    while (r->next < r->nbuckets && r->lo[r->next] >= done_from)
        start_bucket(r, r->next++);
    if (r->world_size > 1 && r->kind == DLT_REDUCER_MPI)
        drive_progress(r);
}

void dlt_reducer_hook(void *reducer, int layer, size_t done_from)
{
    (void)layer;
    dlt_reducer_ready(reducer, done_from);
}

int dlt_reducer_finish(dlt_reducer *r)
{
    if (r->has_thread) {
        hand_over(r, r->next = r->nbuckets);
        pthread_mutex_lock(&r->mu);
        while (r->reduced < r->nbuckets)
            pthread_cond_wait(&r->cv, &r->mu);
        pthread_mutex_unlock(&r->mu);
    }
    while (r->next < r->nbuckets)
        start_bucket(r, r->next++);
    if (r->world_size > 1 && r->kind == DLT_REDUCER_MPI && r->cfg.mode == DLT_ALLREDUCE_OVERLAP)
        CHECK(MPI_Waitall((int)r->nbuckets, r->req, MPI_STATUSES_IGNORE));
    int bad = 0;
    float *x = r->buf;
    if (r->cfg.sum_only || r->world_size == 1) {
        for (size_t i = 0; i < r->n; i++)
            bad |= !isfinite(x[i]);
    } else {
        const float inv = 1.0f / (float)r->world_size;
        for (size_t i = 0; i < r->n; i++) {
            x[i] *= inv;
            bad |= !isfinite(x[i]);
        }
    }
    return !bad;
}
