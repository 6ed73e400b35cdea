/* fma_peak.c - measured FP32 peak of this machine: independent FMA chains
 * (AVX-512 if the CPU has it, else AVX2+FMA, else scalar) on T threads, so
 * that benchmarks can report achieved GFLOP/s as a fraction of it.
 * usage: fma_peak [--threads T] [--json]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/peak.h"

int main(int argc, char **argv)
{
    int threads = 2, json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc && atoi(argv[i + 1]) > 0)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else {
            fprintf(stderr, "usage: fma_peak [--threads T] [--json]\n");
            return 2;
        }
    }
    const char *isa;
    double best = dlt_bench_fma_peak(threads, CLOCK_MONOTONIC, &isa);
    if (best <= 0)
        return 1;
    if (json)
        printf("{\"threads\": %d, \"isa\": \"%s\", \"peak_gflop_s\": %.2f}\n", threads, isa, best);
    else
        printf("FP32 FMA peak (%s, %d threads): %.1f GFLOP/s\n", isa, threads, best);
    return 0;
}
