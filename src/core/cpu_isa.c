/* cpu_isa.c - which instruction set the CPU libraries run: OpenBLAS's
 * kernel core and oneDNN's effective ISA, for the start-up log and for the
 * tests that force an older one (tests/test_older_isa.sh). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#ifdef HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include "dltrain/cpu.h"

#ifdef HAVE_OPENBLAS_GET_CORENAME
char *openblas_get_corename(void);
#endif

const char *dlt_cpu_blas_core(void)
{
#ifdef HAVE_OPENBLAS_GET_CORENAME
    const char *s = openblas_get_corename(); /* OPENBLAS_CORETYPE forces it */
    return s && *s ? s : "unknown";
#else
    return "n/a (not OpenBLAS)";
#endif
}

const char *dlt_cpu_dnnl_isa(void)
{
#ifdef HAVE_DNNL
    /* The names ONEDNN_MAX_CPU_ISA takes, lower case. */
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_all: return "all";
    default: return "other";
    }
#else
    return "none (built without oneDNN)";
#endif
}

const char *dlt_cpu_isa_describe(char *buf, size_t n)
{
    snprintf(buf, n, "OpenBLAS core %s, oneDNN ISA %s", dlt_cpu_blas_core(), dlt_cpu_dnnl_isa());
    return buf;
}

/* ONEDNN_MAX_CPU_ISA (or its older name DNNL_MAX_CPU_ISA) caps dltrain's
 * own kernels too, so that one variable gives "the AVX2 setting" of an
 * AVX-512 machine for all three (oneDNN, OpenBLAS via OPENBLAS_CORETYPE, and
 * ours). AVX-512 is allowed when the cap is unset, ALL, or an AVX512/AVX10
 * level. */
static int isa_cap_allows_avx512(void)
{
    const char *cap = getenv("ONEDNN_MAX_CPU_ISA");
    if (!cap || !*cap)
        cap = getenv("DNNL_MAX_CPU_ISA");
    if (!cap || !*cap || strcasecmp(cap, "ALL") == 0)
        return 1;
    return strncasecmp(cap, "AVX512", 6) == 0 || strncasecmp(cap, "AVX10", 5) == 0;
}

int dlt_cpu_avx512(void)
{
    static int cached = -1;
    if (cached < 0)
#if defined(__x86_64__) || defined(__i386__)
        cached = __builtin_cpu_supports("avx512f") && isa_cap_allows_avx512();
#else
        cached = 0;
#endif
    return cached;
}

/* A cap below AVX2 names an SSE level (SSE41) or plain AVX. */
static int isa_cap_allows_avx2(void)
{
    const char *cap = getenv("ONEDNN_MAX_CPU_ISA");
    if (!cap || !*cap)
        cap = getenv("DNNL_MAX_CPU_ISA");
    return !cap || !*cap || (strncasecmp(cap, "SSE", 3) != 0 && strcasecmp(cap, "AVX") != 0);
}

int dlt_cpu_avx2_fma(void)
{
    static int cached = -1;
    if (cached < 0)
#if defined(__x86_64__) || defined(__i386__)
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && isa_cap_allows_avx2();
#else
        cached = 0;
#endif
    return cached;
}
