/* bench_loader.c - timings behind bench/data_bench.sh: loader images/s,
 * JPEG decode per core, and reading a dataset through HDF5 vs plain read().
 * Prints one number on stdout per run; the script builds the table. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/crc32c.h"
#include "data/dataset_crc.h"
#include "data/image.h"
#include "dltrain/data.h"
#include "dltrain/error.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_loader loader DATA.h5 [BATCH CROP PREFETCH SECONDS BUDGET_MB]  -> images/s\n"
            "                                       (BUDGET_MB > 0: streamed with that budget)\n"
            "       bench_loader decode FILE.jpg [SECONDS]    -> Mpixels/s, one thread\n"
            "       bench_loader plain FILE                    -> MB/s of read()\n"
            "       bench_loader hdf5 DATA.h5                  -> MB/s (file size) of opening\n"
            "                                                     the dataset into memory\n"
            "       bench_loader crc [MB SECONDS]              -> GB/s of the dataset checksum\n"
            "                                                     (dlt__crc32c) on a buffer of MB\n"
            "       bench_loader evict FILE                    -> drop FILE from the page cache\n"
            "                                                     (posix_fadvise DONTNEED; 0 if done)\n");
    exit(2);
}

/* Whole batches for at least SECONDS after two warm-up batches; the set
 * in memory, or streamed with BUDGET_MB (> 0). */
static double bench_loader(const char *path, int batch, int crop, int prefetch, double secs,
                           long budget_mb)
{
    dlt_dataset *ds;
    if ((budget_mb > 0 ? dlt_dataset_open_lazy(path, &ds) : dlt_dataset_open(path, &ds)) < 0)
        exit(1);
    dlt_loader_config cfg = {.batch_size = batch, .rank = 0, .world = 1, .shuffle = 1,
                             .seed = 1, .scale = 1.0f, .crop_size = crop, .mirror = 1,
                             .prefetch = prefetch, .memory_budget = (size_t)budget_mb << 20};
    dlt_loader *ld;
    if (dlt_loader_create(ds, &cfg, &ld) < 0)
        exit(1);
    int c, h, w;
    dlt_loader_output_shape(ld, &c, &h, &w);
    float *data = dlt_malloc((size_t)batch * c * h * w * sizeof *data);
    float *label = dlt_malloc((size_t)batch * sizeof *label);
    long step = 0;
    for (; step < 2; step++)
        if (dlt_loader_fetch(ld, step, data, label) < 0)
            exit(1);
    struct rusage ru0;
    getrusage(RUSAGE_SELF, &ru0);
    double cpu0 = (double)ru0.ru_utime.tv_sec + 1e-6 * (double)ru0.ru_utime.tv_usec +
                  (double)ru0.ru_stime.tv_sec + 1e-6 * (double)ru0.ru_stime.tv_usec;
    double v0 = dlt__dataset_checks_cpu_seconds();
    double t0 = now_s(), t;
    long n = 0;
    do {
        if (dlt_loader_fetch(ld, step++, data, label) < 0)
            exit(1);
        n++;
        t = now_s() - t0;
    } while (t < secs);
    /* The checksums' share: CPU time verifying chunks over the process's
     * CPU time (the loader's threads and this one), and over wall time. */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                 (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec - cpu0;
    double v = dlt__dataset_checks_cpu_seconds() - v0;
    fprintf(stderr, "checksums: %.3f s CPU of %.3f s loader CPU (%.2f%%), %.2f%% of %.2f s wall\n",
            v, cpu, 100 * v / cpu, 100 * v / t, t);
    dlt_loader_free(ld);
    dlt_dataset_close(ds);
    free(data), free(label);
    return (double)n * batch / t;
}

static uint8_t *slurp(const char *path, size_t *n)
{
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        perror(path);
        exit(1);
    }
    uint8_t *buf = dlt_malloc((size_t)sb.st_size + 1);
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        size_t want = (size_t)sb.st_size - got;
        ssize_t r = read(fd, buf + got, want < (4u << 20) ? want : (4u << 20));
        if (r <= 0) {
            perror(path);
            exit(1);
        }
        got += (size_t)r;
    }
    close(fd);
    *n = got;
    return buf;
}

/* The same file decoded again and again on this thread, as tjbench does. */
static double bench_decode(const char *path, double secs)
{
    size_t n;
    uint8_t *buf = slurp(path, &n);
    dlt__jpeg_codec *jc = dlt__jpeg_codec_new();
    char why[256];
    int w, h, gray;
    if (dlt__jpeg_header(jc, buf, n, &w, &h, &gray, why, sizeof why) < 0) {
        fprintf(stderr, "%s: %s\n", path, why);
        exit(1);
    }
    int c = gray ? 1 : 3;
    uint8_t *chw = dlt_malloc((size_t)c * w * h);
    double t0 = now_s(), t;
    long k = 0;
    do {
        if (dlt__jpeg_decode_chw(jc, buf, n, c, w, h, chw, why, sizeof why) < 0) {
            fprintf(stderr, "%s: %s\n", path, why);
            exit(1);
        }
        k++;
        t = now_s() - t0;
    } while (t < secs);
    dlt__jpeg_codec_free(jc);
    free(chw), free(buf);
    return (double)k * w * h / t / 1e6;
}

/* The checksum every streamed chunk goes through, on a chunk-sized
 * buffer already in cache (as it is right after the read). */
static double bench_crc(size_t mb, double secs)
{
    size_t n = mb << 20;
    uint8_t *buf = dlt_malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(i * 2654435761u >> 13);
    uint32_t c = dlt__crc32c(0, buf, n);
    double t0 = now_s(), t;
    long k = 0;
    do {
        c = dlt__crc32c(c, buf, n);
        k++;
        t = now_s() - t0;
    } while (t < secs);
    fprintf(stderr, "crc32c implementation: %s (%08x)\n", dlt__crc32c_impl(), (unsigned)c);
    free(buf);
    return (double)k * n / t / 1e9;
}

static double file_mb(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        perror(path);
        exit(1);
    }
    return (double)sb.st_size / 1e6;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "crc") == 0) {
        printf("%.2f\n", bench_crc(argc > 2 ? (size_t)atol(argv[2]) : 1, argc > 3 ? atof(argv[3]) : 2));
        return 0;
    }
    if (argc < 3)
        usage();
    const char *what = argv[1], *path = argv[2];
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 0); /* as the loader does, without its note */
    double r;
    if (strcmp(what, "loader") == 0) {
        int batch = argc > 3 ? atoi(argv[3]) : 64, crop = argc > 4 ? atoi(argv[4]) : 0;
        int prefetch = argc > 5 ? atoi(argv[5]) : 2;
        double secs = argc > 6 ? atof(argv[6]) : 3;
        r = bench_loader(path, batch, crop, prefetch, secs, argc > 7 ? atol(argv[7]) : 0);
    } else if (strcmp(what, "decode") == 0) {
        r = bench_decode(path, argc > 3 ? atof(argv[3]) : 1);
    } else if (strcmp(what, "plain") == 0) {
        double t0 = now_s();
        size_t n;
        free(slurp(path, &n));
        r = file_mb(path) / (now_s() - t0);
    } else if (strcmp(what, "hdf5") == 0) {
        double t0 = now_s();
        dlt_dataset *ds;
        if (dlt_dataset_open(path, &ds) < 0)
            return 1;
        dlt_dataset_close(ds);
        double t = now_s() - t0, v = dlt__dataset_checks_cpu_seconds();
        fprintf(stderr, "checksums: %.3f s CPU of %.3f s opening into memory (%.2f%%)\n", v, t,
                100 * v / t);
        r = file_mb(path) / t;
    } else if (strcmp(what, "evict") == 0) {
        /* Cold cache without root: clean pages of this one file are dropped. */
        int fd = open(path, O_RDONLY);
        if (fd < 0 || fdatasync(fd) != 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0) {
            perror(path);
            return 1;
        }
        close(fd);
        r = 0;
    } else {
        usage();
    }
    printf("%.2f\n", r);
    return 0;
}
