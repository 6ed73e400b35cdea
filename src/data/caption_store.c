/* caption_store.c - a dataset file's caption tables in HDF5: int32
 * /captions [N_captions, T_max], /caption_length, /caption_image, the
 * vocabulary as a string dataset /vocab, and a CRC-32C of the tables. */
#include <stdlib.h>
#include <string.h>

#include "core/crc32c.h"
#include "data/captions.h"
#include "dltrain/error.h"

void dlt__caption_table_free(dlt__caption_table *t)
{
    free(t->tokens);
    free(t->length);
    free(t->image);
    free(t->image_id);
    dlt__vocab_free(&t->vocab);
    memset(t, 0, sizeof *t);
}

/* Over the tables as stored (little-endian int32, which is what x86 and
 * ARM hold in memory), so a flipped bit anywhere in them is caught. */
static uint32_t table_crc(const dlt__caption_table *t)
{
    uint32_t c = dlt__crc32c(0, t->tokens, t->n * (size_t)t->t_max * sizeof(int32_t));
    c = dlt__crc32c(c, t->length, t->n * sizeof(int32_t));
    c = dlt__crc32c(c, t->image, t->n * sizeof(int32_t));
    for (int i = 0; i < t->vocab.n; i++)
        c = dlt__crc32c(c, t->vocab.words[i], strlen(t->vocab.words[i]) + 1);
    return c;
}

static int write_ints(hid_t file, const char *name, const int32_t *v, int rank,
                      const hsize_t *dims, const char *path)
{
    int st = DLT_OK;
    hid_t space = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    size_t count = 1;
    for (int i = 0; i < rank; i++)
        count *= (size_t)dims[i];
    DLT_H5_GOTO(space = H5Screate_simple(rank, dims, NULL), path, st, out);
    DLT_H5_GOTO(dset = H5Dcreate2(file, name, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT,
                                  H5P_DEFAULT), path, st, out);
    if (count)
        DLT_H5_GOTO(H5Dwrite(dset, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), path, st,
                    out);
out:
    if (dset >= 0) H5Dclose(dset);
    if (space >= 0) H5Sclose(space);
    return st;
}

/* Variable-length UTF-8 strings (h5py reads them as str/bytes). */
static int write_words(hid_t file, const dlt__vocab *v, const char *path)
{
    int st = DLT_OK;
    hid_t space = H5I_INVALID_HID, dset = H5I_INVALID_HID, type = H5I_INVALID_HID;
    hsize_t dims[1] = {(hsize_t)v->n};
    DLT_H5_GOTO(type = H5Tcopy(H5T_C_S1), path, st, out);
    DLT_H5_GOTO(H5Tset_size(type, H5T_VARIABLE), path, st, out);
    DLT_H5_GOTO(H5Tset_cset(type, H5T_CSET_UTF8), path, st, out);
    DLT_H5_GOTO(space = H5Screate_simple(1, dims, NULL), path, st, out);
    DLT_H5_GOTO(dset = H5Dcreate2(file, "vocab", type, space, H5P_DEFAULT, H5P_DEFAULT,
                                  H5P_DEFAULT), path, st, out);
    DLT_H5_GOTO(H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v->words), path, st, out);
out:
    if (dset >= 0) H5Dclose(dset);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return st;
}

int dlt__caption_table_write(hid_t file, const char *path, const dlt__caption_table *t)
{
    hsize_t d2[2] = {(hsize_t)t->n, (hsize_t)t->t_max}, d1[1] = {(hsize_t)t->n};
    DLT_TRY(write_ints(file, "captions", t->tokens, 2, d2, path));
    DLT_TRY(write_ints(file, "caption_length", t->length, 1, d1, path));
    DLT_TRY(write_ints(file, "caption_image", t->image, 1, d1, path));
    DLT_TRY(write_words(file, &t->vocab, path));
    if (t->image_id) { /* to name the images in results (COCO's image ids) */
        int st = DLT_OK;
        hsize_t di[1] = {(hsize_t)t->n_images};
        hid_t space = H5I_INVALID_HID, dset = H5I_INVALID_HID;
        DLT_H5_GOTO(space = H5Screate_simple(1, di, NULL), path, st, out);
        DLT_H5_GOTO(dset = H5Dcreate2(file, "image_id", H5T_STD_I64LE, space, H5P_DEFAULT,
                                      H5P_DEFAULT, H5P_DEFAULT), path, st, out);
        if (t->n_images)
            DLT_H5_GOTO(H5Dwrite(dset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                 t->image_id), path, st, out);
    out:
        if (dset >= 0) H5Dclose(dset);
        if (space >= 0) H5Sclose(space);
        DLT_TRY(st);
    }
    DLT_TRY(dlt__h5_write_attr_int(file, "num_captions", (long long)t->n, path));
    DLT_TRY(dlt__h5_write_attr_int(file, "caption_max_words", t->t_max, path));
    DLT_TRY(dlt__h5_write_attr_int(file, "vocab_size", t->vocab.n, path));
    DLT_TRY(dlt__h5_write_attr_int(file, "caption_crc32c", (long long)table_crc(t), path));
    return DLT_OK;
}

/* NAME as int32 with exactly RANK dims; *DIMS gets them. */
static int read_ints(hid_t file, const char *name, int rank, hsize_t *dims, int32_t **out,
                     const char *path)
{
    int st = DLT_OK;
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID;
    *out = NULL;
    htri_t ex;
    DLT_H5_TRY(ex = H5Lexists(file, name, H5P_DEFAULT), path);
    if (!ex)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: has /captions but no /%s (schema in README.md, \"Caption "
                 "datasets\")", path, name);
    DLT_H5_GOTO(dset = H5Dopen2(file, name, H5P_DEFAULT), path, st, out);
    DLT_H5_GOTO(space = H5Dget_space(dset), path, st, out);
    DLT_H5_GOTO(type = H5Dget_type(dset), path, st, out);
    if (H5Tget_class(type) != H5T_INTEGER || H5Sget_simple_extent_ndims(space) != rank) {
        dlt_error("%s: /%s must be an integer array of %d dimension%s", path, name, rank,
                  rank == 1 ? "" : "s");
        st = DLT_ERR_FORMAT;
        goto out;
    }
    DLT_H5_GOTO(H5Sget_simple_extent_dims(space, dims, NULL), path, st, out);
    size_t count = 1;
    for (int i = 0; i < rank; i++)
        count *= (size_t)dims[i];
    *out = dlt_malloc((count ? count : 1) * sizeof **out);
    if (count)
        DLT_H5_GOTO(H5Dread(dset, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out), path,
                    st, out);
out:
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (dset >= 0) H5Dclose(dset);
    return st;
}

static int read_words(hid_t file, const char *path, dlt__vocab *v)
{
    int st = DLT_OK;
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID;
    hsize_t n = 0;
    char **w = NULL;
    htri_t ex;
    dlt__vocab_init(v);
    DLT_H5_TRY(ex = H5Lexists(file, "vocab", H5P_DEFAULT), path);
    if (!ex)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: has /captions but no /vocab", path);
    DLT_H5_GOTO(dset = H5Dopen2(file, "vocab", H5P_DEFAULT), path, st, out);
    DLT_H5_GOTO(space = H5Dget_space(dset), path, st, out);
    if (H5Sget_simple_extent_ndims(space) != 1) {
        dlt_error("%s: /vocab must be 1-D (one word per id)", path);
        st = DLT_ERR_FORMAT;
        goto out;
    }
    DLT_H5_GOTO(H5Sget_simple_extent_dims(space, &n, NULL), path, st, out);
    DLT_H5_GOTO(type = H5Tcopy(H5T_C_S1), path, st, out);
    DLT_H5_GOTO(H5Tset_size(type, H5T_VARIABLE), path, st, out);
    w = dlt_calloc(n ? n : 1, sizeof *w);
    if (n)
        DLT_H5_GOTO(H5Dread(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, w), path, st, out);
    for (hsize_t i = 0; i < n; i++) {
        if (!w[i] || dlt__vocab_find(v, w[i]) >= 0) {
            dlt_error("%s: /vocab[%llu] is %s", path, (unsigned long long)i,
                      w[i] ? "a repeated word" : "missing");
            st = DLT_ERR_FORMAT;
            break;
        }
        dlt__vocab_add(v, w[i], 0);
    }
out:
    if (w) {
        for (hsize_t i = 0; i < n; i++)
            free(w[i]); /* HDF5 allocated them with the C library's malloc */
        free(w);
    }
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (dset >= 0) H5Dclose(dset);
    return st;
}

static int check_table(const dlt__caption_table *t, const char *path, size_t n_images)
{
    static const char *const sp[4] = {"<pad>", "<start>", "<end>", "<unk>"};
    for (int i = 0; i < 4; i++)
        if (t->vocab.n <= i || strcmp(t->vocab.words[i], sp[i]) != 0)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: /vocab[%d] must be '%s'", path, i, sp[i]);
    for (size_t c = 0; c < t->n; c++) {
        if (t->length[c] < 0 || t->length[c] > t->t_max)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: caption %zu has length %d, outside [0, %d]", path, c,
                     (int)t->length[c], t->t_max);
        if (t->image[c] < 0 || (size_t)t->image[c] >= n_images)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: caption %zu belongs to image %d, outside the file's "
                     "%zu images", path, c, (int)t->image[c], n_images);
        const int32_t *w = t->tokens + c * (size_t)t->t_max;
        for (int k = 0; k < t->t_max; k++) {
            int bad = k < t->length[c] ? (w[k] < DLT_WORD_END + 1 && w[k] != DLT_WORD_UNK) ||
                                             w[k] >= t->vocab.n
                                       : w[k] != DLT_WORD_PAD;
            if (bad)
                DLT_FAIL(DLT_ERR_FORMAT, "%s: caption %zu, word %d: id %d (expected %s)", path,
                         c, k, (int)w[k], k < t->length[c] ? "a word of the vocabulary" : "<pad> "
                         "after the caption's end");
        }
    }
    return DLT_OK;
}

int dlt__caption_table_read(hid_t file, const char *path, size_t n_images,
                            dlt__caption_table *t)
{
    memset(t, 0, sizeof *t);
    htri_t ex;
    DLT_H5_TRY(ex = H5Lexists(file, "captions", H5P_DEFAULT), path);
    if (!ex)
        return DLT_OK;
    hsize_t d2[2], d1[1];
    int st = read_ints(file, "captions", 2, d2, &t->tokens, path);
    t->n = (size_t)d2[0];
    t->t_max = (int)d2[1];
    if (st >= 0 && d2[1] > 65536) {
        dlt_error("%s: /captions has %llu columns; at most 65536 words per caption", path,
                  (unsigned long long)d2[1]);
        st = DLT_ERR_FORMAT;
    }
    if (st >= 0 && (st = read_ints(file, "caption_length", 1, d1, &t->length, path)) >= 0 &&
        d1[0] != d2[0]) {
        dlt_error("%s: /caption_length has %llu entries for %zu captions", path,
                  (unsigned long long)d1[0], t->n);
        st = DLT_ERR_FORMAT;
    }
    if (st >= 0 && (st = read_ints(file, "caption_image", 1, d1, &t->image, path)) >= 0 &&
        d1[0] != d2[0]) {
        dlt_error("%s: /caption_image has %llu entries for %zu captions", path,
                  (unsigned long long)d1[0], t->n);
        st = DLT_ERR_FORMAT;
    }
    if (st >= 0)
        st = read_words(file, path, &t->vocab);
    if (st >= 0) {
        int has = dlt__h5_attr_exists(file, "caption_crc32c", path);
        long long want;
        st = has;
        if (has > 0 && (st = dlt__h5_read_attr_int(file, "caption_crc32c", &want, path)) >= 0 &&
            (uint32_t)want != table_crc(t)) {
            dlt_error("%s: the caption tables do not match their CRC-32C (stored %08x, computed "
                      "%08x): the file is damaged; HINT: rebuild it with dltrain-prep", path,
                      (unsigned)want, (unsigned)table_crc(t));
            st = DLT_ERR_FORMAT;
        }
    }
    if (st >= 0)
        st = check_table(t, path, n_images);
    if (st < 0)
        dlt__caption_table_free(t);
    return st;
}
