/* caption_vocab.c - the caption tokenizer and the vocabulary (word <-> id,
 * with a hash index), built from counts or read from a text file so that
 * train and val share one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/captions.h"
#include "dltrain/error.h"

static int word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

int dlt__caption_tokenize(const char *text, char ***toks, int *n, int *cap)
{
    size_t len = strlen(text);
    char *w = dlt_malloc(len + 1);
    size_t wn = 0;
    int added = 0;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\'')
            continue; /* "man's" -> "mans": the apostrophe joins, never splits */
        if (c && word_byte(c)) {
            w[wn++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
            continue;
        }
        if (wn == 0)
            continue;
        w[wn] = '\0';
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 16;
            *toks = dlt_realloc(*toks, (size_t)*cap * sizeof **toks);
        }
        (*toks)[(*n)++] = dlt_strdup(w);
        added++;
        wn = 0;
    }
    free(w);
    return added;
}

void dlt__caption_tokens_free(char **toks, int n)
{
    for (int i = 0; i < n; i++)
        free(toks[i]);
    free(toks);
}

/* FNV-1a. */
static uint64_t hash_word(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void rehash(dlt__vocab *v, size_t nslot)
{
    free(v->slot);
    v->nslot = nslot;
    v->slot = dlt_malloc(nslot * sizeof *v->slot);
    for (size_t i = 0; i < nslot; i++)
        v->slot[i] = -1;
    for (int id = 0; id < v->n; id++) {
        size_t s = hash_word(v->words[id]) & (nslot - 1);
        while (v->slot[s] >= 0)
            s = (s + 1) & (nslot - 1);
        v->slot[s] = id;
    }
}

void dlt__vocab_init(dlt__vocab *v)
{
    memset(v, 0, sizeof *v);
    rehash(v, 64);
}

void dlt__vocab_specials(dlt__vocab *v)
{
    static const char *const sp[4] = {"<pad>", "<start>", "<end>", "<unk>"};
    for (int i = 0; i < 4; i++)
        dlt__vocab_add(v, sp[i], 0);
}

void dlt__vocab_free(dlt__vocab *v)
{
    for (int i = 0; i < v->n; i++)
        free(v->words[i]);
    free(v->words);
    free(v->count);
    free(v->slot);
    memset(v, 0, sizeof *v);
}

int dlt__vocab_find(const dlt__vocab *v, const char *w)
{
    if (!v->nslot)
        return -1;
    size_t s = hash_word(w) & (v->nslot - 1);
    while (v->slot[s] >= 0) {
        if (strcmp(v->words[v->slot[s]], w) == 0)
            return v->slot[s];
        s = (s + 1) & (v->nslot - 1);
    }
    return -1;
}

int dlt__vocab_add(dlt__vocab *v, const char *w, long add)
{
    if (!v->nslot)
        dlt__vocab_init(v);
    int id = dlt__vocab_find(v, w);
    if (id < 0) {
        if (v->n == v->cap) {
            v->cap = v->cap ? 2 * v->cap : 64;
            v->words = dlt_realloc(v->words, (size_t)v->cap * sizeof *v->words);
            v->count = dlt_realloc(v->count, (size_t)v->cap * sizeof *v->count);
        }
        id = v->n++;
        v->words[id] = dlt_strdup(w);
        v->count[id] = 0;
        if ((size_t)v->n * 2 > v->nslot) /* load factor at most 1/2 */
            rehash(v, v->nslot * 2);
        else {
            size_t s = hash_word(w) & (v->nslot - 1);
            while (v->slot[s] >= 0)
                s = (s + 1) & (v->nslot - 1);
            v->slot[s] = id;
        }
    }
    v->count[id] += add;
    return id;
}

static const dlt__vocab *sort_counts;
static int by_count(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    long cx = sort_counts->count[x], cy = sort_counts->count[y];
    if (cx != cy)
        return cx > cy ? -1 : 1;
    return strcmp(sort_counts->words[x], sort_counts->words[y]);
}

void dlt__vocab_from_counts(const dlt__vocab *counts, long min_count, dlt__vocab *out)
{
    dlt__vocab_init(out);
    dlt__vocab_specials(out);
    int *ids = dlt_malloc(((size_t)counts->n + 1) * sizeof *ids), k = 0;
    for (int i = 0; i < counts->n; i++)
        if (counts->count[i] >= min_count && dlt__vocab_find(out, counts->words[i]) < 0)
            ids[k++] = i;
    sort_counts = counts; /* qsort has no context argument in C11 */
    qsort(ids, (size_t)k, sizeof *ids, by_count);
    for (int i = 0; i < k; i++)
        dlt__vocab_add(out, counts->words[ids[i]], counts->count[ids[i]]);
    free(ids);
}

int dlt__vocab_read_text(const char *path, dlt__vocab *v)
{
    static const char *const sp[4] = {"<pad>", "<start>", "<end>", "<unk>"};
    dlt__vocab_init(v);
    FILE *f = fopen(path, "r");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "%s: cannot open the vocabulary: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int st = DLT_OK;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || strpbrk(line, " \t")) {
            dlt_error("%s:%ld: expected one word per line (no spaces), got '%s'", path, lineno,
                      line);
            st = DLT_ERR_FORMAT;
            break;
        }
        if (lineno <= 4 && strcmp(line, sp[lineno - 1]) != 0) {
            dlt_error("%s:%ld: expected '%s' (the first four lines are <pad> <start> <end> "
                      "<unk>), got '%s'", path, lineno, sp[lineno - 1], line);
            st = DLT_ERR_FORMAT;
            break;
        }
        if (dlt__vocab_find(v, line) >= 0) {
            dlt_error("%s:%ld: '%s' appears twice", path, lineno, line);
            st = DLT_ERR_FORMAT;
            break;
        }
        dlt__vocab_add(v, line, 0);
    }
    int err = ferror(f);
    free(line);
    fclose(f);
    if (st >= 0 && err) {
        dlt_error("%s: read error", path);
        st = DLT_ERR_IO;
    }
    if (st >= 0 && v->n < 4) {
        dlt_error("%s: %d lines; a vocabulary starts with <pad> <start> <end> <unk>", path, v->n);
        st = DLT_ERR_FORMAT;
    }
    if (st < 0)
        dlt__vocab_free(v);
    return st;
}

int dlt__vocab_write_text(const char *path, const dlt__vocab *v)
{
    FILE *f = fopen(path, "w");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "%s: cannot create the vocabulary file: %s", path, strerror(errno));
    for (int i = 0; i < v->n; i++)
        fprintf(f, "%s\n", v->words[i]);
    if (fclose(f) != 0)
        DLT_FAIL(DLT_ERR_IO, "%s: write error: %s", path, strerror(errno));
    return DLT_OK;
}
