/* bleu.h - corpus BLEU-1..4 of captions (Papineni et al. 2002): clipped
 * n-gram precision over all references of a segment, geometric mean with
 * uniform weights, brevity penalty from the closest reference length;
 * equal to NLTK's corpus_bleu on the same tokens. */
#ifndef DLTRAIN_BLEU_H
#define DLTRAIN_BLEU_H

#include <stdint.h>
#include <stdio.h>

#include "dltrain/data.h"

#define DLT_BLEU_MAX_N 4

/* Sums over the segments (hypotheses) added so far. */
typedef struct dlt_bleu {
    long matches[DLT_BLEU_MAX_N]; /* clipped n-gram matches, n = 1..4 */
    long totals[DLT_BLEU_MAX_N];  /* hypothesis n-grams (at least 1 per segment, as NLTK) */
    long hyp_len, ref_len;        /* words; ref_len: closest reference length, ties shorter */
    long segments;
} dlt_bleu;

typedef struct dlt_bleu_score {
    double bleu[DLT_BLEU_MAX_N];      /* BLEU-1..4: weights 1/n over orders 1..n */
    double precision[DLT_BLEU_MAX_N]; /* corpus modified precision p_n */
    double brevity_penalty;
    long hyp_len, ref_len, segments;
} dlt_bleu_score;

/* One segment: hypothesis HYP (HYP_LEN tokens) and its NREFS references
 * (REFS[i] of REF_LENS[i] tokens). Tokens are ids: equal ids are equal
 * words. */
void dlt_bleu_add(dlt_bleu *b, const int32_t *hyp, int hyp_len, const int32_t *const *refs,
                  const int *ref_lens, int nrefs);
/* The scores of what was added. A BLEU-n with no matching n-gram of some
 * order <= n is 0 (NLTK returns the same up to 1e-77). */
void dlt_bleu_compute(const dlt_bleu *b, dlt_bleu_score *out);

/* A caption set's score: HYP[i] (HYP_LEN[i] word ids, no <start>/<end>)
 * for image i of DS, against all captions of image i; images with
 * HYP[i] == NULL are left out. The library call of caption evaluation. */
int dlt_bleu_dataset(const dlt_dataset *ds, const int32_t *const *hyp, const int *hyp_len,
                     dlt_bleu_score *out);

/* Token files: lines "KEY word word ...", whitespace-separated. HYP_PATH
 * has one line per key; every key's references are the lines of REFS_PATH
 * with that key, or, when REFS_PATH is NULL, the captions of image KEY
 * (a sample index) of the caption set DS, the words looked up in its
 * vocabulary. Errors name file and line. */
int dlt_bleu_files(const char *hyp_path, const char *refs_path, const dlt_dataset *ds,
                   dlt_bleu_score *out);
/* "BLEU-1 .. BLEU-4" lines as dltrain-eval --bleu prints them. */
void dlt_bleu_print(FILE *f, const dlt_bleu_score *s);

#endif
