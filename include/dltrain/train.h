/* train.h - the training loop: net, solver, data, comm, ckpt, monitor. */
#ifndef DLTRAIN_TRAIN_H
#define DLTRAIN_TRAIN_H

#include "dltrain/comm.h"

typedef struct dlt_train_options {
    const char *solver_path;
    const char *train_path;
    const char *val_path;   /* NULL: no testing */
    const char *run_dir;
    long max_iter;          /* <0: from the solver */
    const char *resume;     /* NULL, "auto" or a checkpoint file */
    long seed;              /* <0: solver's random_seed, else 1 */
    const char *command_line; /* recorded in RUN/config/command.txt */
    /* Distributed training (0 = defaults): */
    double bucket_mb;       /* gradient bucket size, MB (0: 4) */
    int allreduce_mode;     /* dlt_allreduce_mode: overlap (0) or blocking */
    int reducer_kind;       /* dlt_reducer_kind: auto (0), mpi, shm */
    double watchdog_s;      /* abort after this long without progress; 0: off */
    int on_nan_skip;        /* NaN/Inf loss or gradients: 0 stop, 1 skip the step */

    double sample_interval; /* seconds between system samples; <= 0: none */
} dlt_train_options;

/* Returns 0 or a status after reporting the error. */
int dlt_train_run(const dlt_train_options *opt, dlt_comm *comm);

#endif
