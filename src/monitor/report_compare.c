/* report_compare.c - several runs on one page (hyper-parameter sweeps, the
 * scaling study): loss and accuracy overlaid against iterations, epochs and
 * wall time, a table of final figures, and the solver settings and command
 * lines that differ. Same style sheet and charts as the run page. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "dltrain/report.h"
#include "monitor/report_data.h"
#include "monitor/report_page.h"
#include "monitor/svg_chart.h"

enum { CHART_W = 660, CHART_H = 300, MAX_SETTINGS = 256 };

/* Minutes since the run's first metrics line, per point of T. */
static dlt__vec minutes(const dlt__vec *t, double t0)
{
    dlt__vec m = {0};
    for (int i = 0; i < t->n; i++)
        dlt__vec_push(&m, isfinite(t->v[i]) && isfinite(t0) ? (t->v[i] - t0) / 60 : NAN);
    return m;
}

static double first_time(const dlt__run_data *d)
{
    double t0 = NAN;
    for (int i = 0; i < d->time.n; i++)
        if (isfinite(d->time.v[i]) && !(d->time.v[i] >= t0))
            t0 = d->time.v[i];
    for (int i = 0; i < d->test_time.n; i++)
        if (isfinite(d->test_time.v[i]) && !(d->test_time.v[i] >= t0))
            t0 = d->test_time.v[i];
    return t0;
}

/* One chart with a series per run; X and Y pick each run's vectors. */
static void overlay(FILE *f, const char *title, const char *xlabel, const char *ylabel,
                    const char *const *labels, int n, const dlt__vec *const *x,
                    const dlt__vec *const *y, int markers)
{
    dlt__series *s = dlt_calloc((size_t)n, sizeof *s);
    for (int i = 0; i < n; i++) {
        dlt__series one = {labels[i], dlt__svg_color(i), x[i]->v, y[i]->v,
                           x[i]->n < y[i]->n ? x[i]->n : y[i]->n, 0, markers};
        s[i] = one;
    }
    dlt__chart c = {title, xlabel, ylabel, s, n, 0, 0, 0};
    dlt__svg_chart(f, &c, CHART_W, CHART_H);
    free(s);
}

static void charts(FILE *f, const char *const *labels, const dlt__run_data *d, int n)
{
    const dlt__vec **x = dlt_calloc((size_t)n, sizeof *x), **y = dlt_calloc((size_t)n, sizeof *y);
    const dlt__vec **tx = dlt_calloc((size_t)n, sizeof *tx), **ty = dlt_calloc((size_t)n, sizeof *ty);
    dlt__vec *wall = dlt_calloc((size_t)n, sizeof *wall), *twall = dlt_calloc((size_t)n, sizeof *twall);
    for (int i = 0; i < n; i++) {
        double t0 = first_time(&d[i]);
        wall[i] = minutes(&d[i].time, t0);
        twall[i] = minutes(&d[i].test_time, t0);
        y[i] = &d[i].loss_smoothed;
        ty[i] = &d[i].test_top1;
    }
    static const char *axis[3] = {"iteration", "epoch", "wall time (minutes)"};
    for (int a = 0; a < 3; a++) {
        for (int i = 0; i < n; i++) {
            x[i] = a == 0 ? &d[i].iter : a == 1 ? &d[i].epoch : &wall[i];
            tx[i] = a == 0 ? &d[i].test_iter : a == 1 ? &d[i].test_epoch : &twall[i];
        }
        char t1[96], t2[96];
        snprintf(t1, sizeof t1, "Train loss (smoothed) vs %s", axis[a]);
        snprintf(t2, sizeof t2, "Test top-1 vs %s", axis[a]);
        overlay(f, t1, axis[a], "loss", labels, n, x, y, 0);
        overlay(f, t2, axis[a], "accuracy", labels, n, tx, ty, 1);
    }
    for (int i = 0; i < n; i++)
        free(wall[i].v), free(twall[i].v);
    free(wall), free(twall), free(x), free(y), free(tx), free(ty);
}

static void cell_num(FILE *f, const char *fmt, double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    if (!isfinite(v))
        fputs("<td>-</td>", f);
    else
        fprintf(f, "<td>%s</td>", buf);
}

static double last(const dlt__vec *v)
{
    for (int i = v->n - 1; i >= 0; i--)
        if (isfinite(v->v[i]))
            return v->v[i];
    return NAN;
}

static void figures(FILE *f, const char *const *labels, const dlt__run_data *d, int n)
{
    fputs("<table class=\"summary\" id=\"figures\">\n<tr><th>run</th><th>network</th><th>state</th>"
          "<th>ranks</th><th>global batch</th><th>iterations</th><th>epochs</th>"
          "<th>train loss (smoothed)</th><th>last test loss</th><th>best top-1</th>"
          "<th>mean images/s</th><th>wall time (s)</th></tr>\n", f);
    for (int i = 0; i < n; i++) {
        long it;
        double ep, top1, ips;
        dlt__report_figures(&d[i], &it, &ep, &top1, &ips);
        fprintf(f, "<tr><td style=\"color:%s\">", dlt__svg_color(i));
        dlt__html(f, labels[i]);
        fputs("</td><td>", f);
        dlt__html(f, d[i].net_name[0] ? d[i].net_name : "?");
        fprintf(f, "</td><td class=\"state-%s\">%s</td><td>%d</td><td>%d</td><td>%ld</td>",
                dlt__run_state_name(d[i].state), dlt__run_state_name(d[i].state), d[i].world,
                d[i].global_batch, it);
        cell_num(f, "%.2f", ep);
        cell_num(f, "%.5f", last(&d[i].loss_smoothed));
        cell_num(f, "%.5f", last(&d[i].test_loss));
        cell_num(f, "%.4f", top1);
        cell_num(f, "%.1f", ips);
        double t0 = first_time(&d[i]), t1 = fmax(last(&d[i].time), last(&d[i].test_time));
        cell_num(f, "%.1f", d[i].done_seconds >= 0 ? d[i].done_seconds : t1 - t0);
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* Top-level "key: value" lines of a solver prototxt (comments dropped). */
typedef struct setting {
    char key[64], value[192];
} setting;

static int settings(const char *text, setting *out, int max)
{
    int n = 0;
    for (const char *p = text; p && *p && n < max;) {
        const char *nl = strchr(p, '\n');
        char line[256];
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), p);
        line[strcspn(line, "#")] = '\0';
        char *colon = strchr(line, ':');
        if (colon && line[0] != ' ' && line[0] != '\t') {
            *colon = '\0';
            char *v = colon + 1;
            v += strspn(v, " \t");
            size_t vl = strlen(v);
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t' || v[vl - 1] == '\r'))
                v[--vl] = '\0';
            snprintf(out[n].key, sizeof out[n].key, "%.63s", line);
            snprintf(out[n].value, sizeof out[n].value, "%.191s", v);
            n++;
        }
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

static const char *lookup(const setting *s, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s[i].key, key) == 0)
            return s[i].value;
    return NULL;
}

static void differences(FILE *f, const char *const *labels, const dlt__run_data *d, int n)
{
    setting **s = dlt_calloc((size_t)n, sizeof *s);
    int *ns = dlt_calloc((size_t)n, sizeof *ns), rows = 0;
    for (int i = 0; i < n; i++) {
        s[i] = dlt_calloc(MAX_SETTINGS, sizeof **s);
        ns[i] = settings(d[i].solver_text, s[i], MAX_SETTINGS);
    }
    fputs("<table class=\"summary\" id=\"differences\">\n<tr><th>setting</th>", f);
    for (int i = 0; i < n; i++) {
        fputs("<th>", f);
        dlt__html(f, labels[i]);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    /* Each key once, in the order the runs first name it. */
    for (int i = 0; i < n; i++)
        for (int k = 0; k < ns[i]; k++) {
            const char *key = s[i][k].key;
            int seen = 0, differ = 0;
            for (int j = 0; j < i && !seen; j++)
                seen = lookup(s[j], ns[j], key) != NULL;
            for (int j = 0; j < k && !seen; j++)
                seen = strcmp(s[i][j].key, key) == 0;
            if (seen)
                continue;
            const char *v0 = lookup(s[0], ns[0], key);
            for (int j = 1; j < n; j++) {
                const char *v = lookup(s[j], ns[j], key);
                differ |= !v0 || !v || strcmp(v0, v) != 0;
            }
            if (!differ)
                continue;
            fputs("<tr><th>", f);
            dlt__html(f, key);
            fputs("</th>", f);
            for (int j = 0; j < n; j++) {
                const char *v = lookup(s[j], ns[j], key);
                fputs("<td>", f);
                dlt__html(f, v ? v : "(not set)");
                fputs("</td>", f);
            }
            fputs("</tr>\n", f);
            rows++;
        }
    int cmd_differ = 0;
    for (int j = 1; j < n; j++)
        cmd_differ |= strcmp(d[0].command, d[j].command) != 0;
    if (cmd_differ) {
        fputs("<tr><th>command</th>", f);
        for (int j = 0; j < n; j++) {
            fputs("<td>", f);
            dlt__html(f, d[j].command[0] ? d[j].command : "?");
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
        rows++;
    }
    fputs("</table>\n", f);
    if (!rows)
        fputs("<p class=\"note\">The solvers and commands are the same.</p>\n", f);
    for (int i = 0; i < n; i++)
        free(s[i]);
    free(s), free(ns);
}

int dlt__report_compare_page(FILE *f, const char *const *labels, const dlt__run_data *d, int n)
{
    char title[512] = "dltrain comparison:";
    for (int i = 0; i < n; i++)
        snprintf(title + strlen(title), sizeof title - strlen(title), "%s%s", i ? ", " : " ", labels[i]);
    dlt__report_head(f, title, 0);
    fputs("<h1>", f);
    dlt__html(f, title);
    fputs("</h1>\n<h2>Final figures</h2>\n", f);
    figures(f, labels, d, n);
    fputs("<h2>Curves</h2>\n<div class=\"charts\">\n", f);
    charts(f, labels, d, n);
    fputs("</div>\n<h2>Solver settings and commands that differ</h2>\n", f);
    differences(f, labels, d, n);
    fputs("</body></html>\n", f);
    return ferror(f) ? -1 : 0;
}

typedef struct compare_arg {
    const char *const *labels;
    const dlt__run_data *d;
    int n;
} compare_arg;

static int put_compare(FILE *f, void *arg)
{
    const compare_arg *a = arg;
    return dlt__report_compare_page(f, a->labels, a->d, a->n);
}

int dlt_report_compare(const char *const *run_dirs, int n, const char *out_path)
{
    dlt__run_data *d = dlt_calloc((size_t)n, sizeof *d);
    const char **labels = dlt_calloc((size_t)n, sizeof *labels);
    int st = 0, read = 0;
    for (; read < n && st == 0; read++) {
        st = dlt__report_read(run_dirs[read], &d[read]);
        /* The directory's last component names the run, unless two share it. */
        const char *slash = strrchr(run_dirs[read], '/');
        labels[read] = slash && slash[1] ? slash + 1 : run_dirs[read];
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (i != j && strcmp(labels[i], labels[j]) == 0)
                labels[i] = run_dirs[i];
    if (st == 0) {
        compare_arg a = {labels, d, n};
        st = dlt__write_atomic(out_path, put_compare, &a);
    }
    for (int i = 0; i < read; i++)
        dlt__report_data_free(&d[i]);
    free(d);
    free(labels);
    return st;
}
