/* fma_peak.c - measured FP32 peak of this machine: independent FMA chains
 * (AVX-512 if the CPU has it, else AVX2+FMA, else scalar) on T threads, so
 * that benchmarks can report achieved GFLOP/s as a fraction of it.
 * usage: fma_peak [--threads T] [--json]. */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHAINS 12          /* > FMA latency x ports (4 x 2), so the units never wait */
#define ROUNDS (1L << 24)  /* per thread: ~0.3 s at 3 GHz with AVX-512 */

typedef struct job {
    const char *isa;
    double flops, sink;
} job;

/* Twelve named accumulators (an array is kept in memory at -O2, and then
 * each FMA waits for a store and a load). */
#define FMA12(fma, m, a)                                                                  \
    do {                                                                                  \
        c0 = fma(c0, m, a), c1 = fma(c1, m, a), c2 = fma(c2, m, a), c3 = fma(c3, m, a);   \
        c4 = fma(c4, m, a), c5 = fma(c5, m, a), c6 = fma(c6, m, a), c7 = fma(c7, m, a);   \
        c8 = fma(c8, m, a), c9 = fma(c9, m, a), c10 = fma(c10, m, a), c11 = fma(c11, m, a); \
    } while (0)
#define SUM12() (((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11)))

__attribute__((target("avx512f"))) static double run_avx512(long rounds)
{
    __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
    __m512 c0 = _mm512_set1_ps(0), c1 = _mm512_set1_ps(1), c2 = _mm512_set1_ps(2),
           c3 = _mm512_set1_ps(3), c4 = _mm512_set1_ps(4), c5 = _mm512_set1_ps(5),
           c6 = _mm512_set1_ps(6), c7 = _mm512_set1_ps(7), c8 = _mm512_set1_ps(8),
           c9 = _mm512_set1_ps(9), c10 = _mm512_set1_ps(10), c11 = _mm512_set1_ps(11);
    for (long r = 0; r < rounds; r++)
        FMA12(_mm512_fmadd_ps, m, a);
    float out[16];
    _mm512_storeu_ps(out, SUM12());
    return out[0];
}

__attribute__((target("avx2,fma"))) static double run_avx2(long rounds)
{
    __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
    __m256 c0 = _mm256_set1_ps(0), c1 = _mm256_set1_ps(1), c2 = _mm256_set1_ps(2),
           c3 = _mm256_set1_ps(3), c4 = _mm256_set1_ps(4), c5 = _mm256_set1_ps(5),
           c6 = _mm256_set1_ps(6), c7 = _mm256_set1_ps(7), c8 = _mm256_set1_ps(8),
           c9 = _mm256_set1_ps(9), c10 = _mm256_set1_ps(10), c11 = _mm256_set1_ps(11);
    for (long r = 0; r < rounds; r++)
        FMA12(_mm256_fmadd_ps, m, a);
    float out[8];
    _mm256_storeu_ps(out, SUM12());
    return out[0];
}

static double run_scalar(long rounds)
{
    float acc[CHAINS];
    for (int c = 0; c < CHAINS; c++)
        acc[c] = (float)c;
    for (long r = 0; r < rounds; r++)
        for (int c = 0; c < CHAINS; c++)
            acc[c] = acc[c] * 0.999999f + 1e-7f;
    return acc[0];
}

static void *worker(void *arg)
{
    job *j = arg;
    if (__builtin_cpu_supports("avx512f")) {
        j->isa = "avx512", j->sink = run_avx512(ROUNDS), j->flops = 2.0 * 16 * CHAINS * ROUNDS;
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        j->isa = "avx2", j->sink = run_avx2(ROUNDS), j->flops = 2.0 * 8 * CHAINS * ROUNDS;
    } else {
        j->isa = "scalar", j->sink = run_scalar(ROUNDS / 8), j->flops = 2.0 * CHAINS * (ROUNDS / 8);
    }
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

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
    job *jobs = calloc((size_t)threads, sizeof *jobs);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    double best = 0;
    for (int rep = 0; rep < 3; rep++) { /* best of 3: peak means the unloaded figure */
        double t0 = now(), flops = 0, sink = 0;
        for (int t = 0; t < threads; t++)
            if (pthread_create(&tid[t], NULL, worker, &jobs[t]) != 0) {
                fprintf(stderr, "fma_peak: cannot start thread %d\n", t);
                return 1;
            }
        for (int t = 0; t < threads; t++) {
            pthread_join(tid[t], NULL);
            flops += jobs[t].flops, sink += jobs[t].sink;
        }
        double g = flops / (now() - t0) * 1e-9;
        if (g > best && sink == sink)
            best = g;
    }
    if (json)
        printf("{\"threads\": %d, \"isa\": \"%s\", \"peak_gflop_s\": %.2f}\n", threads, jobs[0].isa,
               best);
    else
        printf("FP32 FMA peak (%s, %d threads): %.1f GFLOP/s\n", jobs[0].isa, threads, best);
    free(jobs);
    free(tid);
    return 0;
}
