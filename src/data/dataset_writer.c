/* dataset_writer.c - writes a dltrain HDF5 dataset (schema in DESIGN.md)
 * to PATH.tmp-PID and renames it into place when complete, so a crash or
 * an error never leaves a partial file under the final name. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/crc32c.h"
#include "core/h5util.h"
#include "data/captions.h"
#include "data/dataset_crc.h"
#include "dltrain/data.h"
#include "dltrain/error.h"
#include "dltrain/size.h"

/* /data chunks hold whole samples, about this many bytes: big enough for
 * efficient reads over NFS, small enough for HDF5's chunk cache. */
#define CHUNK_BYTES (1u << 20)
#define LABEL_CHUNK 16384

struct dlt_dataset_writer {
    char *path;      /* final name */
    char *tmp_path;  /* PATH.tmp-PID, renamed at close */
    int c, h, w;
    size_t sample_bytes;    /* c*h*w */
    char **class_names;     /* (nclasses) */
    int nclasses;
    hid_t file, data, label;
    int jpeg;               /* /jpeg (variable-length uint8) instead of /data */
    hid_t vlen_type;        /* variable-length uint8, when jpeg */
    size_t n;               /* samples written */
    double *sum;            /* (c, h, w) running pixel sums for /mean */
    size_t n_mean;          /* samples summed into sum */
    char *channel_order;    /* the channel_order attribute */
    char *resize;           /* the resize attribute, or NULL */
    uint64_t resize_seed;
    /* Checksums (format in README.md, "File formats"): one CRC-32C per block of
     * crc_block samples (the HDF5 chunk), and one of the labels. */
    size_t crc_block;
    uint32_t *crcs;         /* (ncrcs) of the blocks completed */
    size_t ncrcs, crcs_cap;
    uint32_t crc_cur;       /* the block being written */
    size_t crc_cur_n;       /* its samples so far */
    uint32_t label_crc;
};

static void close_handles(dlt_dataset_writer *wr)
{
    if (wr->data >= 0) H5Dclose(wr->data);
    if (wr->label >= 0) H5Dclose(wr->label);
    if (wr->file >= 0) H5Fclose(wr->file);
    if (wr->vlen_type >= 0) H5Tclose(wr->vlen_type);
    wr->data = wr->label = wr->file = wr->vlen_type = H5I_INVALID_HID;
}

static void writer_free(dlt_dataset_writer *wr)
{
    free(wr->path);
    free(wr->tmp_path);
    dlt__h5_free_strs(wr->class_names, wr->nclasses);
    free(wr->sum);
    free(wr->channel_order);
    free(wr->resize);
    free(wr->crcs);
    free(wr);
}

/* A sample's bytes (or a JPEG record) into the current block's CRC; a
 * full block's CRC is kept. */
static void crc_add(dlt_dataset_writer *wr, const uint8_t *rec, size_t n, int jpeg)
{
    if (jpeg)
        wr->crc_cur = dlt__dataset_crc_jpeg(wr->crc_cur, rec, n);
    else
        wr->crc_cur = dlt__crc32c(wr->crc_cur, rec, n);
    if (++wr->crc_cur_n == wr->crc_block) {
        if (wr->ncrcs == wr->crcs_cap) {
            wr->crcs_cap = wr->crcs_cap ? 2 * wr->crcs_cap : 64;
            wr->crcs = dlt_realloc(wr->crcs, wr->crcs_cap * sizeof *wr->crcs);
        }
        wr->crcs[wr->ncrcs++] = wr->crc_cur;
        wr->crc_cur = 0, wr->crc_cur_n = 0;
    }
}

/* An extendible dataset of RANK dims with dims[0] = 0 and unlimited. */
static int create_extendible(dlt_dataset_writer *wr, const char *name, hid_t type, int rank,
                             const hsize_t *dims, const hsize_t *chunk, hid_t *out)
{
    int st = DLT_OK;
    hsize_t maxdims[4];
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    for (int i = 0; i < rank; i++)
        maxdims[i] = i == 0 ? H5S_UNLIMITED : dims[i];
    DLT_H5_GOTO(space = H5Screate_simple(rank, dims, maxdims), wr->tmp_path, st, out);
    DLT_H5_GOTO(dcpl = H5Pcreate(H5P_DATASET_CREATE), wr->tmp_path, st, out);
    DLT_H5_GOTO(H5Pset_chunk(dcpl, rank, chunk), wr->tmp_path, st, out);
    DLT_H5_GOTO(*out = H5Dcreate2(wr->file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                wr->tmp_path, st, out);
out:
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return st;
}

int dlt_dataset_writer_open(const char *path, int c, int h, int w,
                            const char *const *class_names, int nclasses,
                            dlt_dataset_writer **out)
{
    return dlt_dataset_writer_open_ex(path, c, h, w, class_names, nclasses, NULL, out);
}

int dlt_dataset_writer_open_ex(const char *path, int c, int h, int w,
                               const char *const *class_names, int nclasses,
                               const dlt_dataset_writer_options *opt, dlt_dataset_writer **out)
{
    *out = NULL;
    if (c <= 0 || h <= 0 || w <= 0 || nclasses < 0 || (nclasses > 0 && !class_names))
        DLT_FAIL(DLT_ERR_ARG, "%s: bad dataset shape %d x %d x %d or %d classes", path, c, h, w,
                 nclasses);
    /* The readers refuse a sample past this size: do not write one. */
    const dlt_size_ctx sc = {path, DLT_ERR_ARG};
    const int64_t sample[3] = {c, h, w};
    DLT_TRY(dlt_size_prod(&sc, "one sample (C x H x W)", sample, 3, DLT_DIM_MAX, NULL));
    dlt__h5_init();
    dlt_dataset_writer *wr = dlt_calloc(1, sizeof *wr);
    wr->file = wr->data = wr->label = wr->vlen_type = H5I_INVALID_HID;
    wr->jpeg = opt && opt->jpeg;
    wr->path = dlt_strdup(path);
    size_t tmp_len = strlen(path) + 32;
    wr->tmp_path = dlt_malloc(tmp_len);
    snprintf(wr->tmp_path, tmp_len, "%s.tmp-%ld", path, (long)getpid());
    wr->c = c, wr->h = h, wr->w = w;
    wr->sample_bytes = (size_t)c * h * w;
    wr->nclasses = nclasses;
    wr->class_names = dlt_calloc((unsigned long)nclasses + 1, sizeof *wr->class_names);
    for (int i = 0; i < nclasses; i++)
        wr->class_names[i] = dlt_strdup(class_names[i]);
    wr->sum = dlt_calloc(wr->sample_bytes, sizeof *wr->sum);
    wr->channel_order = dlt_strdup(opt && opt->channel_order ? opt->channel_order
                                   : c == 1 ? "GRAY" : "RGB");
    wr->resize = opt && opt->resize ? dlt_strdup(opt->resize) : NULL;
    wr->resize_seed = opt ? opt->resize_seed : 0;

    int st = DLT_OK;
    DLT_H5_GOTO(wr->file = H5Fcreate(wr->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                wr->tmp_path, st, fail);
    /* A JPEG is about a tenth of the raw bytes: chunks of 10x the samples. */
    size_t per_chunk = (wr->jpeg ? 10 * CHUNK_BYTES : CHUNK_BYTES) / wr->sample_bytes;
    if (opt && opt->chunk > 0)
        per_chunk = opt->chunk;
    hsize_t dims[4] = {0, (hsize_t)c, (hsize_t)h, (hsize_t)w};
    hsize_t chunk[4] = {per_chunk ? per_chunk : 1, (hsize_t)c, (hsize_t)h, (hsize_t)w};
    wr->crc_block = (size_t)chunk[0];
    if (wr->jpeg) {
        DLT_H5_GOTO(wr->vlen_type = H5Tvlen_create(H5T_STD_U8LE), wr->tmp_path, st, fail);
        st = create_extendible(wr, "jpeg", wr->vlen_type, 1, dims, chunk, &wr->data);
    } else {
        st = create_extendible(wr, "data", H5T_STD_U8LE, 4, dims, chunk, &wr->data);
    }
    if (st < 0)
        goto fail;
    hsize_t ldims[1] = {0}, lchunk[1] = {LABEL_CHUNK};
    st = create_extendible(wr, "label", H5T_STD_I32LE, 1, ldims, lchunk, &wr->label);
    if (st < 0)
        goto fail;
    *out = wr;
    return DLT_OK;
fail:
    dlt_dataset_writer_abort(wr);
    return st;
}

/* Grow DSET along dim 0 from OLD to OLD+N rows and write BUF there. */
static int append_rows(dlt_dataset_writer *wr, hid_t dset, hid_t mtype, const void *buf,
                       size_t n)
{
    int st = DLT_OK;
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    hsize_t dims[4], start[4] = {0, 0, 0, 0};
    int rank;
    DLT_H5_GOTO(fspace = H5Dget_space(dset), wr->tmp_path, st, out);
    DLT_H5_GOTO(rank = H5Sget_simple_extent_dims(fspace, dims, NULL), wr->tmp_path, st, out);
    H5Sclose(fspace);
    fspace = H5I_INVALID_HID;
    start[0] = dims[0];
    dims[0] += n;
    DLT_H5_GOTO(H5Dset_extent(dset, dims), wr->tmp_path, st, out);
    DLT_H5_GOTO(fspace = H5Dget_space(dset), wr->tmp_path, st, out);
    dims[0] = n;
    DLT_H5_GOTO(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, dims, NULL),
                wr->tmp_path, st, out);
    DLT_H5_GOTO(mspace = H5Screate_simple(rank, dims, NULL), wr->tmp_path, st, out);
    DLT_H5_GOTO(H5Dwrite(dset, mtype, mspace, fspace, H5P_DEFAULT, buf), wr->tmp_path, st, out);
out:
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    return st;
}

static int check_labels(const dlt_dataset_writer *wr, const int32_t *labels, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (labels[i] < 0 || (wr->nclasses > 0 && labels[i] >= wr->nclasses))
            DLT_FAIL(DLT_ERR_ARG, "%s: record %zu has label %d, outside [0, %d) of the %d "
                     "classes", wr->path, wr->n + i, (int)labels[i], wr->nclasses, wr->nclasses);
    return DLT_OK;
}

static void add_to_mean(dlt_dataset_writer *wr, const uint8_t *images, size_t n);

int dlt_dataset_writer_append(dlt_dataset_writer *wr, const uint8_t *images,
                              const int32_t *labels, size_t n)
{
    if (n == 0)
        return DLT_OK;
    DLT_TRY(check_labels(wr, labels, n));
    if (wr->jpeg)
        DLT_FAIL(DLT_ERR_ARG, "%s: opened for JPEG storage: use dlt_dataset_writer_append_jpeg",
                 wr->path);
    DLT_TRY(append_rows(wr, wr->data, H5T_NATIVE_UCHAR, images, n));
    DLT_TRY(append_rows(wr, wr->label, H5T_NATIVE_INT32, labels, n));
    for (size_t i = 0; i < n; i++)
        crc_add(wr, images + i * wr->sample_bytes, wr->sample_bytes, 0);
    wr->label_crc = dlt__dataset_crc_labels(wr->label_crc, labels, n);
    add_to_mean(wr, images, n);
    wr->n += n;
    return DLT_OK;
}

int dlt_dataset_writer_append_jpeg(dlt_dataset_writer *wr, const uint8_t *const *jpegs,
                                   const size_t *sizes, const uint8_t *pixels,
                                   const int32_t *labels, size_t n)
{
    if (n == 0)
        return DLT_OK;
    if (!wr->jpeg)
        DLT_FAIL(DLT_ERR_ARG, "%s: opened for raw storage: use dlt_dataset_writer_append",
                 wr->path);
    DLT_TRY(check_labels(wr, labels, n));
    hvl_t *vl = dlt_malloc(n * sizeof *vl);
    for (size_t i = 0; i < n; i++)
        vl[i].len = sizes[i], vl[i].p = (void *)jpegs[i];
    int st = append_rows(wr, wr->data, wr->vlen_type, vl, n);
    free(vl);
    DLT_TRY(st);
    DLT_TRY(append_rows(wr, wr->label, H5T_NATIVE_INT32, labels, n));
    for (size_t i = 0; i < n; i++)
        crc_add(wr, jpegs[i], sizes[i], 1);
    wr->label_crc = dlt__dataset_crc_labels(wr->label_crc, labels, n);
    if (pixels)
        add_to_mean(wr, pixels, n);
    wr->n += n;
    return DLT_OK;
}

const char *dlt_dataset_writer_tmp_path(const dlt_dataset_writer *wr) { return wr->tmp_path; }

int dlt__dataset_writer_add_captions(dlt_dataset_writer *wr, const dlt__caption_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->image[i] < 0 || (size_t)t->image[i] >= wr->n)
            DLT_FAIL(DLT_ERR_ARG, "%s: caption %zu belongs to image %d, but %zu images were "
                     "written", wr->path, i, (int)t->image[i], wr->n);
    if (t->image_id && t->n_images != wr->n)
        DLT_FAIL(DLT_ERR_ARG, "%s: %zu image ids for %zu images", wr->path, t->n_images, wr->n);
    return dlt__caption_table_write(wr->file, wr->tmp_path, t);
}

static void add_to_mean(dlt_dataset_writer *wr, const uint8_t *images, size_t n)
{
    size_t sb = wr->sample_bytes;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *img = images + i * sb;
        for (size_t p = 0; p < sb; p++)
            wr->sum[p] += img[p];
    }
    wr->n_mean += n;
}

static int write_mean(dlt_dataset_writer *wr)
{
    int st = DLT_OK;
    hsize_t dims[3] = {(hsize_t)wr->c, (hsize_t)wr->h, (hsize_t)wr->w};
    hid_t space = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    float *mean = dlt_malloc(wr->sample_bytes * sizeof *mean);
    for (size_t p = 0; p < wr->sample_bytes; p++)
        mean[p] = wr->n_mean ? (float)(wr->sum[p] / (double)wr->n_mean) : 0.0f;
    DLT_H5_GOTO(space = H5Screate_simple(3, dims, NULL), wr->tmp_path, st, out);
    DLT_H5_GOTO(dset = H5Dcreate2(wr->file, "mean", H5T_IEEE_F32LE, space, H5P_DEFAULT,
                                  H5P_DEFAULT, H5P_DEFAULT), wr->tmp_path, st, out);
    DLT_H5_GOTO(H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, mean),
                wr->tmp_path, st, out);
out:
    if (dset >= 0) H5Dclose(dset);
    if (space >= 0) H5Sclose(space);
    free(mean);
    return st;
}

/* /crc32c (uint32 [ceil(N / crc32c_block)]) and the attributes that say
 * how it was made; the last block may be short. */
static int write_crcs(dlt_dataset_writer *wr)
{
    const char *p = wr->tmp_path;
    int st = DLT_OK;
    if (wr->crc_cur_n > 0) { /* the short last block */
        wr->crcs = dlt_realloc(wr->crcs, (wr->ncrcs + 1) * sizeof *wr->crcs);
        wr->crcs[wr->ncrcs++] = wr->crc_cur;
        wr->crc_cur_n = 0;
    }
    hsize_t dims[1] = {wr->ncrcs};
    hid_t space = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    DLT_H5_GOTO(space = H5Screate_simple(1, dims, NULL), p, st, out);
    DLT_H5_GOTO(dset = H5Dcreate2(wr->file, "crc32c", H5T_STD_U32LE, space, H5P_DEFAULT,
                                  H5P_DEFAULT, H5P_DEFAULT), p, st, out);
    if (wr->ncrcs > 0)
        DLT_H5_GOTO(H5Dwrite(dset, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, wr->crcs),
                    p, st, out);
out:
    if (dset >= 0) H5Dclose(dset);
    if (space >= 0) H5Sclose(space);
    DLT_TRY(st);
    DLT_TRY(dlt__h5_write_attr_int(wr->file, "crc32c_block", (long long)wr->crc_block, p));
    DLT_TRY(dlt__h5_write_attr_int(wr->file, "label_crc32c", (long long)wr->label_crc, p));
    return DLT_OK;
}

static int write_attrs(dlt_dataset_writer *wr)
{
    const char *p = wr->tmp_path;
    int shape[3] = {wr->c, wr->h, wr->w};
    DLT_TRY(dlt__h5_write_attr_str(wr->file, "dltrain_format", DLT_DATASET_FORMAT, p));
    DLT_TRY(dlt__h5_write_attr_int(wr->file, "dltrain_version", DLT_DATASET_VERSION, p));
    if (wr->nclasses > 0) /* no classes attribute: number of classes unknown */
        DLT_TRY(dlt__h5_write_attr_strs(wr->file, "classes",
                                        (const char *const *)wr->class_names, wr->nclasses, p));
    DLT_TRY(dlt__h5_write_attr_ints(wr->file, "shape", shape, 3, p));
    DLT_TRY(dlt__h5_write_attr_int(wr->file, "num_samples", (long long)wr->n, p));
    if (wr->jpeg)
        DLT_TRY(dlt__h5_write_attr_str(wr->file, "encoding", "jpeg", p));
    /* How the samples were made, for classifying new images the same way. */
    DLT_TRY(dlt__h5_write_attr_str(wr->file, "channel_order", wr->channel_order, p));
    if (wr->resize) {
        DLT_TRY(dlt__h5_write_attr_str(wr->file, "resize", wr->resize, p));
        DLT_TRY(dlt__h5_write_attr_int(wr->file, "resize_seed", (long long)wr->resize_seed, p));
    }
    return DLT_OK;
}

int dlt_dataset_writer_close(dlt_dataset_writer *wr)
{
    int st = write_mean(wr);
    if (st >= 0)
        st = write_crcs(wr);
    if (st >= 0)
        st = write_attrs(wr);
    if (st >= 0 && H5Fflush(wr->file, H5F_SCOPE_GLOBAL) < 0)
        st = dlt__h5_error("H5Fflush", wr->tmp_path, __FILE__, __LINE__);
    if (st < 0) {
        dlt_dataset_writer_abort(wr);
        return st;
    }
    /* H5Fclose can still fail writing metadata: check it before renaming. */
    hid_t file = wr->file;
    wr->file = H5I_INVALID_HID;
    H5Dclose(wr->data);
    H5Dclose(wr->label);
    if (wr->vlen_type >= 0)
        H5Tclose(wr->vlen_type);
    wr->data = wr->label = wr->vlen_type = H5I_INVALID_HID;
    if (H5Fclose(file) < 0) {
        st = dlt__h5_error("H5Fclose", wr->tmp_path, __FILE__, __LINE__);
        dlt_dataset_writer_abort(wr);
        return st;
    }
    if (rename(wr->tmp_path, wr->path) != 0) {
        dlt_error("%s: cannot rename %s into place: %s", wr->path, wr->tmp_path,
                  strerror(errno));
        dlt_dataset_writer_abort(wr);
        return DLT_ERR_IO;
    }
    writer_free(wr);
    return DLT_OK;
}

void dlt_dataset_writer_abort(dlt_dataset_writer *wr)
{
    if (!wr)
        return;
    close_handles(wr);
    if (unlink(wr->tmp_path) != 0 && errno != ENOENT)
        dlt_warn("%s: cannot remove temporary file: %s", wr->tmp_path, strerror(errno));
    writer_free(wr);
}
