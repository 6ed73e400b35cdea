/* fd_harness.h - the shared harness of the layer tests (tests/layers/):
 * one test program per layer type (or family), each checking forward
 * against an independent direct loop in double and backward against
 * central finite differences in double. */
#ifndef DLTRAIN_FD_HARNESS_H
#define DLTRAIN_FD_HARNESS_H

#include <stdint.h>
#include <string.h>

#include "dltrain/cpu.h"
#include "dltrain/error.h"
#include "dltrain/compute.h"
#include "dltrain/layer.h"
#include "dltrain/prototxt.h"
#include "../test.h"

#define MAXB 5 /* LSTM with expose_hidden and a static input */

typedef struct tcase {
    dlt_layer l;
    dlt_tensor bot[MAXB], top[MAXB];
    int nb, nt, inplace;
    dlt_cfg *root;
    char name[32];
} tcase;

extern dlt_rng rng;                   /* seeded by fd_init */
extern const dlt_layer_context ctx0;  /* TRAIN, 1x28x28 samples */
/* The compute settings of every layer made here (fd_init sets the
 * defaults; a test may pick the convolution backend). */
extern dlt_compute_ctx compute;

/* Seed rng; call first in main. */
void fd_init(void);

void fill_uniform(float *x, size_t n, double a, double b);
/* Values spaced 0.05 apart in random order: no ties, and a +-1e-2 step
 * never reorders them (max pooling, ReLU kinks stay put). */
void fill_distinct(float *x, size_t n);

/* Build a layer of TYPE whose `layer { }` body is TEXT; the caller has
 * shaped t->bot[0..nb). Parameters get owned buffers with values in
 * [-1, 1]. 0, the setup status, or -100 (unknown type or bad TEXT),
 * -101 (setup allocated a parameter), -102 (TEXT has unused fields). */
int make(tcase *t, const char *type, const char *text, int nb, int nt, int inplace,
         const dlt_layer_context *ctx);
void destroy(tcase *t);

/* Worst |a - b| / max(1, |a|, |b|) over N pairs. */
double max_rel_err(const double *a, const double *b, size_t n);
double max_rel_err_f(const float *a, const double *b, size_t n);

/* Added to the objective L when set: a term a layer adds to the loss
 * itself (AttentionLSTM's doubly stochastic penalty), computed by the test
 * from the layer's tops. */
extern double (*fd_extra_objective)(tcase *t);

/* Analytic gradients of L for the bottoms in CHECK (a bitmask) and every
 * parameter, against central differences with step EPS. One TAP line per
 * blob. Also checks that parameter grads accumulate and bottom grads are
 * overwritten. */
void grad_test(tcase *t, unsigned check, double eps, const char *what);

/* Fills REF (top 0's count values) from the layer's bottoms and params. */
typedef void (*ref_fn)(tcase *t, double *ref, const void *arg);

/* Build TYPE over NB bottoms of shape SHAPES[b] (values in [-1, 1], or
 * distinct values when DISTINCT), check the top shape EXPECT and the
 * forward against REF (tolerance TOL), then the gradients of the bottoms
 * in CHECK and of every parameter. */
void layer_case(const char *what, const char *type, const char *text, int nb,
                const int (*shapes)[4], int distinct, int inplace, const int expect[4],
                ref_fn ref, const void *arg, double tol, unsigned check,
                const dlt_layer_context *ctx);

#endif
