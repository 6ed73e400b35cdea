/* reducer.c - bucketed gradient averaging, overlapped with backward, for
 * every transport (transport.h): buckets tile the flat gradient buffer
 * from its end (the last layers, whose gradients backward produces
 * first). In overlap mode the backward hook starts a bucket once every
 * gradient in it is final (MPI_Iallreduce, the synchronous shared-memory
 * sum, or NCCL on its stream), and lets the pending ones progress between
 * layers; finish() waits. Thread mode hands ready buckets to a
 * communication thread that reduces them one by one with blocking calls
 * (MPI needs MPI_THREAD_SERIALIZED: while the thread works, the main
 * thread makes no MPI call). Blocking mode reduces all buckets after
 * backward. Averaging and the NaN/Inf check follow, in the buffer's memory. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "comm/comm_internal.h"
#include "comm/transport.h"

#define DEFAULT_BUCKET_BYTES (4u << 20)
#define NONE DLT__NONE

/* Every transport this build has, in AUTO's order of preference on a tie. */
extern const dlt__transport dlt__mpi_transport;  /* mpi_reduce.c */
extern const dlt__transport dlt__shm_transport;  /* shm_reduce.c */
#ifdef HAVE_CUDA
extern const dlt__transport dlt__nccl_transport; /* nccl_reduce.cu */
#endif
static const dlt__transport *const transports[] = {
    &dlt__mpi_transport,
    &dlt__shm_transport,
#ifdef HAVE_CUDA
    &dlt__nccl_transport,
#endif
};
#define NTRANSPORTS (sizeof transports / sizeof transports[0])

struct dlt_reducer {
    dlt_comm *comm;
    int world_size;
    float *buf;                 /* (n) in mem->where */
    size_t n;
    dlt_reducer_config cfg;
    const dlt__transport *tp;   /* after the AUTO choice */
    void *t;                    /* its state */
    const dlt__memory_ops *mem;
    size_t nbuckets;
    size_t *lo, *hi;            /* (nbuckets) bucket b = [lo, hi), b = 0 is the last range */
    size_t next;                /* first bucket not started yet */
    size_t bad;                 /* see dlt_reducer_nonfinite */
    int bad_local;
    char note[256];
    /* thread mode: buckets [0, handed) may be reduced, [0, reduced) are */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t handed, reduced;
    int has_thread, stop;
};

/* ---- host memory ---- */

static int host_scale_finite(float *x, size_t n, float f)
{
    int bad = 0;
    if (f == 1.0f) {
        for (size_t i = 0; i < n; i++)
            bad |= !isfinite(x[i]);
    } else {
        for (size_t i = 0; i < n; i++) {
            x[i] *= f;
            bad |= !isfinite(x[i]);
        }
    }
    return !bad;
}

static size_t host_last_nonfinite(const float *x, size_t lo, size_t hi)
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

const dlt__memory_ops dlt__host_memory = {DLT_HOST, 1, host_scale_finite, host_last_nonfinite};

/* ---- choosing the transport ---- */

static const dlt__transport *find(dlt_reducer_kind kind, dlt_memory where)
{
    for (size_t i = 0; i < NTRANSPORTS; i++)
        if ((kind == DLT_REDUCER_AUTO || transports[i]->kind == kind) && transports[i]->memory->where == where)
            return transports[i];
    return NULL;
}

int dlt_reducer_kind_parse(const char *name)
{
    if (name && strcmp(name, "auto") == 0)
        return DLT_REDUCER_AUTO;
    for (size_t i = 0; i < NTRANSPORTS; i++)
        if (name && strcmp(name, transports[i]->name) == 0)
            return (int)transports[i]->kind;
    return -1;
}

void dlt_reducer_kind_list(char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "auto");
    for (size_t i = 0; i < NTRANSPORTS && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, " %s", transports[i]->name);
}

/* Why TP cannot serve THREAD mode (which then overlaps instead), or NULL. */
static const char *no_comm_thread(const dlt__transport *tp)
{
    return !tp->comm_thread                                        ? "the transport overlaps on its own"
           : dlt__comm_thread_level() < MPI_THREAD_SERIALIZED ? "MPI gives no MPI_THREAD_SERIALIZED"
                                                               : NULL;
}

/* Best of REPS sums of TMP (N floats) with TP's state T, started as the
 * step will start them: nonblocking in overlap mode. Open MPI's
 * MPI_Iallreduce is not its MPI_Allreduce: LeNet's 1.7 MB bucket on 2
 * ranks took 0.21 ms blocking and 0.65 ms per step as MPI_Iallreduce, and
 * timing the blocking call picked MPI over shm. All ranks see the same
 * maxima. */
static double time_transport(dlt_reducer *r, const dlt__transport *tp, void *t, float *tmp, size_t n,
                             int reps)
{
    const int async = r->cfg.mode == DLT_ALLREDUCE_OVERLAP ||
                      (r->cfg.mode == DLT_ALLREDUCE_THREAD && no_comm_thread(tp));
    double best = 1e30;
    for (int i = 0; i < reps; i++) {
        dlt_comm_barrier(r->comm);
        double t0 = MPI_Wtime();
        tp->start(t, 0, tmp, n, async);
        tp->wait(t, 1);
        double dt = MPI_Wtime() - t0;
        dlt_comm_allreduce_max_doubles(r->comm, &dt, 1);
        if (dt < best)
            best = dt;
    }
    return best;
}

/* AUTO with several transports for this memory: time each on one bucket's
 * worth of data and keep the fastest (host memory only: timing buffers
 * are host buffers). The transports take turns, one sum each per round
 * after one untimed warm-up each, and each keeps its best: timed one after
 * the other, a start-up hiccup (mpirun's daemons, first touches) could
 * fall on one transport's tries only. */
#define AUTO_ROUNDS 5
static int choose_auto(dlt_reducer *r, size_t nbuckets, size_t bucket)
{
    size_t n = bucket;
    float *tmp = dlt_calloc(n, sizeof(float));
    const dlt__transport *tps[NTRANSPORTS];
    void *ts[NTRANSPORTS];
    double best_s[NTRANSPORTS];
    size_t m = 0;
    char times[100] = "", why[64], skipped[96] = "";
    for (size_t i = 0; i < NTRANSPORTS; i++) {
        const dlt__transport *tp = transports[i];
        if (tp->memory->where != r->mem->where)
            continue;
        void *t = tp->create(r->comm, nbuckets, bucket, why, sizeof why);
        if (!t) {
            snprintf(skipped, sizeof skipped, "(%s %s)", tp->name, why);
            continue;
        }
        time_transport(r, tp, t, tmp, n, 1); /* warm-up */
        tps[m] = tp, ts[m] = t, best_s[m] = 1e30, m++;
    }
    for (int round = 0; round < AUTO_ROUNDS; round++)
        for (size_t j = 0; j < m; j++) {
            const double s = time_transport(r, tps[j], ts[j], tmp, n, 1);
            if (s < best_s[j])
                best_s[j] = s;
        }
    free(tmp);
    if (!m)
        return 0; /* none could start: choose() says why */
    size_t best = 0, len = 0;
    for (size_t j = 0; j < m; j++) {
        len += (size_t)snprintf(times + len, len < sizeof times ? sizeof times - len : 0, "%s%s %.3f ms",
                                len ? ", " : "", tps[j]->name, best_s[j] * 1e3);
        if (best_s[j] < best_s[best])
            best = j;
    }
    for (size_t j = 0; j < m; j++)
        if (j != best)
            tps[j]->free(ts[j]);
    r->tp = tps[best], r->t = ts[best];
    snprintf(r->note, sizeof r->note, "auto: %s (%zu-float bucket: %s)%s%s", tps[best]->name, n, times,
             skipped[0] ? " " : "", skipped);
    return 1;
}

static void choose(dlt_reducer *r, size_t nbuckets, size_t bucket)
{
    dlt_memory where = r->mem->where;
    const char *space = where == DLT_DEVICE ? "device" : "host";
    char why[128];
    if (r->world_size == 1) { /* nothing to reduce: the first transport for this memory, unused */
        r->tp = find(DLT_REDUCER_AUTO, where);
        r->t = r->tp->create(r->comm, nbuckets, bucket, why, sizeof why);
        snprintf(r->note, sizeof r->note, "single rank: nothing to reduce");
        return;
    }
    if (r->cfg.kind != DLT_REDUCER_AUTO) {
        const dlt__transport *tp = find(r->cfg.kind, where);
        if (tp) {
            r->t = tp->create(r->comm, nbuckets, bucket, why, sizeof why);
            if (r->t) {
                r->tp = tp;
                snprintf(r->note, sizeof r->note, "%s (forced)", tp->name);
                return;
            }
            snprintf(r->note, sizeof r->note, " (%s %s)", tp->name, why);
        } else {
            snprintf(r->note, sizeof r->note, " (the forced transport cannot reduce %s memory)", space);
        }
    }
    size_t candidates = 0;
    for (size_t i = 0; i < NTRANSPORTS; i++)
        candidates += transports[i]->memory->where == where;
    if (r->cfg.kind == DLT_REDUCER_AUTO && candidates > 1 && where == DLT_HOST &&
        choose_auto(r, nbuckets, bucket))
        return;
    /* The first one that can run here (a forced one that could not, or
     * the only one for this memory). */
    char fallback[sizeof r->note];
    snprintf(fallback, sizeof fallback, "%s", r->note);
    for (size_t i = 0; i < NTRANSPORTS && !r->t; i++)
        if (transports[i]->memory->where == where &&
            (r->t = transports[i]->create(r->comm, nbuckets, bucket, why, sizeof why)))
            r->tp = transports[i];
    if (!r->t)
        dlt_fatal("no gradient transport can reduce %s memory in this build", space);
    snprintf(r->note, sizeof r->note, "%s%s", r->tp->name,
             fallback[0] ? fallback : candidates == 1 ? " (the only transport for this memory)" : "");
}

/* ---- buckets ---- */

static void start_bucket(dlt_reducer *r, size_t b, int async)
{
    size_t lo = r->lo[b], hi = r->hi[b];
    if (r->mem->scan_each_bucket && r->bad == NONE)
        r->bad = r->mem->last_nonfinite(r->buf, lo, hi);
    if (r->world_size > 1)
        r->tp->start(r->t, b, r->buf + lo, hi - lo, async);
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
        start_bucket(r, b, 0);
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
    const char *why = no_comm_thread(r->tp);
    if (why) {
        r->cfg.mode = DLT_ALLREDUCE_OVERLAP;
        snprintf(r->note + strlen(r->note), sizeof r->note - strlen(r->note),
                 "; no communication thread (%s): overlapped instead", why);
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
    r->comm = c;
    r->world_size = dlt_comm_size(c);
    r->buf = buf;
    r->n = n;
    r->cfg = *cfg;
    if (r->cfg.where == 0)
        r->cfg.where = DLT_HOST;
    size_t bucket = (cfg->bucket_bytes ? cfg->bucket_bytes : DEFAULT_BUCKET_BYTES) / sizeof(float);
    if (bucket < 1)
        bucket = 1;
    if (bucket > (size_t)1 << 28) /* MPI and NCCL counts are int */
        bucket = (size_t)1 << 28;
    r->nbuckets = n ? (n + bucket - 1) / bucket : 0;
    r->lo = dlt_calloc(r->nbuckets + 1, sizeof(size_t));
    r->hi = dlt_calloc(r->nbuckets + 1, sizeof(size_t));
    for (size_t b = 0; b < r->nbuckets; b++) {
        r->hi[b] = n - b * bucket;
        r->lo[b] = r->hi[b] > bucket ? r->hi[b] - bucket : 0;
    }
    const dlt__transport *any = find(DLT_REDUCER_AUTO, r->cfg.where);
    if (!any)
        dlt_fatal("the gradients are in %s memory, which this build has no transport for%s",
                  r->cfg.where == DLT_DEVICE ? "device" : "host",
                  r->cfg.where == DLT_DEVICE ? " (HINT: configure --with-cuda)" : "");
    r->mem = any->memory;
    choose(r, r->nbuckets, bucket < n ? bucket : (n ? n : 1));
    r->bad = NONE;
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
    if (r->t)
        r->tp->free(r->t);
    free(r->lo);
    free(r->hi);
    free(r);
}

const char *dlt_reducer_kind_name(const dlt_reducer *r) { return r->tp->name; }
const char *dlt_reducer_choice_note(const dlt_reducer *r) { return r->note; }
size_t dlt_reducer_bucket_count(const dlt_reducer *r) { return r->nbuckets; }
dlt_allreduce_mode dlt_reducer_mode(const dlt_reducer *r) { return r->cfg.mode; }

size_t dlt_reducer_nonfinite(const dlt_reducer *r, int *local)
{
    *local = r->bad_local;
    return r->bad;
}

void dlt_reducer_begin(dlt_reducer *r)
{
    r->next = 0;
    r->bad = NONE;
    r->bad_local = r->mem->scan_each_bucket;
    if (r->has_thread) { /* the thread is idle: every bucket of the last step is reduced */
        pthread_mutex_lock(&r->mu);
        r->handed = r->reduced = 0;
        pthread_mutex_unlock(&r->mu);
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
        start_bucket(r, r->next++, 1);
    if (r->world_size > 1 && r->tp->progress)
        r->tp->progress(r->t, r->next);
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
    const int async = r->cfg.mode == DLT_ALLREDUCE_OVERLAP;
    while (r->next < r->nbuckets)
        start_bucket(r, r->next++, async);
    if (r->world_size > 1)
        r->tp->wait(r->t, r->nbuckets);
    const float f = r->cfg.sum_only || r->world_size == 1 ? 1.0f : 1.0f / (float)r->world_size;
    int ok = r->n == 0 || r->mem->scale_finite(r->buf, r->n, f);
    if (!ok && !r->mem->scan_each_bucket)
        r->bad = r->mem->last_nonfinite(r->buf, 0, r->n);
    return ok;
}
