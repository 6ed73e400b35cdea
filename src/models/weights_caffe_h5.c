/* weights_caffe_h5.c - parameter blobs from HDF5 in Caffe's snapshot
 * layout, /data/LAYER/I: Caffe's .caffemodel.h5 and dltrain's checkpoints
 * (which nest layer names with '/' as groups). Names, not file order,
 * decide what goes where, so a walk of /data is all that is needed. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/h5util.h"
#include "dltrain/error.h"
#include "models/models_internal.h"

/* Blob index of a link name "0", "1", ...; -1 when it is not one. */
static int blob_index(const char *s)
{
    if (!*s)
        return -1;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > 1000)
            return -1;
        v = v * 10 + (*p - '0');
    }
    return (int)v;
}

static int read_dataset(hid_t g, const char *name, dlt_weight_blob *b, const char *path,
                        const char *layer)
{
    int st = 0;
    hid_t d = -1, space = -1;
    DLT_H5_GOTO(d = H5Dopen2(g, name, H5P_DEFAULT), path, st, out);
    DLT_H5_GOTO(space = H5Dget_space(d), path, st, out);
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 0 || rank > 8) {
        dlt_error("%s: /data/%s/%s has rank %d (at most 8 are read)", path, layer, name, rank);
        st = DLT_ERR_FORMAT;
        goto out;
    }
    hsize_t dims[8];
    H5Sget_simple_extent_dims(space, dims, NULL);
    b->ndim = rank;
    b->count = 1;
    for (int i = 0; i < rank; i++) {
        b->dims[i] = (long)dims[i];
        b->count *= (size_t)dims[i];
    }
    b->data = dlt_malloc((b->count ? b->count : 1) * sizeof(float));
    DLT_H5_GOTO(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, b->data), path, st, out);
out:
    if (space >= 0)
        H5Sclose(space);
    if (d >= 0)
        H5Dclose(d);
    return st;
}

/* Group G at /data/PREFIX: its datasets named 0..n-1 are the blobs of
 * layer PREFIX; its subgroups are walked for nested layer names. */
static int walk(hid_t g, const char *prefix, dlt_weight_set *out, const char *path)
{
    H5G_info_t info;
    DLT_H5_TRY(H5Gget_info(g, &info), path);
    int nblobs = 0;
    char name[1024];
    for (hsize_t i = 0; i < info.nlinks; i++) {
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                               H5P_DEFAULT) < 0)
            return dlt__h5_error("H5Lget_name_by_idx", path, __FILE__, __LINE__);
        hid_t o = H5Oopen(g, name, H5P_DEFAULT);
        if (o < 0)
            return dlt__h5_error("H5Oopen", path, __FILE__, __LINE__);
        H5I_type_t t = H5Iget_type(o);
        int st = 0;
        if (t == H5I_GROUP) {
            char sub[2048];
            snprintf(sub, sizeof sub, "%s%s%s", prefix, *prefix ? "/" : "", name);
            st = walk(o, sub, out, path);
        } else if (t == H5I_DATASET && blob_index(name) >= 0 && blob_index(name) + 1 > nblobs) {
            nblobs = blob_index(name) + 1;
        }
        H5Oclose(o);
        DLT_TRY(st);
    }
    if (nblobs == 0)
        return 0;
    dlt_weight_layer *wl = dlt__weight_set_add(out, prefix, nblobs);
    for (int i = 0; i < nblobs; i++) {
        snprintf(name, sizeof name, "%d", i);
        if (H5Lexists(g, name, H5P_DEFAULT) <= 0)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: layer '%s' has blob %d but no /data/%s/%s", path, prefix,
                     nblobs - 1, prefix, name);
        DLT_TRY(read_dataset(g, name, &wl->blobs[i], path, prefix));
    }
    return 0;
}

int dlt__weights_h5_read(const char *path, dlt_weight_set *out)
{
    hid_t file, data;
    DLT_TRY(dlt__h5_open_read(path, &file));
    if (H5Lexists(file, "data", H5P_DEFAULT) <= 0 || (data = H5Gopen2(file, "data", H5P_DEFAULT)) < 0) {
        H5Eclear2(H5E_DEFAULT);
        H5Fclose(file);
        DLT_FAIL(DLT_ERR_FORMAT, "%s: no /data group of parameter blobs (/data/LAYER/0, ...)", path);
    }
    int st = walk(data, "", out, path);
    H5Gclose(data);
    H5Fclose(file);
    return st;
}
