/* test_stream.c - the streaming loader (sets larger than the memory
 * budget): over P = 1..4 simulated ranks every sample is served exactly
 * once per epoch (at most once when N is not a multiple of P*B), with its
 * own pixels; epochs differ, a seed repeats its order, a fresh loader
 * resumes mid-epoch exactly; /jpeg sets stream too; the in-memory mode
 * still follows the global permutation of data.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"
#include "dltrain/data.h"
#include "dltrain/error.h"
#include "dltrain/tensor.h"
#include "test.h"

#define N 300     /* 42 chunks of 7 and one of 6 */
#define CHUNK 7
#define C 1
#define H 2
#define W 2
#define CHW (C * H * W)
#define EPOCHS 2

static char dir[1024];

static void make_dir(void)
{
    const char *top = getenv("top_builddir");
    snprintf(dir, sizeof dir, "%s/tests/tmp/test_stream", top && *top ? top : "/tmp");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0) {
        printf("Bail out! cannot create %s\n", dir);
        exit(1);
    }
}

/* Sample i: label i, pixels 0 and 1 spell i, so data and label are checked together. */
static uint8_t pixel(int i, int p) { return p == 0 ? (uint8_t)(i % 256) : p == 1 ? (uint8_t)(i / 256) : (uint8_t)(i * 7 + p); }

static int write_raw(const char *path)
{
    static uint8_t img[N * CHW];
    int32_t labels[N];
    for (int i = 0; i < N; i++) {
        labels[i] = i;
        for (int p = 0; p < CHW; p++)
            img[i * CHW + p] = pixel(i, p);
    }
    dlt_dataset_writer_options wo = {.chunk = CHUNK};
    dlt_dataset_writer *wr;
    DLT_TRY(dlt_dataset_writer_open_ex(path, C, H, W, NULL, 0, &wo, &wr));
    DLT_TRY(dlt_dataset_writer_append(wr, img, labels, N));
    return dlt_dataset_writer_close(wr);
}

/* A loader streaming DS with a shuffle buffer of about 16 samples. */
static dlt_loader *stream_loader(const dlt_dataset *ds, int rank, int world, int batch,
                                 uint64_t seed, int prefetch)
{
    dlt_loader_config cfg = {.batch_size = batch, .rank = rank, .world = world, .shuffle = 1,
                             .seed = seed, .scale = 1, .prefetch = prefetch,
                             .memory_budget = 4 * 16 * CHW};
    dlt_loader *ld = NULL;
    if (dlt_loader_create(ds, &cfg, &ld) < 0)
        return NULL;
    return ld;
}

/* Labels of steps [from, to) of one rank; counts pixel/label mismatches. */
static int fetch_labels(dlt_loader *ld, int batch, int sample, long from, long to, int *out)
{
    float *data = dlt_malloc((size_t)batch * sample * sizeof(float)), label[64];
    int wrong = 0;
    for (long s = from; s < to; s++) {
        if (dlt_loader_fetch(ld, s, data, label) < 0)
            wrong++;
        for (int k = 0; k < batch; k++) {
            int i = (int)label[k];
            out[(s - from) * batch + k] = i;
            if (sample == CHW && (data[k * CHW] != pixel(i, 0) || data[k * CHW + 1] != pixel(i, 1)))
                wrong++;
        }
    }
    free(data);
    return wrong;
}

/* P ranks, batch B, EPOCHS epochs: per epoch each sample at most once (exactly
 * once when P*B divides N), pixels matching labels, and epochs in other orders. */
static void once_per_epoch(const dlt_dataset *ds, int P, int B)
{
    dlt_loader *ld[4];
    for (int r = 0; r < P; r++)
        ld[r] = stream_loader(ds, r, P, B, 11, 2);
    long steps = dlt_loader_steps_per_epoch(ld[0]);
    int *lab = dlt_malloc((size_t)EPOCHS * P * steps * B * sizeof *lab);
    int wrong = 0, dup = 0, served = 0, missing = 0;
    for (int r = 0; r < P; r++)
        for (int e = 0; e < EPOCHS; e++)
            wrong += fetch_labels(ld[r], B, CHW, e * steps, (e + 1) * steps,
                                  lab + ((size_t)e * P + r) * steps * B);
    for (int e = 0; e < EPOCHS; e++) {
        int seen[N] = {0};
        for (long j = 0; j < P * steps * B; j++) {
            int i = lab[(size_t)e * P * steps * B + j];
            if (i < 0 || i >= N || seen[i]++)
                dup++;
            served++;
        }
        for (int i = 0; i < N; i++)
            missing += !seen[i];
    }
    int exact = N % (P * B) == 0;
    TEST_OK(wrong == 0 && dup == 0 && (exact ? missing == 0 : missing == EPOCHS * (N % (P * B))),
            "P=%d B=%d: %s per epoch over %d epochs (%d served, %d repeats, %d not served, %d "
            "pixel errors)", P, B, exact ? "every sample exactly once" : "each sample at most once",
            EPOCHS, served, dup, missing, wrong);
    TEST_OK(memcmp(lab, lab + (size_t)P * steps * B, (size_t)steps * B * sizeof *lab) != 0,
            "P=%d B=%d: epoch 1 is served in another order than epoch 0", P, B);
    for (int r = 0; r < P; r++)
        dlt_loader_free(ld[r]);
    free(lab);
}

/* Same seed: same order (any prefetch depth); another seed: another; a
 * fresh loader at step j (a resume) serves step j's batch. */
static void determinism(const dlt_dataset *ds)
{
    enum { B = 6, STEPS = 2 * (N / (2 * B)) };
    int a[STEPS * B], b[STEPS * B], c[STEPS * B], d[(STEPS - 7) * B];
    dlt_loader *l1 = stream_loader(ds, 1, 2, B, 5, 2), *l2 = stream_loader(ds, 1, 2, B, 5, 5);
    dlt_loader *l3 = stream_loader(ds, 1, 2, B, 6, 2), *l4 = stream_loader(ds, 1, 2, B, 5, 3);
    int wrong = fetch_labels(l1, B, CHW, 0, STEPS, a) + fetch_labels(l2, B, CHW, 0, STEPS, b) +
                fetch_labels(l3, B, CHW, 0, STEPS, c);
    TEST_OK(wrong == 0 && memcmp(a, b, sizeof a) == 0, "same seed, prefetch 2 and 5: same order "
            "over 2 epochs");
    TEST_OK(memcmp(a, c, sizeof a) != 0, "another seed: another order");
    wrong = fetch_labels(l4, B, CHW, 7, STEPS, d);
    TEST_OK(wrong == 0 && memcmp(a + 7 * B, d, sizeof d) == 0,
            "a fresh loader started at step 7 (mid-epoch resume) serves what the first did from "
            "step 7 on, into the next epoch");
    /* Seeking back and forth on one loader (steps repeated, skipped). */
    int e[B];
    wrong = fetch_labels(l4, B, CHW, 3, 4, e);
    TEST_OK(wrong == 0 && memcmp(a + 3 * B, e, sizeof e) == 0, "seeking back to step 3 serves "
            "step 3's batch again");
    size_t buf = 0;
    TEST_OK(dlt_loader_streaming(l1, &buf) && buf == 16 * CHW, "the loader says it streams, "
            "with a shuffle buffer of %zu bytes (a quarter of the budget)", buf);
    dlt_loader_free(l1), dlt_loader_free(l2), dlt_loader_free(l3), dlt_loader_free(l4);
}

/* In memory, step s, rank r, k takes perm[(s*W + r)*B + k] of the epoch's
 * global permutation of (seed, epoch), as before streaming existed. */
static void in_memory_unchanged(const char *path)
{
    enum { B = 5, P = 3 };
    dlt_dataset *ds;
    if (dlt_dataset_open(path, &ds) < 0) {
        TEST_OK(0, "open %s in memory", path);
        return;
    }
    uint32_t perm[N];
    long steps = N / (P * B);
    int wrong = 0, got[B];
    for (int r = 0; r < P; r++) {
        dlt_loader_config cfg = {.batch_size = B, .rank = r, .world = P, .shuffle = 1,
                                 .seed = 9, .scale = 1};
        dlt_loader *ld;
        if (dlt_loader_create(ds, &cfg, &ld) < 0) {
            wrong++;
            continue;
        }
        wrong += dlt_loader_streaming(ld, NULL);
        for (long s = 0; s < 2 * steps; s++) {
            dlt_permutation(perm, N, 9, (uint64_t)(s / steps));
            wrong += fetch_labels(ld, B, CHW, s, s + 1, got);
            for (int k = 0; k < B; k++)
                wrong += got[k] != (int)perm[((s % steps) * P + r) * B + k];
        }
        dlt_loader_free(ld);
    }
    TEST_OK(wrong == 0, "in memory: P=%d ranks serve the global permutation of (seed, epoch) "
            "as before (%d differences)", P, wrong);
    dlt_dataset_close(ds);
}

/* A /jpeg set streams: each record once per epoch, decoded as in memory. */
static void jpeg_stream(void)
{
    enum { NJ = 40, JC = 3, JH = 8, JW = 8, JCHW = JC * JH * JW, B = 4, P = 2 };
    char path[1200];
    snprintf(path, sizeof path, "%s/jpeg.h5", dir);
    dlt__jpeg_codec *jc = dlt__jpeg_codec_new();
    uint8_t *enc[NJ];
    size_t enc_n[NJ];
    int32_t labels[NJ];
    char why[256];
    int bad = 0;
    for (int i = 0; i < NJ; i++) {
        dlt__image im = {JW, JH, JC, dlt_malloc(JCHW)};
        for (int p = 0; p < JCHW; p++)
            im.px[p] = (uint8_t)((i * 50 + p * 3) % 256);
        bad += dlt__jpeg_encode(jc, &im, 95, &enc[i], &enc_n[i], why, sizeof why) < 0;
        labels[i] = i;
        dlt__image_free(&im);
    }
    dlt_dataset_writer_options wo = {.jpeg = 1, .chunk = 3};
    dlt_dataset_writer *wr = NULL;
    bad += dlt_dataset_writer_open_ex(path, JC, JH, JW, NULL, 0, &wo, &wr) < 0;
    if (wr) {
        bad += dlt_dataset_writer_append_jpeg(wr, (const uint8_t *const *)enc, enc_n, NULL,
                                              labels, NJ) < 0;
        bad += dlt_dataset_writer_close(wr) < 0;
    }
    for (int i = 0; i < NJ; i++)
        free(enc[i]);
    dlt__jpeg_codec_free(jc);
    dlt_dataset *lazy = NULL, *mem = NULL;
    bad += dlt_dataset_open_lazy(path, &lazy) < 0 || dlt_dataset_open(path, &mem) < 0;
    TEST_OK(bad == 0 && !dlt_dataset_in_memory(lazy), "a %d-record /jpeg set opened lazily "
            "(samples on disk)", NJ);
    if (bad) {
        dlt_dataset_close(lazy), dlt_dataset_close(mem);
        return;
    }
    int seen[NJ] = {0}, wrong = 0;
    float *data = dlt_malloc(B * JCHW * sizeof(float)), *ref = dlt_malloc(JCHW * sizeof(float));
    float label[B];
    for (int r = 0; r < P; r++) {
        dlt_loader_config cfg = {.batch_size = B, .rank = r, .world = P, .shuffle = 1, .seed = 3,
                                 .scale = 1, .memory_budget = 4 * 5 * 300};
        dlt_loader *ld;
        if (dlt_loader_create(lazy, &cfg, &ld) < 0) {
            wrong++;
            continue;
        }
        wrong += !dlt_loader_streaming(ld, NULL);
        for (long s = 0; s < dlt_loader_steps_per_epoch(ld); s++) {
            wrong += dlt_loader_fetch(ld, s, data, label) < 0;
            for (int k = 0; k < B; k++) {
                int i = (int)label[k];
                seen[i]++;
                dlt_dataset_sample(mem, (size_t)i, 1, ref);
                wrong += memcmp(ref, data + k * JCHW, JCHW * sizeof(float)) != 0;
            }
        }
        dlt_loader_free(ld);
    }
    int off = 0;
    for (int i = 0; i < NJ; i++)
        off += seen[i] != 1;
    TEST_OK(wrong == 0 && off == 0, "/jpeg streamed by %d ranks: every record exactly once, "
            "pixels as decoded in memory (%d off, %d wrong)", P, off, wrong);
    free(data), free(ref);
    dlt_dataset_close(lazy), dlt_dataset_close(mem);
}

int main(void)
{
    char path[1200];
    make_dir();
    snprintf(path, sizeof path, "%s/raw.h5", dir);
    TEST_OK(write_raw(path) == 0, "write a %d-sample dataset in chunks of %d", N, CHUNK);
    dlt_dataset *ds = NULL;
    if (dlt_dataset_open_lazy(path, &ds) < 0) {
        printf("Bail out! cannot open %s\n", path);
        return 1;
    }
    TEST_OK(!dlt_dataset_in_memory(ds) && dlt_dataset_memory_bytes(ds) == N * CHW,
            "opened lazily: samples on disk, %zu bytes once loaded", dlt_dataset_memory_bytes(ds));
    for (int P = 1; P <= 4; P++)
        once_per_epoch(ds, P, 5);
    once_per_epoch(ds, 3, 7); /* 300 = 14 x 21 + 6: 6 samples not served per epoch */
    determinism(ds);
    dlt_loader_config test_cfg = {.batch_size = 4, .world = 1, .scale = 1};
    dlt_loader *tl = NULL;
    TEST_OK(dlt_loader_create(ds, &test_cfg, &tl) == DLT_ERR_ARG && !tl,
            "a TEST (unshuffled) loader refuses a set not in memory");
    dlt_dataset_close(ds);
    in_memory_unchanged(path);
    jpeg_stream();
    TEST_DONE();
}
