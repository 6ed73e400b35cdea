/* stop.h - why a run stops early: signals (SIGUSR1 checkpoint, SIGTERM/
 * SIGINT/SIGUSR2 checkpoint and exit) and the job's time limit. */
#ifndef DLTRAIN_TRAIN_STOP_H
#define DLTRAIN_TRAIN_STOP_H

/* Request levels, ordered so that the max over ranks is the strongest. */
enum { DLT_STOP_NONE = 0, DLT_STOP_CKPT = 1, DLT_STOP_EXIT = 2 };

typedef struct dlt_stop {
    double deadline;    /* epoch seconds at which to checkpoint and exit; 0: none */
    char deadline_source[96]; /* where the job's end came from, for the log */
    long ckpt_taken_at; /* monotonic seconds of the last collective SIGUSR1 checkpoint; 0: none */
} dlt_stop;

/* Install the signal handlers (they only set flags) and work out the
 * deadline: the job's end minus STOP_BEFORE_MIN minutes, where the end is
 * SLURM_JOB_END_TIME (epoch seconds) when set, else DLT_JOB_END_TIME, else
 * now + TIME_LIMIT_MIN when that is > 0. STOP_BEFORE_MIN < 0: no deadline. */
void dlt__stop_init(dlt_stop *s, double stop_before_min, double time_limit_min);
/* Put the previous signal dispositions back. */
void dlt__stop_fini(void);
/* This rank's request now: DLT_STOP_*; a SIGUSR1 is consumed by the call. */
int dlt__stop_poll(const dlt_stop *s);
/* Every rank calls this when the ranks agreed on a SIGUSR1 checkpoint: a
 * copy of the same signal reaching this rank just after is not a new request. */
void dlt__stop_ckpt_taken(dlt_stop *s);
/* What caused the last DLT_STOP_EXIT, e.g. "SIGTERM" or "time limit". */
const char *dlt__stop_reason(const dlt_stop *s);

#endif
