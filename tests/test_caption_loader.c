/* test_caption_loader.c - caption datasets in the data module: the caption
 * tables' round trip through the writer and reader, the loader's teacher
 * forcing batches (input words, target words, cont), one sample per caption
 * per epoch, sharding over simulated ranks, batches as a pure function of
 * the step (resume), a sequence length override, and the caption data
 * layer's tops through a net. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/captions.h"
#include "dltrain/data.h"
#include "dltrain/error.h"
#include "dltrain/net.h"
#include "dltrain/prototxt.h"
#include "test.h"

#define NI 7        /* images */
#define NC 17       /* captions */
#define NWORDS 24   /* vocabulary: 4 reserved + 20 */
#define C 1
#define H 2
#define W 2

static char path[1100];

/* Caption c: image c % NI, 1 + c % 4 words, the first 4 + c (so a batch's
 * first input word after <start> names the caption), then 4 + (c+k) % 20. */
static int cap_len(int c) { return 1 + c % 4; }
static int cap_image(int c) { return c % NI; }
static int cap_word(int c, int k) { return k == 0 ? 4 + c : 4 + (c + k) % 20; }

static int write_set(void)
{
    dlt_dataset_writer *wr;
    DLT_TRY(dlt_dataset_writer_open(path, C, H, W, NULL, 0, &wr));
    uint8_t img[NI * C * H * W];
    int32_t lab[NI] = {0};
    for (int i = 0; i < NI * C * H * W; i++)
        img[i] = (uint8_t)(i / (C * H * W)); /* every pixel: the image index */
    int st = dlt_dataset_writer_append(wr, img, lab, NI);
    dlt__caption_table t = {.n = NC, .t_max = 4};
    t.tokens = calloc(NC * 4, sizeof *t.tokens);
    t.length = malloc(NC * sizeof *t.length);
    t.image = malloc(NC * sizeof *t.image);
    for (int c = 0; c < NC; c++) {
        t.length[c] = cap_len(c);
        t.image[c] = cap_image(c);
        for (int k = 0; k < cap_len(c); k++)
            t.tokens[c * 4 + k] = cap_word(c, k);
    }
    dlt__vocab_init(&t.vocab);
    dlt__vocab_specials(&t.vocab);
    for (int i = 4; i < NWORDS; i++) {
        char w[16];
        snprintf(w, sizeof w, "w%d", i);
        dlt__vocab_add(&t.vocab, w, 0);
    }
    if (st >= 0)
        st = dlt__dataset_writer_add_captions(wr, &t);
    dlt__caption_table_free(&t);
    if (st < 0) {
        dlt_dataset_writer_abort(wr);
        return st;
    }
    return dlt_dataset_writer_close(wr);
}

static void test_roundtrip(const dlt_dataset *ds)
{
    ASSERT_EQ(dlt_dataset_size(ds), NI, "images");
    ASSERT_EQ(dlt_dataset_num_captions(ds), NC, "captions");
    ASSERT_EQ(dlt_dataset_caption_max_words(ds), 4, "T_max");
    ASSERT_EQ(dlt_dataset_vocab_size(ds), NWORDS, "vocabulary size");
    TEST_OK(strcmp(dlt_dataset_word(ds, DLT_WORD_END), "<end>") == 0 &&
            strcmp(dlt_dataset_word(ds, 9), "w9") == 0 && !dlt_dataset_word(ds, NWORDS),
            "vocabulary words by id");
    int bad = 0;
    for (int c = 0; c < NC; c++) {
        int len;
        size_t im;
        const int32_t *w = dlt_dataset_caption(ds, (size_t)c, &len, &im);
        bad += len != cap_len(c) || (int)im != cap_image(c);
        for (int k = 0; k < 4; k++)
            bad += w[k] != (k < len ? cap_word(c, k) : DLT_WORD_PAD);
    }
    ASSERT_EQ(bad, 0, "every caption's words, length and image read back");
}

typedef struct batch {
    float data[64 * C * H * W], label[64];
    float in[16 * 64], tgt[16 * 64], cont[16 * 64];
} batch;

/* The caption in column K of a batch, from its first input word. */
static int caption_of(const batch *b, int B, int k) { return (int)b->in[1 * B + k] - 4; }

/* Column K holds caption c laid out for teacher forcing over T steps. */
static int column_ok(const batch *b, int B, int T, int k)
{
    int c = caption_of(b, B, k);
    if (c < 0 || c >= NC)
        return 0;
    int len = cap_len(c), ok = b->label[k] == cap_image(c) && b->data[k * C * H * W] == cap_image(c);
    for (int t = 0; t < T; t++) {
        float in = t == 0 ? DLT_WORD_START : t - 1 < len ? cap_word(c, t - 1) : DLT_WORD_PAD;
        float tgt = t < len ? cap_word(c, t) : t == len ? DLT_WORD_END : DLT_WORD_PAD;
        ok &= b->in[t * B + k] == in && b->tgt[t * B + k] == tgt &&
              b->cont[t * B + k] == (t == 0 ? 0.0f : 1.0f);
    }
    return ok;
}

static dlt_loader *loader(const dlt_dataset *ds, int B, int rank, int world, int shuffle, int T)
{
    dlt_loader_config cfg = {.batch_size = B, .rank = rank, .world = world, .shuffle = shuffle,
                             .seed = 99, .scale = 1.0f, .seq_len = T};
    dlt_loader *ld = NULL;
    return dlt_loader_create(ds, &cfg, &ld) < 0 ? NULL : ld;
}

static int fetch(dlt_loader *ld, long step, batch *b)
{
    return dlt_loader_fetch_seq(ld, step, b->data, b->label, b->in, b->tgt, b->cont);
}

static void test_epochs(const dlt_dataset *ds)
{
    const int B = 4;
    dlt_loader *ld = loader(ds, B, 0, 1, 1, 0);
    TEST_OK(ld != NULL, "TRAIN loader on a caption set");
    if (!ld)
        return;
    ASSERT_EQ(dlt_loader_seq_len(ld), 5, "T = T_max + 1");
    ASSERT_EQ(dlt_loader_steps_per_epoch(ld), NC / B, "steps per epoch count captions");
    int bad = 0, repeats = 0, differ = 0;
    int first[NC / B * B];
    for (int e = 0; e < 2; e++) {
        int seen[NC] = {0};
        for (long s = 0; s < NC / B; s++) {
            batch b;
            bad += fetch(ld, e * (NC / B) + s, &b) < 0;
            for (int k = 0; k < B; k++) {
                bad += !column_ok(&b, B, 5, k);
                int c = caption_of(&b, B, k);
                if (c >= 0 && c < NC)
                    repeats += seen[c]++ > 0;
                if (e == 0)
                    first[s * B + k] = c;
                else
                    differ += first[s * B + k] != c;
            }
        }
    }
    ASSERT_EQ(bad, 0, "every column: image, label, <start> w.. / w.. <end>, <pad>, cont 0 then 1");
    ASSERT_EQ(repeats, 0, "no caption twice in an epoch");
    TEST_OK(differ > 0, "the second epoch has another order (%d of %d places differ)", differ,
            NC / B * B);
    dlt_loader_free(ld);
}

/* Ranks r of 2 with batch 2 see at step s the r-th half of one rank's
 * batch of 4; a fresh loader's step s equals the first one's (resume). */
static void test_shards_and_resume(const dlt_dataset *ds)
{
    dlt_loader *one = loader(ds, 4, 0, 1, 1, 0);
    dlt_loader *r0 = loader(ds, 2, 0, 2, 1, 0), *r1 = loader(ds, 2, 1, 2, 1, 0);
    if (!one || !r0 || !r1) {
        TEST_OK(0, "loaders for the sharding test");
        return;
    }
    int bad = 0;
    batch a, b0, b1;
    for (long s = 0; s < 9; s++) {
        fetch(one, s, &a);
        fetch(r0, s, &b0);
        fetch(r1, s, &b1);
        for (int k = 0; k < 2; k++)
            bad += caption_of(&b0, 2, k) != caption_of(&a, 4, k) ||
                   caption_of(&b1, 2, k) != caption_of(&a, 4, 2 + k) || !column_ok(&b0, 2, 5, k) ||
                   !column_ok(&b1, 2, 5, k);
    }
    ASSERT_EQ(bad, 0, "2 ranks x batch 2 serve what 1 rank x batch 4 does, over 2 epochs");
    dlt_loader *again = loader(ds, 4, 0, 1, 1, 0);
    batch c;
    fetch(one, 6, &a);
    fetch(again, 6, &c);
    int same = again != NULL;
    for (int k = 0; k < 5 * 4; k++) /* (5, 4) words; 4 samples of 4 pixels */
        same &= a.in[k] == c.in[k] && a.tgt[k] == c.tgt[k] && a.cont[k] == c.cont[k] &&
                (k >= 4 * C * H * W || a.data[k] == c.data[k]) && (k >= 4 || a.label[k] == c.label[k]);
    TEST_OK(same, "a new loader's step 6 equals the first's "
            "(the position is the step: resume needs nothing else)");
    dlt_loader_free(again);
    dlt_loader_free(one);
    dlt_loader_free(r0);
    dlt_loader_free(r1);
}

static void test_test_phase_and_override(const dlt_dataset *ds)
{
    dlt_loader *ld = loader(ds, 5, 0, 1, 0, 2);
    TEST_OK(ld && dlt_loader_seq_len(ld) == 2, "sequence length override: T = 2");
    if (!ld)
        return;
    batch b;
    int bad = fetch(ld, 1, &b) < 0;
    for (int k = 0; k < 5; k++) { /* TEST: caption 5 + k, in order; cut to 2 steps */
        int c = 5 + k, len = cap_len(c);
        bad += b.in[k] != DLT_WORD_START || b.in[5 + k] != cap_word(c, 0) ||
               b.tgt[k] != cap_word(c, 0) || b.tgt[5 + k] != (len > 1 ? cap_word(c, 1) : DLT_WORD_END) ||
               b.label[k] != cap_image(c);
    }
    ASSERT_EQ(bad, 0, "TEST step 1 serves captions 5..9 in order, cut to T = 2");
    float data[5 * C * H * W], label[5];
    ASSERT_EQ(dlt_loader_fetch(ld, 0, data, label), 0, "plain fetch still works (no words)");
    dlt_loader_free(ld);
}

static const char *net_text =
    "name: 'cap' layer { name: 'd' type: 'Data' top: 'data' top: 'input_words' "
    "top: 'target_words' top: 'cont' data_param { batch_size: 3 %s } }";

static void test_data_layer(const dlt_dataset *ds)
{
    char text[512];
    dlt_cfg *root;
    dlt_net *net = NULL;
    snprintf(text, sizeof text, net_text, "");
    if (dlt_pt_parse_string(text, "cap.prototxt", &root) < 0) {
        TEST_OK(0, "parse the caption data layer");
        return;
    }
    int st = dlt_net_create_seq(root, DLT_PHASE_TRAIN, C, H, W, 5, 1, NULL, &net);
    ASSERT_EQ(st, 0, "a Data layer with 4 tops on a caption set");
    if (st == 0) {
        const dlt_tensor *t = dlt_net_blob(net, "target_words");
        TEST_OK(t && t->n == 5 && t->c == 3 && t->h == 1 && t->w == 1, "word tops are (T, N) = "
                "(5, 3)");
        dlt_batch in;
        dlt_net_input(net, &in);
        TEST_OK(in.t == 5 && in.input_words && in.target_words && in.cont && !in.label,
                "the net's input view has the word buffers");
        dlt_loader *ld = loader(ds, 3, 0, 1, 1, 0);
        TEST_OK(ld && dlt_loader_fetch_batch(ld, 2, &in) == 0 && in.cont[0] == 0 &&
                in.cont[3] == 1 && in.input_words[0] == DLT_WORD_START,
                "the loader fills the net's word tops");
        dlt_loader_free(ld);
        dlt_net_free(net);
    }
    net = NULL;
    TEST_OK(dlt_net_create_seq(root, DLT_PHASE_TRAIN, C, H, W, 0, 1, NULL, &net) < 0 && !net,
            "4 tops on a set without captions: an error");
    dlt_cfg_free(root);
    snprintf(text, sizeof text, net_text, "sequence_length: 7");
    dlt_pt_parse_string(text, "cap.prototxt", &root);
    st = dlt_net_create_seq(root, DLT_PHASE_TRAIN, C, H, W, 5, 1, NULL, &net);
    TEST_OK(st == 0 && dlt_net_blob(net, "cont")->n == 7, "data_param sequence_length overrides T");
    dlt_net_free(net);
    dlt_cfg_free(root);
}

int main(void)
{
    const char *top = getenv("top_builddir");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/tmp", top && *top ? top : "/tmp");
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/caption_loader-%ld.h5", dir, (long)getpid());
    ASSERT_EQ(write_set(), 0, "write a caption set (%d images, %d captions)", NI, NC);
    dlt_dataset *ds = NULL;
    ASSERT_EQ(dlt_dataset_open(path, &ds), 0, "open it");
    if (!ds)
        TEST_DONE();
    test_roundtrip(ds);
    test_epochs(ds);
    test_shards_and_resume(ds);
    test_test_phase_and_override(ds);
    test_data_layer(ds);
    dlt_dataset_close(ds);
    unlink(path);
    TEST_DONE();
}
