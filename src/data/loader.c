/* loader.c - one rank's batches from an in-memory dataset, with the
 * sharding rule of data.h and a thread that prepares the next step's batch
 * while the caller trains on the current one. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/data.h"
#include "dltrain/error.h"
#include "dltrain/tensor.h"

/* A pthread call that fails here means a corrupted mutex or exhausted
 * resources: nothing to recover, so stop with the call's error. */
#define PT_CHECK(call)                                                   \
    do {                                                                 \
        int pt_rc_ = (call);                                             \
        if (pt_rc_ != 0)                                                 \
            dlt_fatal("%s failed: %s", #call, strerror(pt_rc_));         \
    } while (0)

struct dlt_loader {
    const dlt_dataset *ds;
    dlt_loader_config cfg;
    size_t n;              /* dataset size */
    size_t sample;         /* c*h*w floats per sample */
    long steps_per_epoch;

    uint32_t *perm;        /* (n) permutation of perm_epoch, TRAIN only */
    long perm_epoch;       /* -1: none cached */

    /* Prefetch state, guarded by mu. The thread prepares pending_step into
     * (pre_data, pre_label) and then sets ready_step. fetch() waits while
     * the thread is busy, so prepare() never runs in two threads at once
     * and the permutation cache needs no lock of its own. */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, busy;
    long pending_step, ready_step;
    float *pre_data;       /* (B, c, h, w) */
    float *pre_label;      /* (B) */
};

/* The dataset index of sample K of this rank's batch at STEP. */
static size_t sample_index(dlt_loader *ld, long step, int k)
{
    uint64_t W = (uint64_t)ld->cfg.world, B = (uint64_t)ld->cfg.batch_size;
    uint64_t r = (uint64_t)ld->cfg.rank;
    if (!ld->cfg.shuffle)
        return (size_t)((((uint64_t)step * W + r) * B + (uint64_t)k) % ld->n);
    long epoch = step / ld->steps_per_epoch;
    uint64_t j = (uint64_t)(step % ld->steps_per_epoch);
    if (epoch != ld->perm_epoch) {
        dlt_permutation(ld->perm, ld->n, ld->cfg.seed, (uint64_t)epoch);
        ld->perm_epoch = epoch;
    }
    return ld->perm[(j * W + r) * B + (uint64_t)k];
}

static int prepare(dlt_loader *ld, long step, float *data, float *label)
{
    for (int k = 0; k < ld->cfg.batch_size; k++) {
        int l = dlt_dataset_sample(ld->ds, sample_index(ld, step, k), ld->cfg.scale,
                                   data + (size_t)k * ld->sample);
        DLT_TRY(l);
        label[k] = (float)l;
    }
    return DLT_OK;
}

static void *prefetch_main(void *arg)
{
    dlt_loader *ld = arg;
    PT_CHECK(pthread_mutex_lock(&ld->mu));
    for (;;) {
        while (!ld->stop && ld->pending_step < 0)
            PT_CHECK(pthread_cond_wait(&ld->cv, &ld->mu));
        if (ld->stop)
            break;
        long step = ld->pending_step;
        ld->pending_step = -1;
        ld->busy = 1;
        PT_CHECK(pthread_mutex_unlock(&ld->mu));
        /* On failure fetch() prepares the step again itself and reports. */
        int st = prepare(ld, step, ld->pre_data, ld->pre_label);
        PT_CHECK(pthread_mutex_lock(&ld->mu));
        ld->busy = 0;
        ld->ready_step = st < 0 ? -1 : step;
        PT_CHECK(pthread_cond_broadcast(&ld->cv));
    }
    PT_CHECK(pthread_mutex_unlock(&ld->mu));
    return NULL;
}

static int check_config(const dlt_dataset *ds, const dlt_loader_config *cfg, long *steps)
{
    const char *p = dlt_dataset_path(ds);
    size_t n = dlt_dataset_size(ds);
    if (cfg->batch_size <= 0 || cfg->world <= 0 || cfg->rank < 0 || cfg->rank >= cfg->world)
        DLT_FAIL(DLT_ERR_ARG, "%s: bad loader settings: batch_size %d, rank %d of %d", p,
                 cfg->batch_size, cfg->rank, cfg->world);
    if (n == 0)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: the dataset has no samples", p);
    if (n > UINT32_MAX)
        DLT_FAIL(DLT_ERR_ARG, "%s: %zu samples; the loader handles at most %u", p, n,
                 UINT32_MAX);
    size_t global = (size_t)cfg->world * (size_t)cfg->batch_size;
    if (!cfg->shuffle) {
        /* TEST wraps around, so any batch works; this many steps cover the set once. */
        *steps = (long)((n + global - 1) / global);
        return DLT_OK;
    }
    if (n < global)
        DLT_FAIL(DLT_ERR_ARG, "%s: dataset has %zu samples, fewer than one global batch of "
                 "%zu (%d ranks x batch_size %d)", p, n, global, cfg->world, cfg->batch_size);
    *steps = (long)(n / global);
    return DLT_OK;
}

int dlt_loader_create(const dlt_dataset *ds, const dlt_loader_config *cfg, dlt_loader **out)
{
    long steps;
    *out = NULL;
    DLT_TRY(check_config(ds, cfg, &steps));
    dlt_loader *ld = dlt_calloc(1, sizeof *ld);
    ld->ds = ds;
    ld->cfg = *cfg;
    ld->n = dlt_dataset_size(ds);
    int c, h, w;
    dlt_dataset_shape(ds, &c, &h, &w);
    ld->sample = (size_t)c * h * w;
    ld->steps_per_epoch = steps;
    ld->perm_epoch = -1;
    if (cfg->shuffle)
        ld->perm = dlt_malloc(ld->n * sizeof *ld->perm);
    ld->pre_data = dlt_malloc((size_t)cfg->batch_size * ld->sample * sizeof(float));
    ld->pre_label = dlt_malloc((size_t)cfg->batch_size * sizeof(float));
    ld->pending_step = ld->ready_step = -1;
    int rc;
    if ((rc = pthread_mutex_init(&ld->mu, NULL)) != 0)
        goto fail_mu;
    if ((rc = pthread_cond_init(&ld->cv, NULL)) != 0)
        goto fail_cv;
    if ((rc = pthread_create(&ld->thread, NULL, prefetch_main, ld)) != 0)
        goto fail_thread;
    *out = ld;
    return DLT_OK;
fail_thread:
    pthread_cond_destroy(&ld->cv);
fail_cv:
    pthread_mutex_destroy(&ld->mu);
fail_mu:
    dlt_error("%s: cannot start the prefetch thread: %s", dlt_dataset_path(ds), strerror(rc));
    free(ld->perm);
    free(ld->pre_data);
    free(ld->pre_label);
    free(ld);
    return DLT_ERR_INTERNAL;
}

void dlt_loader_free(dlt_loader *ld)
{
    if (!ld)
        return;
    PT_CHECK(pthread_mutex_lock(&ld->mu));
    ld->stop = 1;
    PT_CHECK(pthread_cond_broadcast(&ld->cv));
    PT_CHECK(pthread_mutex_unlock(&ld->mu));
    PT_CHECK(pthread_join(ld->thread, NULL));
    PT_CHECK(pthread_cond_destroy(&ld->cv));
    PT_CHECK(pthread_mutex_destroy(&ld->mu));
    free(ld->perm);
    free(ld->pre_data);
    free(ld->pre_label);
    free(ld);
}

long dlt_loader_steps_per_epoch(const dlt_loader *ld) { return ld->steps_per_epoch; }

int dlt_loader_fetch(dlt_loader *ld, long step, float *data, float *label)
{
    if (step < 0)
        DLT_FAIL(DLT_ERR_ARG, "%s: negative step %ld", dlt_dataset_path(ld->ds), step);
    size_t B = (size_t)ld->cfg.batch_size;
    int st = DLT_OK;
    PT_CHECK(pthread_mutex_lock(&ld->mu));
    while (ld->busy || ld->pending_step >= 0)
        PT_CHECK(pthread_cond_wait(&ld->cv, &ld->mu));
    if (ld->ready_step == step) {
        memcpy(data, ld->pre_data, B * ld->sample * sizeof(float));
        memcpy(label, ld->pre_label, B * sizeof(float));
    } else {
        /* Not prefetched (first call, or steps out of order): the thread is
         * idle, so prepare here, holding the lock so it stays idle. */
        st = prepare(ld, step, data, label);
    }
    ld->ready_step = -1;
    if (st >= 0) {
        ld->pending_step = step + 1;
        PT_CHECK(pthread_cond_broadcast(&ld->cv));
    }
    PT_CHECK(pthread_mutex_unlock(&ld->mu));
    return st;
}
