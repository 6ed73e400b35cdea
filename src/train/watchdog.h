/* watchdog.h - a thread that ends the whole job when the training loop
 * stops making progress, naming the rank, phase and iteration it is stuck in;
 * and the test hook that makes a rank hang on purpose. */
#ifndef DLTRAIN_TRAIN_WATCHDOG_H
#define DLTRAIN_TRAIN_WATCHDOG_H

typedef enum {
    DLT_STEP_DATA, DLT_STEP_FORWARD, DLT_STEP_BACKWARD, DLT_STEP_ALLREDUCE, DLT_STEP_UPDATE,
    DLT_STEP_TEST, DLT_STEP_CHECKPOINT
} dlt_step_phase;

typedef struct dlt_watchdog dlt_watchdog;

/* SECONDS <= 0: no thread (the calls below still work and cost nothing). */
dlt_watchdog *dlt__watchdog_start(double seconds);
/* Progress: the main thread entered PHASE of iteration ITER. */
void dlt__watchdog_enter(dlt_watchdog *w, dlt_step_phase phase, long iter);
/* The main thread enters (BEGIN = 1) or leaves (0) a collective call, where
 * it waits for the other ranks: a stall there is reported after a grace
 * period, leaving the first word to the rank that stopped. */
void dlt__watchdog_waiting(dlt_watchdog *w, int begin);
void dlt__watchdog_stop(dlt_watchdog *w);
const char *dlt__step_phase_name(dlt_step_phase phase);

/* Test hook: with DLT_TEST_HANG_RANK=R and DLT_TEST_HANG_ITER=I in the
 * environment, rank R sleeps forever at the start of iteration I. */
void dlt__test_hang_point(int rank, long iter);

#endif
