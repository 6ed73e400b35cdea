/* conv_backend.c - which Convolution backend new layers use (option or
 * DLT_CONV_BACKEND), and the CPU libraries' thread count. */
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

#include "dltrain/cpu.h"

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
void openblas_set_num_threads(int);
#endif

/* Spins of an idle OpenMP thread before it sleeps (libgomp's default is
 * 300000, about a millisecond). Long spins take the cores that OpenBLAS's
 * threads need next; no spin (OMP_WAIT_POLICY=passive) wakes threads
 * through the kernel for every oneDNN call, and the small calls of the
 * weight gradient chunks add up. Chosen by bench_net (bench/README.md). */
#ifndef DLT_GOMP_SPINCOUNT
#define DLT_GOMP_SPINCOUNT "10000"
#endif

static const char *const names[] = {"auto", "im2col", "dnnl", NULL}; /* dlt_conv_backend */
static int chosen = -1; /* -1: not set, read the environment */

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

void dlt_conv_backend_set(dlt_conv_backend b) { chosen = (int)b; }

dlt_conv_backend dlt_conv_backend_get(void)
{
    if (chosen < 0) {
        const char *env = getenv("DLT_CONV_BACKEND");
        dlt_conv_backend b = DLT_CONV_AUTO;
        if (env && *env && dlt_conv_backend_parse(env, &b) < 0)
            b = DLT_CONV_AUTO; /* already reported; a typo should not stop a job */
        chosen = (int)b;
    }
    /* auto = oneDNN where the build has it. (It was opt-in while its GEMM
     * path on plain NCHW, used until 2026-11-30, aborted in glibc's free()
     * after SIGUSR1 checkpoints in tests/test_signals.sh; the blocked-layout
     * path has not, see conv_dnnl.c.) */
    if (chosen == DLT_CONV_AUTO)
        return dlt_conv_dnnl_available() ? DLT_CONV_DNNL : DLT_CONV_IM2COL;
    return (dlt_conv_backend)chosen;
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

void dlt_cpu_short_openmp_spin(char **argv)
{
#ifdef _OPENMP
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
        return;
    if (setenv("GOMP_SPINCOUNT", DLT_GOMP_SPINCOUNT, 1) != 0)
        return;
    /* The resolved path, not /proc/self/exe, so the process keeps its name
     * (ps, pgrep, top show "exe" otherwise). */
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        return;
    self[len] = '\0';
    execv(self, argv); /* returns only on failure: go on as we are */
#else
    (void)argv;
#endif
}
