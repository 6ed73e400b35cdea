/* bleu_files.c - BLEU of token files (dltrain-eval --bleu): hypotheses and
 * references as lines "KEY word word ...", or references taken from a
 * caption set; words become ids through one vocabulary so that equal
 * words are equal ids. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/captions.h"
#include "dltrain/bleu.h"
#include "dltrain/error.h"

typedef struct seg { int key; int32_t *w; int n; long line; } seg;
typedef struct segs { seg *s; size_t n, cap; } segs;

static void segs_free(segs *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->s[i].w);
    free(v->s);
}

/* Every line of PATH as (key id, word ids); KEYS and WORDS intern. */
static int read_lines(const char *path, dlt__vocab *keys, dlt__vocab *words, segs *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
        if (!tok)
            continue; /* blank line */
        if (out->n == out->cap) {
            out->cap = out->cap ? 2 * out->cap : 256;
            out->s = dlt_realloc(out->s, out->cap * sizeof *out->s);
        }
        seg *s = &out->s[out->n++];
        s->key = dlt__vocab_add(keys, tok, 0);
        s->w = NULL, s->n = 0, s->line = lineno;
        int wcap = 0;
        while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
            if (s->n == wcap) {
                wcap = wcap ? 2 * wcap : 16;
                s->w = dlt_realloc(s->w, (size_t)wcap * sizeof *s->w);
            }
            s->w[s->n++] = dlt__vocab_add(words, tok, 0);
        }
    }
    int err = ferror(f);
    free(line);
    fclose(f);
    if (err)
        DLT_FAIL(DLT_ERR_IO, "%s: read error", path);
    if (out->n == 0)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: no lines 'KEY word word ...'", path);
    return DLT_OK;
}

/* Hypothesis of each key (index: key id), or NULL; a repeated key fails. */
static int one_per_key(const char *path, const segs *hyp, int nkeys, const seg ***out)
{
    const seg **by = dlt_calloc((size_t)nkeys + 1, sizeof *by);
    for (size_t i = 0; i < hyp->n; i++) {
        if (by[hyp->s[i].key]) {
            long prev = by[hyp->s[i].key]->line;
            free(by);
            DLT_FAIL(DLT_ERR_FORMAT, "%s:%ld: repeats the key of line %ld (one hypothesis per "
                     "key)", path, hyp->s[i].line, prev);
        }
        by[hyp->s[i].key] = &hyp->s[i];
    }
    *out = by;
    return DLT_OK;
}

static int score_refs_file(const char *hyp_path, const char *refs_path, dlt_bleu_score *out)
{
    dlt__vocab keys, words;
    dlt__vocab_init(&keys);
    dlt__vocab_init(&words);
    segs hyp = {0}, refs = {0};
    const seg **by = NULL;
    int st = read_lines(hyp_path, &keys, &words, &hyp);
    if (st >= 0)
        st = read_lines(refs_path, &keys, &words, &refs);
    if (st >= 0)
        st = one_per_key(hyp_path, &hyp, keys.n, &by);
    /* References grouped by key (counting sort over the key ids). */
    size_t *first = dlt_calloc((size_t)keys.n + 1, sizeof *first);
    size_t *order = dlt_malloc((refs.n + 1) * sizeof *order);
    for (size_t i = 0; st >= 0 && i < refs.n; i++)
        first[refs.s[i].key + 1]++;
    for (int k = 0; k < keys.n; k++)
        first[k + 1] += first[k];
    size_t *fill = dlt_malloc(((size_t)keys.n + 1) * sizeof *fill);
    memcpy(fill, first, ((size_t)keys.n + 1) * sizeof *fill);
    for (size_t i = 0; st >= 0 && i < refs.n; i++)
        order[fill[refs.s[i].key]++] = i;
    const int32_t **rw = dlt_malloc((refs.n + 1) * sizeof *rw);
    int *rl = dlt_malloc((refs.n + 1) * sizeof *rl);
    dlt_bleu b = {0};
    for (size_t i = 0; st >= 0 && i < hyp.n; i++) {
        int k = hyp.s[i].key, nr = 0;
        for (size_t j = first[k]; j < first[k + 1]; j++, nr++)
            rw[nr] = refs.s[order[j]].w, rl[nr] = refs.s[order[j]].n;
        if (nr == 0) {
            dlt_error("%s:%ld: key '%s' has no reference in %s", hyp_path, hyp.s[i].line,
                      keys.words[k], refs_path);
            st = DLT_ERR_FORMAT;
            break;
        }
        dlt_bleu_add(&b, hyp.s[i].w, hyp.s[i].n, rw, rl, nr);
    }
    dlt_bleu_compute(&b, out);
    free(first), free(order), free(fill), free(rw), free(rl), free(by);
    segs_free(&hyp), segs_free(&refs);
    dlt__vocab_free(&keys), dlt__vocab_free(&words);
    return st;
}

static int score_dataset(const char *hyp_path, const dlt_dataset *ds, dlt_bleu_score *out)
{
    const dlt__caption_table *t = dlt__dataset_captions(ds);
    if (!t)
        DLT_FAIL(DLT_ERR_ARG, "%s: not a caption set (no /captions); HINT: give the references "
                 "with --refs FILE, or build the set with dltrain-prep --format captions",
                 dlt_dataset_path(ds));
    dlt__vocab keys, words;
    dlt__vocab_init(&keys);
    dlt__vocab_init(&words);
    for (int i = 0; i < t->vocab.n; i++) /* the set's ids; unknown words get new ones */
        dlt__vocab_add(&words, t->vocab.words[i], 0);
    segs hyp = {0};
    size_t nimg = dlt_dataset_size(ds);
    const int32_t **hw = dlt_calloc(nimg, sizeof *hw);
    int *hl = dlt_calloc(nimg, sizeof *hl);
    int st = read_lines(hyp_path, &keys, &words, &hyp);
    for (size_t i = 0; st >= 0 && i < hyp.n; i++) {
        const char *key = keys.words[hyp.s[i].key];
        char *end;
        errno = 0;
        unsigned long long im = strtoull(key, &end, 10);
        if (*end || end == key || errno || im >= nimg || key[0] == '-') {
            dlt_error("%s:%ld: key '%s' is not an image index of %s (0 .. %zu)", hyp_path,
                      hyp.s[i].line, key, dlt_dataset_path(ds), nimg - 1);
            st = DLT_ERR_FORMAT;
        } else if (hw[im]) {
            dlt_error("%s:%ld: a second hypothesis for image %llu", hyp_path, hyp.s[i].line, im);
            st = DLT_ERR_FORMAT;
        } else {
            static const int32_t none = 0;
            hw[im] = hyp.s[i].n ? hyp.s[i].w : &none, hl[im] = hyp.s[i].n;
        }
    }
    if (st >= 0)
        st = dlt_bleu_dataset(ds, hw, hl, out);
    free(hw), free(hl);
    segs_free(&hyp);
    dlt__vocab_free(&keys), dlt__vocab_free(&words);
    return st;
}

int dlt_bleu_files(const char *hyp_path, const char *refs_path, const dlt_dataset *ds,
                   dlt_bleu_score *out)
{
    memset(out, 0, sizeof *out);
    if (refs_path)
        return score_refs_file(hyp_path, refs_path, out);
    if (!ds)
        DLT_FAIL(DLT_ERR_ARG, "BLEU of %s: give the references (a file, or a caption set)",
                 hyp_path);
    return score_dataset(hyp_path, ds, out);
}
