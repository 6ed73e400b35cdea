/* report.c - dltrain-report's page: a summary table and the charts DIGITS
 * users know (loss, accuracy, learning rate), throughput, the step time
 * split, per-rank CPU/memory/network/GPU over time and the log's last
 * lines. One HTML file with inline CSS and SVG: no scripts, no network.
 * The same markup is the live RUN/report.html and the served run page. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dltrain/error.h"
#include "dltrain/report.h"
#include "monitor/report_data.h"
#include "monitor/report_page.h"
#include "monitor/svg_chart.h"

enum { CHART_W = 660, CHART_H = 300, MAX_RANK_SERIES = 16 };

void dlt__html(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static double best(const dlt__vec *v, const dlt__vec *at, double *where)
{
    double b = NAN;
    for (int i = 0; i < v->n; i++)
        if (isfinite(v->v[i]) && !(v->v[i] <= b)) {
            b = v->v[i];
            *where = at->v[i];
        }
    return b;
}

static void duration(double s, char *buf, size_t size)
{
    if (!(s >= 0))
        snprintf(buf, size, "-");
    else if (s >= 3600)
        snprintf(buf, size, "%.0f h %02.0f min", floor(s / 3600), fmod(floor(s / 60), 60));
    else if (s >= 60)
        snprintf(buf, size, "%.0f min %02.0f s", floor(s / 60), fmod(floor(s), 60));
    else
        snprintf(buf, size, "%.1f s", s);
}

static void row(FILE *f, const char *key, const char *value)
{
    fprintf(f, "<tr><th>%s</th><td>", key);
    dlt__html(f, value);
    fputs("</td></tr>\n", f);
}

static void summary(FILE *f, const char *run_dir, const dlt__run_data *d)
{
    char buf[512], a[64], b[64];
    fputs("<table class=\"summary\">\n", f);
    row(f, "network", d->net_name[0] ? d->net_name : "?");
    row(f, "run directory", run_dir);
    double first = NAN, last = NAN;
    for (int i = 0; i < d->time.n; i++)
        if (isfinite(d->time.v[i]))
            first = isfinite(first) ? first : d->time.v[i], last = d->time.v[i];
    for (int i = 0; i < d->test_time.n; i++)
        if (isfinite(d->test_time.v[i])) {
            first = isfinite(first) ? fmin(first, d->test_time.v[i]) : d->test_time.v[i];
            last = isfinite(last) ? fmax(last, d->test_time.v[i]) : d->test_time.v[i];
        }
    if (d->state == DLT__RUN_ENDED) {
        snprintf(buf, sizeof buf, "finished");
    } else {
        duration(isfinite(last) ? (double)time(NULL) - last : -1, a, sizeof a);
        snprintf(buf, sizeof buf, "%s (last metrics %s ago)",
                 d->state == DLT__RUN_RUNNING ? "in progress" : dlt__run_state_name(d->state), a);
    }
    fprintf(f, "<tr><th>status</th><td class=\"state-%s\">", dlt__run_state_name(d->state));
    dlt__html(f, buf);
    fputs("</td></tr>\n", f);
    if (isfinite(d->start_time)) {
        time_t t0 = (time_t)d->start_time;
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", localtime(&t0));
        row(f, "started", buf);
    }
    snprintf(buf, sizeof buf, "%d", d->world);
    row(f, "ranks", d->world > 0 ? buf : "?");
    snprintf(buf, sizeof buf, "%d (%d ranks x batch_size %d)", d->global_batch, d->world,
             d->batch_size);
    row(f, "global batch", d->global_batch > 0 ? buf : "?");
    long it = d->iter.n ? (long)d->iter.v[d->iter.n - 1] : 0;
    double ep = d->epoch.n ? d->epoch.v[d->epoch.n - 1] : 0;
    if (d->max_iter > 0)
        snprintf(buf, sizeof buf, "%ld of %ld (epoch %.2f)", it, d->max_iter, ep);
    else
        snprintf(buf, sizeof buf, "%ld (epoch %.2f)", it, ep);
    row(f, "iterations", buf);
    double w1 = 0, w5 = 0, b1 = best(&d->test_top1, &d->test_iter, &w1);
    double b5 = best(&d->test_top5, &d->test_iter, &w5);
    snprintf(buf, sizeof buf, isfinite(b1) ? "top-1 %.4f (iter %.0f)" : "-", b1, w1);
    if (isfinite(b5))
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), ", top-5 %.4f (iter %.0f)", b5, w5);
    row(f, "best test accuracy", buf);
    if (d->test_loss.n)
        snprintf(buf, sizeof buf, "%.5f (iter %.0f)", d->test_loss.v[d->test_loss.n - 1],
                 d->test_iter.v[d->test_iter.n - 1]);
    row(f, "last test loss", d->test_loss.n ? buf : "-");
    if (d->caption && d->test_perplexity.n) {
        snprintf(buf, sizeof buf, "%.4f (per-token loss %.5f, iter %.0f)",
                 d->test_perplexity.v[d->test_perplexity.n - 1],
                 d->test_token_loss.v[d->test_token_loss.n - 1], d->test_iter.v[d->test_iter.n - 1]);
        row(f, "last test perplexity", buf);
    }
    duration(d->done_seconds >= 0 ? d->done_seconds : (isfinite(last) ? last - first : -1), a,
             sizeof a);
    snprintf(buf, sizeof buf, "%s%s", a, d->done_seconds >= 0 ? " (training loop)" : " so far");
    row(f, "wall time", buf);
    double ips = 0;
    int nips = 0;
    for (int i = 0; i < d->images_per_s.n; i++)
        if (isfinite(d->images_per_s.v[i]))
            ips += d->images_per_s.v[i], nips++;
    snprintf(buf, sizeof buf, "%.1f", nips ? ips / nips : 0);
    row(f, "mean images/s", nips ? buf : "-");
    fputs("<tr><th>checkpoints</th><td>", f);
    for (int i = 0; i < d->nckpt; i++) {
        snprintf(b, sizeof b, " (%.1f MB)", d->ckpt_bytes[i] / 1e6);
        dlt__html(f, d->ckpt_names[i]);
        fprintf(f, "%s%s", d->ckpt_bytes[i] >= 0 ? b : "", i + 1 < d->nckpt ? "<br>" : "");
    }
    fputs(d->nckpt ? "</td></tr>\n" : "none yet</td></tr>\n", f);
    row(f, "command", d->command[0] ? d->command : "?");
    fputs("</table>\n", f);
}

static dlt__series line(const char *name, int color, const dlt__vec *x, const dlt__vec *y)
{
    dlt__series s = {name, dlt__svg_color(color), x->v, y->v, x->n < y->n ? x->n : y->n, 0, 0};
    return s;
}

static void training_charts(FILE *f, const dlt__run_data *d)
{
    dlt__series s[DLT__PHASES + 1];
    s[0] = line("train loss (interval mean)", 0, &d->iter, &d->loss);
    s[1] = line("train loss (smoothed)", 8, &d->iter, &d->loss_smoothed);
    s[1].dashed = 1;
    s[2] = line("test loss", 1, &d->test_iter, &d->test_loss);
    s[2].markers = 1;
    dlt__chart c = {"Loss", "iteration", "loss", s, 3, 0, 1, 0};
    dlt__svg_chart(f, &c, CHART_W, CHART_H);
    s[0] = line("test top-1", 2, &d->test_iter, &d->test_top1);
    s[1] = line("test top-5", 3, &d->test_iter, &d->test_top5);
    s[0].markers = s[1].markers = 1;
    dlt__chart acc = {"Test accuracy", "iteration", "accuracy", s, 2, 0, 0, 0};
    dlt__svg_chart(f, &acc, CHART_W, CHART_H);
    if (d->caption) { /* caption nets: exp(per-token loss), train and test */
        s[0] = line("train perplexity (interval)", 0, &d->iter, &d->perplexity);
        s[1] = line("test perplexity", 1, &d->test_iter, &d->test_perplexity);
        s[1].markers = 1;
        dlt__chart ppl = {"Perplexity (per-token loss, exp)", "iteration", "perplexity", s, 2, 0, 0, 0};
        dlt__svg_chart(f, &ppl, CHART_W, CHART_H);
    }
    s[0] = line("learning rate", 4, &d->iter, &d->lr);
    dlt__chart lr = {"Learning rate", "iteration", "lr", s, 1, 0, 1, 0};
    dlt__svg_chart(f, &lr, CHART_W, CHART_H);
    s[0] = line("images/s (all ranks)", 0, &d->iter, &d->images_per_s);
    dlt__chart ips = {"Throughput", "iteration", "images/s", s, 1, 0, 1, 0};
    dlt__svg_chart(f, &ips, CHART_W, CHART_H);
    static const char *names[DLT__PHASES] = {"data wait", "forward", "backward", "allreduce",
                                             "update"};
    for (int k = 0; k < DLT__PHASES; k++)
        s[k] = line(names[k], k, &d->iter, &d->t[k]);
    dlt__chart split = {"Step time split (mean over ranks, stacked)", "iteration", "ms per step", s,
                        DLT__PHASES, 1, 1, 1e3};
    dlt__svg_chart(f, &split, CHART_W, CHART_H);
    for (int k = 0; k < DLT__PHASES; k++)
        s[k] = line(names[k], k, &d->iter, &d->t_max[k]);
    dlt__chart mx = {"Step time per phase, slowest rank", "iteration", "ms per step", s, DLT__PHASES,
                     0, 1, 1e3};
    dlt__svg_chart(f, &mx, CHART_W, CHART_H);
}

/* One series per rank (and per GPU), at most MAX_RANK_SERIES. */
static void rank_chart(FILE *f, const dlt__run_data *d, const char *title, const char *ylabel,
                       size_t field, int gpu_field)
{
    dlt__series s[MAX_RANK_SERIES];
    char names[MAX_RANK_SERIES][80];
    int n = 0;
    for (int i = 0; i < d->nranks && n < MAX_RANK_SERIES; i++) {
        const dlt__rank_series *r = &d->ranks[i];
        if (!gpu_field) {
            snprintf(names[n], sizeof names[n], "rank %d (%s)", r->rank, r->host);
            s[n] = line(names[n], n, &r->t, (const dlt__vec *)((const char *)r + field));
            n++;
            continue;
        }
        for (int g = 0; g < DLT_SYS_MAX_GPUS && n < MAX_RANK_SERIES; g++) {
            const dlt__vec *y = (const dlt__vec *)((const char *)r + field) + g;
            if (r->gpu_t[g].n == 0)
                continue;
            snprintf(names[n], sizeof names[n], "%s GPU %d", r->host, g);
            s[n] = line(names[n], n, &r->gpu_t[g], y);
            n++;
        }
    }
    dlt__chart c = {title, "seconds since the first sample", ylabel, s, n, 0, 1, 0};
    dlt__svg_chart(f, &c, CHART_W, CHART_H);
}

static void system_charts(FILE *f, const dlt__run_data *d)
{
    if (!d->have_system) {
        fputs("<p class=\"note\">No system.jsonl in this run directory (sampling was off, or the "
              "first sample has not been written yet).</p>\n", f);
        return;
    }
    rank_chart(f, d, "CPU per rank", "% of one core", offsetof(dlt__rank_series, cpu), 0);
    rank_chart(f, d, "Resident memory per rank", "MB", offsetof(dlt__rank_series, rss), 0);
    rank_chart(f, d, "Network per rank (rx + tx, all interfaces but lo)", "MB/s",
               offsetof(dlt__rank_series, net), 0);
    rank_chart(f, d, "Disk reads per rank", "MB/s", offsetof(dlt__rank_series, disk), 0);
    int gpus = 0;
    for (int i = 0; i < d->nranks; i++)
        for (int g = 0; g < DLT_SYS_MAX_GPUS; g++)
            gpus += d->ranks[i].gpu_t[g].n;
    if (gpus) {
        rank_chart(f, d, "GPU utilization", "%", offsetof(dlt__rank_series, gpu_util), 1);
        rank_chart(f, d, "GPU memory used", "GB", offsetof(dlt__rank_series, gpu_mem), 1);
    } else {
        fputs("<p class=\"note\">No GPU samples (NVML not available on these hosts).</p>\n", f);
    }
}

static const char *css =
    "body{font-family:sans-serif;margin:24px;color:#222;background:#f4f5f7}"
    "h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
    ".summary{border-collapse:collapse;background:#fff}"
    ".summary th{text-align:left;padding:4px 14px 4px 8px;background:#eef0f3;font-weight:600}"
    ".summary td{padding:4px 8px;font-family:monospace}"
    ".summary tr{border-bottom:1px solid #dde}"
    ".charts{display:flex;flex-wrap:wrap;gap:12px}"
    ".chart{background:#fff;border:1px solid #dde}"
    ".chart .title{font-size:14px;font-weight:600}.chart .tick{font-size:11px;fill:#444}"
    ".chart .label{font-size:12px;fill:#333}.chart .legend{font-size:11px;fill:#222}"
    ".note{color:#666}"
    ".log{background:#fff;border:1px solid #dde;padding:8px;font-size:12px;overflow-x:auto}"
    ".state-running{color:#1f77b4;font-weight:600}.state-ended{color:#2ca02c;font-weight:600}"
    ".state-failed{color:#d62728;font-weight:600}.state-preempted{color:#ff7f0e;font-weight:600}";

void dlt__report_head(FILE *f, const char *title, int refresh_s)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n", f);
    if (refresh_s > 0) /* a live file reloads itself; no script needed */
        fprintf(f, "<meta http-equiv=\"refresh\" content=\"%d\">\n", refresh_s);
    fputs("<title>", f);
    dlt__html(f, title);
    fprintf(f, "</title>\n<style>%s</style></head><body>\n", css);
}

void dlt__report_body(FILE *f, const char *run_dir, const dlt__run_data *d)
{
    summary(f, run_dir, d);
    if (d->bad_lines)
        fprintf(f, "<p class=\"note\">%d line(s) of metrics.jsonl/system.jsonl did not parse and were "
                   "skipped.</p>\n", d->bad_lines);
    fputs("<h2>Training</h2>\n<div class=\"charts\">\n", f);
    training_charts(f, d);
    fputs("</div>\n<h2>System</h2>\n<div class=\"charts\">\n", f);
    system_charts(f, d);
    fputs("</div>\n", f);
    if (d->log_tail) {
        fprintf(f, "<h2>Log (last %d lines of log.txt)</h2>\n<pre class=\"log\">", DLT__LOG_TAIL_LINES);
        dlt__html(f, d->log_tail);
        fputs("</pre>\n", f);
    }
}

int dlt__report_page(FILE *f, const char *run_dir, const dlt__run_data *d, int refresh_s,
                     const char *script)
{
    char when[64], title[300];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&now));
    snprintf(title, sizeof title, "dltrain report: %s", d->net_name[0] ? d->net_name : run_dir);
    int live = d->state == DLT__RUN_RUNNING;
    dlt__report_head(f, title, live ? refresh_s : 0);
    fputs("<h1>", f);
    dlt__html(f, title);
    fprintf(f, "</h1>\n<p class=\"note\" id=\"generated\">generated %s by dltrain-report", when);
    if (live && refresh_s > 0)
        fprintf(f, "; the run is live: this page reloads itself every %d s", refresh_s);
    fputs("</p>\n<div id=\"report\">\n", f);
    dlt__report_body(f, run_dir, d);
    fputs("</div>\n", f);
    if (script)
        fprintf(f, "<script>%s</script>\n", script);
    fputs("</body></html>\n", f);
    return ferror(f) ? -1 : 0;
}

int dlt__write_atomic(const char *path, int (*put)(FILE *, void *), void *arg)
{
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
    int st = put(f, arg);
    /* rename() is atomic: a browser or a copy never sees half a page. */
    if (fclose(f) != 0 || st < 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        DLT_FAIL(DLT_ERR_IO, "cannot write '%s': %s", path, strerror(e));
    }
    return 0;
}

typedef struct page_arg {
    const char *run_dir;
    const dlt__run_data *d;
} page_arg;

static int write_run_page(FILE *f, void *arg)
{
    const page_arg *a = arg;
    return dlt__report_page(f, a->run_dir, a->d, DLT_REPORT_REFRESH_S, NULL);
}

int dlt_report_write(const char *run_dir, const char *out_path)
{
    return dlt__report_write_over(run_dir, out_path, 0);
}

int dlt__report_write_over(const char *run_dir, const char *out_path, int over)
{
    dlt__run_data d;
    DLT_TRY(dlt__report_read_over(run_dir, over, &d));
    char path[4200];
    if (out_path)
        snprintf(path, sizeof path, "%s", out_path);
    else
        snprintf(path, sizeof path, "%s/report.html", run_dir);
    page_arg a = {run_dir, &d};
    int st = dlt__write_atomic(path, write_run_page, &a);
    dlt__report_data_free(&d);
    return st;
}
