/* nancheck.h - finding where a NaN/Inf first appeared, once the loss or
 * the reduced gradients say there is one (never on the normal path). */
#ifndef DLTRAIN_TRAIN_NANCHECK_H
#define DLTRAIN_TRAIN_NANCHECK_H

#include <stddef.h>

#include "dltrain/net.h"

/* Index of the first layer (forward order) with a non-finite top value,
 * or -1. */
int dlt__first_nonfinite_output(const dlt_net *net);
/* Index of the layer whose parameter gradients contain flat offset OFF, or -1. */
int dlt__layer_of_grad_offset(dlt_net *net, size_t off);

/* Test hook: with DLT_TEST_NAN_ITER=I (and DLT_TEST_NAN_RANK=R, default 0)
 * rank R puts a NaN in its input batch at iteration I. */
void dlt__test_nan_point(int rank, long iter, float *input);

#endif
