/* solver.h - Caffe SolverParameter, learning-rate policies (with the
 * warmup and linear-scaling extensions) and the solvers SGD, Nesterov,
 * Adam, AdaGrad, RMSProp, AdaDelta. */
#ifndef DLTRAIN_SOLVER_H
#define DLTRAIN_SOLVER_H

#include <stddef.h>

#include "dltrain/net.h"
#include "dltrain/cfg.h"

typedef enum {
    DLT_LR_FIXED, DLT_LR_STEP, DLT_LR_EXP, DLT_LR_INV, DLT_LR_MULTISTEP, DLT_LR_POLY,
    DLT_LR_SIGMOID
} dlt_lr_policy;

/* The solvers, one row each: the enum suffix, the name as in `type:`
 * (Caffe's), and the history buffers the solver keeps per parameter value
 * (checkpointed as /history, /history2). Each row's update rule is
 * dlt__rule_ID in src/net/solver_rules.h, shared by the host loop and the
 * CUDA kernel. (libuv's UV_HANDLE_TYPE_MAP pattern: the enum, the names and
 * the step table are all expanded from this one list.) */
#define DLT_SOLVER_MAP(XX)          \
    XX(SGD, "SGD", 1)               \
    XX(NESTEROV, "Nesterov", 1)     \
    XX(ADAM, "Adam", 2)             \
    XX(ADAGRAD, "AdaGrad", 1)       \
    XX(RMSPROP, "RMSProp", 1)       \
    XX(ADADELTA, "AdaDelta", 2)

typedef enum {
#define XX(id, name, nhistory) DLT_SOLVER_##id,
    DLT_SOLVER_MAP(XX)
#undef XX
    DLT_SOLVER_NTYPES
} dlt_solver_type;

typedef enum { DLT_REG_L2, DLT_REG_L1 } dlt_regularization;

#define DLT_MAX_STEPVALUES 64

typedef struct dlt_solver_config {
    const char *net;             /* `net:` path as written (owned by the tree) */
    dlt_solver_type type;        /* `type:` or the older `solver_type:` enum */
    double base_lr, weight_decay;
    double momentum;             /* SGD, Nesterov; Adam's beta1; AdaDelta's decay */
    double momentum2;            /* Adam's beta2 (default 0.999) */
    double rms_decay;            /* RMSProp's decay of the mean of g^2 (default 0.99) */
    double delta;                /* Adam, AdaGrad, RMSProp, AdaDelta: epsilon (default 1e-8) */
    dlt_regularization regularization; /* regularization_type, default L2 */
    double clip_gradients;       /* < 0: off (Caffe's default -1) */
    long iter_size;              /* batches accumulated per iteration, default 1 */
    dlt_lr_policy lr_policy;
    double gamma, power;
    long stepsize;
    long stepvalue[DLT_MAX_STEPVALUES]; /* multistep, increasing */
    int nstepvalue;
    long max_iter, display, snapshot, test_iter, test_interval;
    int test_initialization;     /* default true, as Caffe */
    long random_seed;            /* -1: default seed */
    long average_loss;           /* displayed loss is averaged over this many iterations */
    const char *snapshot_prefix; /* accepted; checkpoints go to RUN/checkpoints */
    /* Beyond Caffe, set from the command line (not the prototxt); see
     * dlt_solver_set_scaling. Defaults: lr_scale 1, warmup_iter 0. */
    double lr_scale;             /* linear scaling rule: global batch / reference batch */
    long warmup_iter;            /* gradual warmup length in iterations */
} dlt_solver_config;

/* Read a SolverParameter. Unknown fields and values are errors naming
 * FILE:LINE:COL; solver_mode, device_id and other fields with no meaning
 * here are noted. */
int dlt_solver_config_parse(const dlt_cfg *root, dlt_solver_config *cfg);

/* The linear scaling rule and gradual warmup of Goyal et al. 2017
 * ("Accurate, Large Minibatch SGD"): the policy's rate is multiplied by
 * LR_SCALE (= global batch / reference batch); during the first
 * WARMUP_ITER iterations the multiplier ramps linearly, from 1 (the
 * unscaled rate) when LR_SCALE > 1, or from 1/WARMUP_ITER when
 * LR_SCALE == 1, reaching LR_SCALE at iteration WARMUP_ITER. */
void dlt_solver_set_scaling(dlt_solver_config *cfg, double lr_scale, long warmup_iter);

/* Learning rate at ITER (iterations completed): Caffe's policy formula
 * times the scaling/warmup multiplier. */
double dlt_solver_lr(const dlt_solver_config *cfg, long iter);
/* Caffe's policy formula alone (SGDSolver::GetLearningRate). */
double dlt_solver_policy_lr(const dlt_solver_config *cfg, long iter);
const char *dlt_solver_type_name(dlt_solver_type type);
const char *dlt_lr_policy_name(dlt_lr_policy policy);
/* One line describing the schedule ("step: 0.01 x 0.1^floor(iter/1000)..."). */
void dlt_solver_describe(const dlt_solver_config *cfg, char *buf, size_t size);

/* A solver and its state: the row's number of history buffers (one for
 * SGD and Nesterov (momentum), AdaGrad (sum of g^2) and RMSProp (mean of
 * g^2); two for Adam (first
 * and second moments) and AdaDelta (mean of g^2, mean of update^2)), each
 * dlt_net_param_count elements, laid out like the parameters. */
typedef struct dlt_solver dlt_solver;
dlt_solver *dlt_solver_create(const dlt_solver_config *cfg, size_t nparams);
void dlt_solver_free(dlt_solver *s);
const dlt_solver_config *dlt_solver_get_config(const dlt_solver *s);
int dlt_solver_num_history(const dlt_solver *s);
float *dlt_solver_history(dlt_solver *s, int index);

/* Caffe's Solver::ApplyUpdate on the (already averaged over ranks)
 * gradients of NET after ITER completed iterations: clip_gradients on
 * the global L2 norm, divide by iter_size, regularize (L2 or L1, with
 * decay_mult), compute the update of the solver type (lr_mult), and
 * w -= update. Returns the gradient L2 norm before clipping when
 * clipping is on, else 0. */
double dlt_solver_step(dlt_solver *s, dlt_net *net, long iter);

/* The history lives where the net keeps its parameters: dlt_solver_step
 * on a net in DLT_DEVICE memory (dlt_net_memory) uploads the history the
 * first time (so a resume fills the host history before the first step)
 * and then updates the net's device weights from its device gradients;
 * on a net back in host memory it brings the history home first. While
 * the history is on the device its host copy is stale until
 * dlt_solver_history_to_host (before a checkpoint; a no-op on the host).
 * dlt_solver_memory says where it is now. */
void dlt_solver_history_to_host(dlt_solver *s);
/* Multiply the gradients by F at the start of each dlt_solver_step,
 * before clipping (F = 1 / the loss scale of --precision amp, a power of
 * two, so exact); 1 (the default) does nothing. */
void dlt_solver_set_grad_scale(dlt_solver *s, double f);
dlt_memory dlt_solver_memory(const dlt_solver *s);

/* One SGD step, Caffe's order: L2 weight decay (decay_mult), then
 * history = momentum*history + lr*lr_mult*grad, then w -= history.
 * HISTORY has dlt_net_param_count elements. (The plain SGD path, kept
 * for the benchmarks: the SGD row's host step without clipping or
 * iter_size; training uses dlt_solver_step.) */
void dlt_sgd_update(const dlt_solver_config *cfg, dlt_net *net, float *history, double lr);

#endif
