/* monitor.h - the run directory's log.txt and metrics.jsonl (rank 0). */
#ifndef DLTRAIN_MONITOR_H
#define DLTRAIN_MONITOR_H

#include "dltrain/sysmon.h"

typedef struct dlt_monitor dlt_monitor;

typedef struct dlt_train_metrics {
    long iter;
    double epoch;        /* fractional epoch */
    double loss, lr, images_per_s;
    /* seconds per step, averaged over the display interval */
    double t_data, t_forward, t_backward, t_allreduce, t_update;
    /* Observability (issue 8). time: Unix seconds. loss_smoothed: Caffe's
     * average_loss window, loss_raw: the last iteration (means over ranks);
     * t_*_max: the slowest rank's per-step mean (the t_* above are means). */
    double time, loss_smoothed, loss_raw;
    double t_data_max, t_forward_max, t_backward_max, t_allreduce_max, t_update_max;
    /* Caption nets: the caption loss over the interval's words (not <pad>)
     * on all ranks, and exp() of it; NAN (not written) for other nets. */
    double token_loss, perplexity;
} dlt_train_metrics;

/* The in-place progress line (a terminal only), updated every step. */
typedef struct dlt_progress {
    long iter, max_iter;
    double epoch;          /* fractional */
    double images_per_s, loss, lr;
    double eta_s;          /* < 0: unknown */
} dlt_progress;


typedef struct dlt_test_metrics {
    long iter;
    double epoch;
    double test_loss, test_top1, test_top5; /* top5 < 0: not measured */
    double token_loss, perplexity; /* caption nets, as dlt_train_metrics; else NAN */
} dlt_test_metrics;

/* Opens (append) RUN_DIR/log.txt and RUN_DIR/metrics.jsonl. */
int dlt_monitor_open(const char *run_dir, dlt_monitor **out);
void dlt_monitor_close(dlt_monitor *m);
/* Print a line and append one JSON object. */
void dlt_monitor_train(dlt_monitor *m, const dlt_train_metrics *x);
void dlt_monitor_test(dlt_monitor *m, const dlt_test_metrics *x);
/* Observability (issue 8): stdout is a terminal (then display lines go to
 * log.txt only and the progress line updates in place); the progress line
 * (throttled, nothing when not a terminal); system samples to system.jsonl. */
int dlt_monitor_is_tty(const dlt_monitor *m);
void dlt_monitor_progress(dlt_monitor *m, const dlt_progress *p, int force);
int dlt_monitor_system(dlt_monitor *m, const dlt_sys_sample *x, int n);
/* One {"kind":"device"} record of where RANK computes from iteration
 * ITER (the start, or the resumed iteration): its HOST and GPU index, or
 * the CPU (GPU < 0); with "iter" and "time" like every record. NULL M:
 * nothing. */
void dlt_monitor_device(dlt_monitor *m, long iter, int rank, const char *host, int gpu);

#endif
