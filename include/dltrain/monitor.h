/* monitor.h - the run directory's log.txt and metrics.jsonl (rank 0). */
#ifndef DLTRAIN_MONITOR_H
#define DLTRAIN_MONITOR_H

typedef struct dlt_monitor dlt_monitor;

typedef struct dlt_train_metrics {
    long iter;
    double epoch;        /* fractional epoch */
    double loss, lr, images_per_s;
    /* seconds per step, averaged over the display interval */
    double t_data, t_forward, t_backward, t_allreduce, t_update;
} dlt_train_metrics;

typedef struct dlt_test_metrics {
    long iter;
    double epoch;
    double test_loss, test_top1, test_top5; /* top5 < 0: not measured */
} dlt_test_metrics;

/* Opens (append) RUN_DIR/log.txt and RUN_DIR/metrics.jsonl. */
int dlt_monitor_open(const char *run_dir, dlt_monitor **out);
void dlt_monitor_close(dlt_monitor *m);
/* Print a line and append one JSON object. */
void dlt_monitor_train(dlt_monitor *m, const dlt_train_metrics *x);
void dlt_monitor_test(dlt_monitor *m, const dlt_test_metrics *x);

#endif
