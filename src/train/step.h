/* step.h - one training iteration: iter_size forward/backward passes
 * accumulating gradients, the allreduce, and the solver update. */
#ifndef DLTRAIN_TRAIN_STEP_H
#define DLTRAIN_TRAIN_STEP_H

#include "dltrain/comm.h"
#include "dltrain/data.h"
#include "dltrain/net.h"
#include "dltrain/solver.h"

/* Seconds spent per phase of one iteration (summed over iter_size passes). */
typedef struct dlt_step_times {
    double data, forward, backward, allreduce, update;
} dlt_step_times;

/* Iteration ITER (iterations completed so far): zero the gradients; for
 * k < iter_size fetch loader step ITER*iter_size + k into the data layer,
 * forward, backward (gradients accumulate); average the gradients over
 * ranks; dlt_solver_step (which divides by iter_size, as Caffe). *LOSS is
 * the mean loss of the iter_size passes (Caffe's displayed loss).
 * Returns 0, or DLT_ERR_IO when the loader fails (the caller aborts). */
int dlt__train_step(dlt_net *net, dlt_loader *loader, dlt_comm *comm, dlt_solver *solver,
                    long iter, float *loss, dlt_step_times *times);

#endif
