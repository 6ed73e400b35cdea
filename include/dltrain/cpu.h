/* cpu.h - CPU compute settings shared by the trainer, the tools and the
 * benchmarks: the Convolution backends (a net chooses one in its
 * dlt_compute_ctx, compute.h), and how many threads the CPU libraries
 * (OpenBLAS; oneDNN's OpenMP) run. */
#ifndef DLTRAIN_CPU_H
#define DLTRAIN_CPU_H

#include <stddef.h>

typedef enum dlt_conv_backend {
    DLT_CONV_AUTO = 0,   /* oneDNN where the build has it, else im2col */
    DLT_CONV_IM2COL = 1, /* im2col + OpenBLAS sgemm */
    DLT_CONV_DNNL = 2    /* oneDNN (configure --with-dnnl) */
} dlt_conv_backend;

/* "auto", "im2col" or "dnnl" into *OUT: 0, or -1 (after a message on
 * stderr) for another word or for "dnnl" in a build without oneDNN. */
int dlt_conv_backend_parse(const char *s, dlt_conv_backend *out);
const char *dlt_conv_backend_name(dlt_conv_backend b);
/* 1 when this build has the oneDNN backend. */
int dlt_conv_dnnl_available(void);

/* Idle worker threads of libgomp (oneDNN, pooling) and of OpenBLAS spin
 * long by default and take the cores the other library needs next; both
 * libraries read their settings only when they load. Programs call this
 * first thing in main, before MPI_Init: where the user has not set them it
 * sets a short GOMP_SPINCOUNT (unless OMP_WAIT_POLICY is set) and
 * OPENBLAS_THREAD_TIMEOUT, and re-executes the program (same pid,
 * arguments and environment otherwise); else, or if that fails, it returns. */
void dlt_cpu_short_idle_spins(char **argv);

/* Threads for OpenBLAS and for OpenMP (oneDNN) on the calling thread. */
void dlt_cpu_set_threads(int n);

/* The instruction set the CPU libraries run (OPENBLAS_CORETYPE and
 * ONEDNN_MAX_CPU_ISA force older ones): OpenBLAS's core ("Haswell"), and
 * oneDNN's effective ISA as ONEDNN_MAX_CPU_ISA names it, lower case ("avx2");
 * both as one line in BUF ("OpenBLAS core Haswell, oneDNN ISA avx2"). */
const char *dlt_cpu_blas_core(void);
const char *dlt_cpu_dnnl_isa(void);
const char *dlt_cpu_isa_describe(char *buf, size_t n);

/* 1 when dltrain's own kernels (InnerProduct, the convolution's patch and
 * weight gradients) may use
 * AVX-512: the CPU has AVX512F and ONEDNN_MAX_CPU_ISA, where set, names an
 * AVX-512 level (or ALL). Their AVX-512 and AVX2 forms compute each output
 * by the same chain of fused multiply-adds, so the results are the same. */
int dlt_cpu_avx512(void);
/* Whether dltrain's own AVX2+FMA kernels may run: the CPU has both and the
 * cap, when set, is AVX2 or above (ONEDNN_MAX_CPU_ISA=SSE41 leaves the
 * plain fmaf loops of the convolution kernels, which tests/test_kernel_isa.sh
 * compares with the rest; InnerProduct's plain path rounds differently and
 * is not capped). */
int dlt_cpu_avx2_fma(void);

#endif
