/* prep_captions.c - dltrain-prep --format captions: reads a COCO captions
 * JSON with libjansson, tokenizes the captions, lists the images to
 * convert, and turns the captions of the images written into each output
 * file's caption table (ids of one vocabulary, shared with --vocab). */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/readfile.h"
#include "data/prep_captions.h"
#include "dltrain/error.h"

static void skip(dlt__prep_captions *pc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void skip(dlt__prep_captions *pc, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (pc->nskips == pc->skips_cap) {
        pc->skips_cap = pc->skips_cap ? 2 * pc->skips_cap : 16;
        pc->skips = dlt_realloc(pc->skips, pc->skips_cap * sizeof *pc->skips);
    }
    pc->skips[pc->nskips++] = dlt_strdup(buf);
}

typedef struct image_ref {
    json_int_t id;
    size_t entry;   /* index in images[] */
    long ncap;      /* good captions */
    long item;      /* input item, once added */
} image_ref;

static int cmp_id(const void *a, const void *b)
{
    json_int_t x = ((const image_ref *)a)->id, y = ((const image_ref *)b)->id;
    if (x != y)
        return x < y ? -1 : 1;
    /* the first entry of a repeated id is kept: order by position */
    size_t p = ((const image_ref *)a)->entry, q = ((const image_ref *)b)->entry;
    return p < q ? -1 : p > q;
}

static image_ref *find_image(image_ref *refs, size_t n, json_int_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (refs[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && refs[lo].id == id ? &refs[lo] : NULL;
}

static int by_entry(const void *a, const void *b)
{
    size_t p = ((const image_ref *)a)->entry, q = ((const image_ref *)b)->entry;
    return p < q ? -1 : p > q;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = dlt_malloc(n);
    snprintf(p, n, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] != '/' ? "/" : "", name);
    return p;
}

static void add_item(dlt__prep_inputs *in, char *path, long record)
{
    if (in->n == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 1024;
        in->items = dlt_realloc(in->items, in->cap * sizeof *in->items);
    }
    in->items[in->n++] = (dlt__prep_item){.path = path, .record = record, .label = 0};
}

/* Captions that passed, as (image ref, tokens) before the items exist. */
typedef struct pending { image_ref *img; char **tok; int ntok; } pending;

static int collect(const dlt_prep_options *o, json_t *root, dlt__prep_inputs *in,
                   dlt__prep_captions *pc)
{
    const char *path = o->annotations;
    json_t *images = json_object_get(root, "images");
    json_t *anns = json_object_get(root, "annotations");
    if (!json_is_object(root) || !json_is_array(images) || !json_is_array(anns))
        DLT_FAIL(DLT_ERR_FORMAT, "%s: expected a COCO captions file: an object with arrays "
                 "\"images\" ([{\"id\", \"file_name\"}]) and \"annotations\" ([{\"image_id\", "
                 "\"caption\"}])", path);
    size_t ni = json_array_size(images), na = json_array_size(anns), nref = 0;
    image_ref *refs = dlt_malloc((ni ? ni : 1) * sizeof *refs);
    for (size_t i = 0; i < ni; i++) {
        json_t *e = json_array_get(images, i), *id = json_object_get(e, "id");
        json_t *fn = json_object_get(e, "file_name");
        if (!json_is_integer(id) || !json_is_string(fn) || !json_string_value(fn)[0]) {
            skip(pc, "%s\timages[%zu]\tno integer \"id\" or no \"file_name\" string", path, i);
            continue;
        }
        refs[nref++] = (image_ref){json_integer_value(id), i, 0, -1};
    }
    qsort(refs, nref, sizeof *refs, cmp_id);
    size_t k = 0; /* drop repeated ids, keeping the first entry */
    for (size_t i = 0; i < nref; i++) {
        if (k && refs[k - 1].id == refs[i].id) {
            skip(pc, "%s\timages[%zu]\trepeats image id %lld of images[%zu]", path,
                 refs[i].entry, (long long)refs[i].id, refs[k - 1].entry);
            continue;
        }
        refs[k++] = refs[i];
    }
    nref = k;
    pending *pend = dlt_malloc((na ? na : 1) * sizeof *pend);
    size_t np = 0;
    for (size_t a = 0; a < na; a++) {
        json_t *e = json_array_get(anns, a), *iid = json_object_get(e, "image_id");
        json_t *cap = json_object_get(e, "caption"), *aid = json_object_get(e, "id");
        char idtxt[48] = "";
        if (json_is_integer(aid))
            snprintf(idtxt, sizeof idtxt, " (id %lld)", (long long)json_integer_value(aid));
        if (!json_is_integer(iid) || !json_is_string(cap)) {
            skip(pc, "%s\tannotations[%zu]%s\tno integer \"image_id\" or no \"caption\" string",
                 path, a, idtxt);
            continue;
        }
        image_ref *img = find_image(refs, nref, json_integer_value(iid));
        if (!img) {
            skip(pc, "%s\tannotations[%zu]%s\timage_id %lld is not in \"images\"", path, a,
                 idtxt, (long long)json_integer_value(iid));
            continue;
        }
        char **tok = NULL;
        int ntok = 0, tcap = 0;
        dlt__caption_tokenize(json_string_value(cap), &tok, &ntok, &tcap);
        if (ntok == 0) {
            skip(pc, "%s\tannotations[%zu]%s\tcaption \"%.60s\" has no words", path, a, idtxt,
                 json_string_value(cap));
            free(tok);
            continue;
        }
        img->ncap++;
        pend[np++] = (pending){img, tok, ntok};
    }
    /* Items in the order of images[]: the input order of the other formats. */
    image_ref *byentry = dlt_malloc((nref ? nref : 1) * sizeof *byentry);
    memcpy(byentry, refs, nref * sizeof *refs);
    qsort(byentry, nref, sizeof *byentry, by_entry);
    pc->image_id = dlt_malloc((nref ? nref : 1) * sizeof *pc->image_id);
    for (size_t i = 0; i < nref; i++) {
        json_t *e = json_array_get(images, byentry[i].entry);
        const char *fn = json_string_value(json_object_get(e, "file_name"));
        if (byentry[i].ncap == 0) {
            skip(pc, "%s\timages[%zu] (id %lld, %s)\thas no captions", path, byentry[i].entry,
                 (long long)byentry[i].id, fn);
            continue;
        }
        find_image(refs, nref, byentry[i].id)->item = (long)in->n;
        pc->image_id[in->n] = (int64_t)byentry[i].id;
        add_item(in, join(o->images ? o->images : ".", fn), (long)byentry[i].entry);
    }
    pc->nitems = in->n;
    pc->c = dlt_malloc((np ? np : 1) * sizeof *pc->c);
    pc->cap = np;
    for (size_t i = 0; i < np; i++)
        pc->c[pc->n++] = (dlt__prep_caption){(size_t)pend[i].img->item, pend[i].tok, pend[i].ntok};
    free(pend);
    free(byentry);
    free(refs);
    if (in->n == 0)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: no image with a caption (%zu images, %zu annotations; "
                 "see the skipped records)", path, ni, na);
    return DLT_OK;
}

int dlt__prep_captions_collect(const dlt_prep_options *o, dlt__prep_inputs *in,
                               dlt__prep_captions *pc)
{
    memset(in, 0, sizeof *in);
    memset(pc, 0, sizeof *pc);
    if (!o->annotations)
        DLT_FAIL(DLT_ERR_ARG, "--format captions needs --annotations FILE (COCO captions JSON)");
    DLT_TRY(dlt__regular_file(o->annotations, "annotations file"));
    json_error_t err;
    json_t *root = json_load_file(o->annotations, 0, &err);
    if (!root)
        DLT_FAIL(DLT_ERR_FORMAT, "%s:%d:%d: not valid JSON: %s", o->annotations, err.line,
                 err.column, err.text);
    int st = collect(o, root, in, pc);
    json_decref(root);
    return st;
}

void dlt__prep_captions_free(dlt__prep_captions *pc)
{
    for (size_t i = 0; i < pc->n; i++)
        dlt__caption_tokens_free(pc->c[i].tok, pc->c[i].ntok);
    free(pc->c);
    free(pc->image_id);
    for (size_t i = 0; i < pc->nskips; i++)
        free(pc->skips[i]);
    free(pc->skips);
    memset(pc, 0, sizeof *pc);
}

int dlt__prep_captions_vocab(const dlt_prep_options *o, const dlt__prep_captions *pc,
                             const long *out_index, const char *is_val, dlt__vocab *v)
{
    if (o->vocab)
        return dlt__vocab_read_text(o->vocab, v);
    dlt__vocab counts;
    dlt__vocab_init(&counts);
    for (size_t i = 0; i < pc->n; i++) {
        const dlt__prep_caption *c = &pc->c[i];
        if (out_index[c->item] < 0 || is_val[c->item])
            continue;
        for (int k = 0; k < c->ntok && (o->max_words <= 0 || k < o->max_words); k++)
            dlt__vocab_add(&counts, c->tok[k], 1);
    }
    dlt__vocab_from_counts(&counts, o->min_count > 0 ? o->min_count : 5, v);
    dlt__vocab_free(&counts);
    return DLT_OK;
}

typedef struct row { long image; size_t cap; } row;
static int by_image(const void *a, const void *b)
{
    const row *x = a, *y = b;
    if (x->image != y->image)
        return x->image < y->image ? -1 : 1;
    return x->cap < y->cap ? -1 : x->cap > y->cap;
}

void dlt__prep_captions_table(const dlt_prep_options *o, const dlt__prep_captions *pc,
                              const long *out_index, const char *is_val, int val,
                              const dlt__vocab *v, size_t n_images, dlt__caption_table *t,
                              long *dropped)
{
    memset(t, 0, sizeof *t);
    t->n_images = n_images;
    t->image_id = dlt_calloc(n_images + 1, sizeof *t->image_id);
    for (size_t it = 0; pc->image_id && it < pc->nitems; it++)
        if (out_index[it] >= 0 && !is_val[it] == !val && (size_t)out_index[it] < n_images)
            t->image_id[out_index[it]] = pc->image_id[it];
    row *rows = dlt_malloc((pc->n ? pc->n : 1) * sizeof *rows);
    size_t n = 0;
    for (size_t i = 0; i < pc->n; i++) {
        size_t it = pc->c[i].item;
        if (!is_val[it] != !val)
            continue;
        if (out_index[it] < 0) {
            (*dropped)++;
            continue;
        }
        rows[n++] = (row){out_index[it], i};
        int len = pc->c[i].ntok;
        if (o->max_words > 0 && len > o->max_words)
            len = o->max_words;
        if (len > t->t_max)
            t->t_max = len;
    }
    qsort(rows, n, sizeof *rows, by_image);
    t->n = n;
    t->tokens = dlt_calloc(n * (size_t)t->t_max + 1, sizeof *t->tokens); /* 0: <pad> */
    t->length = dlt_malloc((n ? n : 1) * sizeof *t->length);
    t->image = dlt_malloc((n ? n : 1) * sizeof *t->image);
    for (size_t r = 0; r < n; r++) {
        const dlt__prep_caption *c = &pc->c[rows[r].cap];
        int len = c->ntok;
        if (o->max_words > 0 && len > o->max_words)
            len = o->max_words;
        for (int k = 0; k < len; k++) {
            int id = dlt__vocab_find(v, c->tok[k]);
            /* A word spelled like a reserved one ("<end>" cannot be: the
             * tokenizer drops '<') is never one; unknown words are <unk>. */
            t->tokens[r * (size_t)t->t_max + k] = id > DLT_WORD_UNK ? id : DLT_WORD_UNK;
        }
        t->length[r] = len;
        t->image[r] = (int32_t)rows[r].image;
    }
    free(rows);
    dlt__vocab_init(&t->vocab);
    for (int i = 0; i < v->n; i++)
        dlt__vocab_add(&t->vocab, v->words[i], 0);
}
