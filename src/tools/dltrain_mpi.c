/* dltrain-mpi - the trainer: parse options, start the communicator, run
 * the training loop. Runs as one process or as P ranks under mpirun/srun. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dltrain/comm.h"
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
            "  --lr-scale-ref-batch B  linear scaling rule: multiply the solver's learning rate\n"
            "                    by global_batch / B (global batch = ranks x batch_size x iter_size;\n"
            "                    default: off)\n"
            "  --warmup-iters N  gradual warmup: ramp the rate linearly over the first N iterations,\n"
            "                    from the unscaled rate when scaling, else from lr/N (default 0: off)\n"
            "  --help, --version\n"
            "\n"
            "Exit status: 0 success, 1 error (the message names the file), 2 bad command line.\n");
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

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"solver", required_argument, 0, 's'}, {"train", required_argument, 0, 't'},
        {"val", required_argument, 0, 'v'},    {"run-dir", required_argument, 0, 'r'},
        {"max-iter", required_argument, 0, 'm'}, {"resume", required_argument, 0, 'R'},
        {"seed", required_argument, 0, 'S'},   {"help", no_argument, 0, 'h'},
        {"lr-scale-ref-batch", required_argument, 0, 'L'},
        {"warmup-iters", required_argument, 0, 'W'},
        {"version", no_argument, 0, 'V'},      {0, 0, 0, 0}};
    char *command_line = join_args(argc, argv);
    dlt_train_options opt = {0};
    opt.max_iter = -1;
    opt.seed = -1;
    opt.command_line = command_line;
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
        case 'L':
            if (parse_long(optarg, "--lr-scale-ref-batch", &opt.lr_scale_ref_batch) < 0)
                return DLT_EXIT_USAGE;
            break;
        case 'W':
            if (parse_long(optarg, "--warmup-iters", &opt.warmup_iters) < 0)
                return DLT_EXIT_USAGE;
            break;
        case 'h': usage(stdout); return DLT_EXIT_OK;
        case 'V': printf("dltrain-mpi %s\n", PACKAGE_VERSION); return DLT_EXIT_OK;
        default: usage(stderr); return DLT_EXIT_USAGE;
        }
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
    return st == 0 ? DLT_EXIT_OK : DLT_EXIT_FAILURE;
}
