/* conv_backend.c - a net's compute settings (dlt_compute_ctx: which
 * Convolution backend, threads), and the CPU libraries' thread count. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "dltrain/compute.h"
#include "layers/layers.h"

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
void openblas_set_num_threads(int);
#endif

/* How long idle worker threads spin before they sleep. The defaults are
 * long (libgomp: 300000 spins, about a millisecond; OpenBLAS: 2^28 cycles
 * of sched_yield), and on a rank's few cores a spinning thread of one
 * library takes the core the other library's threads need next: cifar10_quick
 * trained at 1,230-1,740 images/s with OpenBLAS's default and 2,060-2,420
 * with a 16-cycle timeout. No spin at all (OMP_WAIT_POLICY=passive) makes
 * every small oneDNN call wake its threads through the kernel (LeNet 4,300
 * vs 6,000 images/s). Measured with bench_net (bench/README.md). */
#ifndef DLT_GOMP_SPINCOUNT
#define DLT_GOMP_SPINCOUNT "10000"
#endif
#ifndef DLT_OPENBLAS_THREAD_TIMEOUT
#define DLT_OPENBLAS_THREAD_TIMEOUT "4" /* log2 cycles; OpenBLAS's minimum */
#endif

static const char *const names[] = {"auto", "im2col", "dnnl", NULL}; /* dlt_conv_backend */

int dlt_conv_dnnl_available(void)
{
#ifdef HAVE_DNNL
    return 1;
#else
    return 0;
#endif
}

int dlt_conv_backend_parse(const char *s, dlt_conv_backend *out)
{
    for (int i = 0; names[i]; i++) {
        if (strcmp(s, names[i]) != 0)
            continue;
        if (i == DLT_CONV_DNNL && !dlt_conv_dnnl_available()) {
            fprintf(stderr, "dltrain: conv backend 'dnnl': this build has no oneDNN "
                            "(HINT: apt-get install libdnnl-dev, then configure again)\n");
            return -1;
        }
        *out = (dlt_conv_backend)i;
        return 0;
    }
    fprintf(stderr, "dltrain: conv backend expects auto, im2col or dnnl, got '%s'\n", s);
    return -1;
}

void dlt_compute_ctx_init(dlt_compute_ctx *c)
{
    const char *env = getenv("DLT_CONV_BACKEND");
    dlt_conv_backend b = DLT_CONV_AUTO;
    if (env && *env && dlt_conv_backend_parse(env, &b) < 0)
        b = DLT_CONV_AUTO; /* already reported; a typo should not stop a job */
    c->conv_backend = b;
    c->threads = 0;
    c->cudnn_deterministic = 0;
    c->cudnn_workspace_limit = DLT_CUDNN_WORKSPACE_DEFAULT;
    c->precision = DLT_PRECISION_FP32;
    c->no_fusion = 0;
}

dlt_conv_backend dlt_compute_conv_backend(const dlt_compute_ctx *c)
{
    dlt_conv_backend b = c ? c->conv_backend : DLT_CONV_AUTO;
    /* auto = oneDNN where the build has it. (It was opt-in while its GEMM
     * path on plain NCHW, used until 2026-11-30, aborted in glibc's free()
     * after SIGUSR1 checkpoints in tests/test_signals.sh; the blocked-layout
     * path has not, see conv_dnnl.c.) */
    if (b == DLT_CONV_AUTO)
        return dlt_conv_dnnl_available() ? DLT_CONV_DNNL : DLT_CONV_IM2COL;
    return b;
}

const char *dlt_conv_backend_name(dlt_conv_backend b)
{
    return b >= DLT_CONV_AUTO && b <= DLT_CONV_DNNL ? names[b] : "?";
}

void dlt_cpu_set_threads(int n)
{
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
    openblas_set_num_threads(n);
#endif
#ifdef _OPENMP
    omp_set_num_threads(n); /* oneDNN's primitives size their work split by this */
#endif
}

void dlt__cpu_use_threads(int n)
{
    /* Per thread, as OpenMP's setting is: the loop's thread and a
     * prefetch or test thread each apply it once. */
    static _Thread_local int applied = 0;
    if (n > 0 && n != applied) {
        dlt_cpu_set_threads(n);
        applied = n;
    }
}

/* Sets NAME to VALUE unless the user set it; 1 when it did. */
static int default_env(const char *name, const char *value)
{
    return !getenv(name) && setenv(name, value, 1) == 0;
}

void dlt_cpu_short_idle_spins(char **argv)
{
    int changed = 0;
#ifdef _OPENMP
    if (!getenv("OMP_WAIT_POLICY"))
        changed |= default_env("GOMP_SPINCOUNT", DLT_GOMP_SPINCOUNT);
#endif
    changed |= default_env("OPENBLAS_THREAD_TIMEOUT", DLT_OPENBLAS_THREAD_TIMEOUT);
    if (!changed)
        return;
    /* The resolved path, not /proc/self/exe, so the process keeps its name
     * (ps, pgrep, top show "exe" otherwise). */
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        return;
    self[len] = '\0';
    execv(self, argv); /* returns only on failure: go on as we are */
}
