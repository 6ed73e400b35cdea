/* fuzz_captions.c - libFuzzer harness: the text files a captioning user
 * hands dltrain-prep --format captions. The first byte picks which: even,
 * the rest is a COCO captions JSON (--annotations) over an images folder
 * of two small JPEGs, a.jpg and b.jpg; odd, the rest is a vocabulary file
 * (--vocab, also read alone through dlt__vocab_read_text) with a fixed JSON.
 * A build that succeeds is opened again and every caption's words checked
 * inside the vocabulary and its image inside the set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/captions.h"
#include "data/image.h"
#include "dltrain/data.h"
#include "dltrain/error.h"
#include "dltrain/prep.h"
#include "fuzz_util.h"

const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=256";
}

static char images_dir[512];

/* Two 8x8 grey JPEGs in fuzz_tmpdir()/images, for file_name entries to hit. */
static void make_images(void)
{
    snprintf(images_dir, sizeof images_dir, "%s/images", fuzz_tmpdir());
    mkdir(images_dir, 0700);
    dlt__jpeg_codec *jc = dlt__jpeg_codec_new();
    uint8_t px[64];
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 64; i++)
            px[i] = (uint8_t)(i * 4 + k * 100);
        dlt__image im = {.w = 8, .h = 8, .c = 1, .px = px};
        uint8_t *jpg;
        size_t n;
        char why[128], name[32], path[512];
        if (dlt__jpeg_encode(jc, &im, 90, &jpg, &n, why, sizeof why) != 0)
            abort();
        snprintf(name, sizeof name, "images/%c.jpg", 'a' + k);
        if (fuzz_write_file(name, jpg, n, path, sizeof path) != 0)
            abort();
        free(jpg);
    }
    dlt__jpeg_codec_free(jc);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    make_images();
    return 0;
}

static const char fixed_json[] =
    "{\"images\": [{\"id\": 1, \"file_name\": \"a.jpg\"}, {\"id\": 2, \"file_name\": \"b.jpg\"}],\n"
    " \"annotations\": [{\"id\": 10, \"image_id\": 1, \"caption\": \"A bag above a shirt.\"},\n"
    "                 {\"id\": 11, \"image_id\": 2, \"caption\": \"two shirts and a boot\"}]}\n";

/* The built set read back: its caption table checked against itself. */
static void read_back(const char *out)
{
    dlt_dataset *ds;
    if (dlt_dataset_open(out, &ds) != 0)
        return;
    const dlt__caption_table *t = dlt__dataset_captions(ds);
    if (t)
        for (size_t i = 0; i < t->n; i++) {
            if (t->image[i] < 0 || (size_t)t->image[i] >= dlt_dataset_size(ds) ||
                t->length[i] < 0 || t->length[i] > t->t_max)
                abort(); /* the reader's checks let a bad record through */
            for (int k = 0; k < t->length[i]; k++)
                if (t->tokens[i * (size_t)t->t_max + k] < 0 ||
                    t->tokens[i * (size_t)t->t_max + k] >= t->vocab.n)
                    abort();
        }
    dlt_dataset_close(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const int vocab_mode = data[0] & 1;
    char json[512], vocab[512], out[512], skipped[600];
    if (fuzz_write_file("captions.json", vocab_mode ? (const uint8_t *)fixed_json : data + 1,
                        vocab_mode ? sizeof fixed_json - 1 : size - 1, json, sizeof json) != 0)
        return 0;
    if (vocab_mode) {
        if (fuzz_write_file("vocab.txt", data + 1, size - 1, vocab, sizeof vocab) != 0)
            return 0;
        dlt__vocab v;
        dlt__vocab_init(&v);
        if (dlt__vocab_read_text(vocab, &v) == 0)
            for (int i = 0; i < v.n; i++)
                if (dlt__vocab_find(&v, v.words[i]) != i)
                    abort(); /* a word read twice, or the index out of step */
        dlt__vocab_free(&v);
    }
    snprintf(out, sizeof out, "%s/captions.h5", fuzz_tmpdir());
    dlt_prep_options o = {.format = DLT_PREP_CAPTIONS, .annotations = json, .images = images_dir,
                          .vocab = vocab_mode ? vocab : NULL, .out = out, .channels = 1,
                          .width = 8, .height = 8, .threads = 1, .quiet = 1, .progress_tty = 0,
                          .min_count = 1};
    dlt_prep_result res;
    volatile int st = -1;
    if (setjmp(fuzz_fatal_point) == 0) {
        fuzz_fatal_arm(1);
        st = dlt_prep_run(&o, &res);
    }
    fuzz_fatal_arm(0);
    if (fuzz_verbose)
        fprintf(stderr, "fuzz_captions: %s mode, prep %d (%ld written, %ld skipped, %ld captions)\n",
                vocab_mode ? "vocabulary" : "JSON", st, st == 0 ? res.written : 0,
                st == 0 ? res.skipped : 0, st == 0 ? res.captions : 0);
    if (st == 0)
        read_back(out);
    unlink(out);
    snprintf(skipped, sizeof skipped, "%s.skipped.txt", out);
    unlink(skipped);
    return 0;
}
