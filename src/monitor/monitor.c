/* monitor.c - rank 0's view of a run: progress lines on stdout (and in
 * RUN/log.txt) and one JSON object per line in RUN/metrics.jsonl, with the
 * field names of DESIGN.md that scripts and dltrain-report rely on. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "dltrain/monitor.h"

struct dlt_monitor {
    FILE *log;      /* RUN/log.txt */
    FILE *metrics;  /* RUN/metrics.jsonl */
};

static FILE *open_append(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "a");
    if (!f)
        dlt_error("cannot open '%s' for appending: %s", path, strerror(errno));
    return f;
}

int dlt_monitor_open(const char *run_dir, dlt_monitor **out)
{
    dlt_monitor *m = dlt_calloc(1, sizeof *m);
    m->log = open_append(run_dir, "log.txt");
    m->metrics = open_append(run_dir, "metrics.jsonl");
    if (!m->log || !m->metrics) {
        dlt_monitor_close(m);
        return DLT_ERR_IO;
    }
    dlt_log_set_file(m->log);
    *out = m;
    return 0;
}

void dlt_monitor_close(dlt_monitor *m)
{
    if (!m)
        return;
    dlt_log_set_file(NULL);
    if (m->log)
        fclose(m->log);
    if (m->metrics)
        fclose(m->metrics);
    free(m);
}

/* JSON has no NaN/Inf: write null so every line stays parseable. */
static void json_num(FILE *f, const char *key, double v, int last)
{
    if (isfinite(v))
        fprintf(f, "\"%s\":%.9g%s", key, v, last ? "" : ",");
    else
        fprintf(f, "\"%s\":null%s", key, last ? "" : ",");
}

void dlt_monitor_train(dlt_monitor *m, const dlt_train_metrics *x)
{
    dlt_info("iter %7ld  epoch %6.2f  loss %.5f  lr %.6g  %8.1f images/s  "
             "(data %.1f fwd %.1f bwd %.1f allreduce %.1f update %.1f ms)",
             x->iter, x->epoch, x->loss, x->lr, x->images_per_s, 1e3 * x->t_data,
             1e3 * x->t_forward, 1e3 * x->t_backward, 1e3 * x->t_allreduce, 1e3 * x->t_update);
    if (!m)
        return;
    FILE *f = m->metrics;
    fprintf(f, "{\"kind\":\"train\",\"iter\":%ld,", x->iter);
    json_num(f, "epoch", x->epoch, 0);
    json_num(f, "loss", x->loss, 0);
    json_num(f, "lr", x->lr, 0);
    json_num(f, "images_per_s", x->images_per_s, 0);
    json_num(f, "t_data", x->t_data, 0);
    json_num(f, "t_forward", x->t_forward, 0);
    json_num(f, "t_backward", x->t_backward, 0);
    json_num(f, "t_allreduce", x->t_allreduce, 0);
    json_num(f, "t_update", x->t_update, 1);
    fputs("}\n", f);
    fflush(f);
}

void dlt_monitor_test(dlt_monitor *m, const dlt_test_metrics *x)
{
    if (x->test_top5 >= 0)
        dlt_info("test   iter %7ld  epoch %6.2f  test_loss %.5f  top-1 %.4f  top-5 %.4f", x->iter,
                 x->epoch, x->test_loss, x->test_top1, x->test_top5);
    else
        dlt_info("test   iter %7ld  epoch %6.2f  test_loss %.5f  top-1 %.4f", x->iter, x->epoch,
                 x->test_loss, x->test_top1);
    if (!m)
        return;
    FILE *f = m->metrics;
    fprintf(f, "{\"kind\":\"test\",\"iter\":%ld,", x->iter);
    json_num(f, "epoch", x->epoch, 0);
    json_num(f, "test_loss", x->test_loss, 0);
    json_num(f, "test_top1", x->test_top1, x->test_top5 < 0);
    if (x->test_top5 >= 0)
        json_num(f, "test_top5", x->test_top5, 1);
    fputs("}\n", f);
    fflush(f);
}
