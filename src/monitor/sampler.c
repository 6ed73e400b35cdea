/* sampler.c - the system sampler: a thread per rank reading /proc (and
 * NVML) every interval into a small ring. It never calls MPI (the comm is
 * MPI_THREAD_FUNNELED): the training thread takes the samples with
 * dlt_sampler_since and rank 0 writes them to system.jsonl. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dltrain/error.h"
#include "dltrain/sysmon.h"
#include "monitor/nvml.h"

/* Cumulative counters; rates are differences between two readings. */
typedef struct counters {
    double mono;        /* CLOCK_MONOTONIC seconds */
    double cpu_s;       /* process user + system time */
    double rx, tx;      /* bytes, all interfaces but lo */
    double disk_read;   /* bytes; < 0 unreadable */
} counters;

struct dlt_sampler {
    double interval;
    int rank;
    char host[64];
    dlt__nvml *nvml;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t sampled; /* signalled after each sample */
    int stop;
    int now;                /* a sample is wanted before the interval ends */
    long seq;
    dlt_sys_sample ring[DLT_SYS_RING]; /* ring[seq % DLT_SYS_RING] is sample seq */
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* utime and stime are fields 14 and 15 of /proc/self/stat, after the
 * parenthesized command name (which may itself hold spaces). */
static double read_cpu_s(void)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double read_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size, resident;
    int ok = f && fscanf(f, "%ld %ld", &size, &resident) == 2;
    if (f)
        fclose(f);
    return ok ? (double)resident * (double)sysconf(_SC_PAGESIZE) : -1;
}

static void read_net(double *rx, double *tx)
{
    *rx = *tx = -1;
    FILE *f = fopen("/proc/net/dev", "r");
    if (!f)
        return;
    char line[512];
    double r = 0, t = 0;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue; /* the two header lines */
        *colon = '\0';
        char name[64];
        if (sscanf(line, "%63s", name) != 1 || strcmp(name, "lo") == 0)
            continue;
        unsigned long long rb, tb;
        if (sscanf(colon + 1, "%llu %*u %*u %*u %*u %*u %*u %*u %llu", &rb, &tb) == 2)
            r += (double)rb, t += (double)tb;
    }
    fclose(f);
    *rx = r, *tx = t;
}

static double read_disk_read(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    if (!f)
        return -1; /* absent without CONFIG_TASK_IO_ACCOUNTING, or not permitted */
    char line[128];
    double v = -1;
    unsigned long long b;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "read_bytes: %llu", &b) == 1)
            v = (double)b;
    fclose(f);
    return v;
}

static void read_counters(counters *c)
{
    c->mono = mono_s();
    c->cpu_s = read_cpu_s();
    read_net(&c->rx, &c->tx);
    c->disk_read = read_disk_read();
}

static double rate(double now, double before, double dt)
{
    return now < 0 || before < 0 || dt <= 0 ? -1 : (now - before) / dt;
}

static void take_sample(dlt_sampler *s, const counters *prev, const counters *cur)
{
    dlt_sys_sample x;
    memset(&x, 0, sizeof x);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    x.time = ts.tv_sec + 1e-9 * ts.tv_nsec;
    x.rank = s->rank;
    snprintf(x.host, sizeof x.host, "%s", s->host);
    double dt = cur->mono - prev->mono;
    double cpu = rate(cur->cpu_s, prev->cpu_s, dt);
    x.cpu_pct = cpu < 0 ? -1 : 100 * cpu;
    x.rss_bytes = read_rss_bytes();
    x.net_rx_bytes_s = rate(cur->rx, prev->rx, dt);
    x.net_tx_bytes_s = rate(cur->tx, prev->tx, dt);
    x.disk_read_bytes_s = rate(cur->disk_read, prev->disk_read, dt);
    if (s->nvml)
        x.ngpus = dlt__nvml_sample(s->nvml, x.gpus, DLT_SYS_MAX_GPUS);
    pthread_mutex_lock(&s->lock);
    x.seq = s->seq + 1;
    s->ring[x.seq % DLT_SYS_RING] = x;
    s->seq = x.seq;
    pthread_mutex_unlock(&s->lock);
}

static void *sampler_main(void *arg)
{
    dlt_sampler *s = arg;
    counters prev, cur;
    read_counters(&prev);
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        struct timespec due;
        clock_gettime(CLOCK_MONOTONIC, &due);
        double t = due.tv_sec + 1e-9 * due.tv_nsec + s->interval;
        due.tv_sec = (time_t)t;
        due.tv_nsec = (long)((t - (double)due.tv_sec) * 1e9);
        int rc = 0;
        while (!s->stop && !s->now && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&s->wake, &s->lock, &due);
        if (s->stop)
            break;
        s->now = 0;
        pthread_mutex_unlock(&s->lock);
        read_counters(&cur);
        take_sample(s, &prev, &cur);
        prev = cur;
        pthread_mutex_lock(&s->lock);
        pthread_cond_broadcast(&s->sampled);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int dlt_sampler_start(double interval_s, int rank, const char *host, int with_gpus,
                      dlt_sampler **out)
{
    if (!(interval_s > 0))
        DLT_FAIL(DLT_ERR_ARG, "sample interval must be positive, got %g", interval_s);
    dlt_sampler *s = dlt_calloc(1, sizeof *s);
    s->interval = interval_s;
    s->rank = rank;
    snprintf(s->host, sizeof s->host, "%s", host ? host : "");
    if (!s->host[0])
        gethostname(s->host, sizeof s->host - 1);
    s->nvml = with_gpus ? dlt__nvml_open() : NULL;
    pthread_mutex_init(&s->lock, NULL);
    /* Timed waits on the monotonic clock: a wall-clock jump must not
     * stall or rush the sampler. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&s->sampled, NULL);
    int rc = pthread_create(&s->thread, NULL, sampler_main, s);
    if (rc != 0) {
        dlt__nvml_close(s->nvml);
        free(s);
        DLT_FAIL(DLT_ERR_INTERNAL, "cannot start the system sampler thread: %s", strerror(rc));
    }
    *out = s;
    return 0;
}

void dlt_sampler_sample_now(dlt_sampler *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    long before = s->seq;
    s->now = 1;
    pthread_cond_signal(&s->wake);
    while (s->seq == before && !s->stop)
        pthread_cond_wait(&s->sampled, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

long dlt_sampler_newest(dlt_sampler *s)
{
    if (!s)
        return 0;
    pthread_mutex_lock(&s->lock);
    long seq = s->seq;
    pthread_mutex_unlock(&s->lock);
    return seq;
}

int dlt_sampler_since(dlt_sampler *s, long after_seq, dlt_sys_sample *out)
{
    if (!s)
        return 0;
    pthread_mutex_lock(&s->lock);
    long first = after_seq + 1;
    if (first < s->seq - DLT_SYS_RING + 1)
        first = s->seq - DLT_SYS_RING + 1; /* older ones were overwritten */
    int n = 0;
    for (long q = first; q <= s->seq; q++)
        out[n++] = s->ring[q % DLT_SYS_RING];
    pthread_mutex_unlock(&s->lock);
    return n;
}

void dlt_sampler_stop(dlt_sampler *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->sampled);
    dlt__nvml_close(s->nvml);
    free(s);
}

/* snprintf that appends and tracks the length; stops at the end. */
#define APPEND(...)                                                                 \
    do {                                                                            \
        if (len < size)                                                             \
            len += snprintf(buf + len, (size_t)(size - len), __VA_ARGS__);          \
    } while (0)

int dlt_sys_sample_json(const dlt_sys_sample *x, char *buf, int size)
{
    int len = 0;
    char host[64];
    /* Host names are plain, but keep the line valid JSON whatever they hold. */
    int k = 0;
    for (const char *p = x->host; *p && k < (int)sizeof host - 1; p++)
        if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
            host[k++] = *p;
    host[k] = '\0';
    APPEND("{\"kind\":\"system\",\"time\":%.3f,\"rank\":%d,\"host\":\"%s\"", x->time, x->rank, host);
    const char *keys[] = {"cpu_pct", "rss_bytes", "net_rx_bytes_s", "net_tx_bytes_s",
                          "disk_read_bytes_s"};
    double vals[] = {x->cpu_pct, x->rss_bytes, x->net_rx_bytes_s, x->net_tx_bytes_s,
                     x->disk_read_bytes_s};
    for (int i = 0; i < 5; i++)
        if (vals[i] >= 0)
            APPEND(",\"%s\":%.6g", keys[i], vals[i]);
    if (x->ngpus > 0) {
        APPEND(",\"gpus\":[");
        for (int g = 0; g < x->ngpus; g++) {
            const dlt_gpu_sample *u = &x->gpus[g];
            APPEND("%s{\"index\":%d", g ? "," : "", u->index);
            if (u->util_pct >= 0)
                APPEND(",\"util_pct\":%.6g", u->util_pct);
            if (u->mem_used_bytes >= 0)
                APPEND(",\"mem_used_bytes\":%.6g,\"mem_total_bytes\":%.6g", u->mem_used_bytes,
                       u->mem_total_bytes);
            if (u->temp_c >= 0)
                APPEND(",\"temp_c\":%.6g", u->temp_c);
            APPEND("}");
        }
        APPEND("]");
    }
    APPEND("}");
    return len < size ? len : -1;
}
