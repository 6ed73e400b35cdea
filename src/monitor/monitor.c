/* monitor.c - rank 0's view of a run: progress lines on stdout (and in
 * RUN/log.txt), one JSON object per line in RUN/metrics.jsonl, with the
 * field names of DESIGN.md that scripts and dltrain-report rely on, and
 * RUN/report.html rewritten after each test and at the end (timed). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dltrain/error.h"
#include "dltrain/monitor.h"
#include "monitor/report_page.h"
#include "monitor/progress.h"

struct dlt_monitor {
    FILE *log;      /* RUN/log.txt */
    FILE *metrics;  /* RUN/metrics.jsonl */
    FILE *system;   /* RUN/system.jsonl, opened at the first sample */
    char run_dir[4096];
    int tty;                /* stdout is a terminal: in-place progress line */
    double last_progress;   /* CLOCK_MONOTONIC of the last redraw */
    double opened;          /* CLOCK_MONOTONIC at open */
    int reports;            /* report.html rewrites so far */
    double report_s;        /* seconds spent on them */
    int report_failed;      /* warned once; training goes on */
};

static double monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* The live report: a user watches RUN/report.html on the shared file
 * system. Its cost is measured and logged at the end. */
static void live_report(dlt_monitor *m, int over)
{
    if (m->report_failed)
        return;
    double t0 = monotonic();
    if (dlt__report_write_over(m->run_dir, NULL, over) < 0) {
        dlt_warn("RUN/report.html could not be rewritten (see above); training goes on without it");
        m->report_failed = 1;
        return;
    }
    m->reports++;
    m->report_s += monotonic() - t0;
}

static FILE *open_append(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "a");
    if (!f)
        dlt_error("cannot open '%s' for appending: %s", path, strerror(errno));
    return f;
}

/* Is stdout a terminal a person watches? DLT_PROGRESS=tty|plain decides;
 * otherwise isatty, except that Open MPI hands every rank a pseudo-
 * terminal even when mpirun's own output goes to a file: when our parent
 * is a launcher, its stdout must be a terminal too. */
static int watched_terminal(void)
{
    const char *force = getenv("DLT_PROGRESS");
    if (force && strcmp(force, "tty") == 0)
        return 1;
    if ((force && strcmp(force, "plain") == 0) || !isatty(STDOUT_FILENO))
        return 0;
    char path[64], name[64] = "", target[256];
    snprintf(path, sizeof path, "/proc/%ld/comm", (long)getppid());
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(name, sizeof name, f))
            name[0] = '\0';
        fclose(f);
    }
    static const char *launchers[] = {"mpirun", "mpiexec", "orterun", "orted", "prterun", "prted",
                                      "hydra_pmi_proxy", "slurmstepd"};
    int launched = 0;
    for (size_t i = 0; i < sizeof launchers / sizeof *launchers; i++)
        launched |= strncmp(name, launchers[i], strlen(launchers[i])) == 0;
    if (!launched)
        return 1;
    snprintf(path, sizeof path, "/proc/%ld/fd/1", (long)getppid());
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n <= 0)
        return 0;
    target[n] = '\0';
    return strncmp(target, "/dev/pts/", 9) == 0 || strncmp(target, "/dev/tty", 8) == 0;
}

int dlt_monitor_open(const char *run_dir, dlt_monitor **out)
{
    dlt_monitor *m = dlt_calloc(1, sizeof *m);
    m->log = open_append(run_dir, "log.txt");
    m->metrics = open_append(run_dir, "metrics.jsonl");
    snprintf(m->run_dir, sizeof m->run_dir, "%s", run_dir);
    m->tty = watched_terminal();
    m->opened = monotonic();
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
    if (m->log && m->metrics) {
        fflush(m->metrics);
        live_report(m, 1); /* ended, preempted, or failed: the page stops reloading */
        double total = monotonic() - m->opened;
        if (m->reports)
            dlt_info("report.html rewritten %d times in %.3f s (%.3f%% of the %.1f s run)", m->reports,
                     m->report_s, total > 0 ? 100 * m->report_s / total : 0.0, total);
    }
    dlt_log_set_file(NULL);
    if (m->log)
        fclose(m->log);
    if (m->metrics)
        fclose(m->metrics);
    if (m->system)
        fclose(m->system);
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
    /* On a terminal the progress line shows this; log.txt still gets it. */
    FILE *plain = m && m->tty ? m->log : NULL;
    const char *fmt = "iter %7ld  epoch %6.2f  loss %.5f (smoothed %.5f)  lr %.6g  %8.1f images/s  "
                      "(data %.1f fwd %.1f bwd %.1f allreduce %.1f update %.1f ms)";
    if (plain) {
        fprintf(plain, fmt, x->iter, x->epoch, x->loss, x->loss_smoothed, x->lr, x->images_per_s,
                1e3 * x->t_data, 1e3 * x->t_forward, 1e3 * x->t_backward, 1e3 * x->t_allreduce,
                1e3 * x->t_update);
        fputc('\n', plain);
        fflush(plain);
    } else {
        dlt_info(fmt, x->iter, x->epoch, x->loss, x->loss_smoothed, x->lr, x->images_per_s,
                 1e3 * x->t_data, 1e3 * x->t_forward, 1e3 * x->t_backward, 1e3 * x->t_allreduce,
                 1e3 * x->t_update);
    }
    if (!m)
        return;
    FILE *f = m->metrics;
    fprintf(f, "{\"kind\":\"train\",\"iter\":%ld,", x->iter);
    fprintf(f, "\"time\":%.3f,", x->time); /* Unix seconds, ms resolution */
    json_num(f, "loss_smoothed", x->loss_smoothed, 0);
    json_num(f, "loss_raw", x->loss_raw, 0);
    json_num(f, "t_data_max", x->t_data_max, 0);
    json_num(f, "t_forward_max", x->t_forward_max, 0);
    json_num(f, "t_backward_max", x->t_backward_max, 0);
    json_num(f, "t_allreduce_max", x->t_allreduce_max, 0);
    json_num(f, "t_update_max", x->t_update_max, 0);
    json_num(f, "epoch", x->epoch, 0);
    json_num(f, "loss", x->loss, 0);
    json_num(f, "lr", x->lr, 0);
    json_num(f, "images_per_s", x->images_per_s, 0);
    if (!isnan(x->token_loss)) {
        json_num(f, "token_loss", x->token_loss, 0);
        json_num(f, "perplexity", x->perplexity, 0);
    }
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
    if (!isnan(x->token_loss))
        dlt_info("test   iter %7ld  per-token loss %.5f  perplexity %.4f", x->iter, x->token_loss,
                 x->perplexity);
    if (!m)
        return;
    FILE *f = m->metrics;
    fprintf(f, "{\"kind\":\"test\",\"iter\":%ld,", x->iter);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(f, "\"time\":%.3f,", ts.tv_sec + 1e-9 * ts.tv_nsec);
    json_num(f, "epoch", x->epoch, 0);
    json_num(f, "test_loss", x->test_loss, 0);
    if (!isnan(x->token_loss)) {
        json_num(f, "test_token_loss", x->token_loss, 0);
        json_num(f, "test_perplexity", x->perplexity, 0);
    }
    json_num(f, "test_top1", x->test_top1, x->test_top5 < 0);
    if (x->test_top5 >= 0)
        json_num(f, "test_top5", x->test_top5, 1);
    fputs("}\n", f);
    fflush(f);
    live_report(m, 0);
}

void dlt_monitor_device(dlt_monitor *m, long iter, int rank, const char *host, int gpu)
{
    if (!m)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(m->metrics, "{\"kind\":\"device\",\"iter\":%ld,\"time\":%.3f,\"rank\":%d,\"host\":\"", iter,
            ts.tv_sec + 1e-9 * ts.tv_nsec, rank);
    for (const char *p = host; *p; p++) /* host names are plain; keep the line JSON whatever */
        fputc(*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 ? '_' : *p, m->metrics);
    if (gpu >= 0)
        fprintf(m->metrics, "\",\"device\":\"gpu\",\"gpu\":%d}\n", gpu);
    else
        fputs("\",\"device\":\"cpu\"}\n", m->metrics);
    fflush(m->metrics);
}

int dlt_monitor_is_tty(const dlt_monitor *m) { return m && m->tty; }

/* Redraw at most 5 times a second: a terminal is slow, steps may be fast. */
void dlt_monitor_progress(dlt_monitor *m, const dlt_progress *p, int force)
{
    if (!m || !m->tty)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = ts.tv_sec + 1e-9 * ts.tv_nsec;
    if (!force && now - m->last_progress < 0.2)
        return;
    m->last_progress = now;
    dlt__progress_print(stdout, p);
}

int dlt_monitor_system(dlt_monitor *m, const dlt_sys_sample *x, int n)
{
    if (!m || n <= 0)
        return 0;
    if (!m->system && !(m->system = open_append(m->run_dir, "system.jsonl")))
        return DLT_ERR_IO;
    char line[4096];
    for (int i = 0; i < n; i++)
        if (dlt_sys_sample_json(&x[i], line, sizeof line) > 0)
            fprintf(m->system, "%s\n", line);
    fflush(m->system);
    return 0;
}
