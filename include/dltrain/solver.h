/* solver.h - Caffe SolverParameter, learning-rate policies and SGD. */
#ifndef DLTRAIN_SOLVER_H
#define DLTRAIN_SOLVER_H

#include "dltrain/net.h"
#include "dltrain/prototxt.h"

typedef enum { DLT_LR_FIXED, DLT_LR_STEP, DLT_LR_INV } dlt_lr_policy;

typedef struct dlt_solver_config {
    const char *net;             /* `net:` path as written (owned by the tree) */
    double base_lr, momentum, weight_decay;
    dlt_lr_policy lr_policy;
    double gamma, power;
    long stepsize;
    long max_iter, display, snapshot, test_iter, test_interval;
    int test_initialization;     /* default true, as Caffe */
    long random_seed;            /* -1: default seed */
    long average_loss;           /* displayed loss is averaged over this many iterations */
    const char *snapshot_prefix; /* accepted; checkpoints go to RUN/checkpoints */
} dlt_solver_config;

/* Read a SolverParameter. Unknown fields are errors (FILE:LINE:COL);
 * solver_mode, device_id and other fields with no meaning here are noted. */
int dlt_solver_config_parse(const dlt_pnode *root, dlt_solver_config *cfg);

/* Learning rate at ITER by Caffe's formulas. */
double dlt_solver_lr(const dlt_solver_config *cfg, long iter);

/* One SGD step, Caffe's order: L2 weight decay (decay_mult), then
 * history = momentum*history + lr*lr_mult*grad, then w -= history.
 * HISTORY has dlt_net_param_count elements. */
void dlt_sgd_update(const dlt_solver_config *cfg, dlt_net *net, float *history, double lr);

#endif
