/* doctor.h - `dltrain-mpi --doctor`: can each rank train here? */
#ifndef DLTRAIN_DOCTOR_H
#define DLTRAIN_DOCTOR_H

#include "dltrain/comm.h"

typedef struct dlt_doctor_options {
    const char *train_path; /* NULL: not checked */
    const char *val_path;   /* NULL: not checked */
    const char *run_dir;    /* NULL: not checked */
} dlt_doctor_options;

/* Collective. Every rank inspects its host; rank 0 prints one row per
 * rank, then the problems and warnings. Returns 0 when every rank can
 * train, DLT_ERR_IO (on every rank) when one cannot. */
int dlt_doctor_run(const dlt_doctor_options *opt, dlt_comm *comm);

#endif
