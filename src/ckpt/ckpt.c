/* ckpt.c - HDF5 checkpoints in Caffe's snapshot layout (/data/LAYER/I)
 * plus /history, /rng and run attributes. Written to a temporary name,
 * fsynced, then renamed, so a crash never destroys the last good one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/h5util.h"
#include "dltrain/ckpt.h"
#include "dltrain/error.h"

/* Caffe writes blobs with their natural rank: a bias is (K), an
 * InnerProduct weight (K, D). Our tensors are 4-D, so trailing 1s go. */
static int blob_dims(const dlt_tensor *t, hsize_t dims[4])
{
    int d[4] = {t->n, t->c, t->h, t->w};
    int rank = 4;
    while (rank > 1 && d[rank - 1] == 1)
        rank--;
    for (int i = 0; i < rank; i++)
        dims[i] = (hsize_t)d[i];
    return rank;
}

static int write_blob(hid_t group, const char *name, const dlt_tensor *t, const float *values,
                      const char *path)
{
    hsize_t dims[4];
    int rank = blob_dims(t, dims);
    int st = 0;
    hid_t space = -1, dset = -1;
    DLT_H5_GOTO(space = H5Screate_simple(rank, dims, NULL), path, st, out);
    DLT_H5_GOTO(dset = H5Dcreate2(group, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT,
                                  H5P_DEFAULT), path, st, out);
    DLT_H5_GOTO(H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), path, st, out);
out:
    if (dset >= 0)
        H5Dclose(dset);
    if (space >= 0)
        H5Sclose(space);
    return st;
}

/* Write every parameter blob (or its history) under ROOT/LAYER/I. */
static int write_blobs(hid_t file, const char *root, const dlt_net *net, const float *base,
                       const float *values, const char *path)
{
    int st = 0;
    hid_t lcpl = -1, top = -1;
    DLT_H5_GOTO(lcpl = H5Pcreate(H5P_LINK_CREATE), path, st, out);
    /* Layer names like "inception_3a/1x1" become nested groups. */
    DLT_H5_GOTO(H5Pset_create_intermediate_group(lcpl, 1), path, st, out);
    DLT_H5_GOTO(top = H5Gcreate2(file, root, lcpl, H5P_DEFAULT, H5P_DEFAULT), path, st, out);
    for (int li = 0; li < dlt_net_num_layers(net) && st == 0; li++) {
        const dlt_layer *l = dlt_net_layer(net, li);
        if (l->nparam == 0)
            continue;
        hid_t g;
        DLT_H5_GOTO(g = H5Gcreate2(top, l->name, lcpl, H5P_DEFAULT, H5P_DEFAULT), path, st, out);
        for (int p = 0; p < l->nparam && st == 0; p++) {
            char name[16];
            snprintf(name, sizeof name, "%d", p);
            st = write_blob(g, name, &l->param[p], values + (l->param[p].data - base), path);
        }
        H5Gclose(g);
    }
out:
    if (top >= 0)
        H5Gclose(top);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    return st;
}

static int write_rng(hid_t file, const dlt_ckpt_meta *meta, const char *path)
{
    hsize_t dims[2] = {(hsize_t)meta->world_size, 4};
    int st = 0;
    hid_t space = -1, dset = -1;
    DLT_H5_GOTO(space = H5Screate_simple(2, dims, NULL), path, st, out);
    DLT_H5_GOTO(dset = H5Dcreate2(file, "rng", H5T_STD_U64LE, space, H5P_DEFAULT, H5P_DEFAULT,
                                  H5P_DEFAULT), path, st, out);
    DLT_H5_GOTO(H5Dwrite(dset, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, meta->rng), path,
                st, out);
out:
    if (dset >= 0)
        H5Dclose(dset);
    if (space >= 0)
        H5Sclose(space);
    return st;
}

static int write_attrs(hid_t file, const dlt_ckpt_meta *meta, const char *path)
{
    DLT_TRY(dlt__h5_write_attr_str(file, "dltrain_format", DLT_CKPT_FORMAT, path));
    DLT_TRY(dlt__h5_write_attr_int(file, "dltrain_version", DLT_CKPT_VERSION, path));
    DLT_TRY(dlt__h5_write_attr_int(file, "iter", meta->iter, path));
    DLT_TRY(dlt__h5_write_attr_int(file, "epoch", meta->epoch, path));
    DLT_TRY(dlt__h5_write_attr_int(file, "world_size", meta->world_size, path));
    char lr[64];
    snprintf(lr, sizeof lr, "%.17g", meta->lr);
    DLT_TRY(dlt__h5_write_attr_str(file, "lr", lr, path));
    DLT_TRY(dlt__h5_write_attr_str(file, "net", meta->net_text ? meta->net_text : "", path));
    DLT_TRY(dlt__h5_write_attr_str(file, "solver", meta->solver_text ? meta->solver_text : "", path));
    return 0;
}

/* fsync a file or directory by path; reports the system error. */
static int sync_path(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        DLT_FAIL(DLT_ERR_IO, "cannot open '%s' to sync it: %s", path, strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0 && err != EINVAL) /* some file systems cannot fsync a directory */
        DLT_FAIL(DLT_ERR_IO, "fsync of '%s' failed: %s", path, strerror(err));
    return 0;
}

/* Group name of solver-state buffer K: history, history2, ... */
static const char *history_group(int k, char *buf, size_t size)
{
    if (k == 0)
        snprintf(buf, size, "history");
    else
        snprintf(buf, size, "history%d", k + 1);
    return buf;
}

int dlt_ckpt_save(const char *path, const dlt_net *net, const float *history,
                  const dlt_ckpt_meta *meta)
{
    return dlt_ckpt_save_state(path, net, &history, history ? 1 : 0, meta);
}

int dlt_ckpt_save_state(const char *path, const dlt_net *net, const float *const *history,
                        int nhistory, const dlt_ckpt_meta *meta)
{
    dlt__h5_init();
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    hid_t file;
    DLT_H5_TRY(file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), tmp);
    const float *base = dlt_net_params((dlt_net *)net);
    int st = write_attrs(file, meta, tmp);
    if (st == 0)
        st = write_blobs(file, "data", net, base, base, tmp);
    for (int k = 0; k < nhistory && st == 0; k++) {
        char group[32];
        st = write_blobs(file, history_group(k, group, sizeof group), net, base, history[k], tmp);
    }
    if (st == 0 && meta->rng)
        st = write_rng(file, meta, tmp);
    if (H5Fclose(file) < 0 && st == 0)
        st = dlt__h5_error("H5Fclose", tmp, __FILE__, __LINE__);
    if (st == 0)
        st = sync_path(tmp);
    if (st == 0 && rename(tmp, path) != 0) {
        dlt_error("cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
        st = DLT_ERR_IO;
    }
    if (st != 0) {
        unlink(tmp);
        dlt_error("checkpoint '%s' was not written; the previous checkpoint is intact", path);
        return st;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        DLT_TRY(sync_path(dir[0] ? dir : "/"));
    }
    return 0;
}

static int read_blob(hid_t file, const char *name, dlt_tensor *t, float *out, const char *path)
{
    hsize_t want[4], have[4];
    int rank = blob_dims(t, want);
    int st = 0;
    hid_t dset = -1, space = -1;
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: checkpoint has no dataset /%s (does it belong to another net?)",
                 path, name);
    DLT_H5_GOTO(dset = H5Dopen2(file, name, H5P_DEFAULT), path, st, out);
    DLT_H5_GOTO(space = H5Dget_space(dset), path, st, out);
    int hrank = H5Sget_simple_extent_ndims(space);
    if (hrank < 1 || hrank > 4) {
        dlt_error("%s: /%s has rank %d; expected %d", path, name, hrank, rank);
        st = DLT_ERR_FORMAT;
        goto out;
    }
    H5Sget_simple_extent_dims(space, have, NULL);
    hsize_t count = 1;
    for (int i = 0; i < hrank; i++)
        count *= have[i];
    if (count != t->count || (hrank == rank && memcmp(have, want, rank * sizeof(hsize_t)) != 0)) {
        dlt_error("%s: /%s has %llu values; the net's blob is (%d,%d,%d,%d)", path, name,
                  (unsigned long long)count, t->n, t->c, t->h, t->w);
        st = DLT_ERR_FORMAT;
        goto out;
    }
    DLT_H5_GOTO(H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), path, st, out);
out:
    if (space >= 0)
        H5Sclose(space);
    if (dset >= 0)
        H5Dclose(dset);
    return st;
}

static int read_blobs(hid_t file, const char *root, dlt_net *net, float *values, const char *path)
{
    float *base = dlt_net_params(net);
    for (int li = 0; li < dlt_net_num_layers(net); li++) {
        dlt_layer *l = dlt_net_layer(net, li);
        for (int p = 0; p < l->nparam; p++) {
            char name[1024];
            snprintf(name, sizeof name, "%s/%s/%d", root, l->name, p);
            DLT_TRY(read_blob(file, name, &l->param[p], values + (l->param[p].data - base), path));
        }
    }
    return 0;
}

static int read_rng(hid_t file, dlt_ckpt_meta *meta, const char *path)
{
    meta->rng = NULL;
    if (H5Lexists(file, "rng", H5P_DEFAULT) <= 0)
        return 0;
    int st = 0;
    hid_t dset = -1, space = -1;
    hsize_t dims[2] = {0, 0};
    DLT_H5_GOTO(dset = H5Dopen2(file, "rng", H5P_DEFAULT), path, st, out);
    DLT_H5_GOTO(space = H5Dget_space(dset), path, st, out);
    if (H5Sget_simple_extent_ndims(space) != 2 || H5Sget_simple_extent_dims(space, dims, NULL) < 0 ||
        dims[1] != 4) {
        dlt_error("%s: /rng must be uint64 [world_size, 4]", path);
        st = DLT_ERR_FORMAT;
        goto out;
    }
    meta->rng = dlt_calloc(dims[0] * 4, sizeof(uint64_t));
    DLT_H5_GOTO(H5Dread(dset, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, meta->rng), path, st,
                out);
    meta->world_size = (int)dims[0];
out:
    if (space >= 0)
        H5Sclose(space);
    if (dset >= 0)
        H5Dclose(dset);
    return st;
}

static int read_meta(hid_t file, dlt_ckpt_meta *meta, const char *path)
{
    char *format = NULL, *lr = NULL;
    long long version, v;
    DLT_TRY(dlt__h5_read_attr_str(file, "dltrain_format", &format, path));
    int ok = strcmp(format, DLT_CKPT_FORMAT) == 0;
    free(format);
    if (!ok)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: not a dltrain checkpoint (dltrain_format attribute)", path);
    DLT_TRY(dlt__h5_read_attr_int(file, "dltrain_version", &version, path));
    if (version != DLT_CKPT_VERSION)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: checkpoint format version %lld; this dltrain reads version %d",
                 path, version, DLT_CKPT_VERSION);
    DLT_TRY(dlt__h5_read_attr_int(file, "iter", &v, path));
    meta->iter = (long)v;
    DLT_TRY(dlt__h5_read_attr_int(file, "epoch", &v, path));
    meta->epoch = (long)v;
    DLT_TRY(dlt__h5_read_attr_int(file, "world_size", &v, path));
    meta->world_size = (int)v;
    DLT_TRY(dlt__h5_read_attr_str(file, "lr", &lr, path));
    meta->lr = strtod(lr, NULL);
    free(lr);
    return 0;
}

int dlt_ckpt_load(const char *path, dlt_net *net, float *history, dlt_ckpt_meta *meta)
{
    return dlt_ckpt_load_state(path, net, &history, history ? 1 : 0, meta);
}

int dlt_ckpt_load_state(const char *path, dlt_net *net, float *const *history, int nhistory,
                        dlt_ckpt_meta *meta)
{
    hid_t file;
    memset(meta, 0, sizeof *meta);
    DLT_TRY(dlt__h5_open_read(path, &file));
    int st = read_meta(file, meta, path);
    if (st == 0)
        st = read_blobs(file, "data", net, dlt_net_params(net), path);
    for (int k = 0; k < nhistory && st == 0; k++) {
        char group[32];
        history_group(k, group, sizeof group);
        if (H5Lexists(file, group, H5P_DEFAULT) <= 0) {
            dlt_error("%s: checkpoint has no /%s: it was written by a solver with less state "
                      "(e.g. SGD) than this one (e.g. Adam needs /history and /history2)", path, group);
            st = DLT_ERR_FORMAT;
        } else {
            st = read_blobs(file, group, net, history[k], path);
        }
    }
    if (st == 0)
        st = read_rng(file, meta, path);
    H5Fclose(file);
    return st;
}

/* Quietly check that PATH opens and carries our format attribute. */
static int ckpt_looks_valid(const char *path)
{
    hid_t file;
    H5E_BEGIN_TRY { file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); }
    H5E_END_TRY;
    if (file < 0)
        return 0;
    int ok = H5Aexists(file, "dltrain_format") > 0 && H5Aexists(file, "iter") > 0;
    H5Fclose(file);
    return ok;
}

int dlt_ckpt_find_latest(const char *dir, char *path, size_t size)
{
    dlt__h5_init();
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        DLT_FAIL(DLT_ERR_IO, "cannot read checkpoint directory '%s': %s", dir, strerror(errno));
    }
    long *iters = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long it;
        char tail[8];
        /* iter_00001000.h5 exactly; temporary files end in .tmp */
        if (sscanf(e->d_name, "iter_%ld.%7s", &it, tail) == 2 && strcmp(tail, "h5") == 0) {
            iters = dlt_realloc(iters, (n + 1) * sizeof *iters);
            iters[n++] = it;
        }
    }
    closedir(d);
    int found = 0;
    while (n > 0 && !found) {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (iters[i] > iters[best])
                best = i;
        snprintf(path, size, "%s/iter_%08ld.h5", dir, iters[best]);
        if (ckpt_looks_valid(path))
            found = 1;
        else {
            dlt_warn("checkpoint '%s' is unreadable or incomplete; trying the previous one", path);
            iters[best] = iters[--n];
        }
    }
    free(iters);
    return found;
}
