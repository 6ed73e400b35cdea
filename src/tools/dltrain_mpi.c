/* dltrain-mpi - the trainer: parse options, start the communicator, run
 * the training loop. Runs as one process or as P ranks under mpirun/srun. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dltrain/comm.h"
#include "dltrain/doctor.h"
#include "dltrain/device.h"
#include "dltrain/error.h"
#include "dltrain/train.h"

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
            "  --seed N          initialization and shuffling seed (default: random_seed, else 1)\n"
            "  --bucket-mb X     gradient allreduce bucket size in MB (default 4)\n"
            "  --allreduce overlap|blocking  start each bucket's allreduce as soon as backward\n"
            "                    has produced it (default), or reduce all after backward\n"
            "  --reducer auto|mpi|shm  MPI_Allreduce, the node shared-memory reducer\n"
            "                    (hierarchical across nodes), or the faster of them (default)\n"
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
            "  --device cpu|gpu|auto  where to compute (default cpu); gpu: one GPU per rank from\n"
            "                    the node-local rank; auto: GPU if one is usable, else CPU\n"
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

/* The command line as one string, for RUN/config/command.txt. */
static char *join_args(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = dlt_calloc(n, 1);
    for (int i = 0; i < argc; i++) {
        strcat(s, argv[i]);
        if (i + 1 < argc)
            strcat(s, " ");
    }
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

static const char *const allreduce_modes[] = {"overlap", "blocking", NULL}; /* dlt_allreduce_mode */
static const char *const reducer_kinds[] = {"auto", "mpi", "shm", NULL};    /* dlt_reducer_kind */
static const char *const nan_actions[] = {"stop", "skip", NULL};

/* Long options without a short letter. */
enum { OPT_DEVICE = 256, OPT_CUDNN_DETERMINISTIC, OPT_CUDNN_WORKSPACE, OPT_LR_SCALE_REF, OPT_WARMUP_ITERS };

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"solver", required_argument, 0, 's'}, {"train", required_argument, 0, 't'},
        {"val", required_argument, 0, 'v'},    {"run-dir", required_argument, 0, 'r'},
        {"max-iter", required_argument, 0, 'm'}, {"resume", required_argument, 0, 'R'},
        {"seed", required_argument, 0, 'S'},   {"help", no_argument, 0, 'h'},
        {"bucket-mb", required_argument, 0, 'B'}, {"allreduce", required_argument, 0, 'A'},
        {"reducer", required_argument, 0, 'D'}, {"watchdog", required_argument, 0, 'W'},
        {"on-nan", required_argument, 0, 'N'},
        {"sample-interval", required_argument, 0, 'I'}, {"doctor", no_argument, 0, 'd'},
        {"version", no_argument, 0, 'V'},
        {"keep-checkpoints", required_argument, 0, 'K'}, {"stop-before", required_argument, 0, 'b'},
        {"time-limit", required_argument, 0, 'L'},
        {"prefetch", required_argument, 0, 'P'}, {"stage-dir", required_argument, 0, 'T'},
        {"device", required_argument, 0, OPT_DEVICE},
        {"cudnn-deterministic", no_argument, 0, OPT_CUDNN_DETERMINISTIC},
        {"cudnn-workspace-mb", required_argument, 0, OPT_CUDNN_WORKSPACE},
        {"lr-scale-ref-batch", required_argument, 0, OPT_LR_SCALE_REF},
        {"warmup-iters", required_argument, 0, OPT_WARMUP_ITERS},
        {0, 0, 0, 0}};
    long prefetch = 0;
    char *command_line = join_args(argc, argv);
    dlt_train_options opt = {0};
    opt.max_iter = -1;
    opt.seed = -1;
    opt.keep_checkpoints = 3;
    opt.stop_before_min = -1;
    opt.command_line = command_line;
    opt.watchdog_s = 600;
    opt.sample_interval = 30;
    int doctor = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': opt.solver_path = optarg; break;
        case 't': opt.train_path = optarg; break;
        case 'v': opt.val_path = optarg; break;
        case 'r': opt.run_dir = optarg; break;
        case 'R': opt.resume = optarg; break;
        case 'm':
            if (parse_long(optarg, "--max-iter", &opt.max_iter) < 0)
                return DLT_EXIT_USAGE;
            break;
        case 'S':
            if (parse_long(optarg, "--seed", &opt.seed) < 0)
                return DLT_EXIT_USAGE;
            break;
        case 'B':
            if (parse_positive(optarg, "--bucket-mb", &opt.bucket_mb) < 0)
                return DLT_EXIT_USAGE;
            break;
        case 'W':
            if (parse_positive(optarg, "--watchdog", &opt.watchdog_s) < 0)
                return DLT_EXIT_USAGE;
            break;
        case 'A':
            if ((opt.allreduce_mode = parse_choice(optarg, "--allreduce", allreduce_modes)) < 0)
                return DLT_EXIT_USAGE;
            break;
        case 'D':
            if ((opt.reducer_kind = parse_choice(optarg, "--reducer", reducer_kinds)) < 0)
                return DLT_EXIT_USAGE;
            break;
        case 'N':
            if ((opt.on_nan_skip = parse_choice(optarg, "--on-nan", nan_actions)) < 0)
                return DLT_EXIT_USAGE;
            break;
        case 'I': {
            char *end;
            opt.sample_interval = strtod(optarg, &end);
            if (*optarg == '\0' || *end != '\0' || !(opt.sample_interval >= 0)) {
                fprintf(stderr, "dltrain-mpi: --sample-interval expects seconds >= 0, got '%s'\n",
                        optarg);
                return DLT_EXIT_USAGE;
            }
            break;
        }
        case 'd': doctor = 1; break;
        case 'K': {
            long k;
            if (parse_long(optarg, "--keep-checkpoints", &k) < 0)
                return DLT_EXIT_USAGE;
            opt.keep_checkpoints = k > 1000000 ? 1000000 : (int)k;
            break;
        }
        case 'b':
            if (parse_minutes(optarg, "--stop-before", &opt.stop_before_min) < 0)
                return DLT_EXIT_USAGE;
            break;
        case 'L':
            if (parse_minutes(optarg, "--time-limit", &opt.time_limit_min) < 0)
                return DLT_EXIT_USAGE;
            break;
        case 'P':
            if (parse_long(optarg, "--prefetch", &prefetch) < 0 || prefetch < 1 || prefetch > 64) {
                fprintf(stderr, "dltrain-mpi: --prefetch expects 1..64\n");
                return DLT_EXIT_USAGE;
            }
            opt.prefetch = (int)prefetch;
            break;
        case 'T': opt.stage_dir = optarg; break;
        case OPT_DEVICE: {
            dlt_device_kind k;
            if (dlt_device_parse(optarg, &k) < 0)
                return DLT_EXIT_USAGE;
            opt.device = (int)k;
            break;
        }
        case OPT_CUDNN_DETERMINISTIC: opt.cudnn_deterministic = 1; break;
        case OPT_CUDNN_WORKSPACE:
            if (parse_long(optarg, "--cudnn-workspace-mb", &opt.cudnn_workspace_mb) < 0)
                return DLT_EXIT_USAGE;
            break;
        case OPT_LR_SCALE_REF:
            if (parse_long(optarg, "--lr-scale-ref-batch", &opt.lr_scale_ref_batch) < 0)
                return DLT_EXIT_USAGE;
            break;
        case OPT_WARMUP_ITERS:
            if (parse_long(optarg, "--warmup-iters", &opt.warmup_iters) < 0)
                return DLT_EXIT_USAGE;
            break;
        case 'h': usage(stdout); return DLT_EXIT_OK;
        case 'V': printf("dltrain-mpi %s\n", PACKAGE_VERSION); return DLT_EXIT_OK;
        default: usage(stderr); return DLT_EXIT_USAGE;
        }
    }
    if (doctor && optind == argc) {
        dlt_comm *comm = dlt_comm_init(&argc, &argv);
        dlt_doctor_options dopt = {opt.train_path, opt.val_path, opt.run_dir};
        int st = dlt_doctor_run(&dopt, comm);
        dlt_comm_finalize(comm);
        free(command_line);
        return st == 0 ? DLT_EXIT_OK : DLT_EXIT_FAILURE;
    }
    if (optind < argc || !opt.solver_path || !opt.train_path || !opt.run_dir) {
        fprintf(stderr, optind < argc ? "dltrain-mpi: unexpected argument '%s'\n"
                                      : "dltrain-mpi: --solver, --train and --run-dir are required%s\n",
                optind < argc ? argv[optind] : "");
        usage(stderr);
        return DLT_EXIT_USAGE;
    }
    dlt_comm *comm = dlt_comm_init(&argc, &argv);
    int st = dlt_train_run(&opt, comm);
    dlt_comm_finalize(comm);
    free(command_line);
    if (st == DLT_TRAIN_PREEMPTED)
        return DLT_EXIT_PREEMPTED;
    return st == 0 ? DLT_EXIT_OK : DLT_EXIT_FAILURE;
}
