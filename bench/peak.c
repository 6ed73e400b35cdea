/* peak.c - the FP32 FMA peak (independent FMA chains, so the units never
 * wait) and the STREAM-triad bandwidth, for fma_peak and bench_net's
 * roofline. */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/peak.h"
#include "dltrain/cpu.h"

#define CHAINS 12          /* > FMA latency x ports (4 x 2), so the units never wait */
#define ROUNDS (1L << 24)  /* per thread: ~0.3 s at 3 GHz with AVX-512 */

typedef struct job {
    const char *isa;
    double flops, sink;
    float *a, *b, *c;  /* triad: this thread's slices */
    size_t n;
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
    /* The kernels' ISA, ONEDNN_MAX_CPU_ISA's cap included: the AVX2 setting's
     * roofline is the AVX2 peak. */
    if (dlt_cpu_avx512()) {
        j->isa = "avx512", j->sink = run_avx512(ROUNDS), j->flops = 2.0 * 16 * CHAINS * ROUNDS;
    } else if (dlt_cpu_avx2_fma()) {
        j->isa = "avx2", j->sink = run_avx2(ROUNDS), j->flops = 2.0 * 8 * CHAINS * ROUNDS;
    } else {
        j->isa = "scalar", j->sink = run_scalar(ROUNDS / 8), j->flops = 2.0 * CHAINS * (ROUNDS / 8);
    }
    return NULL;
}

static double seconds(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Runs FN on THREADS threads, JOBS[t] each; the time taken on CLK, or -1. */
static double run_threads(int threads, void *(*fn)(void *), job *jobs, clockid_t clk)
{
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    double t0 = seconds(clk);
    int started = 0;
    for (; started < threads; started++)
        if (!tid || pthread_create(&tid[started], NULL, fn, &jobs[started]) != 0)
            break;
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    double dt = seconds(clk) - t0;
    free(tid);
    if (started < threads)
        fprintf(stderr, "peak: cannot start thread %d\n", started);
    return started < threads ? -1 : dt;
}

double dlt_bench_fma_peak(int threads, clockid_t clk, const char **isa)
{
    job *jobs = calloc((size_t)threads, sizeof *jobs);
    double best = 0;
    for (int rep = 0; jobs && rep < 3; rep++) { /* best of 3: peak means the unloaded figure */
        double dt = run_threads(threads, worker, jobs, clk), flops = 0, sink = 0;
        if (dt <= 0)
            break;
        for (int t = 0; t < threads; t++)
            flops += jobs[t].flops, sink += jobs[t].sink;
        double g = flops / dt * 1e-9;
        if (g > best && sink == sink)
            best = g;
    }
    *isa = jobs ? jobs[0].isa : "none";
    free(jobs);
    return best;
}

static void *triad(void *arg)
{
    job *j = arg;
    for (size_t i = 0; i < j->n; i++)
        j->a[i] = j->b[i] + 3.0f * j->c[i];
    j->sink = j->a[j->n / 2];
    return NULL;
}

#define TRIAD_N ((size_t)8 << 20) /* floats per array: 32 MiB */

double dlt_bench_triad_gbs(int threads, clockid_t clk)
{
    float *a = malloc(TRIAD_N * sizeof *a), *b = malloc(TRIAD_N * sizeof *b),
          *c = malloc(TRIAD_N * sizeof *c);
    job *jobs = calloc((size_t)threads, sizeof *jobs);
    double best = 0;
    if (a && b && c && jobs) {
        size_t per = TRIAD_N / (size_t)threads;
        for (int t = 0; t < threads; t++) {
            jobs[t] = (job){.a = a + t * per, .b = b + t * per, .c = c + t * per, .n = per};
            for (size_t i = 0; i < per; i++) /* each thread's pages touched by it */
                jobs[t].a[i] = 0, jobs[t].b[i] = 1, jobs[t].c[i] = 2;
        }
        for (int rep = 0; rep < 5; rep++) {
            double dt = run_threads(threads, triad, jobs, clk);
            if (dt <= 0)
                break;
            double g = 12.0 * (double)(per * (size_t)threads) / dt * 1e-9;
            if (g > best)
                best = g;
        }
    }
    free(a), free(b), free(c), free(jobs);
    return best;
}
