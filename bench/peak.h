/* peak.h - this machine's ceilings for roofline figures: the FP32 FMA peak
 * and the memory bandwidth of a STREAM triad (bench/peak.c). */
#ifndef DLTRAIN_BENCH_PEAK_H
#define DLTRAIN_BENCH_PEAK_H

#include <time.h>

/* GFLOP/s of independent FMA chains on THREADS threads (AVX-512 if the CPU
 * has it, else AVX2+FMA, else scalar), best of 3, timed on clock CLK: with
 * CLOCK_PROCESS_CPUTIME_ID, per CPU-second (one thread's peak). *ISA names
 * the kernel used. */
double dlt_bench_fma_peak(int threads, clockid_t clk, const char **isa);

/* GB/s of a[i] = b[i] + s * c[i] over three 32 MiB arrays (beyond the
 * last-level cache) split over THREADS threads, 12 bytes per element as
 * STREAM counts it (no write-allocate), best of 5, timed on clock CLK. */
double dlt_bench_triad_gbs(int threads, clockid_t clk);

#endif
