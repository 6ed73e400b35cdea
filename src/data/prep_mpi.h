/* prep_mpi.h - dltrain-prep under mpirun: every rank decodes a contiguous
 * share of each block, rank 0 gathers the results in rank order and is the
 * only writer, so the file equals the single-process build byte for byte. */
#ifndef DLTRAIN_PREP_MPI_H
#define DLTRAIN_PREP_MPI_H

#include <stddef.h>
#include <stdint.h>

/* One decoded input (prep.c fills it; the ranks exchange it). */
typedef struct dlt__prep_result {
    int ok;
    char why[256];
    uint8_t *chw;     /* (c, h, w) */
    uint8_t *jpeg;    /* JPEG storage: encoded bytes */
    size_t jpeg_n;
} dlt__prep_result;

typedef struct dlt_comm dlt_comm;

/* The ranks of a parallel build: comm is NULL for one process. */
typedef struct dlt__prep_par {
    dlt_comm *comm;
    int rank, size;
} dlt__prep_par;

/* Under mpirun (Open MPI, PMIx or PMI environment) with more than one
 * rank: MPI_Init and fill PAR; otherwise PAR is a single process and MPI
 * is never initialised (dltrain-prep stays usable without mpirun). */
void dlt__prep_par_begin(dlt__prep_par *par);
void dlt__prep_par_end(dlt__prep_par *par);
/* This rank's share [*lo, *hi) of N items (contiguous, in rank order). */
void dlt__prep_par_share(const dlt__prep_par *par, size_t n, size_t *lo, size_t *hi);
/* Any rank's error status (negative) to all; 0 if all are fine. */
int dlt__prep_par_agree(const dlt__prep_par *par, int st);
/* Rank 0's value of V to all. */
long dlt__prep_par_bcast_long(const dlt__prep_par *par, long v);
/* Rank 0 receives every rank's results of RES[0..N) (each rank filled its
 * share); SAMPLE is c*h*w bytes. Others keep theirs (and free them). */
void dlt__prep_par_gather(const dlt__prep_par *par, dlt__prep_result *res, size_t n,
                          size_t sample);

#endif
