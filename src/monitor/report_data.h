/* report_data.h - what dltrain-report reads from a run directory (internal). */
#ifndef DLTRAIN_MONITOR_REPORT_DATA_H
#define DLTRAIN_MONITOR_REPORT_DATA_H

#include "dltrain/sysmon.h"

typedef struct dlt__vec {
    double *v;
    int n, cap;
} dlt__vec;

void dlt__vec_push(dlt__vec *a, double x);

enum { DLT__PHASES = 5 };

typedef struct dlt__rank_series {
    int rank;
    char host[64];
    dlt__vec t, cpu, rss, net, disk;          /* t: seconds since the first sample */
    dlt__vec gpu_t[DLT_SYS_MAX_GPUS], gpu_util[DLT_SYS_MAX_GPUS], gpu_mem[DLT_SYS_MAX_GPUS];
} dlt__rank_series;

typedef struct dlt__run_data {
    /* metrics.jsonl, kind "train" */
    dlt__vec iter, epoch, loss, loss_smoothed, lr, images_per_s, time;
    dlt__vec t[DLT__PHASES], t_max[DLT__PHASES];
    /* kind "test" */
    dlt__vec test_iter, test_loss, test_top1, test_top5, test_time;
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
    /* checkpoints/ */
    char (*ckpt_names)[256];
    double *ckpt_bytes;
    int nckpt;
} dlt__run_data;

int dlt__report_read(const char *run_dir, dlt__run_data *d);
void dlt__report_data_free(dlt__run_data *d);

#endif
