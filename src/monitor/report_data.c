/* report_data.c - reads a run directory for the report: metrics.jsonl and
 * system.jsonl line by line (a torn last line is skipped), the start
 * summary and "done" line of log.txt, the net name, the command line and
 * the checkpoint files, and the run's state (running, ended, failed,
 * preempted) from log.txt and RUN/lock. Missing optional files leave
 * fields empty. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dltrain/error.h"
#include "monitor/json.h"
#include "monitor/report_data.h"

/* train/run_lock.h's DLT_RUN_LOCK_STALE_S: a heartbeat older than this is dead. */
enum { DLT__LOCK_STALE_S = 600 };

void dlt__vec_push(dlt__vec *a, double x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 64;
        a->v = dlt_realloc(a->v, (size_t)a->cap * sizeof(double));
    }
    a->v[a->n++] = x;
}

static void vec_free(dlt__vec *a) { free(a->v); }

/* The whole file as a string, or NULL when it cannot be read. */
static char *slurp(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *s = dlt_malloc(cap);
    size_t k;
    while ((k = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n + 1 == cap)
            s = dlt_realloc(s, cap *= 2);
    }
    fclose(f);
    s[n] = '\0';
    return s;
}

static const char *phase_names[DLT__PHASES] = {"t_data", "t_forward", "t_backward", "t_allreduce",
                                               "t_update"};

static void take_metrics(dlt__run_data *d, const dlt__json *o)
{
    const char *kind = dlt__json_str(o, "kind");
    if (kind && strcmp(kind, "train") == 0) {
        dlt__vec_push(&d->iter, dlt__json_num(o, "iter"));
        dlt__vec_push(&d->epoch, dlt__json_num(o, "epoch"));
        dlt__vec_push(&d->loss, dlt__json_num(o, "loss"));
        dlt__vec_push(&d->loss_smoothed, dlt__json_num(o, "loss_smoothed"));
        dlt__vec_push(&d->lr, dlt__json_num(o, "lr"));
        dlt__vec_push(&d->images_per_s, dlt__json_num(o, "images_per_s"));
        dlt__vec_push(&d->time, dlt__json_num(o, "time"));
        dlt__vec_push(&d->token_loss, dlt__json_num(o, "token_loss"));
        dlt__vec_push(&d->perplexity, dlt__json_num(o, "perplexity"));
        d->caption |= isfinite(d->perplexity.v[d->perplexity.n - 1]);
        for (int k = 0; k < DLT__PHASES; k++) {
            char key[32];
            snprintf(key, sizeof key, "%s_max", phase_names[k]);
            dlt__vec_push(&d->t[k], dlt__json_num(o, phase_names[k]));
            dlt__vec_push(&d->t_max[k], dlt__json_num(o, key));
        }
    } else if (kind && strcmp(kind, "test") == 0) {
        dlt__vec_push(&d->test_iter, dlt__json_num(o, "iter"));
        dlt__vec_push(&d->test_epoch, dlt__json_num(o, "epoch"));
        dlt__vec_push(&d->test_loss, dlt__json_num(o, "test_loss"));
        dlt__vec_push(&d->test_top1, dlt__json_num(o, "test_top1"));
        dlt__vec_push(&d->test_top5, dlt__json_num(o, "test_top5"));
        dlt__vec_push(&d->test_time, dlt__json_num(o, "time"));
        dlt__vec_push(&d->test_token_loss, dlt__json_num(o, "test_token_loss"));
        dlt__vec_push(&d->test_perplexity, dlt__json_num(o, "test_perplexity"));
        d->caption |= isfinite(d->test_perplexity.v[d->test_perplexity.n - 1]);
    }
}

static dlt__rank_series *rank_series(dlt__run_data *d, int rank, const char *host)
{
    for (int i = 0; i < d->nranks; i++)
        if (d->ranks[i].rank == rank)
            return &d->ranks[i];
    d->ranks = dlt_realloc(d->ranks, (size_t)(d->nranks + 1) * sizeof *d->ranks);
    dlt__rank_series *r = &d->ranks[d->nranks++];
    memset(r, 0, sizeof *r);
    r->rank = rank;
    snprintf(r->host, sizeof r->host, "%s", host ? host : "");
    return r;
}

static double or_nan(double v, double scale) { return isfinite(v) ? v * scale : NAN; }

static void take_system(dlt__run_data *d, const dlt__json *o)
{
    const char *kind = dlt__json_str(o, "kind");
    double time = dlt__json_num(o, "time"), rank = dlt__json_num(o, "rank");
    if (!kind || strcmp(kind, "system") != 0 || !isfinite(time) || !isfinite(rank))
        return;
    if (!d->have_system || time < d->sys_t0)
        d->sys_t0 = d->have_system ? fmin(d->sys_t0, time) : time;
    d->have_system = 1;
    dlt__rank_series *r = rank_series(d, (int)rank, dlt__json_str(o, "host"));
    dlt__vec_push(&r->t, time);
    dlt__vec_push(&r->cpu, dlt__json_num(o, "cpu_pct"));
    dlt__vec_push(&r->rss, or_nan(dlt__json_num(o, "rss_bytes"), 1e-6));
    double rx = dlt__json_num(o, "net_rx_bytes_s"), tx = dlt__json_num(o, "net_tx_bytes_s");
    dlt__vec_push(&r->net, isfinite(rx) || isfinite(tx)
                               ? ((isfinite(rx) ? rx : 0) + (isfinite(tx) ? tx : 0)) * 1e-6 : NAN);
    dlt__vec_push(&r->disk, or_nan(dlt__json_num(o, "disk_read_bytes_s"), 1e-6));
    const dlt__json *gpus = dlt__json_get(o, "gpus");
    for (int i = 0; gpus && gpus->type == DLT__J_ARR && i < gpus->n; i++) {
        double idx = dlt__json_num(&gpus->items[i], "index");
        if (!isfinite(idx) || idx < 0 || idx >= DLT_SYS_MAX_GPUS)
            continue;
        int g = (int)idx;
        dlt__vec_push(&r->gpu_t[g], time);
        dlt__vec_push(&r->gpu_util[g], dlt__json_num(&gpus->items[i], "util_pct"));
        dlt__vec_push(&r->gpu_mem[g], or_nan(dlt__json_num(&gpus->items[i], "mem_used_bytes"), 1e-9));
    }
}

/* Parse each line; a line that does not parse is counted unless it is the
 * last one without a newline (still being written). */
static void read_lines(dlt__run_data *d, char *text, void (*take)(dlt__run_data *, const dlt__json *))
{
    char *line = text;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strspn(line, " \t\r") != strlen(line)) {
            dlt__json *o = dlt__json_parse(line);
            if (o)
                take(d, o);
            else if (nl)
                d->bad_lines++;
            dlt__json_free(o);
        }
        line = nl ? nl + 1 : NULL;
    }
}

static void read_log(dlt__run_data *d, const char *log)
{
    const char *p = log ? strstr(log, "global batch ") : NULL;
    if (p)
        sscanf(p, "global batch %d = %d ranks x batch_size %d", &d->global_batch, &d->world,
               &d->batch_size);
    p = log ? strstr(log, "; max_iter ") : NULL;
    if (p)
        sscanf(p, "; max_iter %ld", &d->max_iter);
    /* The last "done:" line: a resumed run appends a second one. */
    for (p = log; p && (p = strstr(p, "\ndone: ")) != NULL; p++) {
        long iters;
        sscanf(p, "\ndone: %ld iterations in %lf s", &iters, &d->done_seconds);
    }
}

/* Is RUN/lock held by a live trainer? The lock's format and staleness
 * rules are train/run_lock.c's: on this host its PID must be alive; on
 * another, the heartbeat (the file's date) must be recent. Only read here. */
static int lock_live(const char *run_dir, double *started)
{
    char path[4200], line[512], host[256] = "", me[256] = "";
    long pid = 0;
    snprintf(path, sizeof path, "%s/lock", run_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    struct stat sb;
    double age = fstat(fileno(f), &sb) == 0 ? difftime(time(NULL), sb.st_mtime) : 1e9;
    while (fgets(line, sizeof line, f)) {
        double t;
        if (sscanf(line, "host %255s", host) == 1 || sscanf(line, "pid %ld", &pid) == 1)
            continue;
        if (sscanf(line, "started %lf", &t) == 1)
            *started = t;
    }
    fclose(f);
    gethostname(me, sizeof me - 1);
    if (pid > 0 && strcmp(host, me) == 0)
        return kill((pid_t)pid, 0) == 0 || errno == EPERM;
    return age < DLT__LOCK_STALE_S;
}

static int starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* The state from the last start's lines of log.txt (a resumed run appends
 * a new start), then the lock for a run without a final line. */
static void read_state(dlt__run_data *d, const char *run_dir, const char *log)
{
    const char *seg = log;
    for (const char *p = log; p && *p;) {
        const char *nl = strchr(p, '\n'), *net = strstr(p, ": net '");
        if (starts_with(p, "dltrain ") && net && (!nl || net < nl))
            seg = p;
        p = nl ? nl + 1 : NULL;
    }
    int done = 0, stopped = 0, failed = 0;
    for (const char *p = seg; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), p);
        if (starts_with(line, "done: "))
            done = 1;
        else if (starts_with(line, "stopped by "))
            stopped = 1;
        else if (starts_with(line, "dltrain") && strstr(line, ": fatal: "))
            failed = 1; /* error: lines may be recovered from; a run that stops on one releases its lock */
        p = nl ? nl + 1 : NULL;
    }
    double started = NAN;
    int live = lock_live(run_dir, &started);
    d->start_time = started;
    if (failed)
        d->state = DLT__RUN_FAILED;
    else if (done)
        d->state = DLT__RUN_ENDED;
    else if (stopped)
        d->state = DLT__RUN_PREEMPTED;
    else
        d->state = live && !d->over ? DLT__RUN_RUNNING : DLT__RUN_FAILED;
}

/* The last DLT__LOG_TAIL_LINES lines. */
static char *tail(const char *log)
{
    if (!log)
        return NULL;
    const char *p = log + strlen(log);
    if (p > log && p[-1] == '\n')
        p--;
    for (int lines = 0; p > log; p--)
        if (p[-1] == '\n' && ++lines == DLT__LOG_TAIL_LINES)
            break;
    return dlt_strdup(p);
}

static void read_net_name(dlt__run_data *d, const char *net)
{
    for (const char *p = net; p && *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, "name:", 5) == 0) {
            sscanf(p + 5, " \"%127[^\"]\"", d->net_name);
            return;
        }
        if (*p == 'l') /* "layer {": the net's name comes before any layer */
            return;
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
}

static int by_name(const void *a, const void *b) { return strcmp(a, b); }

static void read_checkpoints(dlt__run_data *d, const char *run_dir)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/checkpoints", run_dir);
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 4 || n >= 256 || strcmp(e->d_name + n - 3, ".h5") != 0)
            continue;
        d->ckpt_names = dlt_realloc(d->ckpt_names, (size_t)(d->nckpt + 1) * sizeof *d->ckpt_names);
        snprintf(d->ckpt_names[d->nckpt++], 256, "%s", e->d_name);
    }
    closedir(dp);
    if (d->nckpt > 1) /* qsort(NULL, 0, ...) is undefined */
        qsort(d->ckpt_names, (size_t)d->nckpt, sizeof *d->ckpt_names, by_name);
    d->ckpt_bytes = dlt_calloc((size_t)d->nckpt + 1, sizeof(double));
    for (int i = 0; i < d->nckpt; i++) {
        char path[4500];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, d->ckpt_names[i]);
        d->ckpt_bytes[i] = stat(path, &st) == 0 ? (double)st.st_size : -1;
    }
}

int dlt__report_read(const char *run_dir, dlt__run_data *d)
{
    return dlt__report_read_over(run_dir, 0, d);
}

int dlt__report_read_over(const char *run_dir, int over, dlt__run_data *d)
{
    memset(d, 0, sizeof *d);
    d->over = over;
    d->done_seconds = -1;
    char *metrics = slurp(run_dir, "metrics.jsonl");
    if (!metrics)
        DLT_FAIL(DLT_ERR_IO, "%s/metrics.jsonl cannot be read: is '%s' a dltrain run directory?",
                 run_dir, run_dir);
    read_lines(d, metrics, take_metrics);
    free(metrics);
    char *system = slurp(run_dir, "system.jsonl");
    if (system)
        read_lines(d, system, take_system);
    free(system);
    for (int i = 0; i < d->nranks; i++) {
        dlt__rank_series *r = &d->ranks[i];
        for (int k = 0; k < r->t.n; k++)
            r->t.v[k] -= d->sys_t0;
        for (int g = 0; g < DLT_SYS_MAX_GPUS; g++)
            for (int k = 0; k < r->gpu_t[g].n; k++)
                r->gpu_t[g].v[k] -= d->sys_t0;
    }
    char *log = slurp(run_dir, "log.txt");
    read_log(d, log);
    read_state(d, run_dir, log);
    d->log_tail = tail(log);
    free(log);
    if (!isfinite(d->start_time))
        d->start_time = d->time.n ? d->time.v[0] : (d->test_time.n ? d->test_time.v[0] : NAN);
    d->solver_text = slurp(run_dir, "config/solver.prototxt");
    char *net = slurp(run_dir, "config/net.prototxt");
    read_net_name(d, net);
    free(net);
    char *cmd = slurp(run_dir, "config/command.txt");
    if (cmd) {
        cmd[strcspn(cmd, "\n")] = '\0';
        snprintf(d->command, sizeof d->command, "%s", cmd);
    }
    free(cmd);
    read_checkpoints(d, run_dir);
    return 0;
}

void dlt__report_data_free(dlt__run_data *d)
{
    dlt__vec *all[] = {&d->iter, &d->epoch, &d->loss, &d->loss_smoothed, &d->lr, &d->images_per_s,
                       &d->time, &d->test_iter, &d->test_epoch, &d->test_loss, &d->test_top1, &d->test_top5,
                       &d->test_time, &d->token_loss, &d->perplexity, &d->test_token_loss,
                       &d->test_perplexity};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        vec_free(all[i]);
    for (int k = 0; k < DLT__PHASES; k++)
        vec_free(&d->t[k]), vec_free(&d->t_max[k]);
    for (int i = 0; i < d->nranks; i++) {
        dlt__rank_series *r = &d->ranks[i];
        vec_free(&r->t), vec_free(&r->cpu), vec_free(&r->rss), vec_free(&r->net), vec_free(&r->disk);
        for (int g = 0; g < DLT_SYS_MAX_GPUS; g++)
            vec_free(&r->gpu_t[g]), vec_free(&r->gpu_util[g]), vec_free(&r->gpu_mem[g]);
    }
    free(d->ranks);
    free(d->ckpt_names);
    free(d->ckpt_bytes);
    free(d->log_tail);
    free(d->solver_text);
}

const char *dlt__run_state_name(dlt__run_state s)
{
    static const char *names[] = {"running", "ended", "failed", "preempted"};
    return names[s];
}

void dlt__report_figures(const dlt__run_data *d, long *iter, double *epoch, double *best_top1,
                         double *images_per_s)
{
    *iter = d->iter.n ? (long)d->iter.v[d->iter.n - 1] : 0;
    if (d->test_iter.n && d->test_iter.v[d->test_iter.n - 1] > *iter)
        *iter = (long)d->test_iter.v[d->test_iter.n - 1];
    *epoch = d->epoch.n ? d->epoch.v[d->epoch.n - 1] : 0;
    *best_top1 = NAN;
    for (int i = 0; i < d->test_top1.n; i++)
        if (isfinite(d->test_top1.v[i]) && !(d->test_top1.v[i] <= *best_top1))
            *best_top1 = d->test_top1.v[i];
    double sum = 0;
    int n = 0;
    for (int i = 0; i < d->images_per_s.n; i++)
        if (isfinite(d->images_per_s.v[i]))
            sum += d->images_per_s.v[i], n++;
    *images_per_s = n ? sum / n : NAN;
}
