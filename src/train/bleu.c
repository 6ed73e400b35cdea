/* bleu.c - corpus BLEU (Papineni et al. 2002, "BLEU: a method for automatic
 * evaluation of machine translation") as NLTK's corpus_bleu computes it:
 * numerators and denominators summed over the segments before dividing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/bleu.h"
#include "dltrain/error.h"

/* Occurrences of the N-gram G in S (LEN tokens). */
static int count_ngram(const int32_t *s, int len, const int32_t *g, int n)
{
    int c = 0;
    for (int i = 0; i + n <= len; i++)
        c += memcmp(s + i, g, (size_t)n * sizeof *g) == 0;
    return c;
}

void dlt_bleu_add(dlt_bleu *b, const int32_t *hyp, int hyp_len, const int32_t *const *refs,
                  const int *ref_lens, int nrefs)
{
    for (int n = 1; n <= DLT_BLEU_MAX_N; n++) {
        long total = hyp_len >= n ? hyp_len - n + 1 : 0, match = 0;
        for (int i = 0; i + n <= hyp_len; i++) {
            const int32_t *g = hyp + i;
            if (count_ngram(hyp, i + n - 1, g, n) > 0)
                continue; /* counted at its first place */
            int in_hyp = count_ngram(hyp, hyp_len, g, n), in_ref = 0;
            for (int r = 0; r < nrefs; r++) {
                int c = count_ngram(refs[r], ref_lens[r], g, n);
                in_ref = c > in_ref ? c : in_ref;
            }
            match += in_hyp < in_ref ? in_hyp : in_ref; /* clipped */
        }
        b->matches[n - 1] += match;
        /* NLTK's modified_precision: a denominator of at least 1, so a
         * hypothesis shorter than n still counts one n-gram. */
        b->totals[n - 1] += total > 1 ? total : 1;
    }
    /* Closest reference length; of two equally close, the shorter. */
    int best = -1;
    for (int r = 0; r < nrefs; r++) {
        int d = abs(ref_lens[r] - hyp_len), bd = best < 0 ? 0 : abs(best - hyp_len);
        if (best < 0 || d < bd || (d == bd && ref_lens[r] < best))
            best = ref_lens[r];
    }
    b->hyp_len += hyp_len;
    b->ref_len += best < 0 ? 0 : best;
    b->segments++;
}

void dlt_bleu_compute(const dlt_bleu *b, dlt_bleu_score *out)
{
    memset(out, 0, sizeof *out);
    out->hyp_len = b->hyp_len, out->ref_len = b->ref_len, out->segments = b->segments;
    double bp = b->hyp_len > b->ref_len ? 1.0 : b->hyp_len == 0 ? 0.0
              : exp(1.0 - (double)b->ref_len / (double)b->hyp_len);
    out->brevity_penalty = bp;
    for (int n = 0; n < DLT_BLEU_MAX_N; n++)
        out->precision[n] = b->totals[n] ? (double)b->matches[n] / (double)b->totals[n] : 0.0;
    for (int n = 1; n <= DLT_BLEU_MAX_N; n++) {
        double s = 0;
        int zero = 0;
        for (int k = 0; k < n; k++) {
            zero |= b->matches[k] == 0;
            if (!zero)
                s += log(out->precision[k]) / n;
        }
        out->bleu[n - 1] = zero ? 0.0 : bp * exp(s);
    }
}

int dlt_bleu_dataset(const dlt_dataset *ds, const int32_t *const *hyp, const int *hyp_len,
                     dlt_bleu_score *out)
{
    size_t ncap = dlt_dataset_num_captions(ds), nimg = dlt_dataset_size(ds);
    if (!ncap)
        DLT_FAIL(DLT_ERR_ARG, "%s: not a caption set (no /captions); HINT: build it with "
                 "dltrain-prep --format captions", dlt_dataset_path(ds));
    /* Each image's captions, wherever they are in the file (counting sort). */
    size_t *first = dlt_calloc(nimg + 1, sizeof *first), *order = dlt_malloc(ncap * sizeof *order);
    for (size_t c = 0; c < ncap; c++) {
        size_t im;
        dlt_dataset_caption(ds, c, NULL, &im);
        first[im + 1]++;
    }
    for (size_t i = 0; i < nimg; i++)
        first[i + 1] += first[i];
    size_t *fill = dlt_malloc((nimg + 1) * sizeof *fill);
    memcpy(fill, first, (nimg + 1) * sizeof *fill);
    for (size_t c = 0; c < ncap; c++) {
        size_t im;
        dlt_dataset_caption(ds, c, NULL, &im);
        order[fill[im]++] = c;
    }
    free(fill);
    const int32_t **refs = dlt_malloc(ncap * sizeof *refs);
    int *lens = dlt_malloc(ncap * sizeof *lens);
    dlt_bleu b = {0};
    int st = DLT_OK;
    for (size_t i = 0; i < nimg && st >= 0; i++) {
        if (!hyp[i])
            continue;
        int nref = 0;
        for (size_t k = first[i]; k < first[i + 1]; k++, nref++)
            refs[nref] = dlt_dataset_caption(ds, order[k], &lens[nref], NULL);
        if (nref == 0) {
            dlt_error("%s: image %zu has no captions to score a hypothesis against",
                      dlt_dataset_path(ds), i);
            st = DLT_ERR_ARG;
            break;
        }
        dlt_bleu_add(&b, hyp[i], hyp_len[i], refs, lens, nref);
    }
    free(order);
    free(first), free(refs), free(lens);
    dlt_bleu_compute(&b, out);
    return st;
}

void dlt_bleu_print(FILE *f, const dlt_bleu_score *s)
{
    for (int n = 0; n < DLT_BLEU_MAX_N; n++)
        fprintf(f, "BLEU-%d     %.8f   (p%d = %.8f)\n", n + 1, s->bleu[n], n + 1, s->precision[n]);
    fprintf(f, "brevity    %.8f   (hypotheses %ld words, closest references %ld words, %ld "
            "segments)\n", s->brevity_penalty, s->hyp_len, s->ref_len, s->segments);
}
