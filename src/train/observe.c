/* observe.c - the training loop's reporting: sums each phase of a step
 * over a display interval, keeps Caffe's average_loss window, redraws the
 * progress line on rank 0, and at each display interval reduces the
 * interval over ranks (means and maxima) and gathers system samples. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dltrain/error.h"
#include "train/observe.h"

/* Samples one rank sends to rank 0 in a gather. */
typedef struct sample_block {
    int n;
    dlt_sys_sample s[DLT_SYS_RING];
} sample_block;

struct dlt__observer {
    dlt__observer_config cfg;
    int rank, world;
    /* the current display interval */
    double loss_sum, t_sum[DLT__NPHASES];
    double token_loss_sum, tokens; /* caption nets: summed word losses, words */
    long steps;
    double start;
    /* Caffe's smoothed loss: the mean of the last average_loss losses */
    float *window;
    long window_count;
    float last_loss;
    double step_ema;          /* rank 0's recent seconds per step (progress, ETA) */
    dlt_sampler *sampler;
    long gathered_seq;        /* newest sample of this rank already sent */
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int dlt__observer_create(const dlt__observer_config *cfg, dlt__observer **out)
{
    dlt__observer *o = dlt_calloc(1, sizeof *o);
    o->cfg = *cfg;
    if (o->cfg.average_loss < 1)
        o->cfg.average_loss = 1;
    o->rank = dlt_comm_rank(cfg->comm);
    o->world = dlt_comm_size(cfg->comm);
    o->window = dlt_calloc((size_t)o->cfg.average_loss, sizeof(float));
    o->start = mono_s();
    if (cfg->sample_interval > 0) {
        /* One rank per node reads the node's GPUs, so each is counted once. */
        int st = dlt_sampler_start(cfg->sample_interval, o->rank, dlt_comm_host(cfg->comm),
                                   dlt_comm_local_rank(cfg->comm) == 0, &o->sampler);
        if (st < 0) {
            dlt__observer_free(o);
            return st;
        }
    }
    *out = o;
    return 0;
}

static double smoothed_loss(const dlt__observer *o)
{
    long n = o->window_count < o->cfg.average_loss ? o->window_count : o->cfg.average_loss;
    double s = 0;
    for (long i = 0; i < n; i++)
        s += o->window[i];
    return n > 0 ? s / (double)n : NAN;
}

void dlt__observer_step(dlt__observer *o, long iter, float loss, const double t[DLT__NPHASES],
                        double lr, double token_loss_sum, double tokens)
{
    double step = 0;
    o->token_loss_sum += token_loss_sum;
    o->tokens += tokens;
    for (int k = 0; k < DLT__NPHASES; k++) {
        o->t_sum[k] += t[k];
        step += t[k];
    }
    o->loss_sum += loss;
    o->steps++;
    o->last_loss = loss;
    o->window[o->window_count++ % o->cfg.average_loss] = loss;
    if (!o->cfg.monitor || !dlt_monitor_is_tty(o->cfg.monitor))
        return;
    /* The first step warms caches and allocators: start the average after it. */
    o->step_ema = o->step_ema > 0 ? 0.9 * o->step_ema + 0.1 * step : (iter > 1 ? step : 0);
    dlt_progress p = {iter, o->cfg.max_iter, (double)iter / o->cfg.steps_per_epoch,
                      o->step_ema > 0 ? o->cfg.global_batch / o->step_ema : 0, smoothed_loss(o),
                      lr, o->step_ema > 0 ? o->step_ema * (double)(o->cfg.max_iter - iter) : -1};
    dlt_monitor_progress(o->cfg.monitor, &p, iter == o->cfg.max_iter);
}

void dlt__observer_exclude(dlt__observer *o, double seconds) { o->start += seconds; }

/* Every rank sends its new samples; rank 0 writes them in rank order. */
static void gather_samples(dlt__observer *o)
{
    sample_block *mine = dlt_calloc(1, sizeof *mine);
    mine->n = dlt_sampler_since(o->sampler, o->gathered_seq, mine->s);
    if (mine->n > 0)
        o->gathered_seq = mine->s[mine->n - 1].seq;
    sample_block *all = o->rank == 0 ? dlt_calloc((size_t)o->world, sizeof *all) : NULL;
    dlt_comm_gather_bytes(o->cfg.comm, mine, (int)sizeof *mine, all, 0);
    if (all) {
        for (int r = 0; r < o->world; r++)
            if (dlt_monitor_system(o->cfg.monitor, all[r].s, all[r].n) < 0)
                dlt_warn("cannot write system.jsonl; system samples are lost");
        free(all);
    }
    free(mine);
}

static double pending_samples(const dlt__observer *o)
{
    return dlt_sampler_newest(o->sampler) > o->gathered_seq ? 1 : 0;
}

void dlt__observer_display(dlt__observer *o, long iter, double lr)
{
    if (o->steps == 0)
        return; /* every rank ran the same steps, so all return together */
    double steps_local = o->steps > 0 ? (double)o->steps : 1;
    enum { LOSS, SMOOTH, RAW, TOKLOSS, TOKENS, T0, STEPS = T0 + DLT__NPHASES, NSUM };
    double sum[NSUM] = {o->loss_sum, smoothed_loss(o), o->last_loss, o->token_loss_sum, o->tokens};
    double mx[DLT__NPHASES + 1];
    for (int k = 0; k < DLT__NPHASES; k++) {
        sum[T0 + k] = o->t_sum[k];
        mx[k] = o->t_sum[k] / steps_local;
    }
    sum[STEPS] = (double)o->steps;
    mx[DLT__NPHASES] = pending_samples(o);
    dlt_comm_allreduce_sum_doubles(o->cfg.comm, sum, NSUM);
    dlt_comm_allreduce_max_doubles(o->cfg.comm, mx, DLT__NPHASES + 1);
    double steps = sum[STEPS] > 0 ? sum[STEPS] : 1; /* summed over ranks */
    double wall = mono_s() - o->start;
    dlt_train_metrics m = {iter, (double)iter / o->cfg.steps_per_epoch, sum[LOSS] / steps, lr,
                           wall > 0 ? (double)o->steps * o->cfg.global_batch / wall : 0,
                           sum[T0] / steps, sum[T0 + 1] / steps, sum[T0 + 2] / steps,
                           sum[T0 + 3] / steps, sum[T0 + 4] / steps,
                           wall_s(), sum[SMOOTH] / o->world, sum[RAW] / o->world,
                           mx[0], mx[1], mx[2], mx[3], mx[4], NAN, NAN};
    if (sum[TOKENS] > 0) { /* a caption net: the mean over every word of the interval */
        m.token_loss = sum[TOKLOSS] / sum[TOKENS];
        m.perplexity = exp(m.token_loss);
    }
    dlt_monitor_train(o->cfg.monitor, &m);
    if (mx[DLT__NPHASES] > 0)
        gather_samples(o);
    o->loss_sum = o->token_loss_sum = o->tokens = 0;
    memset(o->t_sum, 0, sizeof o->t_sum);
    o->steps = 0;
    o->start = mono_s();
}

void dlt__observer_finish(dlt__observer *o)
{
    if (!o->cfg.sample_interval || o->cfg.sample_interval <= 0)
        return;
    dlt_sampler_sample_now(o->sampler);
    double pending = pending_samples(o);
    dlt_comm_allreduce_max_doubles(o->cfg.comm, &pending, 1);
    if (pending > 0)
        gather_samples(o);
    dlt_sampler_stop(o->sampler);
    o->sampler = NULL;
}

void dlt__observer_free(dlt__observer *o)
{
    if (!o)
        return;
    dlt_sampler_stop(o->sampler);
    free(o->window);
    free(o);
}
