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
    /* Beyond Caffe (Goyal et al. 2017), 0 = off: the LR is multiplied by
     * global batch / lr_scale_ref_batch and ramped up over warmup_iters. */
    long lr_scale_ref_batch;
    long warmup_iters;
} dlt_train_options;

/* Returns 0 or a status after reporting the error. */
int dlt_train_run(const dlt_train_options *opt, dlt_comm *comm);

#endif
