/* test_loader.c - the data module: dataset writer/reader round trip, Caffe
 * layout, IDX reading, and the loader's sharding rule with simulated ranks
 * (P ranks with batch B see what one rank with batch P*B sees). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>
#include <zlib.h>

#include "dltrain/data.h"
#include "dltrain/error.h"
#include "dltrain/tensor.h"
#include "test.h"

#define N 50
#define C 2
#define H 3
#define W 4
#define CHW (C * H * W)
#define NCLASS 5

static char dir[1024];

static void make_dir(void)
{
    const char *top = getenv("top_builddir");
    if (top && *top) {
        snprintf(dir, sizeof dir, "%s/tests", top);
        mkdir(dir, 0777);
        snprintf(dir, sizeof dir, "%s/tests/tmp", top);
        mkdir(dir, 0777);
        snprintf(dir, sizeof dir, "%s/tests/tmp/test_loader", top);
    } else {
        snprintf(dir, sizeof dir, "/tmp/test_loader-%ld", (long)getpid());
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        printf("Bail out! cannot create %s: %s\n", dir, strerror(errno));
        exit(1);
    }
}

static void path_in_dir(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

/* Pixel p of sample i; pixel 0 is the sample's index so batches can be
 * traced back to the samples they hold. */
static uint8_t pixel(int i, int p) { return p == 0 ? (uint8_t)i : (uint8_t)((i * 7 + p * 3) % 256); }
static int label_of(int i) { return (i * 3) % NCLASS; }

static int write_small(const char *path)
{
    static const char *const names[NCLASS] = {"a", "b", "c", "d", "e"};
    uint8_t img[N * CHW];
    int32_t lab[N];
    for (int i = 0; i < N; i++) {
        for (int p = 0; p < CHW; p++)
            img[i * CHW + p] = pixel(i, p);
        lab[i] = label_of(i);
    }
    dlt_dataset_writer *wr;
    DLT_TRY(dlt_dataset_writer_open(path, C, H, W, names, NCLASS, &wr));
    /* three appends to exercise extending /data across chunk boundaries */
    size_t parts[3] = {20, 1, 29}, at = 0;
    for (int k = 0; k < 3; k++) {
        int st = dlt_dataset_writer_append(wr, img + at * CHW, lab + at, parts[k]);
        if (st < 0) {
            dlt_dataset_writer_abort(wr);
            return st;
        }
        at += parts[k];
    }
    return dlt_dataset_writer_close(wr);
}

static void test_roundtrip(const char *path, dlt_dataset *ds)
{
    int c, h, w;
    dlt_dataset_shape(ds, &c, &h, &w);
    ASSERT_EQ(dlt_dataset_size(ds), N, "size");
    TEST_OK(c == C && h == H && w == W, "shape %d x %d x %d", c, h, w);
    ASSERT_EQ(dlt_dataset_num_classes(ds), NCLASS, "number of classes");
    TEST_OK(strcmp(dlt_dataset_path(ds), path) == 0, "path");
    float buf[CHW];
    int bad_label = 0, bad_pix = 0;
    for (int i = 0; i < N; i++) {
        bad_label += dlt_dataset_sample(ds, (size_t)i, 0.5f, buf) != label_of(i);
        for (int p = 0; p < CHW; p++)
            bad_pix += buf[p] != 0.5f * pixel(i, p);
    }
    ASSERT_EQ(bad_label, 0, "labels read back");
    ASSERT_EQ(bad_pix, 0, "pixels read back times scale");
    TEST_OK(dlt_dataset_sample(ds, N, 1.0f, buf) < 0, "sample index out of range is an error");

    /* /mean checked with HDF5 directly */
    float mean[CHW];
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "mean", H5P_DEFAULT);
    herr_t e = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, mean);
    H5Dclose(d);
    H5Fclose(f);
    double maxdiff = e < 0 ? 1e9 : 0;
    for (int p = 0; p < CHW; p++) {
        double s = 0;
        for (int i = 0; i < N; i++)
            s += pixel(i, p);
        double diff = mean[p] - s / N;
        maxdiff = diff > maxdiff ? diff : -diff > maxdiff ? -diff : maxdiff;
    }
    ASSERT_NEAR(maxdiff, 0, 1e-4, "/mean is the mean image");
    char tmp[1300];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    TEST_OK(access(tmp, F_OK) != 0, "no temporary file left after close");
}

/* Sample index of element k of a batch, from pixel 0 (= index, N < 256). */
static int traced(const float *data, int k, float scale) { return (int)(data[k * CHW] / scale + 0.5f); }

static dlt_loader *make_loader(dlt_dataset *ds, int B, int r, int world, int shuffle)
{
    dlt_loader_config cfg = {.batch_size = B, .rank = r, .world = world, .shuffle = shuffle,
                             .seed = 1234, .scale = 1.0f};
    dlt_loader *ld = NULL;
    if (dlt_loader_create(ds, &cfg, &ld) < 0)
        return NULL;
    return ld;
}

/* For W ranks of batch B: the concatenation of the ranks' batches at each
 * step equals one rank's batch W*B, over several epochs. */
static void test_sharding(dlt_dataset *ds, int world, int B)
{
    dlt_loader *ranks[3], *ref = make_loader(ds, world * B, 0, 1, 1);
    int ok = ref != NULL;
    for (int r = 0; r < world; r++)
        ok &= (ranks[r] = make_loader(ds, B, r, world, 1)) != NULL;
    TEST_OK(ok, "W=%d B=%d: loaders created", world, B);
    if (!ok)
        return;
    long spe = dlt_loader_steps_per_epoch(ranks[0]);
    ASSERT_EQ(spe, N / (world * B), "W=%d B=%d: steps per epoch", world, B);
    ASSERT_EQ(dlt_loader_steps_per_epoch(ref), spe, "W=%d B=%d: same steps as one rank", world,
              B);
    float *rd = malloc(sizeof(float) * world * B * CHW), *rl = malloc(sizeof(float) * world * B);
    float *d = malloc(sizeof(float) * B * CHW), *l = malloc(sizeof(float) * B);
    int mismatches = 0, errors = 0;
    for (long s = 0; s < 3 * spe + 1; s++) {
        errors += dlt_loader_fetch(ref, s, rd, rl) < 0;
        for (int r = 0; r < world; r++) {
            errors += dlt_loader_fetch(ranks[r], s, d, l) < 0;
            for (int k = 0; k < B; k++) {
                mismatches += traced(d, k, 1) != traced(rd, r * B + k, 1);
                mismatches += l[k] != rl[r * B + k];
                mismatches += l[k] != label_of(traced(d, k, 1));
            }
        }
    }
    ASSERT_EQ(errors, 0, "W=%d B=%d: fetches succeed", world, B);
    ASSERT_EQ(mismatches, 0, "W=%d B=%d: union of ranks' batches = one rank with batch %d, "
              "same order, 3 epochs", world, B, world * B);
    free(rd), free(rl), free(d), free(l);
    dlt_loader_free(ref);
    for (int r = 0; r < world; r++)
        dlt_loader_free(ranks[r]);
}

/* With B*steps == N an epoch visits every sample once; epochs differ. */
static void test_epochs(dlt_dataset *ds)
{
    const int B = 5;
    dlt_loader *ld = make_loader(ds, B, 0, 1, 1);
    TEST_OK(ld != NULL, "epochs: loader created");
    if (!ld)
        return;
    int order[2][N], seen[2][N];
    memset(seen, 0, sizeof seen);
    float d[B * CHW], l[B];
    for (int e = 0; e < 2; e++)
        for (long j = 0; j < N / B; j++) {
            dlt_loader_fetch(ld, e * (N / B) + j, d, l);
            for (int k = 0; k < B; k++) {
                int i = traced(d, k, 1);
                order[e][j * B + k] = i;
                if (i >= 0 && i < N)
                    seen[e][i]++;
            }
        }
    int perm_ok = 1, differ = 0, shuffled = 0;
    for (int i = 0; i < N; i++) {
        perm_ok &= seen[0][i] == 1 && seen[1][i] == 1;
        differ += order[0][i] != order[1][i];
        shuffled += order[0][i] != i;
    }
    TEST_OK(perm_ok, "each epoch is a permutation of all %d samples", N);
    TEST_OK(differ > 0, "epoch 0 and epoch 1 orders differ (%d positions)", differ);
    TEST_OK(shuffled > 0, "TRAIN order is shuffled");
    /* independent reference: the documented rule with dlt_permutation */
    uint32_t perm[N];
    dlt_permutation(perm, N, 1234, 1);
    int same = 1;
    for (int i = 0; i < N; i++)
        same &= order[1][i] == (int)perm[i];
    TEST_OK(same, "epoch 1 follows dlt_permutation(seed, 1)");
    dlt_loader_free(ld);
}

static void test_sequential(dlt_dataset *ds)
{
    const int B = 4, world = 2, r = 1;
    dlt_loader *ld = make_loader(ds, B, r, world, 0);
    TEST_OK(ld != NULL, "TEST mode: loader created");
    if (!ld)
        return;
    ASSERT_EQ(dlt_loader_steps_per_epoch(ld), (N + world * B - 1) / (world * B),
              "TEST mode: steps to cover the set once");
    float d[4 * CHW], l[4];
    int bad = 0;
    for (long s = 0; s < 10; s++) {
        dlt_loader_fetch(ld, s, d, l);
        for (int k = 0; k < B; k++)
            bad += traced(d, k, 1) != (int)(((s * world + r) * B + k) % N);
    }
    ASSERT_EQ(bad, 0, "TEST mode: sample (s*W + r)*B + k mod N, wrapping");
    dlt_loader_free(ld);
}

/* Fetches out of order (so the prefetched batch is the wrong one) still
 * return the right data; scale applies. */
static void test_prefetch(dlt_dataset *ds)
{
    const int B = 3, world = 2, r = 1;
    dlt_loader_config cfg = {.batch_size = B, .rank = r, .world = world, .shuffle = 1,
                             .seed = 99, .scale = 0.25f};
    dlt_loader *ld;
    int st = dlt_loader_create(ds, &cfg, &ld);
    TEST_OK(st == 0, "prefetch: loader created");
    if (st < 0)
        return;
    long spe = N / (world * B);
    long steps[] = {5, 3, 3, 4, 0, 2 * spe + 1, 2 * spe + 2, 1, spe, spe - 1, 7};
    uint32_t perm[N];
    float d[3 * CHW], l[3];
    int bad = 0;
    for (size_t t = 0; t < sizeof steps / sizeof *steps; t++) {
        long s = steps[t];
        if (dlt_loader_fetch(ld, s, d, l) < 0)
            bad++;
        dlt_permutation(perm, N, 99, (uint64_t)(s / spe));
        for (int k = 0; k < B; k++) {
            int want = (int)perm[((s % spe) * world + r) * B + k];
            bad += traced(d, k, 0.25f) != want || l[k] != label_of(want);
            bad += d[k * CHW + 1] != 0.25f * pixel(want, 1);
        }
    }
    ASSERT_EQ(bad, 0, "prefetch: out-of-order steps give the documented samples");
    dlt_loader_free(ld);
}

static void test_too_small(dlt_dataset *ds)
{
    dlt_loader_config cfg = {.batch_size = 20, .rank = 0, .world = 3, .shuffle = 1,
                             .seed = 1, .scale = 1.0f};
    dlt_loader *ld = NULL;
    int st = dlt_loader_create(ds, &cfg, &ld);
    TEST_OK(st < 0 && ld == NULL, "dataset of %d < global batch 3 x 20 is an error", N);
    cfg.rank = 3;
    cfg.batch_size = 1;
    TEST_OK(dlt_loader_create(ds, &cfg, &ld) < 0, "rank >= world is an error");
}

/* A float /data [N, D] and float /label [N, 1] file as Caffe writes. */
static void test_caffe(void)
{
    char path[1200];
    path_in_dir(path, sizeof path, "caffe.h5");
    float data[6][4], label[6];
    for (int i = 0; i < 6; i++) {
        for (int j = 0; j < 4; j++)
            data[i][j] = (float)i + 0.125f * j;
        label[i] = (float)(i % 3);
    }
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dd[2] = {6, 4}, ld[2] = {6, 1};
    hid_t s1 = H5Screate_simple(2, dd, NULL), s2 = H5Screate_simple(2, ld, NULL);
    hid_t d1 = H5Dcreate2(f, "data", H5T_IEEE_F32LE, s1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t d2 = H5Dcreate2(f, "label", H5T_IEEE_F32LE, s2, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d1, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dwrite(d2, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, label);
    H5Dclose(d1), H5Dclose(d2), H5Sclose(s1), H5Sclose(s2), H5Fclose(f);

    dlt_dataset *ds;
    int st = dlt_dataset_open(path, &ds);
    TEST_OK(st == 0, "Caffe HDF5Data layout opens");
    if (st < 0)
        return;
    int c, h, w;
    dlt_dataset_shape(ds, &c, &h, &w);
    TEST_OK(dlt_dataset_size(ds) == 6 && c == 4 && h == 1 && w == 1, "Caffe [N,D] -> D x 1 x 1");
    ASSERT_EQ(dlt_dataset_num_classes(ds), 0, "Caffe layout: classes unknown");
    float out[4];
    int lab = dlt_dataset_sample(ds, 5, 2.0f, out);
    ASSERT_EQ(lab, 2, "Caffe float label read as int");
    ASSERT_NEAR(out[3], 2.0f * (5 + 0.375f), 0, "Caffe float data times scale");
    dlt_dataset_close(ds);
}

/* Our file with a version we do not read, and a label out of range. */
static void test_bad_files(const char *good)
{
    char path[1200], cmd[2600];
    dlt_dataset *ds = NULL;
    path_in_dir(path, sizeof path, "v2.h5");
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", good, path);
    TEST_OK(system(cmd) == 0, "copy dataset");
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "dltrain_version", H5P_DEFAULT);
    int v2 = 2;
    H5Awrite(a, H5T_NATIVE_INT, &v2);
    H5Aclose(a);
    H5Fclose(f);
    TEST_OK(dlt_dataset_open(path, &ds) == DLT_ERR_FORMAT && !ds, "version 2 file is refused");

    path_in_dir(path, sizeof path, "badlabel.h5");
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", good, path);
    TEST_OK(system(cmd) == 0, "copy dataset");
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "label", H5P_DEFAULT);
    hid_t fs = H5Dget_space(d);
    hsize_t start[1] = {17}, one[1] = {1};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, one, NULL);
    hid_t ms = H5Screate_simple(1, one, NULL);
    int big = NCLASS;
    H5Dwrite(d, H5T_NATIVE_INT, ms, fs, H5P_DEFAULT, &big);
    H5Sclose(ms), H5Sclose(fs), H5Dclose(d), H5Fclose(f);
    TEST_OK(dlt_dataset_open(path, &ds) == DLT_ERR_FORMAT, "label %d >= %d classes is refused",
            NCLASS, NCLASS);

    path_in_dir(path, sizeof path, "missing.h5");
    TEST_OK(dlt_dataset_open(path, &ds) == DLT_ERR_IO, "missing file is an I/O error");
}

/* A failed append and abort leave neither the final nor the temporary file. */
static void test_writer_abort(void)
{
    static const char *const names[2] = {"x", "y"};
    char path[1200], tmp[1300];
    path_in_dir(path, sizeof path, "aborted.h5");
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    unlink(path);
    dlt_dataset_writer *wr;
    int st = dlt_dataset_writer_open(path, 1, 1, 2, names, 2, &wr);
    TEST_OK(st == 0 && access(tmp, F_OK) == 0, "writer writes to PATH.tmp-PID");
    if (st < 0)
        return;
    uint8_t img[4] = {1, 2, 3, 4};
    int32_t lab[2] = {1, 2};
    TEST_OK(dlt_dataset_writer_append(wr, img, lab, 2) == DLT_ERR_ARG, "label 2 of 2 classes refused");
    dlt_dataset_writer_abort(wr);
    TEST_OK(access(tmp, F_OK) != 0 && access(path, F_OK) != 0, "abort removes the temporary file");
}

static int write_file(const char *path, const void *buf, size_t n, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (!g)
            return -1;
        int ok = gzwrite(g, buf, (unsigned)n) == (int)n;
        return gzclose(g) == Z_OK && ok ? 0 : -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(buf, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void test_idx(void)
{
    /* 3 images of 2 x 2, big-endian dims */
    uint8_t buf[4 + 12 + 12 + 1] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2};
    for (int i = 0; i < 12; i++)
        buf[16 + i] = (uint8_t)(i * 20);
    char path[1200];
    dlt_idx idx;
    for (int gz = 0; gz < 2; gz++) {
        path_in_dir(path, sizeof path, gz ? "img.idx.gz" : "img.idx");
        write_file(path, buf, 28, gz);
        int st = dlt_idx_read(path, &idx);
        TEST_OK(st == 0 && idx.ndim == 3 && idx.dims[0] == 3 && idx.dims[1] == 2 &&
                    idx.dims[2] == 2 && idx.count == 12 && idx.data[11] == 220,
                "IDX %s read", gz ? "gzip" : "plain");
        dlt_idx_free(&idx);
    }
    path_in_dir(path, sizeof path, "trunc.idx");
    write_file(path, buf, 27, 0);
    TEST_OK(dlt_idx_read(path, &idx) == DLT_ERR_FORMAT && idx.data == NULL, "truncated IDX");
    path_in_dir(path, sizeof path, "trailing.idx.gz");
    write_file(path, buf, 29, 1);
    TEST_OK(dlt_idx_read(path, &idx) == DLT_ERR_FORMAT, "IDX with trailing data");
    path_in_dir(path, sizeof path, "magic.idx");
    buf[2] = 0x0D;
    write_file(path, buf, 28, 0);
    TEST_OK(dlt_idx_read(path, &idx) == DLT_ERR_FORMAT, "IDX float type refused");
    buf[0] = 0x1f;
    write_file(path, buf, 28, 0);
    TEST_OK(dlt_idx_read(path, &idx) == DLT_ERR_FORMAT, "wrong IDX magic");
}

int main(void)
{
    char path[1200];
    make_dir();
    path_in_dir(path, sizeof path, "small.h5");
    int st = write_small(path);
    TEST_OK(st == 0, "write a %d-sample dataset with the writer", N);
    dlt_dataset *ds = NULL;
    st = dlt_dataset_open(path, &ds);
    TEST_OK(st == 0, "open it");
    if (st < 0) {
        printf("Bail out! cannot open %s\n", path);
        return 1;
    }
    test_roundtrip(path, ds);
    for (int world = 1; world <= 3; world++)
        test_sharding(ds, world, 4);
    test_sharding(ds, 2, 1);
    test_epochs(ds);
    test_sequential(ds);
    test_prefetch(ds);
    test_too_small(ds);
    dlt_dataset_close(ds);
    test_caffe();
    test_bad_files(path);
    test_writer_abort();
    test_idx();
    TEST_DONE();
}
