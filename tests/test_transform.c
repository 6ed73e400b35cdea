/* test_transform.c - the loader's transform_param (crop, mirror, mean_file,
 * mean_value, scale) against a direct computation; determinism across
 * prefetch depths, resume and rank counts; every sample once per epoch for
 * P = 1..4 simulated ranks; JPEG (/jpeg) datasets; mean files; the
 * dlt_transform API itself (channel order, input spec files). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/image.h"
#include "dltrain/data.h"
#include "dltrain/error.h"
#include "test.h"

#define N 24
#define C 3
#define H 6
#define W 7
#define CHW (C * H * W)
#define CROP 4

static char dir[1024];
static uint8_t images[N * CHW];
static float mean_img[CHW];

static void make_dir(void)
{
    const char *top = getenv("top_builddir");
    snprintf(dir, sizeof dir, "%s/tests/tmp/test_transform", top && *top ? top : "/tmp");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0) {
        printf("Bail out! cannot create %s\n", dir);
        exit(1);
    }
}

/* Labels are the sample index (no classes attribute), so batches trace back. */
static int write_raw(const char *path)
{
    int32_t labels[N];
    for (int i = 0; i < N; i++) {
        labels[i] = i;
        for (int p = 0; p < CHW; p++)
            images[i * CHW + p] = (uint8_t)((i * 37 + p * 11 + (p * p) % 7) % 256);
    }
    for (int p = 0; p < CHW; p++)
        mean_img[p] = (float)(p % 13) * 1.5f;
    dlt_dataset_writer *wr;
    DLT_TRY(dlt_dataset_writer_open(path, C, H, W, NULL, 0, &wr));
    DLT_TRY(dlt_dataset_writer_append(wr, images, labels, N));
    return dlt_dataset_writer_close(wr);
}

/* Caffe's formula for one output sample, written out directly. */
static void direct(int idx, int ho, int wo, int flip, const float *mean, const float *mv,
                   float scale, int oh, int ow, float *out)
{
    for (int c = 0; c < C; c++)
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                int src = (c * H + y + ho) * W + x + wo;
                float m = mean ? mean[src] : mv ? mv[c] : 0;
                out[(c * oh + y) * ow + (flip ? ow - 1 - x : x)] =
                    ((float)images[idx * CHW + src] - m) * scale;
            }
}

static int same(const float *a, const float *b, int n)
{
    for (int i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static dlt_loader *loader(dlt_dataset *ds, int B, int r, int world, int train, int prefetch)
{
    dlt_loader_config cfg = {.batch_size = B, .rank = r, .world = world, .shuffle = train,
                             .seed = 99, .scale = 0.5f, .crop_size = CROP, .mirror = 1,
                             .mean = mean_img, .prefetch = prefetch};
    dlt_loader *ld = NULL;
    return dlt_loader_create(ds, &cfg, &ld) < 0 ? NULL : ld;
}

/* TRAIN: each output equals the direct formula for exactly the label's
 * sample at some crop offset and flip; offsets and flips vary. TEST: the
 * centre crop, never flipped. */
static void test_crop_mirror_mean(dlt_dataset *ds)
{
    enum { B = 6 };
    float data[B * C * CROP * CROP], label[B], want[C * CROP * CROP];
    int seen_flip[2] = {0, 0}, seen_off[H][W], bad = 0;
    memset(seen_off, 0, sizeof seen_off);
    dlt_loader *ld = loader(ds, B, 0, 1, 1, 2);
    TEST_OK(ld != NULL, "TRAIN loader with crop_size %d, mirror, mean_file, scale", CROP);
    if (!ld)
        return;
    for (long step = 0; step < 12; step++) {
        if (dlt_loader_fetch(ld, step, data, label) < 0) {
            bad++;
            break;
        }
        for (int k = 0; k < B; k++) {
            int matches = 0;
            for (int ho = 0; ho <= H - CROP; ho++)
                for (int wo = 0; wo <= W - CROP; wo++)
                    for (int f = 0; f < 2; f++) {
                        direct((int)label[k], ho, wo, f, mean_img, NULL, 0.5f, CROP, CROP, want);
                        if (same(want, data + k * C * CROP * CROP, C * CROP * CROP)) {
                            matches++;
                            seen_flip[f] = 1;
                            seen_off[ho][wo] = 1;
                        }
                    }
            bad += matches != 1;
        }
    }
    dlt_loader_free(ld);
    int offsets = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            offsets += seen_off[y][x];
    ASSERT_EQ(bad, 0, "TRAIN: every sample is (x[crop] - mean) * scale, mirrored or not");
    TEST_OK(seen_flip[0] && seen_flip[1] && offsets >= 6,
            "TRAIN: both flips and %d of %d crop offsets occur", offsets,
            (H - CROP + 1) * (W - CROP + 1));

    ld = loader(ds, B, 0, 1, 0, 2);
    bad = 0;
    for (long step = 0; ld && step < 4; step++) {
        dlt_loader_fetch(ld, step, data, label);
        for (int k = 0; k < B; k++) {
            direct((int)label[k], (H - CROP) / 2, (W - CROP) / 2, 0, mean_img, NULL, 0.5f, CROP,
                   CROP, want);
            bad += !same(want, data + k * C * CROP * CROP, C * CROP * CROP);
        }
    }
    dlt_loader_free(ld);
    TEST_OK(ld && bad == 0, "TEST: centre crop, no mirror, mean subtracted (%d wrong)", bad);

    /* mean_value, one per channel, no crop. */
    float mv[3] = {10, 20, 30}, full[B * CHW], want_full[CHW];
    dlt_loader_config cfg = {.batch_size = B, .world = 1, .shuffle = 0, .scale = 2,
                             .mean_value = mv, .n_mean_value = 3};
    dlt_loader *lv = NULL;
    bad = dlt_loader_create(ds, &cfg, &lv) < 0;
    if (lv) {
        dlt_loader_fetch(lv, 1, full, label);
        for (int k = 0; k < B; k++) {
            direct((int)label[k], 0, 0, 0, NULL, mv, 2, H, W, want_full);
            bad += !same(want_full, full + k * CHW, CHW);
        }
        dlt_loader_free(lv);
    }
    ASSERT_EQ(bad, 0, "mean_value per channel and scale, as the direct formula");
    cfg.n_mean_value = 2;
    TEST_OK(dlt_loader_create(ds, &cfg, &lv) < 0, "2 mean_values for 3 channels is an error");
    cfg.n_mean_value = 3, cfg.crop_size = 8;
    TEST_OK(dlt_loader_create(ds, &cfg, &lv) < 0, "crop_size larger than the image is an error");
}

/* Same batches whatever the prefetch depth, when steps are fetched out of
 * order (a resume), and for 2 ranks of B vs 1 rank of 2B. */
static void test_determinism(dlt_dataset *ds)
{
    enum { B = 4, S = C * CROP * CROP };
    float a[2 * B * S], b[2 * B * S], la[2 * B], lb[2 * B];
    dlt_loader *l1 = loader(ds, B, 0, 1, 1, 1), *l4 = loader(ds, B, 0, 1, 1, 5);
    int diff = 0;
    for (long s = 0; l1 && l4 && s < 15; s++) {
        dlt_loader_fetch(l1, s, a, la);
        dlt_loader_fetch(l4, s, b, lb);
        diff += !same(a, b, B * S) || !same(la, lb, B);
    }
    ASSERT_EQ(diff, 0, "prefetch 1 and prefetch 5 give identical batches over 15 steps");
    dlt_loader *lr = loader(ds, B, 0, 1, 1, 3);
    dlt_loader_fetch(l1, 9, a, la);
    dlt_loader_fetch(lr, 9, b, lb);
    TEST_OK(lr && same(a, b, B * S) && same(la, lb, B),
            "a fresh loader starting at step 9 (resume) gives step 9's batch");
    dlt_loader_free(l1), dlt_loader_free(l4), dlt_loader_free(lr);

    dlt_loader *one = loader(ds, 2 * B, 0, 1, 1, 2);
    dlt_loader *r0 = loader(ds, B, 0, 2, 1, 2), *r1 = loader(ds, B, 1, 2, 1, 3);
    diff = 0;
    for (long s = 0; one && r0 && r1 && s < 7; s++) {
        dlt_loader_fetch(one, s, a, la);
        dlt_loader_fetch(r0, s, b, lb);
        dlt_loader_fetch(r1, s, b + B * S, lb + B);
        diff += !same(a, b, 2 * B * S) || !same(la, lb, 2 * B);
    }
    ASSERT_EQ(diff, 0, "2 ranks x batch %d equal 1 rank x batch %d, crops and flips included",
              B, 2 * B);
    dlt_loader_free(one), dlt_loader_free(r0), dlt_loader_free(r1);
}

/* Every sample exactly once per epoch over P simulated ranks. */
static void test_once_per_epoch(dlt_dataset *ds)
{
    for (int P = 1; P <= 4; P++) {
        enum { B = 3 };
        dlt_loader *ld[4];
        int bad = 0;
        for (int r = 0; r < P; r++)
            ld[r] = loader(ds, B, r, P, 1, 2);
        long steps = dlt_loader_steps_per_epoch(ld[0]);
        for (long e = 0; e < 2; e++) {
            int count[N] = {0};
            float data[B * C * CROP * CROP], label[B];
            for (long s = 0; s < steps; s++)
                for (int r = 0; r < P; r++) {
                    dlt_loader_fetch(ld[r], e * steps + s, data, label);
                    for (int k = 0; k < B; k++)
                        count[(int)label[k]]++;
                }
            int used = (int)(steps * P * B);
            int ones = 0, zeros = 0;
            for (int i = 0; i < N; i++)
                ones += count[i] == 1, zeros += count[i] == 0;
            bad += ones != used || zeros != N - used;
        }
        for (int r = 0; r < P; r++)
            dlt_loader_free(ld[r]);
        TEST_OK(bad == 0, "P=%d: each sample read at most once per epoch, %ld steps x %d x %d "
                "distinct samples (2 epochs)", P, steps, P, B);
    }
}

/* A /jpeg dataset: the loader returns what TurboJPEG decodes, bit for bit. */
static void test_jpeg(void)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/jpeg.h5", dir);
    dlt__jpeg_codec *jc = dlt__jpeg_codec_new();
    uint8_t *enc[N];
    size_t enc_n[N];
    int32_t labels[N];
    uint8_t decoded[N * CHW];
    char why[256];
    int bad = 0;
    for (int i = 0; i < N; i++) {
        dlt__image im = {W, H, C, dlt_malloc(CHW)};
        for (int p = 0; p < CHW; p++)
            im.px[p] = (uint8_t)((i * 50 + p * 3) % 256);
        bad += dlt__jpeg_encode(jc, &im, 95, &enc[i], &enc_n[i], why, sizeof why) < 0;
        bad += dlt__jpeg_decode_chw(jc, enc[i], enc_n[i], C, W, H, decoded + i * CHW, why,
                                    sizeof why) < 0;
        labels[i] = i;
        dlt__image_free(&im);
    }
    dlt_dataset_writer_options wo = {.jpeg = 1, .chunk = 5};
    dlt_dataset_writer *wr = NULL;
    bad += dlt_dataset_writer_open_ex(path, C, H, W, NULL, 0, &wo, &wr) < 0;
    if (wr) {
        bad += dlt_dataset_writer_append_jpeg(wr, (const uint8_t *const *)enc, enc_n, decoded,
                                              labels, N) < 0;
        bad += dlt_dataset_writer_close(wr) < 0;
    }
    ASSERT_EQ(bad, 0, "write a %d-sample /jpeg dataset", N);
    dlt_dataset *ds = NULL;
    TEST_OK(dlt_dataset_open(path, &ds) == 0 && dlt_dataset_size(ds) == N,
            "open it: %d samples", N);
    if (ds) {
        int c, h, w;
        dlt_dataset_shape(ds, &c, &h, &w);
        TEST_OK(c == C && h == H && w == W, "shape %dx%dx%d from the shape attribute", c, h, w);
        dlt_loader_config cfg = {.batch_size = 4, .world = 1, .shuffle = 1, .seed = 3,
                                 .scale = 1, .prefetch = 3};
        dlt_loader *ld = NULL;
        dlt_loader_create(ds, &cfg, &ld);
        float data[4 * CHW], label[4];
        int wrong = !ld;
        for (long s = 0; ld && s < 12; s++) {
            wrong += dlt_loader_fetch(ld, s, data, label) < 0;
            for (int k = 0; k < 4; k++)
                for (int p = 0; p < CHW; p++)
                    wrong += data[k * CHW + p] != decoded[(int)label[k] * CHW + p];
        }
        dlt_loader_free(ld);
        ASSERT_EQ(wrong, 0, "loader decodes /jpeg in its threads: pixels equal TurboJPEG's");
        float one[CHW];
        int lab = dlt_dataset_sample(ds, 7, 1, one);
        wrong = lab != 7;
        for (int p = 0; p < CHW; p++)
            wrong += one[p] != decoded[7 * CHW + p];
        ASSERT_EQ(wrong, 0, "dlt_dataset_sample decodes a /jpeg record");
        dlt_dataset_close(ds);
    }
    for (int i = 0; i < N; i++)
        free(enc[i]);
    dlt__jpeg_codec_free(jc);
}

/* Damaged /jpeg records (one empty, one not a JPEG) in memory and streamed:
 * skipped and counted, each replaced by a good sample of its batch; no
 * read from a NULL record (the empty one used to be memcpy'd from NULL). */
static void test_jpeg_bad_records(void)
{
    enum { NJ = 12, B = 4, EMPTY = 3, JUNK = 7 };
    char path[1200];
    snprintf(path, sizeof path, "%s/jpeg_bad.h5", dir);
    dlt__jpeg_codec *jc = dlt__jpeg_codec_new();
    uint8_t *enc[NJ];
    size_t enc_n[NJ];
    int32_t labels[NJ];
    uint8_t decoded[NJ * CHW];
    char why[256];
    int bad = 0;
    for (int i = 0; i < NJ; i++) {
        dlt__image im = {W, H, C, dlt_malloc(CHW)};
        for (int p = 0; p < CHW; p++)
            im.px[p] = (uint8_t)((i * 40 + p * 5) % 256);
        bad += dlt__jpeg_encode(jc, &im, 95, &enc[i], &enc_n[i], why, sizeof why) < 0;
        bad += dlt__jpeg_decode_chw(jc, enc[i], enc_n[i], C, W, H, decoded + i * CHW, why,
                                    sizeof why) < 0;
        labels[i] = i;
        dlt__image_free(&im);
    }
    enc_n[EMPTY] = 0;
    memcpy(enc[JUNK], "not a jpeg", 10), enc_n[JUNK] = 10;
    dlt_dataset_writer_options wo = {.jpeg = 1, .chunk = 3};
    dlt_dataset_writer *wr = NULL;
    bad += dlt_dataset_writer_open_ex(path, C, H, W, NULL, 0, &wo, &wr) < 0;
    if (wr) {
        bad += dlt_dataset_writer_append_jpeg(wr, (const uint8_t *const *)enc, enc_n, decoded,
                                              labels, NJ) < 0;
        bad += dlt_dataset_writer_close(wr) < 0;
    }
    for (int i = 0; i < NJ; i++)
        free(enc[i]);
    dlt__jpeg_codec_free(jc);
    ASSERT_EQ(bad, 0, "write a %d-record /jpeg set with an empty and a non-JPEG record", NJ);
    for (int streamed = 0; streamed < 2 && !bad; streamed++) {
        dlt_dataset *ds = NULL;
        int st = streamed ? dlt_dataset_open_lazy(path, &ds) : dlt_dataset_open(path, &ds);
        dlt_loader_config cfg = {.batch_size = B, .world = 1, .shuffle = 1, .seed = 5, .scale = 1,
                                 .prefetch = 2, .memory_budget = streamed ? 4 * 5 * 300 : 0};
        dlt_loader *ld = NULL;
        if (st == 0)
            st = dlt_loader_create(ds, &cfg, &ld);
        int failed = st < 0, wrong = 0, used_bad = 0;
        float data[B * CHW], label[B];
        for (long s = 0; ld && s < dlt_loader_steps_per_epoch(ld); s++) {
            failed += dlt_loader_fetch(ld, s, data, label) < 0;
            for (int k = 0; k < B; k++) {
                int i = (int)label[k];
                used_bad += i == EMPTY || i == JUNK;
                for (int p = 0; p < CHW && i >= 0 && i < NJ; p++)
                    wrong += data[k * CHW + p] != decoded[i * CHW + p];
            }
        }
        long nbad = ld ? dlt_loader_bad_records(ld) : -1;
        TEST_OK(!failed && nbad == 2 && used_bad == 0 && wrong == 0 &&
                    (!streamed || dlt_loader_streaming(ld, NULL)),
                "%s: one epoch reads; 2 bad records skipped and counted (%ld), none used (%d), "
                "replacements are good samples (%d pixels wrong)",
                streamed ? "streamed" : "in memory", nbad, used_bad, wrong);
        dlt_loader_free(ld);
        dlt_dataset_close(ds);
    }
}

/* A JPEG header claiming 60000 x 60000 (3.6 gigapixels): refused with the
 * dimensions before any arithmetic on them (w * h overflowed int). */
static void test_jpeg_huge_header(void)
{
    dlt__jpeg_codec *jc = dlt__jpeg_codec_new();
    dlt__image im = {W, H, C, dlt_malloc(CHW)};
    memset(im.px, 128, CHW);
    uint8_t *jpg = NULL;
    size_t n = 0;
    char why[512] = "";
    int ok = dlt__jpeg_encode(jc, &im, 90, &jpg, &n, why, sizeof why) == 0;
    dlt__image_free(&im);
    /* SOF0 (FF C0): length(2) precision(1) height(2) width(2). */
    int patched = 0;
    for (size_t i = 0; ok && i + 9 < n; i++)
        if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {
            jpg[i + 5] = 60000 >> 8, jpg[i + 6] = 60000 & 0xFF;
            jpg[i + 7] = 60000 >> 8, jpg[i + 8] = 60000 & 0xFF;
            patched = 1;
            break;
        }
    int w = 0, h = 0;
    int hst = patched ? dlt__jpeg_header(jc, jpg, n, &w, &h, NULL, why, sizeof why) : 0;
    TEST_OK(patched && hst < 0 && strstr(why, "60000 x 60000") && strstr(why, "too large"),
            "60000x60000 JPEG header refused: %s", why);
    dlt__image out;
    why[0] = '\0';
    int dst = patched ? dlt__jpeg_decode(jc, jpg, n, 3, 224, 224, &out, why, sizeof why) : 0;
    TEST_OK(dst < 0 && strstr(why, "60000 x 60000"), "decode of it refused before decoding: %s",
            why);
    free(jpg);
    dlt__jpeg_codec_free(jc);
}

/* Caffe .binaryproto (BlobProto with num/channels/height/width and packed
 * data) and our .h5 /mean give the same mean. */
static void test_mean_files(const char *h5)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/mean.binaryproto", dir);
    FILE *f = fopen(path, "wb");
    uint8_t head[] = {0x08, 1, 0x10, C, 0x18, H, 0x20, W, 0x2a};
    fwrite(head, 1, sizeof head, f);
    unsigned len = CHW * 4; /* varint of the packed length */
    uint8_t v[2] = {(uint8_t)(0x80 | (len & 0x7f)), (uint8_t)(len >> 7)};
    fwrite(v, 1, 2, f);
    fwrite(mean_img, 4, CHW, f);
    fclose(f);
    float *m = NULL;
    int st = dlt_mean_file_read(path, C, H, W, &m);
    TEST_OK(st == 0 && m && same(m, mean_img, CHW), "mean_file .binaryproto (Caffe BlobProto)");
    free(m);
    TEST_OK(dlt_mean_file_read(path, C, H + 1, W, &m) < 0, "a mean of the wrong shape is an error");
    st = dlt_mean_file_read(h5, C, H, W, &m);
    double maxd = 0;
    for (int p = 0; st == 0 && p < CHW; p++) {
        double s = 0;
        for (int i = 0; i < N; i++)
            s += images[i * CHW + p];
        double d = m[p] - s / N;
        maxd = d > maxd ? d : -d > maxd ? -d : maxd;
    }
    TEST_OK(st == 0 && maxd < 1e-4, "mean_file pointing at an .h5 reads its /mean (max diff %g)",
            maxd);
    free(m);
}

/* dlt_transform on its own: TEST sample as the direct formula; a decoded
 * JPEG in RGB and BGR order (planes swapped); the dataset's input spec;
 * config/input.txt round trip and a malformed line naming file:line. */
static void test_transform_api(dlt_dataset *ds)
{
    dlt_input_spec in;
    dlt_dataset_input_spec(ds, &in);
    TEST_OK(in.c == C && in.h == H && in.w == W && in.order == DLT_CHANNELS_RGB &&
            in.resize == DLT_RESIZE_SQUASH, "input spec of a written dataset: %dx%dx%d %s %s",
            in.c, in.h, in.w, dlt_channel_order_name(in.order), dlt_resize_mode_name(in.resize));
    const float mv[3] = {10, 20, 30};
    dlt_transform_config tc = {.in = in, .scale = 0.25f, .crop_size = CROP, .mean_value = mv,
                               .n_mean_value = 3};
    dlt_transform *tf = NULL;
    float got[C * CROP * CROP], want[C * CROP * CROP];
    TEST_OK(dlt_transform_create(&tc, &tf) == 0, "transform created");
    if (!tf)
        return;
    dlt_transform_sample(tf, images + 5 * CHW, NULL, NULL, got);
    direct(5, (H - CROP) / 2, (W - CROP) / 2, 0, NULL, mv, 0.25f, CROP, CROP, want);
    TEST_OK(same(got, want, C * CROP * CROP), "TEST sample: centre crop, mean_value, scale");
    dlt_transform_free(tf);

    /* A W x H JPEG: stored size already, so decoding is the only step. */
    dlt__jpeg_codec *jc = dlt__jpeg_codec_new();
    dlt__image im = {W, H, C, dlt_malloc(CHW)};
    for (int p = 0; p < CHW; p++)
        im.px[p] = (uint8_t)(p % 3 == 0 ? 220 : p % 3 == 1 ? 40 : 90);
    uint8_t *jpg = NULL, rgb[CHW], bgr[CHW];
    size_t n = 0;
    char why[256];
    int bad = dlt__jpeg_encode(jc, &im, 95, &jpg, &n, why, sizeof why) < 0;
    tc = (dlt_transform_config){.in = in, .scale = 1};
    bad |= dlt_transform_create(&tc, &tf) < 0;
    bad |= dlt_transform_decode(tf, jpg, n, rgb, why, sizeof why) < 0;
    dlt_transform_free(tf);
    tc.in.order = DLT_CHANNELS_BGR;
    bad |= dlt_transform_create(&tc, &tf) < 0;
    bad |= dlt_transform_decode(tf, jpg, n, bgr, why, sizeof why) < 0;
    dlt_transform_free(tf);
    int plane = H * W, swapped = !bad;
    for (int p = 0; p < plane && swapped; p++)
        swapped = rgb[p] == bgr[2 * plane + p] && rgb[plane + p] == bgr[plane + p] &&
                  rgb[2 * plane + p] == bgr[p];
    TEST_OK(swapped && rgb[0] > 180 && rgb[2 * plane] < 130,
            "decode: RGB order has red first, BGR the same planes swapped (R %d, B %d)", rgb[0],
            rgb[2 * plane]);
    free(jpg);
    dlt__image_free(&im);
    dlt__jpeg_codec_free(jc);

    char path[1200];
    dlt_input_spec a = {3, 32, 24, DLT_CHANNELS_BGR, DLT_RESIZE_HALF_CROP, 12345}, b;
    snprintf(path, sizeof path, "%s/input.txt", dir);
    int st = dlt_input_spec_write(path, &a);
    st = st < 0 ? st : dlt_input_spec_read(path, &b);
    TEST_OK(st == 0 && a.c == b.c && a.h == b.h && a.w == b.w && a.order == b.order &&
            a.resize == b.resize && a.resize_seed == b.resize_seed, "input.txt round trip");
    FILE *f = fopen(path, "a");
    if (f) {
        fputs("channel_ordr RGB\n", f);
        fclose(f);
    }
    TEST_OK(dlt_input_spec_read(path, &b) == DLT_ERR_PARSE, "a misspelt key in input.txt is an error");
}

int main(void)
{
    char path[1200];
    make_dir();
    snprintf(path, sizeof path, "%s/raw.h5", dir);
    TEST_OK(write_raw(path) == 0, "write a %d-sample %dx%dx%d dataset", N, C, H, W);
    dlt_dataset *ds = NULL;
    if (dlt_dataset_open(path, &ds) < 0) {
        printf("Bail out! cannot open %s\n", path);
        return 1;
    }
    test_crop_mirror_mean(ds);
    test_determinism(ds);
    test_once_per_epoch(ds);
    test_transform_api(ds);
    dlt_dataset_close(ds);
    test_jpeg();
    test_jpeg_bad_records();
    test_jpeg_huge_header();
    test_mean_files(path);
    TEST_DONE();
}
