/* observe.h - what the training loop reports while it runs (internal):
 * per-step accounting, the progress line, display-interval metrics
 * reduced over ranks, and the system samples gathered to rank 0. */
#ifndef DLTRAIN_TRAIN_OBSERVE_H
#define DLTRAIN_TRAIN_OBSERVE_H

#include "dltrain/comm.h"
#include "dltrain/monitor.h"

enum { DLT__T_DATA, DLT__T_FORWARD, DLT__T_BACKWARD, DLT__T_ALLREDUCE, DLT__T_UPDATE, DLT__NPHASES };

typedef struct dlt__observer_config {
    dlt_comm *comm;
    dlt_monitor *monitor;    /* rank 0; NULL elsewhere */
    long average_loss;       /* Caffe's smoothing window, >= 1 */
    int global_batch;
    long steps_per_epoch, max_iter;
    double sample_interval;  /* seconds; <= 0: no system sampling */
} dlt__observer_config;

typedef struct dlt__observer dlt__observer;

int dlt__observer_create(const dlt__observer_config *cfg, dlt__observer **out);
/* One finished step: ITER is the count of completed iterations, T the
 * seconds of each phase. TOKENS (caption nets; 0 otherwise) are the words
 * the step's caption loss counted and TOKEN_LOSS_SUM their summed loss, for
 * the interval's per-token loss and perplexity. Local only (no MPI). */
void dlt__observer_step(dlt__observer *o, long iter, float loss, const double t[DLT__NPHASES],
                        double lr, double token_loss_sum, double tokens);
/* Leave SECONDS (a test pass) out of images/s. */
void dlt__observer_exclude(dlt__observer *o, double seconds);
/* Collective: reduce the interval over ranks, write metrics (and any
 * pending system samples), start a new interval. */
void dlt__observer_display(dlt__observer *o, long iter, double lr);
/* Collective: write the system samples still pending; stop sampling. */
void dlt__observer_finish(dlt__observer *o);
void dlt__observer_free(dlt__observer *o);

#endif
