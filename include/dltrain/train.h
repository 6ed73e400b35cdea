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
    int device;             /* dlt_device_kind: 0 cpu (default), 1 gpu, 2 auto */
    int cudnn_deterministic;      /* GPU: deterministic cuDNN algorithms only */
    long cudnn_workspace_mb;      /* GPU: cuDNN workspace limit per convolution; <=0: 512 */
} dlt_train_options;

/* Returns 0 or a status after reporting the error. */
int dlt_train_run(const dlt_train_options *opt, dlt_comm *comm);

#endif
