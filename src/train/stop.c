/* stop.c - signal flags and the time-limit deadline that make the training
 * loop checkpoint (and maybe exit) at an iteration boundary. The handlers
 * only set sig_atomic_t flags: everything else happens in the loop. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dltrain/error.h"
#include "train/stop.h"

/* Owned by this module: set by the handlers, read by dlt__stop_poll. */
static volatile sig_atomic_t ckpt_requested = 0;
static volatile sig_atomic_t ckpt_arrival = 0; /* monotonic seconds of the last SIGUSR1 */
static volatile sig_atomic_t exit_signal = 0;

/* A SIGUSR1 forwarded to every rank (mpirun, Slurm) reaches them at slightly
 * different times: one rank may see it an iteration after the others, when
 * the checkpoint it asks for has just been written, or while it is being
 * written (after this rank's poll, before dlt__stop_ckpt_taken: seen in
 * test_signals under load, two checkpoints at iterations 8 and 9). A
 * request that arrives this many seconds or less before or after a
 * checkpoint is that same signal, not a new one: the checkpoint written
 * then already holds what it asked for. */
#define SAME_SIGNAL_WINDOW_S 2

static const int exit_signals[] = {SIGTERM, SIGINT, SIGUSR2};
static struct sigaction saved_usr1, saved_exit[3];

static long mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* async-signal-safe (POSIX) */
    return (long)ts.tv_sec;
}

static void on_usr1(int sig)
{
    (void)sig;
    ckpt_arrival = (sig_atomic_t)mono_seconds();
    ckpt_requested = 1;
}
static void on_exit_signal(int sig) { exit_signal = sig; }

static double epoch_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double env_seconds(const char *name)
{
    const char *v = getenv(name);
    char *end;
    double t = v ? strtod(v, &end) : 0;
    return v && *v && *end == '\0' && t > 0 ? t : 0;
}

void dlt__stop_init(dlt_stop *s, double stop_before_min, double time_limit_min)
{
    memset(s, 0, sizeof *s);
    ckpt_requested = 0;
    exit_signal = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* reads and writes are not cut short */
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, &saved_usr1);
    sa.sa_handler = on_exit_signal;
    for (int i = 0; i < 3; i++)
        sigaction(exit_signals[i], &sa, &saved_exit[i]);
    if (stop_before_min < 0)
        return;
    double end = 0;
    const char *src = NULL;
    if ((end = env_seconds("SLURM_JOB_END_TIME")) > 0)
        src = "SLURM_JOB_END_TIME";
    else if ((end = env_seconds("DLT_JOB_END_TIME")) > 0)
        src = "DLT_JOB_END_TIME";
    else if (time_limit_min > 0) {
        end = epoch_now() + 60 * time_limit_min;
        src = "--time-limit";
    }
    if (!src) {
        dlt_warn("--stop-before: the job's end time is unknown (no SLURM_JOB_END_TIME, "
                 "DLT_JOB_END_TIME or --time-limit); no time-limit stop");
        return;
    }
    s->deadline = end - 60 * stop_before_min;
    snprintf(s->deadline_source, sizeof s->deadline_source, "%s", src);
    if (s->deadline <= epoch_now())
        dlt_warn("--stop-before %.1f: the job ends at %.0f (from %s), so the stop time has passed: "
                 "training stops after its first iteration", stop_before_min, end, src);
    dlt_info("time limit: the job ends at %.0f (from %s); checkpoint and exit %.1f min before, "
             "in %.1f min", end, src, stop_before_min, (s->deadline - epoch_now()) / 60);
}

void dlt__stop_fini(void)
{
    sigaction(SIGUSR1, &saved_usr1, NULL);
    for (int i = 0; i < 3; i++)
        sigaction(exit_signals[i], &saved_exit[i], NULL);
}

int dlt__stop_poll(const dlt_stop *s)
{
    if (exit_signal)
        return DLT_STOP_EXIT;
    if (s->deadline > 0 && epoch_now() >= s->deadline)
        return DLT_STOP_EXIT;
    if (ckpt_requested) {
        ckpt_requested = 0;
        const long gap = (long)ckpt_arrival - s->ckpt_taken_at;
        if (s->ckpt_taken_at > 0 && labs(gap) <= SAME_SIGNAL_WINDOW_S) {
            dlt_info("SIGUSR1 arrived within %lds of the checkpoint other ranks asked for: the "
                     "same request, no second checkpoint", labs(gap));
            return DLT_STOP_NONE;
        }
        return DLT_STOP_CKPT;
    }
    return DLT_STOP_NONE;
}

void dlt__stop_ckpt_taken(dlt_stop *s) { s->ckpt_taken_at = mono_seconds(); }

const char *dlt__stop_reason(const dlt_stop *s)
{
    switch (exit_signal) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGUSR2: return "SIGUSR2";
    default:
        return s->deadline > 0 && epoch_now() >= s->deadline ? "the time limit (--stop-before)"
                                                             : "a signal to another rank";
    }
}
