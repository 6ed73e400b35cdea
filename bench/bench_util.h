/* bench_util.h - helpers of bench/bench_net.c: a clock, the FLOPs of a
 * net's GEMM layers, and the convolution-vs-sgemm table. */
#ifndef DLTRAIN_BENCH_UTIL_H
#define DLTRAIN_BENCH_UTIL_H

#include "dltrain/net.h"

/* CLOCK_MONOTONIC in seconds; after dlt_bench_use_cpu_clock(), the
 * process's CPU time (all threads): on a shared machine, a measure of the
 * work done that other processes hardly disturb (with --threads 1). */
double dlt_bench_now(void);
void dlt_bench_use_cpu_clock(void);

/* Floating-point operations (multiply and add counted as 2) of NET's
 * Convolution and InnerProduct layers for one pass over its batch: the
 * forward only, or with TRAIN the backward too (weight gradient always,
 * input gradient where the layer propagates down). Other layers are not
 * counted: they do O(1) work per element. */
double dlt_bench_net_flops(const dlt_net *net, int train);

/* For each Convolution layer of NET (after one training step): GFLOP/s of
 * its forward and backward, and of bare cblas_sgemm calls with the same
 * GEMM shapes over the whole batch (forward: (K/G) x (N*Ho*Wo) x
 * (C/G*kh*kw), G calls; backward: the weight-gradient and input-gradient
 * GEMMs); prints one table and the totals. Each is timed ITERS times, or
 * for at least MIN_TIME seconds when ITERS is 0. */
void dlt_bench_conv_gemm(dlt_net *net, double min_time, int iters);

#endif
