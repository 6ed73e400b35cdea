/* report_data.h - what dltrain-report reads from a run directory (internal). */
#ifndef DLTRAIN_MONITOR_REPORT_DATA_H
#define DLTRAIN_MONITOR_REPORT_DATA_H

#include "dltrain/sysmon.h"

typedef struct dlt__vec {
    double *v;
    int n, cap;
} dlt__vec;

void dlt__vec_push(dlt__vec *a, double x);

enum { DLT__PHASES = 5, DLT__LOG_TAIL_LINES = 30 };

typedef struct dlt__rank_series {
    int rank;
    char host[64];
    dlt__vec t, cpu, rss, net, disk;          /* t: seconds since the first sample */
    dlt__vec gpu_t[DLT_SYS_MAX_GPUS], gpu_util[DLT_SYS_MAX_GPUS], gpu_mem[DLT_SYS_MAX_GPUS];
} dlt__rank_series;

/* What the run directory says about the run (dlt__report_read). */
typedef enum {
    DLT__RUN_RUNNING,    /* a live holder of RUN/lock, no final line yet */
    DLT__RUN_ENDED,      /* log.txt's last start has a "done:" line */
    DLT__RUN_FAILED,     /* a fatal/error line, or the holder is gone without a final line */
    DLT__RUN_PREEMPTED   /* "stopped by SIGNAL": checkpointed, resumable */
} dlt__run_state;

const char *dlt__run_state_name(dlt__run_state s);

typedef struct dlt__run_data {
    /* metrics.jsonl, kind "train" */
    dlt__vec iter, epoch, loss, loss_smoothed, lr, images_per_s, time;
    dlt__vec t[DLT__PHASES], t_max[DLT__PHASES];
    /* kind "test" */
    dlt__vec test_iter, test_epoch, test_loss, test_top1, test_top5, test_time;
    /* caption nets: per-token loss and perplexity (NAN elsewhere); caption
     * is set when any record has them */
    dlt__vec token_loss, perplexity, test_token_loss, test_perplexity;
    int caption;
    int bad_lines;                 /* complete lines that did not parse */
    /* system.jsonl */
    dlt__rank_series *ranks;
    int nranks;
    int have_system;
    double sys_t0;
    /* log.txt and config/ */
    char net_name[128], command[2048];
    int world, batch_size, global_batch;
    long max_iter;
    double done_seconds;           /* < 0: not finished */
    dlt__run_state state;
    int over;                      /* the writer knows the run is over (dlt__report_read_over) */
    double start_time;             /* Unix seconds of the last start (lock file, else the log's
                                      date, else the first metrics line); NAN unknown */
    char *log_tail;                /* the last DLT__LOG_TAIL_LINES lines of log.txt, or NULL */
    char *solver_text;             /* config/solver.prototxt, or NULL */
    /* checkpoints/ */
    char (*ckpt_names)[256];
    double *ckpt_bytes;
    int nckpt;
} dlt__run_data;

int dlt__report_read(const char *run_dir, dlt__run_data *d);
/* The same, told by the trainer whether its run is OVER (its last rewrite,
 * while it still holds the lock): then never "running". */
int dlt__report_read_over(const char *run_dir, int over, dlt__run_data *d);
/* Summary figures of a read run: last iteration and epoch, best test top-1
 * (NAN none), mean images/s over the display intervals (NAN none). */
void dlt__report_figures(const dlt__run_data *d, long *iter, double *epoch, double *best_top1,
                         double *images_per_s);
void dlt__report_data_free(dlt__run_data *d);

#endif
