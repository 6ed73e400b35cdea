/* train.c - the training loop. Ties together the solver, the nets (TRAIN
 * and TEST sharing weights), the loaders, the communicator, checkpoints
 * and the monitor. Every rank runs this; only rank 0 writes files. */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"
#include "dltrain/ckpt.h"
#include "dltrain/data.h"
#include "dltrain/error.h"
#include "dltrain/monitor.h"
#include "dltrain/net.h"
#include "dltrain/solver.h"
#include "dltrain/train.h"
#include "train/setup.h"

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
void openblas_set_num_threads(int);
#endif

/* Everything one run holds; owned here, freed by run_free. */
typedef struct run {
    const dlt_train_options *opt;
    dlt_comm *comm;
    int rank, world;
    dlt_run_files files;         /* parsed solver and net, their texts */
    dlt_solver_config cfg;
    dlt_dataset *train_set, *val_set;
    dlt_net *train_net, *test_net;
    dlt_loader *train_loader, *val_loader;
    float *history;              /* (nparams) SGD momentum */
    dlt_rng rng;                 /* this rank's RNG (dropout, crops: later layers) */
    dlt_monitor *monitor;        /* rank 0 only */
    long iter;                   /* iterations completed */
    long max_iter;
    long steps_per_epoch;
    int global_batch;
    uint64_t seed;
    char ckpt_dir[3072];
    char last_ckpt[4096];
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

static int open_datasets(run *r)
{
    DLT_TRY(dlt_dataset_open(r->opt->train_path, &r->train_set));
    if (r->opt->val_path)
        DLT_TRY(dlt_dataset_open(r->opt->val_path, &r->val_set));
    return 0;
}

static int build_nets(run *r)
{
    int c, h, w;
    dlt_dataset_shape(r->train_set, &c, &h, &w);
    DLT_TRY(dlt_net_create(r->files.net, DLT_PHASE_TRAIN, c, h, w, r->seed, &r->train_net));
    dlt_net_set_rng(r->train_net, &r->rng); /* dropout masks; saved in checkpoints */
    if (!dlt_net_data_layer(r->train_net))
        DLT_FAIL(DLT_ERR_PARSE, "%s: the TRAIN phase has no Data or HDF5Data layer", r->files.net_path);
    /* The TEST net is built even without --val, so that its layers are
     * checked (unknown fields, shapes) before hours of training. */
    if (r->val_set)
        dlt_dataset_shape(r->val_set, &c, &h, &w);
    DLT_TRY(dlt_net_create(r->files.net, DLT_PHASE_TEST, c, h, w, r->seed, &r->test_net));
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

static int create_loaders(run *r)
{
    const dlt_data_params *dp = dlt_layer_data_params(dlt_net_data_layer(r->train_net));
    dlt_loader_config lc = {dp->batch_size, r->rank, r->world, 1, r->seed, dp->scale};
    DLT_TRY(dlt_loader_create(r->train_set, &lc, &r->train_loader));
    r->steps_per_epoch = dlt_loader_steps_per_epoch(r->train_loader);
    r->global_batch = dp->batch_size * r->world;
    if (r->val_set) {
        const dlt_data_params *tp = dlt_layer_data_params(dlt_net_data_layer(r->test_net));
        dlt_loader_config vc = {tp->batch_size, r->rank, r->world, 0, r->seed, tp->scale};
        DLT_TRY(dlt_loader_create(r->val_set, &vc, &r->val_loader));
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
    uint64_t *all = r->rank == 0 ? dlt_calloc((size_t)r->world * 4, sizeof(uint64_t)) : NULL;
    dlt_comm_gather_u64(r->comm, r->rng.s, 4, all, 0);
    double st = 0;
    if (r->rank == 0) {
        char path[4096];
        checkpoint_path(r, r->iter, path, sizeof path);
        dlt_ckpt_meta meta = {r->iter, r->iter / r->steps_per_epoch, r->world,
                              dlt_solver_lr(&r->cfg, r->iter), r->files.net_text,
                              r->files.solver_text, all};
        double t0 = now_s();
        st = dlt_ckpt_save(path, r->train_net, r->history, &meta);
        if (st == 0) {
            dlt_info("checkpoint %s (iter %ld, %.2f s)", path, r->iter, now_s() - t0);
            snprintf(r->last_ckpt, sizeof r->last_ckpt, "%s", path);
        }
        free(all);
    }
    dlt_comm_allreduce_sum_doubles(r->comm, &st, 1);
    return st < 0 ? DLT_ERR_IO : 0;
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
                dlt_info("--resume auto: no checkpoint in %s; starting from scratch", r->ckpt_dir);
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
    if (r->rank == 0) {
        st = dlt_ckpt_load(path, r->train_net, r->history, &meta);
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
    dlt_comm_bcast_floats(r->comm, r->history, n, 0);
    int has_rng = meta.rng != NULL;
    dlt_comm_bcast_bytes(r->comm, &has_rng, sizeof has_rng, 0);
    if (ckpt_world == r->world && has_rng)
        dlt_comm_scatter_u64(r->comm, meta.rng, 4, r->rng.s, 0);
    else
        dlt_info("note: checkpoint was written by %d ranks, now %d: per-rank RNG streams restart and "
                 "the data order differs from an uninterrupted run", ckpt_world, r->world);
    free(meta.rng);
    r->iter = iter;
    return 0;
}

/* Run test_iter batches of the validation set; outputs reduced over ranks. */
static void run_test(run *r)
{
    int nout = dlt_net_num_outputs(r->test_net);
    double *sums = dlt_calloc(nout + 1, sizeof(double));
    dlt_layer *dl = dlt_net_data_layer(r->test_net);
    long test_iter = r->cfg.test_iter > 0 ? r->cfg.test_iter : 1;
    for (long i = 0; i < test_iter; i++) {
        if (dlt_loader_fetch(r->val_loader, i, dl->top[0]->data, dl->top[1]->data) < 0)
            dlt_fatal("reading the validation set %s failed", r->opt->val_path);
        dlt_net_forward(r->test_net);
        for (int o = 0; o < nout; o++)
            sums[o] += dlt_net_output_value(r->test_net, o);
    }
    dlt_comm_allreduce_sum_doubles(r->comm, sums, nout);
    dlt_test_metrics tm = {r->iter, (double)r->iter / r->steps_per_epoch, NAN, NAN, -1};
    for (int o = 0; o < nout; o++) {
        const char *name = dlt_net_output_name(r->test_net, o);
        double v = sums[o] / ((double)test_iter * r->world);
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

/* Per-phase timing and loss accumulated over one display interval. */
typedef struct interval {
    double loss, t_data, t_forward, t_backward, t_allreduce, t_update;
    long steps;
    double start;
} interval;

static void display(run *r, interval *iv)
{
    double v[7] = {iv->loss, iv->t_data, iv->t_forward, iv->t_backward, iv->t_allreduce,
                   iv->t_update, (double)iv->steps};
    dlt_comm_allreduce_sum_doubles(r->comm, v, 7);
    double steps = v[6] > 0 ? v[6] : 1; /* summed over ranks */
    double wall = now_s() - iv->start;
    dlt_train_metrics m = {r->iter, (double)r->iter / r->steps_per_epoch, v[0] / steps,
                           dlt_solver_lr(&r->cfg, r->iter),
                           wall > 0 ? (double)iv->steps * r->global_batch / wall : 0,
                           v[1] / steps, v[2] / steps, v[3] / steps, v[4] / steps, v[5] / steps};
    dlt_monitor_train(r->monitor, &m);
    memset(iv, 0, sizeof *iv);
    iv->start = now_s();
}

static int train_loop(run *r)
{
    dlt_layer *dl = dlt_net_data_layer(r->train_net);
    float *grads = dlt_net_grads(r->train_net);
    size_t nparams = dlt_net_param_count(r->train_net);
    interval iv = {0};
    iv.start = now_s();
    while (r->iter < r->max_iter) {
        if (r->test_net && r->cfg.test_interval > 0 && r->iter % r->cfg.test_interval == 0 &&
            (r->iter > 0 || r->cfg.test_initialization)) {
            double ts = now_s();
            run_test(r);
            iv.start += now_s() - ts; /* images/s counts training time only */
        }
        double t0 = now_s();
        /* After setup a failure on one rank must end all of them: fatal. */
        if (dlt_loader_fetch(r->train_loader, r->iter, dl->top[0]->data, dl->top[1]->data) < 0)
            dlt_fatal("reading the training set %s failed at iteration %ld", r->opt->train_path,
                      r->iter);
        double t1 = now_s();
        dlt_net_zero_grads(r->train_net);
        float loss = dlt_net_forward(r->train_net);
        double t2 = now_s();
        dlt_net_backward(r->train_net);
        double t3 = now_s();
        dlt_comm_allreduce_mean(r->comm, grads, nparams);
        double t4 = now_s();
        dlt_sgd_update(&r->cfg, r->train_net, r->history, dlt_solver_lr(&r->cfg, r->iter));
        double t5 = now_s();
        r->iter++;
        iv.loss += loss;
        iv.t_data += t1 - t0, iv.t_forward += t2 - t1, iv.t_backward += t3 - t2;
        iv.t_allreduce += t4 - t3, iv.t_update += t5 - t4;
        iv.steps++;
        if (!isfinite(loss))
            dlt_fatal("loss is %f at iteration %ld; lower base_lr (now %g) or check the data",
                      loss, r->iter, r->cfg.base_lr);
        if (r->cfg.display > 0 && r->iter % r->cfg.display == 0)
            display(r, &iv);
        if (r->cfg.snapshot > 0 && r->iter % r->cfg.snapshot == 0)
            DLT_TRY(save_checkpoint(r));
    }
    if (iv.steps > 0 && r->cfg.display > 0)
        display(r, &iv);
    if (r->cfg.snapshot <= 0 || r->iter % r->cfg.snapshot != 0)
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
    dlt_info("global batch %d = %d ranks x batch_size %d; %ld iterations per epoch", r->global_batch,
             r->world, dp->batch_size, r->steps_per_epoch);
    dlt_info("train set %s: %zu samples of %dx%dx%d", r->opt->train_path,
             dlt_dataset_size(r->train_set), c, h, w);
    if (r->val_set)
        dlt_info("val set   %s: %zu samples; test every %ld iterations on %ld batches per rank",
                 r->opt->val_path, dlt_dataset_size(r->val_set), r->cfg.test_interval,
                 r->cfg.test_iter);
    else
        dlt_info("no --val: testing disabled");
    dlt_info("parameters %zu (%.2f MB); max_iter %ld; seed %llu; run directory %s",
             dlt_net_param_count(r->train_net), dlt_net_param_count(r->train_net) * 4.0 / 1e6,
             r->max_iter, (unsigned long long)r->seed, r->opt->run_dir);
}

static void run_free(run *r)
{
    dlt_loader_free(r->train_loader);
    dlt_loader_free(r->val_loader);
    dlt_net_free(r->test_net);
    dlt_net_free(r->train_net);
    dlt_dataset_close(r->train_set);
    dlt_dataset_close(r->val_set);
    free(r->history);
    dlt_run_files_free(&r->files);
    dlt_monitor_close(r->monitor);
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
    if (r->rank == 0)
        DLT_TRY(dlt_run_dir_create(opt->run_dir, r->ckpt_dir, sizeof r->ckpt_dir));
    else
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
    if (r->rank == 0) {
        DLT_TRY(dlt_monitor_open(opt->run_dir, &r->monitor));
        DLT_TRY(dlt_run_dir_save_config(opt->run_dir, &r->files, opt->command_line));
    }
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
    int st = agree(&r, setup(&r));
    if (st == 0) {
        const char *threads_from;
        int threads = choose_threads(&r, &threads_from);
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
        openblas_set_num_threads(threads);
#endif
        dlt_rng_seed(&r.rng, r.seed * 7919 + (uint64_t)r.rank);
        r.history = dlt_calloc(dlt_net_param_count(r.train_net), sizeof(float));
        /* Every rank starts from rank 0's weights. */
        dlt_comm_bcast_floats(comm, dlt_net_params(r.train_net), dlt_net_param_count(r.train_net), 0);
        if (opt->resume)
            st = agree(&r, resume(&r));
        if (st == 0) {
            print_summary(&r, threads, threads_from);
            double t0 = now_s();
            st = train_loop(&r);
            if (st == 0)
                dlt_info("done: %ld iterations in %.1f s; last checkpoint %s", r.iter, now_s() - t0,
                         r.last_ckpt);
        }
    }
    run_free(&r);
    return st;
}
