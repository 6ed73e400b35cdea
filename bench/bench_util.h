/* bench_util.h - helpers of bench/bench_net.c: a clock, the FLOPs of a
 * net's GEMM layers, and the convolution-vs-sgemm table. */
#ifndef DLTRAIN_BENCH_UTIL_H
#define DLTRAIN_BENCH_UTIL_H

#include "dltrain/layer.h"
#include "dltrain/net.h"

/* CLOCK_MONOTONIC in seconds; after dlt_bench_use_cpu_clock(), the
 * process's CPU time (all threads): on a shared machine, a measure of the
 * work done that other processes hardly disturb (with --threads 1). */
double dlt_bench_now(void);
void dlt_bench_use_cpu_clock(void);
int dlt_bench_cpu_clock(void); /* 1 after dlt_bench_use_cpu_clock() */

/* Floating-point operations (multiply and add counted as 2) of NET's
 * Convolution and InnerProduct layers for one pass over its batch: the
 * forward only, or with TRAIN the backward too (weight gradient always,
 * input gradient where the layer propagates down). Other layers are not
 * counted: they do O(1) work per element. */
double dlt_bench_net_flops(const dlt_net *net, int train);

/* The same for one layer: forward FLOPs and backward FLOPs (0 for layers
 * other than Convolution and InnerProduct). */
void dlt_bench_layer_flops(const dlt_layer *l, double *fwd, double *bwd);

/* The least bytes one pass of layer L moves through memory: forward, one
 * read of each bottom and one write of each top; backward, one read of each
 * top gradient, one write of each bottom gradient it computes, and one read
 * of the bottoms where the backward needs the activations (not Eltwise,
 * Concat, Split, Flatten, Dropout). No write-allocate, no re-reads, no
 * parameters: a lower bound, so a time against it is an upper bound of the
 * distance to the memory roofline. */
void dlt_bench_layer_bytes(const dlt_layer *l, double *fwd, double *bwd);

/* Per-layer forward/backward milliseconds of REPS training steps of NET
 * (UPDATE(CTX) runs the SGD update, its own row), then the same by layer
 * type: share of the step, GFLOP/s or GB/s, and the distance to the
 * roofline (FMA peak and STREAM triad measured here on THREADS threads with
 * the clock dlt_bench_now uses). JSON: no blank line before the table. */
void dlt_bench_profile(dlt_net *net, void (*update)(void *), void *ctx, int reps, int threads,
                       int json);

/* For each Convolution layer of NET (after one training step): GFLOP/s of
 * its forward and backward, and of bare cblas_sgemm calls with the same
 * GEMM shapes over the whole batch (forward: (K/G) x (N*Ho*Wo) x
 * (C/G*kh*kw), G calls; backward: the weight-gradient and input-gradient
 * GEMMs); prints one table and the totals. Each is timed ITERS times, or
 * for at least MIN_TIME seconds when ITERS is 0. */
void dlt_bench_conv_gemm(dlt_net *net, double min_time, int iters);

#endif
