/* dataset.c - opens an HDF5 dataset read-only and holds it in memory (or,
 * opened lazily, only its labels, captions and layout): our schema (uint8
 * /data, int32 /label, attributes, captions) or Caffe's HDF5Data layout
 * (float /data [N,C,H,W] or [N,D], float /label [N] or [N,1]). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset_internal.h"
#include "data/captions.h"
#include "core/h5util.h"
#include "data/dataset_crc.h"
#include "data/image.h"
#include "dltrain/data.h"
#include "dltrain/error.h"
#include "dltrain/size.h"

struct dlt_dataset {
    char *path;
    size_t n;            /* samples */
    int c, h, w;
    int nclasses;        /* from the classes attribute, 0 if none */
    char **class_names;  /* (nclasses) the classes attribute, or NULL */
    int shape_attr[3];   /* the shape attribute, {0,0,0} if none */
    int dltrain_file;    /* has the dltrain_format attribute */
    char *channel_order; /* the channel_order attribute, or NULL */
    char *resize;        /* the resize attribute, or NULL */
    long long resize_seed;
    dlt__dataset_layout layout;
    size_t file_bytes;   /* size of the file */
    int in_memory;       /* all samples are in `all` */
    dlt__records all;    /* samples [0, n) once loaded */
    int32_t *labels;     /* (n), always in memory */
    dlt__dataset_checks checks;
    dlt__caption_table captions; /* n = 0: no captions */
};

/* The root attributes of our schema; a file without dltrain_format is
 * taken to be Caffe's layout and has none of them. */
static int read_schema(hid_t f, dlt_dataset *ds)
{
    const char *p = ds->path;
    int has = dlt__h5_attr_exists(f, "dltrain_format", p);
    DLT_TRY(has);
    if (has) {
        char *fmt;
        DLT_TRY(dlt__h5_read_attr_str(f, "dltrain_format", &fmt, p));
        int same = strcmp(fmt, DLT_DATASET_FORMAT) == 0;
        if (!same) {
            dlt_error("%s: dltrain_format attribute is '%s', expected '%s' (is this a "
                      "checkpoint or another kind of dltrain file?)", p, fmt, DLT_DATASET_FORMAT);
            free(fmt);
            return DLT_ERR_FORMAT;
        }
        free(fmt);
        int has_version = dlt__h5_attr_exists(f, "dltrain_version", p);
        DLT_TRY(has_version);
        if (!has_version)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: has dltrain_format but no dltrain_version attribute", p);
        long long version;
        DLT_TRY(dlt__h5_read_attr_int(f, "dltrain_version", &version, p));
        if (version != DLT_DATASET_VERSION)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: dataset format version %lld is not supported (this "
                     "build reads version %d); HINT: rebuild it with this build's dltrain-prep",
                     p, version, DLT_DATASET_VERSION);
        int has_shape = dlt__h5_attr_exists(f, "shape", p);
        DLT_TRY(has_shape);
        if (has_shape)
            DLT_TRY(dlt__h5_read_attr_ints(f, "shape", ds->shape_attr, 3, p));
        ds->dltrain_file = 1;
    }
    /* How the samples were made (optional: files of older builds lack them). */
    has = dlt__h5_attr_exists(f, "channel_order", p);
    DLT_TRY(has);
    if (has) {
        DLT_TRY(dlt__h5_read_attr_str(f, "channel_order", &ds->channel_order, p));
        dlt_channel_order order;
        if (dlt_channel_order_parse(ds->channel_order, &order) < 0)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: channel_order attribute is '%s', expected RGB, BGR "
                     "or GRAY", p, ds->channel_order);
    }
    has = dlt__h5_attr_exists(f, "resize", p);
    DLT_TRY(has);
    if (has) {
        DLT_TRY(dlt__h5_read_attr_str(f, "resize", &ds->resize, p));
        dlt_resize_mode mode;
        if (dlt_resize_mode_parse(ds->resize, &mode) < 0)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: resize attribute is '%s', expected squash, crop, fill "
                     "or half_crop", p, ds->resize);
        has = dlt__h5_attr_exists(f, "resize_seed", p);
        DLT_TRY(has);
        if (has)
            DLT_TRY(dlt__h5_read_attr_int(f, "resize_seed", &ds->resize_seed, p));
    }
    int has_classes = dlt__h5_attr_exists(f, "classes", p);
    DLT_TRY(has_classes);
    if (has_classes) {
        char **names;
        int n;
        DLT_TRY(dlt__h5_read_attr_strs(f, "classes", &names, &n, p));
        ds->class_names = names;
        ds->nclasses = n;
    }
    return DLT_OK;
}

/* A sample's shape from the file (the /data dimensions or the shape
 * attribute): each axis at least 1 and C x H x W within dltrain/size.h's
 * limit, checked before any of it is cast to int or multiplied. */
static int check_sample_shape(const dlt_dataset *ds, const char *from, int64_t c, int64_t h,
                              int64_t w)
{
    char who[1200], what[128];
    const dlt_size_ctx sc = {who, DLT_ERR_FORMAT};
    snprintf(who, sizeof who, "%s", ds->path);
    const int64_t d[3] = {c, h, w};
    static const char *const axis[3] = {"C", "H", "W"};
    for (int i = 0; i < 3; i++) {
        snprintf(what, sizeof what, "%s: axis %s", from, axis[i]);
        DLT_TRY(dlt_size_range(&sc, what, d[i], 1, DLT_DIM_MAX));
    }
    snprintf(what, sizeof what, "%s: one sample (C x H x W)", from);
    return dlt_size_prod(&sc, what, d, 3, DLT_DIM_MAX, NULL);
}

/* /jpeg (variable-length uint8 [N]): its size and the shape attribute; the
 * records themselves are read by dlt__range_read. */
static int probe_jpeg(hid_t f, dlt_dataset *ds)
{
    const char *p = ds->path;
    int st = DLT_OK;
    hid_t dset = H5I_INVALID_HID, fspace = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    hsize_t dims[1], chunk[1];
    DLT_H5_GOTO(dset = H5Dopen2(f, "jpeg", H5P_DEFAULT), p, st, out);
    DLT_H5_GOTO(fspace = H5Dget_space(dset), p, st, out);
    if (H5Sget_simple_extent_ndims(fspace) != 1) {
        dlt_error("%s: /jpeg must be 1-D (variable-length uint8 [N])", p);
        st = DLT_ERR_FORMAT;
        goto out;
    }
    DLT_H5_GOTO(H5Sget_simple_extent_dims(fspace, dims, NULL), p, st, out);
    DLT_H5_GOTO(dcpl = H5Dget_create_plist(dset), p, st, out);
    ds->n = (size_t)dims[0];
    if (H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 1, chunk) == 1)
        ds->layout.chunk = (size_t)chunk[0];
    ds->layout.kind = DLT__KIND_JPEG;
    ds->layout.data_rank = 1;
out:
    if (dcpl >= 0) H5Pclose(dcpl);
    if (fspace >= 0) H5Sclose(fspace);
    if (dset >= 0) H5Dclose(dset);
    if (st >= 0 && !ds->shape_attr[0])
        DLT_FAIL(DLT_ERR_FORMAT, "%s: /jpeg needs the shape attribute (C, H, W)", p);
    if (st >= 0)
        DLT_TRY(check_sample_shape(ds, "the shape attribute", ds->shape_attr[0],
                                   ds->shape_attr[1], ds->shape_attr[2]));
    ds->c = ds->shape_attr[0], ds->h = ds->shape_attr[1], ds->w = ds->shape_attr[2];
    return st;
}

/* Which samples the file holds (kind, shape, count, chunking), without
 * reading them. */
static int probe_data(hid_t f, dlt_dataset *ds)
{
    const char *p = ds->path;
    int st = DLT_OK;
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID;
    hid_t dcpl = H5I_INVALID_HID;
    hsize_t dims[H5S_MAX_RANK], chunk[H5S_MAX_RANK];
    int rank = 0;
    htri_t exists;
    DLT_H5_TRY(exists = H5Lexists(f, "data", H5P_DEFAULT), p);
    if (!exists) {
        DLT_H5_TRY(exists = H5Lexists(f, "jpeg", H5P_DEFAULT), p);
        if (exists)
            return probe_jpeg(f, ds);
        DLT_FAIL(DLT_ERR_FORMAT, "%s: no /data or /jpeg dataset (expected uint8 /data "
                 "[N,C,H,W], JPEG /jpeg [N], or float32 /data as Caffe's HDF5Data writes); "
                 "HINT: build datasets with dltrain-prep", p);
    }
    DLT_H5_GOTO(dset = H5Dopen2(f, "data", H5P_DEFAULT), p, st, out);
    DLT_H5_GOTO(space = H5Dget_space(dset), p, st, out);
    DLT_H5_GOTO(rank = H5Sget_simple_extent_dims(space, dims, NULL), p, st, out);
    DLT_H5_GOTO(type = H5Dget_type(dset), p, st, out);
    DLT_H5_GOTO(dcpl = H5Dget_create_plist(dset), p, st, out);
    if (rank == 4 || rank == 2) {
        /* Caffe: [N, D] feeds an InnerProduct layer */
        hsize_t c = dims[1], h = rank == 4 ? dims[2] : 1, w = rank == 4 ? dims[3] : 1;
        const int64_t big = (int64_t)1 << 62; /* hsize_t beyond int64: still refused */
        st = check_sample_shape(ds, "/data", c > (hsize_t)big ? big : (int64_t)c,
                                h > (hsize_t)big ? big : (int64_t)h,
                                w > (hsize_t)big ? big : (int64_t)w);
        if (st < 0)
            goto out;
        ds->c = (int)c, ds->h = (int)h, ds->w = (int)w;
    } else {
        dlt_error("%s: /data has %d dimensions; expected [N,C,H,W] or [N,D]", p, rank);
        st = DLT_ERR_FORMAT;
        goto out;
    }
    ds->n = (size_t)dims[0];
    ds->layout.data_rank = rank;
    if (H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, rank, chunk) == rank)
        ds->layout.chunk = (size_t)chunk[0];
    if (ds->shape_attr[0] && (ds->shape_attr[0] != ds->c || ds->shape_attr[1] != ds->h ||
                              ds->shape_attr[2] != ds->w)) {
        dlt_error("%s: shape attribute says %d x %d x %d but /data is [%zu,%d,%d,%d]", p,
                  ds->shape_attr[0], ds->shape_attr[1], ds->shape_attr[2], ds->n, ds->c,
                  ds->h, ds->w);
        st = DLT_ERR_FORMAT;
        goto out;
    }
    H5T_class_t cls = H5Tget_class(type);
    if (cls == H5T_INTEGER && H5Tget_size(type) == 1 && H5Tget_sign(type) == H5T_SGN_NONE) {
        ds->layout.kind = DLT__KIND_U8;
    } else if (cls == H5T_FLOAT || cls == H5T_INTEGER) {
        ds->layout.kind = DLT__KIND_F32; /* Caffe's HDF5Data converts any numeric /data to float */
    } else {
        dlt_error("%s: /data has a non-numeric type; expected uint8 or float32", p);
        st = DLT_ERR_FORMAT;
    }
out:
    if (dcpl >= 0) H5Pclose(dcpl);
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (dset >= 0) H5Dclose(dset);
    if (st >= 0) {
        size_t m = (size_t)ds->c * ds->h * ds->w;
        ds->layout.sample_bytes = ds->layout.kind == DLT__KIND_F32 ? m * sizeof(float) : m;
    }
    return st;
}

static int read_labels(hid_t f, dlt_dataset *ds)
{
    const char *p = ds->path;
    int st = DLT_OK;
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID;
    hsize_t dims[H5S_MAX_RANK];
    int rank = 0;
    double *tmp = NULL;
    htri_t exists;
    DLT_H5_TRY(exists = H5Lexists(f, "label", H5P_DEFAULT), p);
    if (!exists)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: no /label dataset (expected int32 /label [N], or float "
                 "/label [N] or [N,1] as Caffe's HDF5Data writes)", p);
    DLT_H5_GOTO(dset = H5Dopen2(f, "label", H5P_DEFAULT), p, st, out);
    DLT_H5_GOTO(space = H5Dget_space(dset), p, st, out);
    DLT_H5_GOTO(rank = H5Sget_simple_extent_dims(space, dims, NULL), p, st, out);
    DLT_H5_GOTO(type = H5Dget_type(dset), p, st, out);
    if (!(rank == 1 || (rank == 2 && dims[1] == 1))) {
        dlt_error("%s: /label has %d dimensions%s; expected [N] or [N,1]", p, rank,
                  rank == 2 ? " with more than one column" : "");
        st = DLT_ERR_FORMAT;
        goto out;
    }
    if ((size_t)dims[0] != ds->n) {
        dlt_error("%s: /label has %llu labels but /data has %zu samples", p,
                  (unsigned long long)dims[0], ds->n);
        st = DLT_ERR_FORMAT;
        goto out;
    }
    ds->labels = dlt_malloc(ds->n * sizeof *ds->labels);
    H5T_class_t cls = H5Tget_class(type);
    if (cls == H5T_INTEGER) {
        DLT_H5_GOTO(H5Dread(dset, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, ds->labels),
                    p, st, out);
    } else if (cls == H5T_FLOAT) {
        tmp = dlt_malloc(ds->n * sizeof *tmp);
        DLT_H5_GOTO(H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp), p, st,
                    out);
        for (size_t i = 0; i < ds->n; i++) {
            if (tmp[i] != floor(tmp[i]) || fabs(tmp[i]) > INT32_MAX) {
                dlt_error("%s: record %zu has label %g; expected a whole-number class index", p,
                          i, tmp[i]);
                st = DLT_ERR_FORMAT;
                goto out;
            }
            ds->labels[i] = (int32_t)tmp[i];
        }
    } else {
        dlt_error("%s: /label has a non-numeric type; expected int32 or float", p);
        st = DLT_ERR_FORMAT;
    }
out:
    free(tmp);
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (dset >= 0) H5Dclose(dset);
    return st;
}

static int check_labels(const dlt_dataset *ds)
{
    for (size_t i = 0; i < ds->n; i++) {
        int32_t l = ds->labels[i];
        if (l < 0)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: record %zu has negative label %d", ds->path, i, (int)l);
        if (ds->nclasses > 0 && l >= ds->nclasses)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: record %zu has label %d, outside [0, %d) of the "
                     "file's classes attribute", ds->path, i, (int)l, ds->nclasses);
    }
    return DLT_OK;
}

int dlt_dataset_open_lazy(const char *path, dlt_dataset **out)
{
    hid_t f;
    hsize_t size = 0;
    *out = NULL;
    DLT_TRY(dlt__h5_open_read(path, &f));
    dlt_dataset *ds = dlt_calloc(1, sizeof *ds);
    ds->path = dlt_strdup(path);
    int st = read_schema(f, ds);
    if (st >= 0)
        st = probe_data(f, ds);
    if (st >= 0)
        st = read_labels(f, ds);
    if (st >= 0)
        st = dlt__dataset_checks_read(f, path, ds->n, &ds->checks);
    if (st >= 0)
        st = dlt__dataset_checks_labels(&ds->checks, path, ds->labels, ds->n);
    if (st >= 0)
        st = check_labels(ds);
    if (st >= 0)
        st = dlt__caption_table_read(f, path, ds->n, &ds->captions);
    if (st >= 0 && H5Fget_filesize(f, &size) < 0)
        st = dlt__h5_error("H5Fget_filesize", path, __FILE__, __LINE__);
    ds->file_bytes = (size_t)size;
    if (H5Fclose(f) < 0 && st >= 0)
        st = dlt__h5_error("H5Fclose", path, __FILE__, __LINE__);
    if (st < 0) {
        dlt_dataset_close(ds);
        return st;
    }
    *out = ds;
    return DLT_OK;
}

int dlt_dataset_load(dlt_dataset *ds)
{
    if (ds->in_memory)
        return DLT_OK;
    dlt__range_reader *rr;
    DLT_TRY(dlt__range_reader_open(ds, &rr));
    int st = dlt__range_read(rr, 0, ds->n, &ds->all);
    dlt__range_reader_close(rr);
    ds->in_memory = st >= 0;
    return st;
}

int dlt_dataset_open(const char *path, dlt_dataset **out)
{
    DLT_TRY(dlt_dataset_open_lazy(path, out));
    int st = dlt_dataset_load(*out);
    if (st < 0) {
        dlt_dataset_close(*out);
        *out = NULL;
    }
    return st;
}

void dlt_dataset_close(dlt_dataset *ds)
{
    if (!ds)
        return;
    if (ds->class_names)
        dlt__h5_free_strs(ds->class_names, ds->nclasses);
    free(ds->path);
    free(ds->channel_order);
    free(ds->resize);
    dlt__records_free(&ds->all);
    dlt__dataset_checks_free(&ds->checks);
    dlt__caption_table_free(&ds->captions);
    free(ds->labels);
    free(ds);
}

int dlt_dataset_in_memory(const dlt_dataset *ds) { return ds->in_memory; }

void dlt_dataset_input_spec(const dlt_dataset *ds, dlt_input_spec *out)
{
    memset(out, 0, sizeof *out);
    out->c = ds->c, out->h = ds->h, out->w = ds->w;
    /* Without the attribute: dltrain-prep has always stored RGB; a file in
     * Caffe's HDF5Data layout follows Caffe's convention, BGR. */
    out->order = ds->dltrain_file ? DLT_CHANNELS_RGB : DLT_CHANNELS_BGR;
    if (ds->channel_order)
        dlt_channel_order_parse(ds->channel_order, &out->order); /* checked at open */
    if (ds->c == 1)
        out->order = DLT_CHANNELS_GRAY;
    out->resize = DLT_RESIZE_SQUASH;
    out->resize_seed = 1;
    if (ds->resize) {
        dlt_resize_mode_parse(ds->resize, &out->resize);
        out->resize_seed = (uint64_t)ds->resize_seed;
    }
}

size_t dlt_dataset_memory_bytes(const dlt_dataset *ds)
{
    /* JPEG records' total size is only known by reading them all: the file
     * size (records plus labels and metadata) bounds it from above. */
    if (ds->layout.kind == DLT__KIND_JPEG)
        return ds->file_bytes;
    return ds->n * ds->layout.sample_bytes;
}

const dlt__dataset_layout *dlt__dataset_get_layout(const dlt_dataset *ds) { return &ds->layout; }
const dlt__dataset_checks *dlt__dataset_get_checks(const dlt_dataset *ds) { return &ds->checks; }
int32_t dlt__dataset_label(const dlt_dataset *ds, size_t index) { return ds->labels[index]; }

size_t dlt_dataset_size(const dlt_dataset *ds) { return ds->n; }

size_t dlt_dataset_num_captions(const dlt_dataset *ds) { return ds->captions.n; }
int dlt_dataset_caption_max_words(const dlt_dataset *ds) { return ds->captions.t_max; }
const dlt__caption_table *dlt__dataset_captions(const dlt_dataset *ds)
{
    return ds->captions.n ? &ds->captions : NULL;
}

const int32_t *dlt_dataset_caption(const dlt_dataset *ds, size_t i, int *len, size_t *image)
{
    const dlt__caption_table *t = &ds->captions;
    if (i >= t->n)
        return NULL;
    if (len)
        *len = t->length[i];
    if (image)
        *image = (size_t)t->image[i];
    return t->tokens + i * (size_t)t->t_max;
}

int dlt_dataset_vocab_size(const dlt_dataset *ds) { return ds->captions.vocab.n; }
const char *dlt_dataset_word(const dlt_dataset *ds, int id)
{
    return id >= 0 && id < ds->captions.vocab.n ? ds->captions.vocab.words[id] : NULL;
}

void dlt_dataset_shape(const dlt_dataset *ds, int *c, int *h, int *w)
{
    if (c) *c = ds->c;
    if (h) *h = ds->h;
    if (w) *w = ds->w;
}

int dlt_dataset_num_classes(const dlt_dataset *ds) { return ds->nclasses; }
const char *dlt_dataset_class_name(const dlt_dataset *ds, int index)
{
    return ds->class_names && index >= 0 && index < ds->nclasses ? ds->class_names[index] : NULL;
}

const char *dlt_dataset_path(const dlt_dataset *ds) { return ds->path; }

int dlt_dataset_sample(const dlt_dataset *ds, size_t index, float scale, float *out)
{
    if (index >= ds->n)
        DLT_FAIL(DLT_ERR_ARG, "%s: sample %zu requested but the dataset has %zu", ds->path,
                 index, ds->n);
    if (!ds->in_memory)
        DLT_FAIL(DLT_ERR_ARG, "%s: samples not loaded (dlt_dataset_load)", ds->path);
    size_t m = (size_t)ds->c * ds->h * ds->w;
    dlt__sample_ref ref;
    dlt__dataset_ref(ds, index, &ref);
    if (ref.jpeg) { /* one-off decode; the loader keeps a codec per thread */
        dlt__jpeg_codec *jc = dlt__jpeg_codec_new();
        uint8_t *chw = dlt_malloc(m);
        char why[256];
        int st = dlt__jpeg_decode_chw(jc, ref.jpeg, ref.jpeg_n, ds->c, ds->w, ds->h, chw, why,
                                      sizeof why);
        for (size_t i = 0; st == 0 && i < m; i++)
            out[i] = (float)chw[i] * scale;
        free(chw);
        dlt__jpeg_codec_free(jc);
        if (st < 0)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: record %zu: %s", ds->path, index, why);
    } else if (ref.u8) {
        for (size_t i = 0; i < m; i++)
            out[i] = (float)ref.u8[i] * scale;
    } else {
        for (size_t i = 0; i < m; i++)
            out[i] = ref.f32[i] * scale;
    }
    return ref.label;
}

void dlt__dataset_ref(const dlt_dataset *ds, size_t index, dlt__sample_ref *ref)
{
    dlt__records_ref(ds, &ds->all, index, ref);
}
