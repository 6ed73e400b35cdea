/* placement.h - where each rank runs: host, node-local rank, the device
 * it computes on, the cores it may use and its threads, printed as one
 * table by rank 0 at start (and one "device" record per rank in
 * metrics.jsonl), with a warning when the ranks of a node ask for more
 * cores than it has. */
#ifndef DLTRAIN_TRAIN_PLACEMENT_H
#define DLTRAIN_TRAIN_PLACEMENT_H

#include "dltrain/comm.h"
#include "dltrain/monitor.h"

/* Collective, after the device is bound. THREADS: the BLAS threads this
 * rank uses; MONITOR: rank 0's (NULL elsewhere); ITER: the iteration
 * training starts from. */
void dlt__placement_report(dlt_comm *c, int threads, dlt_monitor *monitor, long iter);

#endif
