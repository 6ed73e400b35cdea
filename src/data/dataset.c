/* dataset.c - opens an HDF5 dataset read-only and holds it in memory: our
 * schema (uint8 /data, int32 /label, attributes) or Caffe's HDF5Data
 * layout (float /data [N,C,H,W] or [N,D], float /label [N] or [N,1]). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset_internal.h"
#include "data/h5util.h"
#include "data/image.h"
#include "dltrain/data.h"
#include "dltrain/error.h"

struct dlt_dataset {
    char *path;
    size_t n;            /* samples */
    int c, h, w;
    int nclasses;        /* from the classes attribute, 0 if none */
    char **class_names;  /* (nclasses) the classes attribute, or NULL */
    int shape_attr[3];   /* the shape attribute, {0,0,0} if none */
    uint8_t *u8;         /* (n, c, h, w) for our schema, or NULL */
    float *f32;          /* (n, c, h, w) for float /data, or NULL */
    uint8_t *jpeg;       /* /jpeg: all JPEG bytes back to back, or NULL */
    size_t *jpeg_off;    /* (n + 1) offsets into jpeg */
    int32_t *labels;     /* (n) */
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

/* /jpeg (variable-length uint8 [N]) into one buffer, a block of records
 * at a time so that HDF5's per-record allocations stay bounded. */
static int read_jpeg(hid_t f, dlt_dataset *ds)
{
    const char *p = ds->path;
    int st = DLT_OK;
    hid_t dset = H5I_INVALID_HID, fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    hid_t mtype = H5I_INVALID_HID;
    hsize_t dims[1];
    enum { BLOCK = 4096 };
    hvl_t *vl = dlt_malloc(BLOCK * sizeof *vl);
    size_t cap = 0;
    DLT_H5_GOTO(dset = H5Dopen2(f, "jpeg", H5P_DEFAULT), p, st, out);
    DLT_H5_GOTO(fspace = H5Dget_space(dset), p, st, out);
    if (H5Sget_simple_extent_ndims(fspace) != 1) {
        dlt_error("%s: /jpeg must be 1-D (variable-length uint8 [N])", p);
        st = DLT_ERR_FORMAT;
        goto out;
    }
    H5Sget_simple_extent_dims(fspace, dims, NULL);
    DLT_H5_GOTO(mtype = H5Tvlen_create(H5T_NATIVE_UCHAR), p, st, out);
    ds->n = (size_t)dims[0];
    ds->jpeg_off = dlt_calloc(ds->n + 1, sizeof *ds->jpeg_off);
    for (size_t s = 0; s < ds->n; s += BLOCK) {
        hsize_t start = s, count = ds->n - s < BLOCK ? ds->n - s : BLOCK;
        DLT_H5_GOTO(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL),
                    p, st, out);
        DLT_H5_GOTO(mspace = H5Screate_simple(1, &count, NULL), p, st, out);
        DLT_H5_GOTO(H5Dread(dset, mtype, mspace, fspace, H5P_DEFAULT, vl), p, st, out);
        for (size_t i = 0; i < count; i++) {
            size_t at = ds->jpeg_off[s + i];
            if (at + vl[i].len > cap) {
                cap = (at + vl[i].len) * 2;
                ds->jpeg = dlt_realloc(ds->jpeg, cap);
            }
            memcpy(ds->jpeg + at, vl[i].p, vl[i].len);
            ds->jpeg_off[s + i + 1] = at + vl[i].len;
        }
        H5Dvlen_reclaim(mtype, mspace, H5P_DEFAULT, vl);
        H5Sclose(mspace);
        mspace = H5I_INVALID_HID;
    }
out:
    free(vl);
    if (mtype >= 0) H5Tclose(mtype);
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    if (dset >= 0) H5Dclose(dset);
    if (st >= 0 && !ds->shape_attr[0])
        DLT_FAIL(DLT_ERR_FORMAT, "%s: /jpeg needs the shape attribute (C, H, W)", p);
    ds->c = ds->shape_attr[0], ds->h = ds->shape_attr[1], ds->w = ds->shape_attr[2];
    return st;
}

static int read_data(hid_t f, dlt_dataset *ds)
{
    const char *p = ds->path;
    int st = DLT_OK;
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID;
    hsize_t dims[H5S_MAX_RANK];
    int rank = 0;
    htri_t exists;
    DLT_H5_TRY(exists = H5Lexists(f, "data", H5P_DEFAULT), p);
    if (!exists) {
        DLT_H5_TRY(exists = H5Lexists(f, "jpeg", H5P_DEFAULT), p);
        if (exists)
            return read_jpeg(f, ds);
        DLT_FAIL(DLT_ERR_FORMAT, "%s: no /data or /jpeg dataset (expected uint8 /data "
                 "[N,C,H,W], JPEG /jpeg [N], or float32 /data as Caffe's HDF5Data writes); "
                 "HINT: build datasets with dltrain-prep", p);
    }
    /* The whole /data is read once: without a chunk cache HDF5 reads each
     * chunk straight into our buffer (no copy through the cache). */
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (dapl >= 0)
        H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0, H5D_CHUNK_CACHE_W0_DEFAULT);
    dset = H5Dopen2(f, "data", dapl >= 0 ? dapl : H5P_DEFAULT);
    if (dapl >= 0)
        H5Pclose(dapl);
    DLT_H5_GOTO(dset, p, st, out);
    DLT_H5_GOTO(space = H5Dget_space(dset), p, st, out);
    DLT_H5_GOTO(rank = H5Sget_simple_extent_dims(space, dims, NULL), p, st, out);
    DLT_H5_GOTO(type = H5Dget_type(dset), p, st, out);
    if (rank == 4) {
        ds->c = (int)dims[1], ds->h = (int)dims[2], ds->w = (int)dims[3];
    } else if (rank == 2) { /* Caffe: [N, D] feeds an InnerProduct layer */
        ds->c = (int)dims[1], ds->h = 1, ds->w = 1;
    } else {
        dlt_error("%s: /data has %d dimensions; expected [N,C,H,W] or [N,D]", p, rank);
        st = DLT_ERR_FORMAT;
        goto out;
    }
    ds->n = (size_t)dims[0];
    if (ds->shape_attr[0] && (ds->shape_attr[0] != ds->c || ds->shape_attr[1] != ds->h ||
                              ds->shape_attr[2] != ds->w)) {
        dlt_error("%s: shape attribute says %d x %d x %d but /data is [%zu,%d,%d,%d]", p,
                  ds->shape_attr[0], ds->shape_attr[1], ds->shape_attr[2], ds->n, ds->c,
                  ds->h, ds->w);
        st = DLT_ERR_FORMAT;
        goto out;
    }
    H5T_class_t cls = H5Tget_class(type);
    size_t count = ds->n * (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
    if (cls == H5T_INTEGER && H5Tget_size(type) == 1 && H5Tget_sign(type) == H5T_SGN_NONE) {
        ds->u8 = dlt_malloc(count);
        DLT_H5_GOTO(H5Dread(dset, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, ds->u8), p,
                    st, out);
    } else if (cls == H5T_FLOAT || cls == H5T_INTEGER) {
        /* Caffe's HDF5Data converts any numeric /data to float. */
        ds->f32 = dlt_malloc(count * sizeof(float));
        DLT_H5_GOTO(H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, ds->f32), p,
                    st, out);
    } else {
        dlt_error("%s: /data has a non-numeric type; expected uint8 or float32", p);
        st = DLT_ERR_FORMAT;
    }
out:
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (dset >= 0) H5Dclose(dset);
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

int dlt_dataset_open(const char *path, dlt_dataset **out)
{
    hid_t f;
    *out = NULL;
    DLT_TRY(dlt__h5_open_read(path, &f));
    dlt_dataset *ds = dlt_calloc(1, sizeof *ds);
    ds->path = dlt_strdup(path);
    int st = read_schema(f, ds);
    if (st >= 0)
        st = read_data(f, ds);
    if (st >= 0)
        st = read_labels(f, ds);
    if (st >= 0)
        st = check_labels(ds);
    if (H5Fclose(f) < 0 && st >= 0)
        st = dlt__h5_error("H5Fclose", path, __FILE__, __LINE__);
    if (st < 0) {
        dlt_dataset_close(ds);
        return st;
    }
    *out = ds;
    return DLT_OK;
}

void dlt_dataset_close(dlt_dataset *ds)
{
    if (!ds)
        return;
    if (ds->class_names)
        dlt__h5_free_strs(ds->class_names, ds->nclasses);
    free(ds->path);
    free(ds->u8);
    free(ds->f32);
    free(ds->jpeg);
    free(ds->jpeg_off);
    free(ds->labels);
    free(ds);
}

size_t dlt_dataset_size(const dlt_dataset *ds) { return ds->n; }

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
    size_t m = (size_t)ds->c * ds->h * ds->w;
    if (ds->jpeg_off) { /* one-off decode; the loader keeps a codec per thread */
        dlt__jpeg_codec *jc = dlt__jpeg_codec_new();
        uint8_t *chw = dlt_malloc(m);
        char why[256];
        int st = dlt__jpeg_decode_chw(jc, ds->jpeg + ds->jpeg_off[index],
                                      ds->jpeg_off[index + 1] - ds->jpeg_off[index], ds->c,
                                      ds->w, ds->h, chw, why, sizeof why);
        for (size_t i = 0; st == 0 && i < m; i++)
            out[i] = (float)chw[i] * scale;
        free(chw);
        dlt__jpeg_codec_free(jc);
        if (st < 0)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: record %zu: %s", ds->path, index, why);
    } else if (ds->u8) {
        const uint8_t *src = ds->u8 + index * m;
        for (size_t i = 0; i < m; i++)
            out[i] = (float)src[i] * scale;
    } else {
        const float *src = ds->f32 + index * m;
        for (size_t i = 0; i < m; i++)
            out[i] = src[i] * scale;
    }
    return ds->labels[index];
}

void dlt__dataset_ref(const dlt_dataset *ds, size_t index, dlt__sample_ref *ref)
{
    size_t m = (size_t)ds->c * ds->h * ds->w;
    memset(ref, 0, sizeof *ref);
    if (ds->jpeg_off) {
        ref->jpeg = ds->jpeg + ds->jpeg_off[index];
        ref->jpeg_n = ds->jpeg_off[index + 1] - ds->jpeg_off[index];
    } else if (ds->u8) {
        ref->u8 = ds->u8 + index * m;
    } else {
        ref->f32 = ds->f32 + index * m;
    }
    ref->label = ds->labels[index];
}
