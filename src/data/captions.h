/* captions.h - caption text inside dltrain: the tokenizer, the vocabulary,
 * and a dataset file's caption tables (/captions, /caption_length,
 * /caption_image, /vocab; schema in README.md, "Caption datasets"). */
#ifndef DLTRAIN_DATA_CAPTIONS_H
#define DLTRAIN_DATA_CAPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "core/h5util.h"
#include "dltrain/data.h"

/* ---- tokenizer ----
 * Lower-case (ASCII), apostrophes dropped ("man's" -> "mans", as Karpathy's
 * neuraltalk preprocessing, which the Show-Attend-Tell code reuses), then
 * split on every other byte that is not an ASCII letter or digit. Bytes of
 * 0x80 and above (UTF-8) belong to words, so "café" stays one token.
 * Appends malloc'd tokens to (*toks, *n, *cap); returns the number added. */
int dlt__caption_tokenize(const char *text, char ***toks, int *n, int *cap);
void dlt__caption_tokens_free(char **toks, int n);

/* ---- vocabulary: id -> word, and a hash index word -> id ---- */
typedef struct dlt__vocab {
    char **words;     /* (n) */
    long *count;      /* (n) occurrences, when used as a counter */
    int n, cap;
    int *slot;        /* (nslot) open-addressing table of ids, -1: empty */
    size_t nslot;
} dlt__vocab;
/* An empty vocabulary (no specials); dlt__vocab_specials adds the four
 * reserved words at ids 0..3 (DLT_WORD_PAD, _START, _END, _UNK). */
void dlt__vocab_init(dlt__vocab *v);
void dlt__vocab_specials(dlt__vocab *v);
void dlt__vocab_free(dlt__vocab *v);
/* The id of W, or -1. */
int dlt__vocab_find(const dlt__vocab *v, const char *w);
/* The id of W, added (count 0) if new; its count grows by ADD. */
int dlt__vocab_add(dlt__vocab *v, const char *w, long add);
/* From COUNTS (a counter): the specials, then every word seen at least
 * MIN_COUNT times, most frequent first, ties by byte order. */
void dlt__vocab_from_counts(const dlt__vocab *counts, long min_count, dlt__vocab *out);
/* Text form: one word per line in id order, the first four lines <pad>
 * <start> <end> <unk>. Errors name the file and line. */
int dlt__vocab_read_text(const char *path, dlt__vocab *v);
int dlt__vocab_write_text(const char *path, const dlt__vocab *v);

/* ---- a dataset file's captions ---- */
typedef struct dlt__caption_table {
    size_t n;          /* captions */
    int t_max;         /* columns: the longest caption, in words */
    int32_t *tokens;   /* (n, t_max) word ids, DLT_WORD_PAD after the end */
    int32_t *length;   /* (n) words of each caption (no <start>/<end>) */
    int32_t *image;    /* (n) image (sample) index in the file */
    dlt__vocab vocab;
    /* Writing only: the source's id of each image (COCO's), or NULL. */
    int64_t *image_id; /* (n_images) */
    size_t n_images;
} dlt__caption_table;
void dlt__caption_table_free(dlt__caption_table *t);
/* Write T's datasets and the caption attributes into FILE (PATH for
 * messages), with a CRC-32C of the tables checked on read. */
int dlt__caption_table_write(hid_t file, const char *path, const dlt__caption_table *t);
/* Read them if FILE has /captions (else T->n = 0); every field is checked
 * (shapes, ids inside the vocabulary, image indices below N_IMAGES,
 * lengths, the checksum) and errors name the file and the caption. */
int dlt__caption_table_read(hid_t file, const char *path, size_t n_images,
                            dlt__caption_table *t);
/* Writing a dataset: the captions go into the file being written. */
int dlt__dataset_writer_add_captions(dlt_dataset_writer *wr, const dlt__caption_table *t);
/* Reading: the table of an open dataset (NULL if it has no captions). */
const dlt__caption_table *dlt__dataset_captions(const dlt_dataset *ds);

#endif
