/* allreduce_check.c - the gradient reducer sums exactly: every rank
 * contributes small integers (sums exact in any order), for sizes from one
 * element to 64 MB, odd counts, both transports (MPI, shared memory), both
 * modes (overlapped buckets driven like backward does, blocking), and the
 * averaging step. Run under mpirun -np 2/3/4 (tests/test_allreduce.sh) or
 * alone (one rank). TAP on rank 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/comm.h"
#include "dltrain/error.h"
#include "dltrain/reducer.h"

static int tap_n, tap_failed;

static float value(size_t i, int rank) { return (float)((int)((i * 7 + (size_t)rank * 3) % 17) - 8); }

/* Sum over ranks 0..world-1 of value(i, r), in exact integer arithmetic. */
static float expected(size_t i, int world)
{
    long s = 0;
    for (int r = 0; r < world; r++)
        s += (long)value(i, r);
    return (float)s;
}

/* One reduction of N floats; returns the number of wrong elements (all ranks agree). */
static long run_case(dlt_comm *c, size_t n, double bucket_mb, dlt_reducer_kind kind,
                     dlt_allreduce_mode mode, int average, char *what, size_t what_size)
{
    int rank = dlt_comm_rank(c), world = dlt_comm_size(c);
    float *buf = dlt_malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        buf[i] = value(i, rank);
    dlt_reducer_config cfg = {(size_t)(bucket_mb * 1048576.0), mode, kind, !average, DLT_HOST};
    dlt_reducer *r = dlt_reducer_create(c, buf, n, &cfg);
    snprintf(what, what_size, "%zu floats, bucket %.3g MB (%zu buckets), %s, %s%s", n, bucket_mb,
             dlt_reducer_bucket_count(r), dlt_reducer_kind_name(r),
             mode == DLT_ALLREDUCE_OVERLAP ? "overlap" : mode == DLT_ALLREDUCE_THREAD ? "thread" : "blocking",
             average ? ", averaged" : "");
    dlt_reducer_begin(r);
    /* Like backward: the tail becomes final first, in a few steps. */
    for (int step = 1; step <= 4; step++)
        dlt_reducer_ready(r, n - n * (size_t)step / 4);
    int finite = dlt_reducer_finish(r);
    const float inv = 1.0f / (float)world;
    long wrong = finite ? 0 : 1;
    for (size_t i = 0; i < n; i++) {
        float want = average ? expected(i, world) * inv : expected(i, world);
        if (buf[i] != want)
            wrong++;
    }
    dlt_reducer_free(r);
    free(buf);
    double w = (double)wrong;
    dlt_comm_allreduce_sum_doubles(c, &w, 1);
    return (long)w;
}

int main(int argc, char **argv)
{
    dlt_comm *c = dlt_comm_init(&argc, &argv);
    int rank = dlt_comm_rank(c);
    static const size_t sizes[] = {1, 2, 3, 7, 1001, 65537, 262147, 1048573};
    static const dlt_reducer_kind kinds[] = {DLT_REDUCER_MPI, DLT_REDUCER_SHM};
    char what[256];
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (int k = 0; k < 2; k++)
            for (int mode = 0; mode < 3; mode++) { /* overlap, blocking, thread */
                long wrong = run_case(c, sizes[s], 0.25, kinds[k], (dlt_allreduce_mode)mode,
                                      s % 2, what, sizeof what);
                if (rank == 0) {
                    tap_n++;
                    if (wrong)
                        tap_failed++;
                    printf("%s %d - sum exact: %s%s\n", wrong ? "not ok" : "ok", tap_n, what,
                           wrong ? " (wrong elements)" : "");
                }
            }
    /* 64 MB: one bucket larger than the shared window's default, and many buckets. */
    const size_t big = (64u << 20) / sizeof(float);
    const double big_buckets[] = {64.0, 4.0};
    for (int k = 0; k < 2; k++) {
        long wrong = run_case(c, big, big_buckets[k], kinds[k], k ? DLT_ALLREDUCE_THREAD : DLT_ALLREDUCE_OVERLAP,
                              1, what, sizeof what);
        if (rank == 0) {
            tap_n++;
            tap_failed += wrong != 0;
            printf("%s %d - sum exact: %s\n", wrong ? "not ok" : "ok", tap_n, what);
        }
    }
    if (rank == 0) {
        printf("1..%d\n", tap_n);
        fflush(stdout);
    }
    dlt_comm_finalize(c);
    return tap_failed ? 1 : 0;
}
