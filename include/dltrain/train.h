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
    const char *weights;    /* NULL or FILE[,FILE...]: initial weights by layer name (weights.h) */
    long seed;              /* <0: solver's random_seed, else 1 */
    const char *command_line; /* recorded in RUN/config/command.txt */
    /* Distributed training (0 = defaults): */
    double bucket_mb;       /* gradient bucket size, MB (0: 4) */
    int allreduce_mode;     /* dlt_allreduce_mode: overlap (0) or blocking */
    int reducer_kind;       /* dlt_reducer_kind: auto (0), mpi, shm, nccl */
    double watchdog_s;      /* abort after this long without progress; 0: off */
    int on_nan_skip;        /* NaN/Inf loss or gradients: 0 stop, 1 skip the step */

    double sample_interval; /* seconds between system samples; <= 0: none */
    int keep_checkpoints;   /* keep the newest K checkpoints; <= 0: all */
    double stop_before_min; /* checkpoint and exit this long before the job's end; <0: never */
    double time_limit_min;  /* the job's length when the scheduler does not say; <=0: unknown */
    int prefetch;           /* loader batches prepared ahead (0: 2) */
    const char *stage_dir;  /* node-local copy of the datasets, or NULL */
    long data_memory_mb;    /* TRAIN set larger than this per rank: streamed from disk;
                             * 0: half the node's memory over its ranks */
    int device;             /* dlt_device_kind: 0 cpu (default), 1 gpu, 2 auto */
    int cudnn_deterministic;      /* GPU: deterministic cuDNN algorithms only */
    long cudnn_workspace_mb;      /* GPU: cuDNN workspace limit per convolution; <=0: 512 */
    const char *conv_backend;     /* CPU: "auto", "im2col" or "dnnl"; NULL: DLT_CONV_BACKEND, else auto */
    int precision;                /* dlt_precision (compute.h); 0 FP32 here, dltrain-mpi's default TF32 */
    double loss_scale_init;       /* amp: the first loss scale, a power of two; <= 0: 65536 */
    long loss_scale_window;       /* amp: clean steps before the scale doubles; <= 0: 2000 */
    /* Beyond Caffe (Goyal et al. 2017), 0 = off: the LR is multiplied by
     * global batch / lr_scale_ref_batch and ramped up over warmup_iters. */
    long lr_scale_ref_batch;
    long warmup_iters;
} dlt_train_options;

/* dlt_train_run's status after a signal or the time limit stopped training
 * at a checkpoint: resumable (programs exit with DLT_EXIT_PREEMPTED). */
#define DLT_TRAIN_PREEMPTED 1

/* Returns 0, DLT_TRAIN_PREEMPTED, or a negative status after reporting the
 * error. SIGUSR1 writes a checkpoint at the next iteration; SIGTERM, SIGINT
 * and SIGUSR2 write one and return DLT_TRAIN_PREEMPTED. All ranks act at
 * the same iteration. */
int dlt_train_run(const dlt_train_options *opt, dlt_comm *comm);

#endif
