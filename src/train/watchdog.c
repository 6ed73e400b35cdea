/* watchdog.c - the no-progress watchdog. The main thread records each
 * phase it enters (an atomic counter and the phase); a thread wakes every
 * fraction of a second and, once the counter has not moved for the
 * configured time, calls the fatal path, which aborts every rank.
 * The message names the rank that stopped: a rank stuck in its own work
 * reports at once, naming itself; a rank stuck in a collective call (the
 * training loop marks them: the gradient buckets, the stop-request and
 * test reductions, the checkpoint's) is most likely waiting for such a
 * rank, so it reports only after a grace period, by which time the stuck
 * rank has named itself and ended the job. The watchdog thread cannot ask
 * the other ranks (MPI is the main thread's). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "dltrain/error.h"
#include "train/watchdog.h"

struct dlt_watchdog {
    double seconds;
    atomic_long ticks;      /* bumped on every phase change */
    atomic_int phase;
    atomic_long iter;
    atomic_int waiting;     /* > 0: inside a collective call (not progress) */
    atomic_int stop;
    pthread_t thread;
};

static const char *const phase_names[] = {"data", "forward", "backward", "allreduce",
                                          "update", "test", "checkpoint"};

const char *dlt__step_phase_name(dlt_step_phase p) { return phase_names[p]; }

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* How much longer a rank waiting in the allreduce gives the others to
 * report themselves: half the limit, 2 to 30 s. */
static double waiting_grace(double seconds)
{
    double g = seconds / 2;
    return g < 2 ? 2 : g > 30 ? 30 : g;
}

static void *watch(void *arg)
{
    dlt_watchdog *w = arg;
    long seen = atomic_load(&w->ticks);
    double since = mono_s();
    useconds_t nap = w->seconds < 4 ? 100000 : 500000;
    while (!atomic_load(&w->stop)) {
        usleep(nap);
        long t = atomic_load(&w->ticks);
        double now = mono_s();
        if (t != seen) {
            seen = t;
            since = now;
        } else if (now - since >= w->seconds) {
            int phase = atomic_load(&w->phase);
            long iter = atomic_load(&w->iter);
            if (!atomic_load(&w->waiting))
                dlt_fatal("watchdog: rank %d stopped making progress: no progress for %.0f s, "
                          "stuck in phase '%s' of iteration %ld (this rank's own work, not a wait "
                          "for others; --watchdog SEC changes the limit, 0 disables)",
                          dlt_log_rank(), now - since, phase_names[phase], iter);
            if (now - since >= w->seconds + waiting_grace(w->seconds))
                dlt_fatal("watchdog: no progress for %.0f s, stuck in phase '%s' of iteration %ld: "
                          "rank %d waits there for the other ranks, and none reported itself "
                          "stuck within %.0f s more, so a rank is stopped or dead, or MPI hangs "
                          "(--watchdog SEC changes the limit, 0 disables)",
                          now - since, phase_names[phase], iter, dlt_log_rank(),
                          waiting_grace(w->seconds));
        }
    }
    return NULL;
}

dlt_watchdog *dlt__watchdog_start(double seconds)
{
    dlt_watchdog *w = dlt_calloc(1, sizeof *w);
    w->seconds = seconds;
    if (seconds > 0 && pthread_create(&w->thread, NULL, watch, w) != 0) {
        dlt_warn("could not start the watchdog thread; running without it");
        w->seconds = 0;
    }
    return w;
}

void dlt__watchdog_enter(dlt_watchdog *w, dlt_step_phase phase, long iter)
{
    atomic_store(&w->phase, (int)phase);
    atomic_store(&w->iter, iter);
    atomic_fetch_add(&w->ticks, 1);
}

void dlt__watchdog_waiting(dlt_watchdog *w, int begin)
{
    if (!w)
        return;
    atomic_fetch_add(&w->waiting, begin ? 1 : -1);
}

void dlt__watchdog_stop(dlt_watchdog *w)
{
    if (!w)
        return;
    if (w->seconds > 0) {
        atomic_store(&w->stop, 1);
        pthread_join(w->thread, NULL);
    }
    free(w);
}

void dlt__test_hang_point(int rank, long iter)
{
    const char *r = getenv("DLT_TEST_HANG_RANK"), *i = getenv("DLT_TEST_HANG_ITER");
    if (!r || !i || atoi(r) != rank || atol(i) != iter)
        return;
    dlt_warn("DLT_TEST_HANG_RANK: rank %d hangs at iteration %ld on purpose", rank, iter);
    for (;;)
        sleep(1000);
}
