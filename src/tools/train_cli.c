/* train_cli.c - dltrain-mpi's option parsing: getopt_long over long options
 * (only -h has a short letter), value checks, usage text. */
#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dltrain/cpu.h"
#include "dltrain/device.h"
#include "dltrain/error.h"
#include "dltrain/reducer.h"
#include "tools/train_cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dltrain-mpi --solver SOLVER.prototxt --train TRAIN.h5 --run-dir DIR [options]\n"
            "       mpirun -np P dltrain-mpi ...   (data-parallel: batch_size is per rank)\n"
            "\n"
            "  --solver FILE     Caffe SolverParameter; its net: path is resolved from the\n"
            "                    current directory, then from the solver's directory\n"
            "  --train FILE      training set (HDF5, from dltrain-prep or Caffe's HDF5Data layout)\n"
            "  --val FILE        validation set for test_iter/test_interval (default: no testing)\n"
            "  --run-dir DIR     log.txt, metrics.jsonl, config/, checkpoints/ (created)\n"
            "  --max-iter N      stop after N iterations (default: the solver's max_iter)\n"
            "  --resume auto|FILE  continue from the newest checkpoint in DIR/checkpoints,\n"
            "                    or from FILE (default: start from scratch)\n"
            "  --weights FILE[,FILE...]  start from trained weights, as caffe train --weights:\n"
            "                    blobs are copied into the layers of the same name (layers only\n"
            "                    in the file or only in the net are listed and skipped; a shape\n"
            "                    mismatch is an error); the solver starts fresh. FILE: a dltrain\n"
            "                    checkpoint, a Caffe .caffemodel.h5 or a binary .caffemodel.\n"
            "                    With --resume auto, used only when there is no checkpoint yet\n"
            "  --seed N          initialization and shuffling seed (default: random_seed, else 1)\n"
            "  --bucket-mb X     gradient allreduce bucket size in MB (default 4)\n"
            "  --allreduce overlap|thread|blocking  start each bucket's allreduce as soon as\n"
            "                    backward has produced it, from backward itself (default) or\n"
            "                    on a communication thread; or reduce all after backward\n"
            "  --reducer auto|mpi|shm  gradients on the host: MPI_Allreduce, the node\n"
            "                    shared-memory reducer (hierarchical across nodes), or the\n"
            "                    faster of them (default); on GPUs NCCL (auto, or nccl)\n"
            "  --watchdog SEC    abort the job when a rank makes no progress for SEC\n"
            "                    seconds, naming the phase (default 600; 0 disables)\n"
            "  --on-nan stop|skip  NaN/Inf loss or gradients: stop naming the iteration\n"
            "                    and layer (default), or skip that step\n"
            "  --sample-interval SEC  system samples (CPU, memory, network, disk, GPU) to\n"
            "                    DIR/system.jsonl every SEC seconds; 0 turns it off (default: 30)\n"
            "  --doctor          check this environment (one row per rank) and exit; with\n"
            "                    --train/--val/--run-dir, check those paths too\n"
            "  --keep-checkpoints K  keep the newest K checkpoints, 0 = all (default 3)\n"
            "  --stop-before MIN checkpoint and exit (status %d) MIN minutes before the job's end, read\n"
            "                    from SLURM_JOB_END_TIME or DLT_JOB_END_TIME (epoch seconds),\n"
            "                    else from --time-limit\n"
            "  --time-limit MIN  the job's length in minutes from now, when the scheduler\n"
            "                    does not say (PBS walltime, SGE h_rt)\n"
            "  --prefetch N      batches the loader prepares ahead, one thread each (default: 2)\n"
            "  --stage-dir DIR   copy the datasets to node-local DIR once per node (verified by\n"
            "                    CRC-32, reused by later runs) and read them from there\n"
            "  --data-memory-mb N  memory each rank may spend on the TRAIN set (default: half the\n"
            "                    node's RAM over its ranks). A set that fits is read once and\n"
            "                    shuffled exactly each epoch; a larger one is streamed: the HDF5\n"
            "                    chunks in a per-epoch random order, dealt to the ranks, each read\n"
            "                    whole and mixed in a shuffle buffer of N/4 MB (a coarser shuffle)\n"
            "  --device cpu|gpu|auto  where to compute (default cpu); gpu: one GPU per rank from\n"
            "                    the node-local rank; auto: GPU if one is usable, else CPU\n"
            "  --conv-backend auto|im2col|dnnl  CPU convolutions: im2col + OpenBLAS sgemm, or\n"
            "                    oneDNN (when built with it); auto: oneDNN if built in, else\n"
            "                    im2col (default: DLT_CONV_BACKEND from the environment, else auto)\n"
            "  --precision fp32|tf32|amp|bf16  arithmetic (default tf32): tf32 lets the GPU's\n"
            "                    tensor cores round products' inputs to 10 mantissa bits (Ampere\n"
            "                    and later; on the CPU tf32 is fp32); fp32 is strict FP32; amp\n"
            "                    stores activations and gradients as FP16 with dynamic loss\n"
            "                    scaling, bf16 as bfloat16 (weights, solver state, BatchNorm\n"
            "                    statistics and the loss stay FP32; on the CPU a reference that\n"
            "                    rounds where the GPU stores 16 bits)\n"
            "  --loss-scale S    amp: the first loss scale, a power of two (default 65536)\n"
            "  --loss-scale-window N  amp: double the scale after N steps without overflow\n"
            "                    (default 2000); an overflow skips the step and halves it\n"
            "  --cudnn-deterministic  deterministic cuDNN algorithms only (GPU)\n"
            "  --cudnn-workspace-mb N  cuDNN workspace limit per convolution (default 512)\n"
            "  --lr-scale-ref-batch B  linear scaling rule: multiply the solver's learning rate\n"
            "                    by global_batch / B (global batch = ranks x batch_size x iter_size;\n"
            "                    default: off)\n"
            "  --warmup-iters N  gradual warmup: ramp the rate linearly over the first N iterations,\n"
            "                    from the unscaled rate when scaling, else from lr/N (default 0: off)\n"
            "  --help, --version\n"
            "\n"
            "Signals: SIGUSR1 writes a checkpoint at the next iteration and goes on;\n"
            "SIGTERM, SIGINT, SIGUSR2 write one and exit %d (mpirun forwards SIGUSR1/2).\n"
            "\n"
            "Exit status: 0 success, 1 error (the message names the file), 2 bad command line,\n"
            "%d preempted: stopped by a signal or --stop-before after a checkpoint; resumable\n"
            "with --resume auto.\n",
            DLT_EXIT_PREEMPTED, DLT_EXIT_PREEMPTED, DLT_EXIT_PREEMPTED);
}

/* The command line as one string, for RUN/config/command.txt, each
 * argument quoted for a POSIX shell where it needs it ('...' with each '
 * written '\''), so the line pasted back into a shell runs the same
 * command: spaces, '*', '$' and quotes in paths survive. */
static int shell_safe(const char *a)
{
    if (!*a)
        return 0;
    for (; *a; a++)
        if (!isalnum((unsigned char)*a) && !strchr("_@%+=:,./-", *a))
            return 0;
    return 1;
}

static char *join_args(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += 4 * strlen(argv[i]) + 3; /* every char a quote: '\'' */
    char *s = dlt_calloc(n, 1), *p = s;
    for (int i = 0; i < argc; i++) {
        if (i > 0)
            *p++ = ' ';
        if (shell_safe(argv[i])) {
            p = stpcpy(p, argv[i]);
            continue;
        }
        *p++ = '\'';
        for (const char *a = argv[i]; *a; a++) {
            if (*a == '\'')
                p = stpcpy(p, "'\\''"); /* close, escaped quote, reopen */
            else
                *p++ = *a;
        }
        *p++ = '\'';
    }
    *p = '\0';
    return s;
}

static int parse_long(const char *s, const char *opt, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0) {
        fprintf(stderr, "dltrain-mpi: %s expects a non-negative integer, got '%s'\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* A number >= 0 (--watchdog 0 disables; --bucket-mb must be > 0). */
static int parse_positive(const char *s, const char *opt, double *out)
{
    char *end;
    double v = strtod(s, &end);
    int zero_ok = strcmp(opt, "--watchdog") == 0;
    if (*s == '\0' || *end != '\0' || !(v > 0 || (zero_ok && v == 0))) {
        fprintf(stderr, "dltrain-mpi: %s expects a %s number, got '%s'\n", opt,
                zero_ok ? "non-negative" : "positive", s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_minutes(const char *s, const char *opt, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(v >= 0)) {
        fprintf(stderr, "dltrain-mpi: %s expects minutes (a non-negative number), got '%s'\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Index of S in the NULL-terminated CHOICES (the enum order), or -1. */
static int parse_choice(const char *s, const char *opt, const char *const *choices)
{
    for (int i = 0; choices[i]; i++)
        if (strcmp(s, choices[i]) == 0)
            return i;
    fprintf(stderr, "dltrain-mpi: %s expects one of", opt);
    for (int i = 0; choices[i]; i++)
        fprintf(stderr, " %s", choices[i]);
    fprintf(stderr, ", got '%s'\n", s);
    return -1;
}

static const char *const allreduce_modes[] = {"overlap", "blocking", "thread", NULL}; /* dlt_allreduce_mode */
static const char *const nan_actions[] = {"stop", "skip", NULL};

/* Codes of the long options; all above any char, so none can collide with a
 * short letter (-h is the only one). */
enum {
    OPT_SOLVER = 256, OPT_TRAIN, OPT_VAL, OPT_RUN_DIR, OPT_MAX_ITER, OPT_RESUME, OPT_SEED,
    OPT_BUCKET_MB, OPT_ALLREDUCE, OPT_REDUCER, OPT_WATCHDOG, OPT_ON_NAN, OPT_SAMPLE_INTERVAL,
    OPT_DOCTOR, OPT_VERSION, OPT_KEEP_CHECKPOINTS, OPT_STOP_BEFORE, OPT_TIME_LIMIT, OPT_PREFETCH, OPT_DATA_MEMORY,
    OPT_STAGE_DIR, OPT_DEVICE, OPT_CUDNN_DETERMINISTIC, OPT_CUDNN_WORKSPACE, OPT_LR_SCALE_REF,
    OPT_WARMUP_ITERS, OPT_CONV_BACKEND, OPT_WEIGHTS, OPT_PRECISION, OPT_LOSS_SCALE, OPT_LOSS_SCALE_WINDOW
};

static const struct option longopts[] = {
    {"solver", required_argument, 0, OPT_SOLVER},
    {"train", required_argument, 0, OPT_TRAIN},
    {"val", required_argument, 0, OPT_VAL},
    {"run-dir", required_argument, 0, OPT_RUN_DIR},
    {"max-iter", required_argument, 0, OPT_MAX_ITER},
    {"resume", required_argument, 0, OPT_RESUME},
    {"weights", required_argument, 0, OPT_WEIGHTS},
    {"seed", required_argument, 0, OPT_SEED},
    {"help", no_argument, 0, 'h'},
    {"bucket-mb", required_argument, 0, OPT_BUCKET_MB},
    {"allreduce", required_argument, 0, OPT_ALLREDUCE},
    {"reducer", required_argument, 0, OPT_REDUCER},
    {"watchdog", required_argument, 0, OPT_WATCHDOG},
    {"on-nan", required_argument, 0, OPT_ON_NAN},
    {"sample-interval", required_argument, 0, OPT_SAMPLE_INTERVAL},
    {"doctor", no_argument, 0, OPT_DOCTOR},
    {"version", no_argument, 0, OPT_VERSION},
    {"keep-checkpoints", required_argument, 0, OPT_KEEP_CHECKPOINTS},
    {"stop-before", required_argument, 0, OPT_STOP_BEFORE},
    {"time-limit", required_argument, 0, OPT_TIME_LIMIT},
    {"prefetch", required_argument, 0, OPT_PREFETCH},
    {"data-memory-mb", required_argument, 0, OPT_DATA_MEMORY},
    {"stage-dir", required_argument, 0, OPT_STAGE_DIR},
    {"device", required_argument, 0, OPT_DEVICE},
    {"cudnn-deterministic", no_argument, 0, OPT_CUDNN_DETERMINISTIC},
    {"cudnn-workspace-mb", required_argument, 0, OPT_CUDNN_WORKSPACE},
    {"lr-scale-ref-batch", required_argument, 0, OPT_LR_SCALE_REF},
    {"warmup-iters", required_argument, 0, OPT_WARMUP_ITERS},
    {"conv-backend", required_argument, 0, OPT_CONV_BACKEND},
    {"precision", required_argument, 0, OPT_PRECISION},
    {"loss-scale", required_argument, 0, OPT_LOSS_SCALE},
    {"loss-scale-window", required_argument, 0, OPT_LOSS_SCALE_WINDOW},
    {0, 0, 0, 0}};

static void set_defaults(dlt_train_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->max_iter = -1;
    opt->seed = -1;
    opt->keep_checkpoints = 3;
    opt->stop_before_min = -1;
    opt->watchdog_s = 600;
    opt->sample_interval = 30;
    opt->precision = DLT_PRECISION_TF32; /* TF32 where the GPU has it; FP32 on the CPU */
}

/* One option with its value: 0, or -1 after reporting a bad value. */
static int apply_option(int c, const char *arg, dlt_train_options *opt, int *doctor)
{
    switch (c) {
    case OPT_SOLVER: opt->solver_path = arg; return 0;
    case OPT_TRAIN: opt->train_path = arg; return 0;
    case OPT_VAL: opt->val_path = arg; return 0;
    case OPT_RUN_DIR: opt->run_dir = arg; return 0;
    case OPT_RESUME: opt->resume = arg; return 0;
    case OPT_WEIGHTS: opt->weights = arg; return 0;
    case OPT_STAGE_DIR: opt->stage_dir = arg; return 0;
    case OPT_DOCTOR: *doctor = 1; return 0;
    case OPT_CUDNN_DETERMINISTIC: opt->cudnn_deterministic = 1; return 0;
    case OPT_MAX_ITER: return parse_long(arg, "--max-iter", &opt->max_iter);
    case OPT_SEED: return parse_long(arg, "--seed", &opt->seed);
    case OPT_BUCKET_MB: return parse_positive(arg, "--bucket-mb", &opt->bucket_mb);
    case OPT_WATCHDOG: return parse_positive(arg, "--watchdog", &opt->watchdog_s);
    case OPT_ALLREDUCE:
        opt->allreduce_mode = parse_choice(arg, "--allreduce", allreduce_modes);
        return opt->allreduce_mode < 0 ? -1 : 0;
    case OPT_REDUCER:
        opt->reducer_kind = dlt_reducer_kind_parse(arg); /* comm's table of transports */
        if (opt->reducer_kind < 0) {
            char names[128];
            dlt_reducer_kind_list(names, sizeof names);
            fprintf(stderr, "dltrain-mpi: --reducer expects one of %s, got '%s'\n", names, arg);
            return -1;
        }
        return 0;
    case OPT_ON_NAN:
        opt->on_nan_skip = parse_choice(arg, "--on-nan", nan_actions);
        return opt->on_nan_skip < 0 ? -1 : 0;
    case OPT_SAMPLE_INTERVAL: {
        char *end;
        opt->sample_interval = strtod(arg, &end);
        if (*arg == '\0' || *end != '\0' || !(opt->sample_interval >= 0)) {
            fprintf(stderr, "dltrain-mpi: --sample-interval expects seconds >= 0, got '%s'\n", arg);
            return -1;
        }
        return 0;
    }
    case OPT_KEEP_CHECKPOINTS: {
        long k;
        if (parse_long(arg, "--keep-checkpoints", &k) < 0)
            return -1;
        opt->keep_checkpoints = k > 1000000 ? 1000000 : (int)k;
        return 0;
    }
    case OPT_STOP_BEFORE: return parse_minutes(arg, "--stop-before", &opt->stop_before_min);
    case OPT_TIME_LIMIT: return parse_minutes(arg, "--time-limit", &opt->time_limit_min);
    case OPT_DATA_MEMORY: {
        long mb = 0;
        if (parse_long(arg, "--data-memory-mb", &mb) < 0 || mb < 1) {
            fprintf(stderr, "dltrain-mpi: --data-memory-mb expects a positive number of MB\n");
            return -1;
        }
        opt->data_memory_mb = mb;
        return 0;
    }
    case OPT_PREFETCH: {
        long prefetch = 0;
        if (parse_long(arg, "--prefetch", &prefetch) < 0 || prefetch < 1 || prefetch > 64) {
            fprintf(stderr, "dltrain-mpi: --prefetch expects 1..64\n");
            return -1;
        }
        opt->prefetch = (int)prefetch;
        return 0;
    }
    case OPT_DEVICE: {
        dlt_device_kind k;
        if (dlt_device_parse(arg, &k) < 0)
            return -1;
        opt->device = (int)k;
        return 0;
    }
    case OPT_PRECISION: {
        dlt_precision p;
        if (dlt_precision_parse(arg, &p) < 0)
            return -1;
        opt->precision = (int)p;
        return 0;
    }
    case OPT_LOSS_SCALE: {
        char *end;
        int e;
        opt->loss_scale_init = strtod(arg, &end);
        if (*arg == '\0' || *end != '\0' || !(opt->loss_scale_init >= 1 && opt->loss_scale_init <= 1e30) ||
            frexp(opt->loss_scale_init, &e) != 0.5) {
            fprintf(stderr, "dltrain-mpi: --loss-scale expects a power of two >= 1 (e.g. 65536), got '%s'\n", arg);
            return -1;
        }
        return 0;
    }
    case OPT_LOSS_SCALE_WINDOW:
        if (parse_long(arg, "--loss-scale-window", &opt->loss_scale_window) < 0 || opt->loss_scale_window < 1) {
            fprintf(stderr, "dltrain-mpi: --loss-scale-window expects a number of steps >= 1\n");
            return -1;
        }
        return 0;
    case OPT_CONV_BACKEND: {
        dlt_conv_backend b;
        opt->conv_backend = arg;
        return dlt_conv_backend_parse(arg, &b);
    }
    case OPT_CUDNN_WORKSPACE:
        return parse_long(arg, "--cudnn-workspace-mb", &opt->cudnn_workspace_mb);
    case OPT_LR_SCALE_REF:
        return parse_long(arg, "--lr-scale-ref-batch", &opt->lr_scale_ref_batch);
    case OPT_WARMUP_ITERS: return parse_long(arg, "--warmup-iters", &opt->warmup_iters);
    default: usage(stderr); return -1;
    }
}

/* getopt_long over ARGV, then the checks on what is left: DLT__TRAIN_CLI_RUN
 * or the exit status. */
static int read_options(int argc, char **argv, dlt_train_options *opt, int *doctor)
{
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return DLT_EXIT_OK;
        }
        if (c == OPT_VERSION) {
            printf("dltrain-mpi %s\n", PACKAGE_VERSION);
            return DLT_EXIT_OK;
        }
        if (apply_option(c, optarg, opt, doctor) < 0)
            return DLT_EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "dltrain-mpi: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return DLT_EXIT_USAGE;
    }
    if (!*doctor && (!opt->solver_path || !opt->train_path || !opt->run_dir)) {
        fprintf(stderr, "dltrain-mpi: --solver, --train and --run-dir are required\n");
        usage(stderr);
        return DLT_EXIT_USAGE;
    }
    /* Caffe refuses a snapshot and weights together; --resume auto with
     * --weights is the requeued fine-tuning job: weights until a checkpoint. */
    if (opt->weights && opt->resume && strcmp(opt->resume, "auto") != 0) {
        fprintf(stderr, "dltrain-mpi: --resume FILE and --weights exclude each other: resume a dltrain "
                "checkpoint, or start from weights (--resume auto --weights W uses W until there is a "
                "checkpoint)\n");
        return DLT_EXIT_USAGE;
    }
    return DLT__TRAIN_CLI_RUN;
}

int dlt__train_cli_parse(int argc, char **argv, dlt_train_options *opt, int *doctor)
{
    set_defaults(opt);
    *doctor = 0;
    /* Joined before getopt_long permutes ARGV. */
    char *command_line = join_args(argc, argv);
    int st = read_options(argc, argv, opt, doctor);
    if (st == DLT__TRAIN_CLI_RUN)
        opt->command_line = command_line;
    else
        free(command_line);
    return st;
}

void dlt__train_cli_free(dlt_train_options *opt)
{
    free((char *)opt->command_line);
    opt->command_line = NULL;
}
