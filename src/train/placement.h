/* placement.h - where each rank runs: host, node-local rank, the cores
 * it may use and its threads, printed as one table by rank 0 at start,
 * with a warning when the ranks of a node ask for more cores than it has. */
#ifndef DLTRAIN_TRAIN_PLACEMENT_H
#define DLTRAIN_TRAIN_PLACEMENT_H

#include "dltrain/comm.h"

/* Collective. THREADS: the BLAS threads this rank uses. */
void dlt__placement_report(dlt_comm *c, int threads);

#endif
