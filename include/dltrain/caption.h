/* caption.h - captions from a trained caption net (dltrain-caption): the
 * run's newest checkpoint, the encoder once per image, the decoder step by
 * step, greedy or beam search. */
#ifndef DLTRAIN_CAPTION_H
#define DLTRAIN_CAPTION_H

#include <stdint.h>
#include <stdio.h>

#include "dltrain/bleu.h"
#include "dltrain/data.h"

typedef struct dlt_captioner dlt_captioner;

typedef struct dlt_caption_options {
    int beam;          /* 0: greedy; K >= 1: beam search keeping K captions per image */
    int max_len;       /* words at most (0: 20); a caption reaching it ends there */
    int length_norm;   /* beam: the printed caption is the beam of the highest mean
                        * log-probability per token (words and <end>), not sum */
    const char *vocab; /* vocabulary file (NULL: RUN/config/vocab.txt) */
    const char *attention_dir; /* non-NULL: write each image's attention maps there
                                * (dltrain-caption --attention; the net needs an
                                * AttentionLSTM with its attention top) */
} dlt_caption_options;

/* RUN_DIR's net (config/net.prototxt, TEST phase) with its newest checkpoint.
 * Errors (naming the file): no checkpoint, a net without a caption Data layer
 * (4 tops), no SoftmaxWithLoss against its target words, no vocabulary, a
 * vocabulary larger than the net takes, a beam wider than the TEST batch. */
int dlt_captioner_create(const char *run_dir, const dlt_caption_options *opt,
                         dlt_captioner **out);
void dlt_captioner_free(dlt_captioner *c);
long dlt_captioner_iter(const dlt_captioner *c); /* the checkpoint's iteration */

/* Captions of N transformed images (N x c x h x w floats, the TEST data
 * layer's input): WORDS (N x max_len) word ids without <start>/<end>, LEN
 * (N) their number, LOGP (N, or NULL) the log-probability of the words and
 * the <end> that closed them. */
int dlt_caption_batch(dlt_captioner *c, const float *images, int n, int32_t *words, int *len,
                      double *logp);
/* One line per image to OUT: "NAME<TAB>word word ...", with LOG_PROB a
 * third column, the caption's log-probability. Image files (JPEG) decode
 * and resize as the run's training set was made (RUN/config/input.txt);
 * NAME is the path. A dataset's images are its samples; NAME is the
 * image's index (the key dltrain-eval --bleu --data expects). */
int dlt_caption_files(dlt_captioner *c, char *const *files, int n, int log_prob, FILE *out);
int dlt_caption_dataset(dlt_captioner *c, const dlt_dataset *ds, int log_prob, FILE *out);
/* With attention_dir, both also write there a JPEG strip per image (the
 * image, then where the decoder looked for each word), index.html and
 * index.tsv (src/train/caption_attention.h), finished when they return. */
/* Corpus BLEU-1..4 (bleu.h) of the captions of every image of the caption
 * set DS against all its captions (dltrain-eval --bleu --run-dir). */
int dlt_caption_bleu(dlt_captioner *c, const dlt_dataset *ds, dlt_bleu_score *out);

#endif
