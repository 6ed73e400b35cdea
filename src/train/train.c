/* train.c - the training loop. Ties together the solver, the nets (TRAIN
 * and TEST sharing weights), the loaders, the communicator, checkpoints
 * and the monitor. Every rank runs this; only rank 0 writes files. */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dltrain/ckpt.h"
#include "dltrain/device.h"
#include "dltrain/data.h"
#include "dltrain/error.h"
#include "dltrain/monitor.h"
#include "dltrain/net.h"
#include "dltrain/reducer.h"
#include "dltrain/cpu.h"
#include "dltrain/solver.h"
#include "dltrain/train.h"
#include "dltrain/weights.h"
#include "train/caption_net.h"
#include "train/loss_scale.h"
#include "train/nancheck.h"
#include "train/placement.h"
#include "train/input.h"
#include "train/observe.h"
#include "train/run_lock.h"
#include "train/setup.h"
#include "train/watchdog.h"
#include "train/stop.h"


/* Everything one run holds; owned here, freed by run_free. */
typedef struct run {
    const dlt_train_options *opt;
    dlt_comm *comm;
    int rank, world;
    dlt_run_files files;         /* parsed solver and net, their texts */
    dlt_solver_config cfg;
    dlt_dataset *train_set, *val_set;
    size_t data_budget;         /* bytes per rank for the TRAIN set (--data-memory-mb) */
    dlt_net *train_net, *test_net;
    dlt_compute_ctx compute;     /* how both nets compute (--conv-backend, --cudnn-*, threads) */
    dlt_loader *train_loader, *val_loader;
    dlt_solver *solver;          /* update rule and its history buffers */
    dlt_rng rng;                 /* this rank's RNG (dropout, crops: later layers) */
    dlt_monitor *monitor;        /* rank 0 only */
    dlt__run_lock *lock;         /* the run directory's, rank 0 only */
    dlt_reducer *reducer;        /* gradient averaging where the gradients live */
    dlt_watchdog *watchdog;
    long skipped_steps;          /* --on-nan skip */
    dlt_device_kind device;      /* where this rank computes (pick_device) */
    dlt__loss_scale scaler;      /* --precision amp; scale 1 and off otherwise */
    dlt__observer *observer;     /* progress, metrics, system samples */
    long iter;                   /* iterations completed */
    long max_iter;
    long steps_per_epoch;
    int global_batch;
    uint64_t seed;
    char ckpt_dir[3072];
    char last_ckpt[4096];
    long saved_iter;             /* iteration of the last checkpoint written; -1: none */
    dlt_stop stop;               /* signals and time limit */
} run;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* BLAS threads per rank: the cores this rank may use, shared by the ranks
 * on its node, unless the user chose (OPENBLAS_NUM_THREADS/OMP_NUM_THREADS). */
static int choose_threads(const run *r, const char **from)
{
    static const char *const vars[] = {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                       "SLURM_CPUS_PER_TASK"}; /* Slurm's is per rank */
    for (int i = 0; i < 3; i++) {
        const char *env = getenv(vars[i]);
        if (env && atoi(env) > 0) {
            *from = vars[i];
            return atoi(env);
        }
    }
    *from = "affinity mask";
    cpu_set_t set;
    int cores = 1;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        cores = CPU_COUNT(&set);
    int local = dlt_comm_local_size(r->comm);
    /* mpirun may bind each rank to one core already: then cores == 1. */
    int t = cores >= local * 2 ? cores / local : (cores > 1 && local == 1 ? cores : 1);
    return t < 1 ? 1 : t;
}

/* --stage-dir: node-local rank 0 copies (or verifies) each file, the
 * other ranks wait at the barrier; a failure is fatal so none waits. */
static const char *staged(run *r, const char *path, char *buf, size_t size)
{
    if (!r->opt->stage_dir || !path)
        return path;
    if (dlt_comm_local_rank(r->comm) == 0 &&
        dlt_stage_dataset(path, r->opt->stage_dir, buf, size) < 0)
        dlt_fatal("staging %s into %s failed", path, r->opt->stage_dir);
    dlt_comm_barrier(r->comm);
    dlt_stage_path(path, r->opt->stage_dir, buf, size);
    return buf;
}

/* --data-memory-mb, else half of the node's memory over its ranks. */
static size_t data_budget(const run *r)
{
    if (r->opt->data_memory_mb > 0)
        return (size_t)r->opt->data_memory_mb << 20;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page <= 0)
        return SIZE_MAX; /* unknown: in memory, as before streaming existed */
    return (size_t)pages * (size_t)page / 2 / (size_t)dlt_comm_local_size(r->comm);
}

/* The TRAIN set is read into memory when it fits the budget (each rank
 * holds all of it: the exact per-epoch permutation may hand any sample
 * to any rank); otherwise the loader streams it (stream.h). */
static int open_datasets(run *r)
{
    char tb[4096], vb[4096];
    DLT_TRY(dlt_dataset_open_lazy(staged(r, r->opt->train_path, tb, sizeof tb), &r->train_set));
    r->data_budget = data_budget(r);
    /* A caption set is always in memory: a caption's image may be anywhere. */
    if (dlt_dataset_memory_bytes(r->train_set) <= r->data_budget ||
        dlt_dataset_num_captions(r->train_set))
        DLT_TRY(dlt_dataset_load(r->train_set));
    if (r->opt->val_path)
        DLT_TRY(dlt_dataset_open(staged(r, r->opt->val_path, vb, sizeof vb), &r->val_set));
    return 0;
}

/* Time steps of a caption set's word batches: its longest caption plus
 * <start> (inputs) or <end> (targets); 0 for other sets. */
static int seq_len(const dlt_dataset *set)
{
    return dlt_dataset_num_captions(set) ? dlt_dataset_caption_max_words(set) + 1 : 0;
}

static int build_nets(run *r)
{
    int c, h, w, t = seq_len(r->train_set);
    dlt_dataset_shape(r->train_set, &c, &h, &w);
    DLT_TRY(dlt_net_create_seq(r->files.net, DLT_PHASE_TRAIN, c, h, w, t, r->seed, &r->compute,
                               &r->train_net));
    dlt_net_set_rng(r->train_net, &r->rng); /* dropout masks; saved in checkpoints */
    /* Blob diffs live only part of backward: share their buffers. */
    size_t saved = dlt_net_share_diffs(r->train_net);
    if (saved && r->rank == 0)
        dlt_info("memory: blob gradients share buffers by liveness (%.1f MB saved per rank)", saved / 1048576.0);
    if (!dlt_net_data_layer(r->train_net))
        DLT_FAIL(DLT_ERR_PARSE, "%s: the TRAIN phase has no Data or HDF5Data layer", r->files.net_path);
    if (dlt_dataset_num_captions(r->train_set))
        DLT_TRY(dlt__caption_vocab_check(r->train_net, dlt_dataset_vocab_size(r->train_set),
                                         r->files.net_path, r->opt->train_path));
    /* The TEST net is built even without --val, so that its layers are
     * checked (unknown fields, shapes) before hours of training. */
    if (r->val_set) {
        dlt_dataset_shape(r->val_set, &c, &h, &w);
        t = seq_len(r->val_set);
    }
    DLT_TRY(dlt_net_create_seq(r->files.net, DLT_PHASE_TEST, c, h, w, t, r->seed, &r->compute,
                               &r->test_net));
    if (r->val_set && dlt_dataset_num_captions(r->val_set))
        DLT_TRY(dlt__caption_vocab_check(r->test_net, dlt_dataset_vocab_size(r->val_set),
                                         r->files.net_path, r->opt->val_path));
    DLT_TRY(dlt_net_share_params(r->test_net, r->train_net));
    dlt_net_share_blobs(r->test_net, r->train_net); /* tests run between steps */
    if (r->val_set && !dlt_net_data_layer(r->test_net))
        DLT_FAIL(DLT_ERR_PARSE, "%s: --val was given but the TEST phase has no Data layer",
                 r->files.net_path);
    if (!r->val_set) {
        dlt_net_free(r->test_net);
        r->test_net = NULL;
    }
    return 0;
}

/* A loader for SET with the data layer's transform_param. */
static int create_loader(run *r, const dlt_dataset *set, const dlt_data_params *dp, int train,
                         dlt_loader **out)
{
    return dlt__loader_for_data_layer(set, dp, r->rank, r->world, train, r->seed, r->opt->prefetch,
                                      r->data_budget, out);
}

/* Once, on rank 0: which loader mode and why. */
static void log_loader_mode(const run *r)
{
    if (r->rank != 0)
        return;
    double mb = 1024.0 * 1024.0;
    size_t need = dlt_dataset_memory_bytes(r->train_set), buffer = 0;
    char budget[96];
    if (r->opt->data_memory_mb > 0)
        snprintf(budget, sizeof budget, "--data-memory-mb %ld", r->opt->data_memory_mb);
    else if (r->data_budget == SIZE_MAX)
        snprintf(budget, sizeof budget, "the default budget (node memory unknown: unlimited)");
    else
        snprintf(budget, sizeof budget, "the default %.0f MB (half the node's memory over its "
                 "ranks; --data-memory-mb)", (double)r->data_budget / mb);
    if (!dlt_loader_streaming(r->train_loader, &buffer)) {
        dlt_info("loader: rank share %.0f MB (the whole set) <= %s: in memory, read once, exact "
                 "per-epoch permutation", (double)need / mb, budget);
        return;
    }
    long steps = dlt_loader_steps_per_epoch(r->train_loader);
    const dlt_data_params *dp = dlt_layer_data_params(dlt_net_data_layer(r->train_net));
    double per_epoch = (double)need * (double)steps * dp->batch_size /
                       (double)dlt_dataset_size(r->train_set);
    dlt_info("loader: rank share %.0f MB (the whole set, in memory) > %s: streaming chunks "
             "(%.0f MB read per rank per epoch, shuffle buffer %.0f MB)", (double)need / mb,
             budget, per_epoch / mb, (double)buffer / mb);
}

static int create_loaders(run *r)
{
    const dlt_data_params *dp = dlt_layer_data_params(dlt_net_data_layer(r->train_net));
    DLT_TRY(create_loader(r, r->train_set, dp, 1, &r->train_loader));
    /* An iteration consumes iter_size loader steps (gradient accumulation). */
    long iter_size = r->cfg.iter_size;
    r->steps_per_epoch = dlt_loader_steps_per_epoch(r->train_loader) / iter_size;
    if (r->steps_per_epoch < 1)
        r->steps_per_epoch = 1;
    r->global_batch = dp->batch_size * r->world * (int)iter_size;
    if (r->val_set) {
        const dlt_data_params *tp = dlt_layer_data_params(dlt_net_data_layer(r->test_net));
        DLT_TRY(create_loader(r, r->val_set, tp, 0, &r->val_loader));
    }
    return 0;
}

static void checkpoint_path(const run *r, long iter, char *path, size_t size)
{
    snprintf(path, size, "%s/iter_%08ld.h5", r->ckpt_dir, iter);
}

/* Rank 0 writes; all ranks contribute their RNG state and learn the result. */
static int save_checkpoint(run *r)
{
    dlt_net_sync(r->train_net, DLT_HOST); /* the net may hold them on its device */
    dlt_solver_history_to_host(r->solver);
    uint64_t *all = r->rank == 0 ? dlt_calloc((size_t)r->world * 4, sizeof(uint64_t)) : NULL;
    dlt__watchdog_waiting(r->watchdog, 1);
    dlt_comm_gather_u64(r->comm, r->rng.s, 4, all, 0);
    dlt__watchdog_waiting(r->watchdog, 0);
    double st = 0;
    if (r->rank == 0) {
        char path[4096];
        checkpoint_path(r, r->iter, path, sizeof path);
        dlt_ckpt_meta meta = {r->iter, r->iter / r->steps_per_epoch, r->world,
                              dlt_solver_lr(&r->cfg, r->iter), r->files.net_text,
                              r->files.solver_text, all, 0, 0, 0};
        if (r->scaler.dynamic) {
            meta.loss_scale = r->scaler.scale;
            meta.loss_scale_good_steps = r->scaler.good_steps;
            meta.loss_scale_skipped = r->scaler.skipped;
        }
        double t0 = now_s();
        const float *hist[DLT_CKPT_MAX_HISTORY];
        int nh = dlt_solver_num_history(r->solver);
        for (int k = 0; k < nh; k++)
            hist[k] = dlt_solver_history(r->solver, k);
        st = dlt_ckpt_save_state(path, r->train_net, hist, nh, &meta);
        char why[512];
        /* Read back before older ones go: the newest valid one is never removed. */
        if (st == 0 && dlt_ckpt_verify(path, why, sizeof why) < 0) {
            dlt_error("checkpoint %s does not read back (%s); the previous checkpoints are kept",
                      path, why);
            st = DLT_ERR_IO;
        }
        if (st == 0) {
            dlt_info("checkpoint %s (iter %ld, %.2f s)", path, r->iter, now_s() - t0);
            snprintf(r->last_ckpt, sizeof r->last_ckpt, "%s", path);
            dlt_ckpt_prune(r->ckpt_dir, r->opt->keep_checkpoints, r->iter);
        }
        free(all);
    }
    dlt__watchdog_waiting(r->watchdog, 1); /* the others wait for rank 0's write */
    dlt_comm_allreduce_sum_doubles(r->comm, &st, 1);
    dlt__watchdog_waiting(r->watchdog, 0);
    if (st == 0)
        r->saved_iter = r->iter;
    return st < 0 ? DLT_ERR_IO : 0;
}

/* After each step: one tiny allreduce (max over ranks) of this rank's stop
 * request, so every rank checkpoints and stops at the same iteration.
 * Returns 1 when training must stop (checkpoint written), 0 to go on. */
static int act_on_stop_requests(run *r, int *status)
{
    dlt__watchdog_waiting(r->watchdog, 1);
    long act = dlt_comm_allreduce_max_long(r->comm, dlt__stop_poll(&r->stop));
    dlt__watchdog_waiting(r->watchdog, 0);
    if (act == DLT_STOP_NONE)
        return 0;
    if (r->saved_iter != r->iter && (*status = save_checkpoint(r)) < 0)
        return 1;
    if (act == DLT_STOP_CKPT) {
        dlt__stop_ckpt_taken(&r->stop);
        return 0;
    }
    dlt_info("stopped by %s at iteration %ld: checkpoint %s; exit status %d means resumable "
             "(run again with --resume auto)", dlt__stop_reason(&r->stop), r->iter, r->last_ckpt,
             DLT_EXIT_PREEMPTED);
    *status = DLT_TRAIN_PREEMPTED;
    return 1;
}

/* --resume continues a dltrain checkpoint (weights, solver state, RNG);
 * other files with weights go through --weights, which says so. */
static int resume_kind_check(const char *path)
{
    dlt_weights_kind kind;
    char what[256];
    DLT_TRY(dlt_weights_detect(path, &kind, what, sizeof what));
    if (kind == DLT_WEIGHTS_DLTRAIN)
        return 0;
    if (kind == DLT_WEIGHTS_CAFFE_H5 || kind == DLT_WEIGHTS_CAFFEMODEL)
        DLT_FAIL(DLT_ERR_FORMAT, "--resume %s: this is Caffe weights (%s), not a dltrain checkpoint; "
                 "use --weights %s to start training from them (the solver state starts fresh)", path,
                 what, path);
    DLT_FAIL(DLT_ERR_FORMAT, "--resume %s: this is %s; expected a dltrain checkpoint (RUN/checkpoints/"
             "iter_*.h5)", path, what);
}

/* --weights: rank 0 copies the files' blobs into the TRAIN net by layer
 * name (the broadcast that follows gives them to every rank); the solver
 * state and the iteration start fresh, as with Caffe's --weights. */
static int load_weights(run *r)
{
    double st = 0;
    if (r->rank == 0)
        st = dlt_weights_load(r->train_net, r->opt->weights, DLT_WEIGHTS_PARTIAL, NULL);
    dlt_comm_bcast_bytes(r->comm, &st, sizeof st, 0);
    return (int)st;
}

/* --precision amp: the loss scale and its counters continue from the
 * checkpoint (rank 0 read it), so the resumed run is the same run. */
static void resume_loss_scale(run *r, const dlt_ckpt_meta *meta, const char *path)
{
    double s[3] = {meta->loss_scale, (double)meta->loss_scale_good_steps, (double)meta->loss_scale_skipped};
    dlt_comm_bcast_bytes(r->comm, s, sizeof s, 0);
    if (!r->scaler.dynamic) {
        if (s[0] > 0)
            dlt_info("note: checkpoint %s was written with --precision amp (loss scale %g); "
                     "this run is %s and does not scale the loss", path, s[0],
                     dlt_precision_name((dlt_precision)r->opt->precision));
        return;
    }
    if (!(s[0] > 0)) {
        dlt_info("note: checkpoint %s has no loss scale (written without --precision amp): "
                 "starting from %g", path, r->scaler.scale);
        return;
    }
    r->scaler.scale = s[0];
    r->scaler.good_steps = (long)s[1];
    r->scaler.skipped = (long)s[2];
    dlt_info("loss scale %g resumed (%ld clean steps into the window, %ld steps skipped so far)",
             r->scaler.scale, r->scaler.good_steps, r->scaler.skipped);
}

/* Rank 0 reads the checkpoint and broadcasts weights, history and state. */
static int resume(run *r)
{
    char path[4096];
    double found = 0;
    if (r->rank == 0) {
        if (strcmp(r->opt->resume, "auto") == 0) {
            int f = dlt_ckpt_find_latest(r->ckpt_dir, path, sizeof path);
            found = f < 0 ? -1 : f;
            if (f == 0)
                dlt_info("--resume auto: no checkpoint in %s; starting from %s", r->ckpt_dir,
                         r->opt->weights ? "--weights" : "scratch");
        } else {
            snprintf(path, sizeof path, "%s", r->opt->resume);
            found = 1;
        }
    }
    dlt_comm_bcast_bytes(r->comm, &found, sizeof found, 0);
    if (found <= 0)
        return found < 0 ? DLT_ERR_IO : 0;
    dlt_ckpt_meta meta = {0};
    double st = 0;
    if (r->rank == 0)
        st = resume_kind_check(path);
    if (r->rank == 0 && st == 0) {
        float *hist[DLT_CKPT_MAX_HISTORY];
        for (int k = 0; k < dlt_solver_num_history(r->solver); k++)
            hist[k] = dlt_solver_history(r->solver, k);
        st = dlt_ckpt_load_state(path, r->train_net, hist, dlt_solver_num_history(r->solver), &meta);
        if (st == 0)
            dlt_info("resumed from %s at iteration %ld (written by %d ranks)", path, meta.iter,
                     meta.world_size);
    }
    dlt_comm_bcast_bytes(r->comm, &st, sizeof st, 0);
    if (st < 0) {
        free(meta.rng);
        return (int)st;
    }
    long iter = meta.iter;
    int ckpt_world = meta.world_size;
    dlt_comm_bcast_bytes(r->comm, &iter, sizeof iter, 0);
    dlt_comm_bcast_bytes(r->comm, &ckpt_world, sizeof ckpt_world, 0);
    size_t n = dlt_net_param_count(r->train_net);
    dlt_comm_bcast_floats(r->comm, dlt_net_params(r->train_net), n, 0);
    for (int k = 0; k < dlt_solver_num_history(r->solver); k++)
        dlt_comm_bcast_floats(r->comm, dlt_solver_history(r->solver, k), n, 0);
    int has_rng = meta.rng != NULL;
    dlt_comm_bcast_bytes(r->comm, &has_rng, sizeof has_rng, 0);
    if (ckpt_world == r->world && has_rng)
        dlt_comm_scatter_u64(r->comm, meta.rng, 4, r->rng.s, 0);
    else if (!has_rng)
        dlt_info("note: checkpoint %s has no /rng section (the per-rank RNG states): the RNG "
                 "streams restart and dropout and the data order differ from an uninterrupted run",
                 path);
    else
        dlt_info("note: checkpoint was written by %d ranks, now %d: per-rank RNG streams restart and "
                 "the data order differs from an uninterrupted run", ckpt_world, r->world);
    free(meta.rng);
    resume_loss_scale(r, &meta, path);
    r->iter = iter;
    if (strcmp(r->opt->resume, "auto") == 0)
        r->saved_iter = iter; /* it is in our checkpoint directory already */
    return 0;
}

/* Run the validation set's test_iter batches, as Caffe's test_iter counts
 * them: batches of the whole solver, not of each rank. Global batch g goes
 * to rank g mod P (the TEST loader's step s of rank r is global batch
 * s*P + r), so any number of ranks tests the same samples once. Outputs
 * are summed over the ranks and averaged over the test_iter batches. */
static void run_test(run *r)
{
    dlt__watchdog_enter(r->watchdog, DLT_STEP_TEST, r->iter);
    int nout = dlt_net_num_outputs(r->test_net);
    /* outputs, images, and for caption nets the summed word losses and words */
    double *sums = dlt_calloc(nout + 3, sizeof(double));
    dlt_batch in; /* the net's input buffers, filled in place */
    long test_iter = r->cfg.test_iter > 0 ? r->cfg.test_iter : 1;
    for (long i = 0; i * r->world + r->rank < test_iter; i++) {
        if (dlt_net_input(r->test_net, &in) < 0 || dlt_loader_fetch_batch(r->val_loader, i, &in) < 0)
            dlt_fatal("reading the validation set %s failed", r->opt->val_path);
        dlt_net_forward(r->test_net);
        for (int o = 0; o < nout; o++)
            sums[o] += dlt_net_output_value(r->test_net, o);
        sums[nout] += in.n; /* images tested */
        double words;
        sums[nout + 1] += dlt__caption_word_loss(r->test_net, &words);
        sums[nout + 2] += words;
    }
    dlt__watchdog_waiting(r->watchdog, 1);
    dlt_comm_allreduce_sum_doubles(r->comm, sums, nout + 3);
    dlt__watchdog_waiting(r->watchdog, 0);
    dlt_info("    test: %.0f images (test_iter %ld batches over %d ranks)", sums[nout], test_iter, r->world);
    dlt_test_metrics tm = {r->iter, (double)r->iter / r->steps_per_epoch, NAN, NAN, -1, NAN, NAN};
    if (sums[nout + 2] > 0) { /* per word over all test batches, not a mean of batch means */
        tm.token_loss = sums[nout + 1] / sums[nout + 2];
        tm.perplexity = exp(tm.token_loss);
    }
    for (int o = 0; o < nout; o++) {
        const char *name = dlt_net_output_name(r->test_net, o);
        double v = sums[o] / (double)test_iter;
        dlt_info("    test net output #%d: %s = %.6g", o, name, v);
        /* Caffe nets name their outputs freely: a loss layer's output is
         * the loss; an output whose name has "top5" or "top-5" is top-5; the first
         * other output is top-1 accuracy. */
        if (dlt_net_output_is_loss(r->test_net, o)) {
            if (isnan(tm.test_loss))
                tm.test_loss = v;
        } else if (strstr(name, "top5") || strstr(name, "top-5") || strstr(name, "top_5")) {
            tm.test_top5 = v;
        } else if (isnan(tm.test_top1)) {
            tm.test_top1 = v;
        }
    }
    dlt_monitor_test(r->monitor, &tm);
    free(sums);
}

/* The loss of this rank is NaN/Inf: stop naming the first layer with a
 * non-finite output, or (skip) poison the gradients so that every rank
 * sees non-finite reduced gradients and skips the same step. */
static void bad_loss(run *r, float loss)
{
    /* amp: an FP16 overflow in forward is one more overflow for the loss
     * scale (every rank then skips the same step). */
    if (r->opt->on_nan_skip || r->scaler.dynamic) {
        if (dlt_net_param_count(r->train_net) > 0)
            dlt_net_grads(r->train_net)[0] = NAN;
        return;
    }
    int l = dlt__first_nonfinite_output(r->train_net);
    dlt_fatal("loss is %f at iteration %ld; first non-finite output in layer '%s'; lower base_lr "
              "(now %g) or check the data (--on-nan skip skips such steps)", loss, r->iter,
              l >= 0 ? dlt_net_layer(r->train_net, l)->name : "(none: the loss itself)", r->cfg.base_lr);
}

/* The reduced gradients hold NaN/Inf: stop naming the first layer (in
 * backward order) whose gradients were non-finite, or skip. The reducer
 * names this rank's own culprit (host memory), or the highest non-finite
 * averaged value (device memory: a rank's NaN shows at the same offset). */
static int bad_grads(run *r)
{
    if (r->opt->on_nan_skip) {
        r->skipped_steps++;
        dlt_warn("iteration %ld: NaN/Inf in the gradients; step skipped (%ld so far)", r->iter,
                 r->skipped_steps);
        return 1;
    }
    int local;
    size_t off = dlt_reducer_nonfinite(r->reducer, &local);
    if (off == (size_t)-1) {
        sleep(2); /* let the rank that has the culprit report it first */
        dlt_fatal("NaN/Inf in the averaged gradients at iteration %ld, from another rank", r->iter);
    }
    int l = dlt__layer_of_grad_offset(r->train_net, off);
    dlt_fatal("NaN/Inf in the gradients at iteration %ld, first (in backward order) in layer '%s'%s",
              r->iter, l >= 0 ? dlt_net_layer(r->train_net, l)->name : "?",
              !local && r->world > 1 ? " (on one of the ranks)" : "");
}

/* The reducer's backward hook, marked as a wait for the other ranks (the
 * shared-memory sum, MPI progress) for the watchdog. */
static void reduce_hook(void *arg, int layer, size_t done_from)
{
    run *r = arg;
    dlt__watchdog_waiting(r->watchdog, 1);
    dlt_reducer_hook(r->reducer, layer, done_from);
    dlt__watchdog_waiting(r->watchdog, 0);
}

/* Gradient averaging after the passes (buckets already started during
 * backward; waiting for queued backward work is not counted as
 * communication). Returns 1 to skip the update; *T_COMM is the time
 * spent averaging. */
static int average_gradients(run *r, double *t_comm)
{
    dlt_net_wait(r->train_net);
    double t0 = now_s();
    dlt__watchdog_enter(r->watchdog, DLT_STEP_ALLREDUCE, r->iter);
    dlt__watchdog_waiting(r->watchdog, 1);
    int finite = dlt_reducer_finish(r->reducer), skip;
    /* At the floor, scaling cannot help: a NaN/Inf then is the data's or
     * the model's, handled as without amp (stop naming the layer, or skip). */
    if (r->scaler.dynamic && !(!finite && r->scaler.scale <= DLT_LOSS_SCALE_MIN)) {
        double was = r->scaler.scale;
        skip = dlt__loss_scale_update(&r->scaler, finite);
        if (skip)
            dlt_info("iteration %ld: gradients overflowed at loss scale %g; step skipped, scale now %g "
                     "(%ld skipped so far)", r->iter, was, r->scaler.scale, r->scaler.skipped);
        else if (r->scaler.scale > was)
            dlt_info("iteration %ld: loss scale raised to %g after %ld clean steps", r->iter,
                     r->scaler.scale, r->scaler.window);
    } else {
        skip = !finite && bad_grads(r);
    }
    dlt__watchdog_waiting(r->watchdog, 0);
    *t_comm = now_s() - t0;
    return skip;
}

/* One iteration in Caffe's order (Solver::Step): iter_size forward and
 * backward passes accumulating gradients, the allreduce (overlapped with
 * the last backward pass on the CPU), then the solver update. The
 * watchdog is told each phase; PHASES receives the seconds spent in each,
 * WORD_STATS a caption net's summed word losses and words (0 otherwise). */
static void train_step(run *r, float *loss, double phases[DLT__NPHASES], double word_stats[2])
{
    dlt_batch in; /* the net's input buffers, filled in place */
    const long iter_size = r->cfg.iter_size;
    double t_data = 0, t_fwd = 0, t_bwd = 0, sum = 0, word_loss = 0, words = 0;
    dlt_net_zero_grads(r->train_net);
    /* amp: this step's gradients come out scaled; the solver undoes it. */
    const double loss_scale = r->scaler.scale;
    dlt_net_set_loss_scale(r->train_net, loss_scale);
    dlt_solver_set_grad_scale(r->solver, 1.0 / loss_scale);
    dlt_reducer_begin(r->reducer);
    for (long k = 0; k < iter_size; k++) {
        double t0 = now_s();
        dlt__watchdog_enter(r->watchdog, DLT_STEP_DATA, r->iter);
        dlt__test_hang_point(r->rank, r->iter);
        /* After setup a failure on one rank must end all of them: fatal. */
        if (dlt_net_input(r->train_net, &in) < 0 ||
            dlt_loader_fetch_batch(r->train_loader, r->iter * iter_size + k, &in) < 0)
            dlt_fatal("reading the training set %s failed at iteration %ld", r->opt->train_path,
                      r->iter);
        dlt__test_nan_point(r->rank, r->iter, in.data);
        double t1 = now_s();
        dlt__watchdog_enter(r->watchdog, DLT_STEP_FORWARD, r->iter);
        float l = dlt_net_forward(r->train_net);
        if (!isfinite(l))
            bad_loss(r, l);
        sum += l;
        double w;
        word_loss += dlt__caption_word_loss(r->train_net, &w);
        words += w;
        double t2 = now_s();
        dlt__watchdog_enter(r->watchdog, DLT_STEP_BACKWARD, r->iter);
        /* Buckets may only start once their gradients are final: on the last
         * pass (the reducer's mode decides whether they start during backward). */
        int last = k == iter_size - 1;
        dlt_net_set_backward_hook(r->train_net, last ? reduce_hook : NULL, last ? r : NULL);
        dlt_net_backward(r->train_net);
        t_data += t1 - t0, t_fwd += t2 - t1, t_bwd += now_s() - t2;
    }
    double t_comm = 0;
    int skip = average_gradients(r, &t_comm);
    double t4 = now_s();
    dlt__watchdog_enter(r->watchdog, DLT_STEP_UPDATE, r->iter);
    if (!skip)
        dlt_solver_step(r->solver, r->train_net, r->iter);
    double t5 = now_s();
    *loss = (float)(sum / (double)iter_size);
    phases[0] = t_data, phases[1] = t_fwd, phases[2] = t_bwd;
    phases[3] = t_comm, phases[4] = t5 - t4;
    word_stats[0] = word_loss, word_stats[1] = words;
}

static int train_loop(run *r)
{
    while (r->iter < r->max_iter) {
        if (r->test_net && r->cfg.test_interval > 0 && r->iter % r->cfg.test_interval == 0 &&
            (r->iter > 0 || r->cfg.test_initialization)) {
            double ts = now_s();
            run_test(r);
            dlt__observer_exclude(r->observer, now_s() - ts); /* images/s: training time only */
        }
        float loss;
        double phases[DLT__NPHASES], words[2];
        train_step(r, &loss, phases, words);
        r->iter++;
        dlt__observer_step(r->observer, r->iter, loss, phases, dlt_solver_lr(&r->cfg, r->iter),
                           words[0], words[1]);
        if (r->cfg.display > 0 && r->iter % r->cfg.display == 0)
            dlt__observer_display(r->observer, r->iter, dlt_solver_lr(&r->cfg, r->iter));
        if (r->cfg.snapshot > 0 && r->iter % r->cfg.snapshot == 0) {
            dlt__watchdog_enter(r->watchdog, DLT_STEP_CHECKPOINT, r->iter);
            DLT_TRY(save_checkpoint(r));
        }
        int status = 0;
        if (act_on_stop_requests(r, &status))
            return status;
    }
    if (r->cfg.display > 0) /* the last partial interval, if any */
        dlt__observer_display(r->observer, r->iter, dlt_solver_lr(&r->cfg, r->iter));
    dlt__observer_finish(r->observer);
    if (r->saved_iter != r->iter)
        DLT_TRY(save_checkpoint(r));
    if (r->test_net)
        run_test(r);
    return 0;
}

static void print_summary(const run *r, int threads, const char *threads_from)
{
    const dlt_data_params *dp = dlt_layer_data_params(dlt_net_data_layer(r->train_net));
    int c, h, w;
    dlt_dataset_shape(r->train_set, &c, &h, &w);
    dlt_info("dltrain %s: net '%s' (%s), solver %s", PACKAGE_VERSION, dlt_net_name(r->train_net),
             r->files.net_path, r->opt->solver_path);
    dlt_info("ranks %d (%d on this node), BLAS threads per rank %d (from %s)", r->world,
             dlt_comm_local_size(r->comm), threads, threads_from);
    dlt_net_describe_compute(r->train_net);
    dlt_info("global batch %d = %d ranks x batch_size %d x iter_size %ld; %ld iterations per epoch",
             r->global_batch, r->world, dp->batch_size, r->cfg.iter_size, r->steps_per_epoch);
    char sched[1024];
    dlt_solver_describe(&r->cfg, sched, sizeof sched);
    dlt_info("solver %s", sched);
    dlt_info("train set %s: %zu samples of %dx%dx%d", r->opt->train_path,
             dlt_dataset_size(r->train_set), c, h, w);
    const dlt_data_params *tp = r->test_net ? dlt_layer_data_params(dlt_net_data_layer(r->test_net)) : dp;
    if (r->val_set)
        dlt_info("val set   %s: %zu samples; test every %ld iterations on test_iter %ld batches of %d "
                 "(%ld images, split over the ranks as Caffe counts them)", r->opt->val_path,
                 dlt_dataset_size(r->val_set), r->cfg.test_interval, r->cfg.test_iter, tp->batch_size,
                 r->cfg.test_iter * tp->batch_size);
    else
        dlt_info("no --val: testing disabled");
    dlt_info("parameters %zu (%.2f MB); max_iter %ld; seed %llu; run directory %s",
             dlt_net_param_count(r->train_net), dlt_net_param_count(r->train_net) * 4.0 / 1e6,
             r->max_iter, (unsigned long long)r->seed, r->opt->run_dir);
}

/* Placement table, the gradient reducer (hooked into backward; its
 * transport follows from where the net keeps its gradients), the watchdog. */
static void start_distributed(run *r, int threads)
{
    const dlt_train_options *o = r->opt;
    dlt__placement_report(r->comm, threads, r->monitor, r->iter);
    size_t bucket_bytes = (size_t)((o->bucket_mb > 0 ? o->bucket_mb : 4.0) * 1048576.0);
    dlt_reducer_config rc = {bucket_bytes, (dlt_allreduce_mode)o->allreduce_mode,
                             (dlt_reducer_kind)o->reducer_kind, 0, dlt_net_memory(r->train_net)};
    r->reducer = dlt_reducer_create(r->comm, dlt_net_compute_grads(r->train_net),
                                    dlt_net_param_count(r->train_net), &rc);
    static const char *const how[] = {"overlapped with backward", "blocking after backward",
                                      "overlapped with backward on a communication thread"};
    dlt_info("gradient allreduce: %s, %zu buckets of <= %.2f MB, reducer %s", how[o->allreduce_mode],
             dlt_reducer_bucket_count(r->reducer), rc.bucket_bytes / 1048576.0,
             dlt_reducer_choice_note(r->reducer));
    if (o->watchdog_s > 0)
        dlt_info("watchdog: abort after %.0f s without progress", o->watchdog_s);
    r->watchdog = dlt__watchdog_start(o->watchdog_s);
}

static void run_free(run *r)
{
    dlt__observer_free(r->observer);
    dlt_loader_free(r->train_loader);
    dlt_loader_free(r->val_loader);
    dlt_net_free(r->test_net);
    dlt_net_free(r->train_net);
    dlt_dataset_close(r->train_set);
    dlt_dataset_close(r->val_set);
    dlt_solver_free(r->solver);
    dlt__watchdog_stop(r->watchdog);
    dlt_reducer_free(r->reducer);
    dlt_run_files_free(&r->files);
    dlt_monitor_close(r->monitor);
    dlt__run_lock_release(r->lock);
}

/* All ranks must agree whether setup worked, or the others would wait
 * in the first collective forever. */
static int agree(run *r, int st)
{
    double bad = st < 0 ? 1 : 0;
    dlt_comm_allreduce_sum_doubles(r->comm, &bad, 1);
    return bad > 0 ? (st < 0 ? st : DLT_ERR_ARG) : 0;
}

static int setup(run *r)
{
    const dlt_train_options *opt = r->opt;
    if (r->rank == 0) {
        DLT_TRY(dlt_run_dir_create(opt->run_dir, r->ckpt_dir, sizeof r->ckpt_dir));
        DLT_TRY(dlt__run_lock_take(opt->run_dir, &r->lock)); /* before anything is written */
    } else
        snprintf(r->ckpt_dir, sizeof r->ckpt_dir, "%s/checkpoints", opt->run_dir);
    DLT_TRY(dlt_run_files_load(opt->solver_path, &r->files));
    DLT_TRY(dlt_solver_config_parse(r->files.solver, &r->cfg));
    long seed = opt->seed >= 0 ? opt->seed : (r->cfg.random_seed >= 0 ? r->cfg.random_seed : 1);
    r->seed = (uint64_t)seed;
    r->max_iter = opt->max_iter > 0 ? opt->max_iter : r->cfg.max_iter;
    DLT_TRY(open_datasets(r));
    DLT_TRY(build_nets(r));
    DLT_TRY(dlt_run_files_check_unused(&r->files));
    DLT_TRY(create_loaders(r));
    log_loader_mode(r);
    /* Goyal et al. 2017: lr x global_batch / reference batch, warmed up. */
    double k = opt->lr_scale_ref_batch > 0 ? (double)r->global_batch / opt->lr_scale_ref_batch : 1;
    dlt_solver_set_scaling(&r->cfg, k, opt->warmup_iters);
    if (r->rank == 0) {
        DLT_TRY(dlt_monitor_open(opt->run_dir, &r->monitor));
        DLT_TRY(dlt_run_dir_save_config(opt->run_dir, &r->files, opt->command_line));
        DLT_TRY(dlt_run_dir_save_input(opt->run_dir, r->train_set));
    }
    return 0;
}

/* Pick this rank's device (one GPU per node-local rank) before anything is
 * read or built: a rank that --device gpu cannot give a GPU ends the job at
 * start, naming itself, instead of training on the CPUs 100x slower. */
static int pick_device(run *r)
{
    if (dlt_device_select((dlt_device_kind)r->opt->device, dlt_comm_local_rank(r->comm),
                          dlt_comm_local_size(r->comm), &r->device) < 0)
        DLT_FAIL(DLT_ERR_ARG, "rank %d on host %s (node-local rank %d) has no GPU for --device %s; "
                 "the job stops rather than train on the CPU (HINT: request GPUs for every rank, "
                 "or run with --device cpu)", r->rank, dlt_comm_host(r->comm), dlt_comm_local_rank(r->comm),
                 dlt_device_name((dlt_device_kind)r->opt->device));
    return 0;
}

/* Move both nets to this rank's device; the weights and the solver's
 * history are final (broadcast, resumed) at this point. */
static int to_device(run *r)
{
    dlt_device_kind got = r->device;
    DLT_TRY(dlt_net_to_device(r->train_net, got));
    if (r->test_net)
        DLT_TRY(dlt_net_to_device(r->test_net, got));
    /* The gradient transport pairs every rank's gradients in the same
     * memory: the largest and the smallest over the ranks must agree. */
    dlt_memory mine = dlt_net_memory(r->train_net);
    double span[2] = {(double)mine, -(double)mine};
    dlt_comm_allreduce_max_doubles(r->comm, span, 2);
    if (span[0] != -span[1])
        DLT_FAIL(DLT_ERR_ARG, "this rank computes on the %s, but not every rank does: run with --device cpu, "
                 "or give every rank a GPU", dlt_device_name(got));
    /* The solver's history follows the parameters at its first step. */
    dlt_info("device: %s; parameters, gradients and solver history in %s memory; precision %s%s",
             dlt_device_name(got), dlt_memory_name(mine), dlt_precision_name(r->compute.precision),
             got == DLT_DEVICE_CPU && r->compute.precision == DLT_PRECISION_TF32 ? " (= fp32 on the CPU)"
             : got == DLT_DEVICE_CPU && r->scaler.dynamic ? " (CPU reference: FP16 rounding where the GPU stores 16 bits)"
             : got == DLT_DEVICE_CPU && r->compute.precision == DLT_PRECISION_BF16 ? " (CPU reference: bfloat16 rounding)"
             : got == DLT_DEVICE_GPU && r->compute.precision >= DLT_PRECISION_AMP
                 ? " (FP32 kernels with TF32 math, 16-bit rounding around them)" : "");
    if (r->scaler.dynamic)
        dlt_info("loss scale: dynamic, from %g, halved and the step skipped on overflow, doubled after %ld "
                 "clean steps", r->scaler.scale, r->scaler.window);
    return 0;
}

int dlt_train_run(const dlt_train_options *opt, dlt_comm *comm)
{
    run r;
    memset(&r, 0, sizeof r);
    r.opt = opt;
    r.comm = comm;
    r.rank = dlt_comm_rank(comm);
    r.world = dlt_comm_size(comm);
    r.saved_iter = -1;
    dlt__stop_init(&r.stop, opt->stop_before_min, opt->time_limit_min);
    /* The nets' compute settings, before setup builds them. */
    const char *threads_from;
    int threads = choose_threads(&r, &threads_from);
    dlt_compute_ctx_init(&r.compute);
    dlt_conv_backend cb;
    if (opt->conv_backend && dlt_conv_backend_parse(opt->conv_backend, &cb) == 0)
        r.compute.conv_backend = cb;
    r.compute.threads = threads;
    r.compute.cudnn_deterministic = opt->cudnn_deterministic;
    if (opt->cudnn_workspace_mb > 0)
        r.compute.cudnn_workspace_limit = (size_t)opt->cudnn_workspace_mb << 20;
    r.compute.precision = (dlt_precision)opt->precision;
    dlt__loss_scale_init(&r.scaler, opt->precision == DLT_PRECISION_AMP, opt->loss_scale_init,
                         opt->loss_scale_window);
    int st = agree(&r, pick_device(&r));
    if (st == 0)
        st = agree(&r, setup(&r));
    if (st == 0) {
        dlt_cpu_set_threads(threads); /* OpenBLAS and oneDNN's OpenMP, for the solver too */
        dlt_rng_seed(&r.rng, r.seed * 7919 + (uint64_t)r.rank);
        r.solver = dlt_solver_create(&r.cfg, dlt_net_param_count(r.train_net));
        if (opt->weights)
            st = agree(&r, load_weights(&r));
        /* Every rank starts from rank 0's weights. */
        dlt_comm_bcast_floats(comm, dlt_net_params(r.train_net), dlt_net_param_count(r.train_net), 0);
        if (opt->resume && st == 0)
            st = agree(&r, resume(&r));
        if (st == 0)
            st = agree(&r, to_device(&r));
        if (st == 0) {
            print_summary(&r, threads, threads_from);
            start_distributed(&r, threads);
            dlt__observer_config oc = {comm, r.monitor, r.cfg.average_loss, r.global_batch,
                                       r.steps_per_epoch, r.max_iter, opt->sample_interval};
            st = agree(&r, dlt__observer_create(&oc, &r.observer));
        }
        if (st == 0) {
            double t0 = now_s();
            st = train_loop(&r);
            if (st == 0)
                dlt_info("done: %ld iterations in %.1f s; last checkpoint %s", r.iter, now_s() - t0,
                         r.last_ckpt);
        }
    }
    dlt__stop_fini();
    run_free(&r);
    return st;
}
