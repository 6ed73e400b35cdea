/* bench_allreduce.c - nccl-tests style table for the gradient reducer:
 * size, count, time, algbw, busbw (= algbw x 2(n-1)/n) for dltrain's
 * reducer (shm transport), MPI_Allreduce, and the memcpy limit (one copy
 * of the buffer on one rank). Run under mpirun -np N. The last line is OK
 * when the reducer is at least --min-ratio x MPI_Allreduce at 1-64 MB. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/comm.h"
#include "dltrain/error.h"
#include "dltrain/reducer.h"

/* Seconds per call, max over ranks, best of REPS timed after a warm-up. */
static double time_reducer(dlt_comm *c, float *buf, size_t n, int reps, dlt_reducer_kind kind)
{
    dlt_reducer_config cfg = {n * sizeof(float), DLT_ALLREDUCE_BLOCKING, kind, 1, DLT_HOST};
    dlt_reducer *r = dlt_reducer_create(c, buf, n, &cfg);
    double best = 1e30;
    for (int i = 0; i <= reps; i++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        dlt_reducer_begin(r);
        dlt_reducer_finish(r);
        double t = MPI_Wtime() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (i > 0 && t < best)
            best = t;
    }
    dlt_reducer_free(r);
    return best;
}

static double time_memcpy(float *dst, const float *src, size_t n, int reps)
{
    double best = 1e30;
    for (int i = 0; i <= reps; i++) {
        double t0 = MPI_Wtime();
        memcpy(dst, src, n * sizeof(float));
        double t = MPI_Wtime() - t0;
        if (i > 0 && t < best)
            best = t;
    }
    return best;
}

int main(int argc, char **argv)
{
    dlt_comm *c = dlt_comm_init(&argc, &argv);
    int rank = dlt_comm_rank(c), world = dlt_comm_size(c);
    double min_ratio = 1.0;
    size_t max_bytes = 64u << 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--min-ratio") == 0)
            min_ratio = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--max-mb") == 0)
            max_bytes = (size_t)(atof(argv[i + 1]) * 1048576.0);
    }
    float *buf = dlt_malloc(max_bytes), *other = dlt_malloc(max_bytes);
    memset(buf, 0, max_bytes);
    memset(other, 1, max_bytes);
    double bus = world > 1 ? 2.0 * (world - 1) / world : 1.0;
    int ok = 1;
    if (rank == 0) {
        printf("# dltrain bench_allreduce: %d ranks, float sum, in place; time = best of reps, max over ranks\n",
               world);
        printf("%12s %10s | %-26s | %-26s | %-16s | %s\n", "", "", "dltrain reducer (shm)",
               "MPI_Allreduce", "memcpy", "");
        printf("%12s %10s | %9s %7s %8s | %9s %7s %8s | %9s %6s | %s\n", "size(B)", "count", "time(us)",
               "algbw", "busbw", "time(us)", "algbw", "busbw", "time(us)", "GB/s", "shm/mpi");
    }
    for (size_t bytes = 4; bytes <= max_bytes; bytes *= 4) {
        size_t n = bytes / sizeof(float);
        int reps = bytes >= (16u << 20) ? 5 : bytes >= (1u << 20) ? 10 : 30;
        double t_shm = time_reducer(c, buf, n, reps, DLT_REDUCER_SHM);
        double t_mpi = time_reducer(c, buf, n, reps, DLT_REDUCER_MPI);
        double t_cpy = time_memcpy(other, buf, n, reps);
        double ratio = t_mpi / t_shm;
        if (bytes >= (1u << 20) && ratio < min_ratio)
            ok = 0;
        if (rank == 0)
            printf("%12zu %10zu | %9.1f %7.2f %8.2f | %9.1f %7.2f %8.2f | %9.1f %6.2f | %.2fx\n", bytes, n,
                   t_shm * 1e6, bytes / t_shm / 1e9, bytes / t_shm / 1e9 * bus, t_mpi * 1e6,
                   bytes / t_mpi / 1e9, bytes / t_mpi / 1e9 * bus, t_cpy * 1e6, bytes / t_cpy / 1e9, ratio);
        if (bytes * 4 > max_bytes && bytes != max_bytes && bytes < max_bytes)
            bytes = max_bytes / 4; /* end exactly at max_bytes */
    }
    if (rank == 0)
        printf("%s: dltrain reducer >= %.2fx MPI_Allreduce at 1-%zu MB\n", ok ? "OK" : "FAILED", min_ratio,
               max_bytes >> 20);
    free(buf);
    free(other);
    dlt_comm_finalize(c);
    return ok ? 0 : 1;
}
