/* solver_rules.h - internal: each solver's update rule, written once for one
 * parameter value and compiled twice, into the host loop (net/solver.c) and
 * into the CUDA kernel (cuda/solver.cu), so the two cannot drift apart.
 * Adding a solver: a row in DLT_SOLVER_MAP (dltrain/solver.h) and, here,
 * its check, prepare and rule, named after the row's ID. */
#ifndef DLTRAIN_SOLVER_RULES_H
#define DLTRAIN_SOLVER_RULES_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "dltrain/solver.h"

/* Compiled for both sides. On the device every operation is rounded on
 * its own (__f*_rn: no FMA contraction), as the host's plain float
 * arithmetic is, so the device matches the host to the last bit. */
#ifdef __CUDACC__
#define DLT__HD static inline __host__ __device__
#else
#define DLT__HD static inline
#endif
#ifdef __CUDA_ARCH__
#define DLT__ADD(a, b) __fadd_rn(a, b)
#define DLT__SUB(a, b) __fsub_rn(a, b)
#define DLT__MUL(a, b) __fmul_rn(a, b)
#define DLT__DIV(a, b) __fdiv_rn(a, b)
#define DLT__SQRT(a) __fsqrt_rn(a)
#else
#define DLT__ADD(a, b) ((a) + (b))
#define DLT__SUB(a, b) ((a) - (b))
#define DLT__MUL(a, b) ((a) * (b))
#define DLT__DIV(a, b) ((a) / (b))
#define DLT__SQRT(a) sqrtf(a)
#endif

/* The scalars of one parameter blob's update, passed by value to kernels. */
typedef struct dlt__update_args {
    float rate;      /* lr x lr_mult */
    float decay;     /* weight_decay x decay_mult; 0: no regularization */
    int l1;          /* L1 (sign) instead of L2 regularization */
    float momentum;  /* SGD/Nesterov momentum, Adam's beta1, AdaDelta's decay */
    float momentum2; /* Adam's beta2 */
    float rms_decay; /* RMSProp */
    float delta;     /* epsilon of Adam, AdaGrad, RMSProp, AdaDelta */
    float step;      /* set by a solver's prepare (Adam: the bias-corrected rate) */
} dlt__update_args;

/* Caffe's Regularize for one value: g + decay * (w or sign(w)), by MODE
 * (dlt__reg_mode: 0 none, 1 L2, 2 L1), so that a loop can fix it. */
DLT__HD int dlt__reg_mode(const dlt__update_args *a) { return a->decay == 0.0f ? 0 : a->l1 ? 2 : 1; }

DLT__HD float dlt__regularize(int mode, float decay, float w, float g)
{
    if (mode == 0)
        return g;
    float r = mode == 2 ? (float)((w > 0.0f) - (w < 0.0f)) : w;
    return DLT__ADD(g, DLT__MUL(decay, r));
}

/* One value of a blob of solver ID with NHISTORY history buffers:
 * regularize, the rule (which updates the history and returns the update
 * value, Caffe's diff after ComputeUpdateValue), then Blob::Update:
 * w -= update. The regularized gradient is stored back, as Caffe does.
 * DLT__UPDATE_VALUE_REG takes the regularization's mode as an argument: a
 * constant one leaves the loop without branches (the host step's vector
 * loops, solver.c). */
#define DLT__UPDATE_VALUE_REG(ID, NHISTORY, MODE, a, w, g, h0, h1, i)                           \
    do {                                                                                        \
        float g_ = dlt__regularize(MODE, (a)->decay, (w)[i], (g)[i]);                           \
        (g)[i] = g_;                                                                            \
        (w)[i] = DLT__SUB((w)[i], dlt__rule_##ID(a, g_, (h0) + (i),                             \
                                                 (NHISTORY) > 1 ? (h1) + (i) : (float *)0));    \
    } while (0)
#define DLT__UPDATE_VALUE(ID, NHISTORY, a, w, g, h0, h1, i) \
    DLT__UPDATE_VALUE_REG(ID, NHISTORY, dlt__reg_mode(a), a, w, g, h0, h1, i)

/* Solver T's host step on COUNT values (solver.c: vectorized for the
 * CPU's widest vectors; exposed for tests/test_solver.c, which checks its
 * bits against the plain loop of DLT__UPDATE_VALUE). */
void dlt__solver_host_step(dlt_solver_type t, const dlt__update_args *a, float *w, float *g, float *h0,
                           float *h1, size_t count);

/* ---- the solvers, in DLT_SOLVER_MAP's order ----
 * dlt__check_ID: the hyperparameters Caffe's solver constructor requires
 *   (0, or -1 with the reason in WHY);
 * dlt__prepare_ID: scalars that depend on the iteration (host, per blob);
 * dlt__rule_ID: history update and update value for gradient G (already
 *   regularized); H0, H1 are this value's history slots (H1 NULL for
 *   one-slot solvers). */

static inline int dlt__no_check(const dlt_solver_config *c, char *why, size_t n)
{
    (void)c, (void)why, (void)n;
    return 0;
}
static inline void dlt__no_prepare(dlt__update_args *a, const dlt_solver_config *c, long iter)
{
    (void)a, (void)c, (void)iter;
}

/* SGD (sgd_solver.cpp): h = momentum h + rate g; w -= h. */
#define dlt__check_SGD dlt__no_check
#define dlt__prepare_SGD dlt__no_prepare
DLT__HD float dlt__rule_SGD(const dlt__update_args *a, float g, float *h, float *h1)
{
    (void)h1;
    *h = DLT__ADD(DLT__MUL(a->momentum, *h), DLT__MUL(a->rate, g));
    return *h;
}

/* Nesterov (nesterov_solver.cpp): step back along the old momentum, then
 * over-step: w -= (1 + momentum) h_new - momentum h_old. */
#define dlt__check_NESTEROV dlt__no_check
#define dlt__prepare_NESTEROV dlt__no_prepare
DLT__HD float dlt__rule_NESTEROV(const dlt__update_args *a, float g, float *h, float *h1)
{
    (void)h1;
    const float m = a->momentum, old = *h;
    *h = DLT__ADD(DLT__MUL(m, *h), DLT__MUL(a->rate, g));
    return DLT__SUB(DLT__MUL(DLT__ADD(1.0f, m), *h), DLT__MUL(m, old));
}

/* Adam (adam_solver.cpp; Kingma & Ba, Alg. 1): m and v moving averages,
 * the bias corrections folded into the step size (t = iter + 1), epsilon
 * added to sqrt(v), not to sqrt(v_hat). */
static inline int dlt__check_ADAM(const dlt_solver_config *c, char *why, size_t n)
{
    if (c->momentum < 0 || c->momentum >= 1 || c->momentum2 < 0 || c->momentum2 >= 1) {
        snprintf(why, n, "Adam needs 0 <= momentum (beta1) < 1 and 0 <= momentum2 (beta2) < 1 "
                 "(got %g, %g)", c->momentum, c->momentum2);
        return -1;
    }
    return 0;
}
static inline void dlt__prepare_ADAM(dlt__update_args *a, const dlt_solver_config *c, long iter)
{
    const double t = (double)iter + 1;
    a->step = (float)(a->rate * (sqrt(1.0 - pow(c->momentum2, t)) / (1.0 - pow(c->momentum, t))));
}
DLT__HD float dlt__rule_ADAM(const dlt__update_args *a, float g, float *m, float *v)
{
    const float b1 = a->momentum, b2 = a->momentum2;
    *m = DLT__ADD(DLT__MUL(b1, *m), DLT__MUL(DLT__SUB(1.0f, b1), g));
    *v = DLT__ADD(DLT__MUL(b2, *v), DLT__MUL(DLT__MUL(DLT__SUB(1.0f, b2), g), g));
    return DLT__MUL(a->step, DLT__DIV(*m, DLT__ADD(DLT__SQRT(*v), a->delta)));
}

/* Caffe: "Momentum cannot be used with AdaGrad/RMSProp" (a CHECK). */
static inline int dlt__check_no_momentum(const dlt_solver_config *c, const char *solver, char *why,
                                         size_t n)
{
    if (c->momentum != 0) {
        snprintf(why, n, "momentum cannot be used with %s (got %g, as Caffe requires 0). HINT: "
                 "remove the momentum line", solver, c->momentum);
        return -1;
    }
    return 0;
}

/* AdaGrad (adagrad_solver.cpp; Duchi et al. 2011): h += g^2;
 * update = rate g / (sqrt(h) + delta). */
static inline int dlt__check_ADAGRAD(const dlt_solver_config *c, char *why, size_t n)
{
    return dlt__check_no_momentum(c, "AdaGrad", why, n);
}
#define dlt__prepare_ADAGRAD dlt__no_prepare
DLT__HD float dlt__rule_ADAGRAD(const dlt__update_args *a, float g, float *h, float *h1)
{
    (void)h1;
    *h = DLT__ADD(DLT__MUL(g, g), *h);
    return DLT__MUL(a->rate, DLT__DIV(g, DLT__ADD(DLT__SQRT(*h), a->delta)));
}

/* RMSProp (rmsprop_solver.cpp; Tieleman & Hinton 2012):
 * h = rms_decay h + (1 - rms_decay) g^2; update = rate g / (sqrt(h) + delta). */
static inline int dlt__check_RMSPROP(const dlt_solver_config *c, char *why, size_t n)
{
    if (c->rms_decay < 0 || c->rms_decay >= 1) {
        snprintf(why, n, "RMSProp needs 0 <= rms_decay < 1 (got %g)", c->rms_decay);
        return -1;
    }
    return dlt__check_no_momentum(c, "RMSProp", why, n);
}
#define dlt__prepare_RMSPROP dlt__no_prepare
DLT__HD float dlt__rule_RMSPROP(const dlt__update_args *a, float g, float *h, float *h1)
{
    (void)h1;
    const float d = a->rms_decay;
    *h = DLT__ADD(DLT__MUL(DLT__SUB(1.0f, d), DLT__MUL(g, g)), DLT__MUL(d, *h));
    return DLT__MUL(a->rate, DLT__DIV(g, DLT__ADD(DLT__SQRT(*h), a->delta)));
}

/* AdaDelta (adadelta_solver.cpp; Zeiler 2012), momentum as the decay:
 * hg = m hg + (1-m) g^2; dx = g sqrt((hx + delta) / (hg + delta));
 * hx = m hx + (1-m) dx^2 (before the learning rate); update = rate dx. */
#define dlt__check_ADADELTA dlt__no_check
#define dlt__prepare_ADADELTA dlt__no_prepare
DLT__HD float dlt__rule_ADADELTA(const dlt__update_args *a, float g, float *hg, float *hx)
{
    const float m = a->momentum, m1 = DLT__SUB(1.0f, m);
    *hg = DLT__ADD(DLT__MUL(m1, DLT__MUL(g, g)), DLT__MUL(m, *hg));
    const float dx = DLT__MUL(g, DLT__SQRT(DLT__DIV(DLT__ADD(*hx, a->delta), DLT__ADD(*hg, a->delta))));
    *hx = DLT__ADD(DLT__MUL(m1, DLT__MUL(dx, dx)), DLT__MUL(m, *hx));
    return DLT__MUL(a->rate, dx);
}

/* The device step (src/cuda/solver.cu; src/net/solver_none.c in a build
 * without CUDA, where no net is ever on a device): one blob's update by
 * solver TYPE (a dlt_solver_type) with the scalars in A on device buffers,
 * the same rule as the host loop's (H1 NULL for one-slot solvers), and the
 * vector reductions clip_gradients and iter_size need. Ordered with the
 * bound GPU's compute stream; sumsq waits for its result. */
#ifdef __cplusplus
extern "C" {
#endif
void dlt__dev_solver_update(int type, const dlt__update_args *a, float *w, float *g, float *h0, float *h1,
                            size_t n);
double dlt__dev_sumsq(const float *x, size_t n);  /* sum of x^2 in double */
void dlt__dev_scale(float *x, size_t n, float f); /* x *= f */
#ifdef __cplusplus
}
#endif

#endif
