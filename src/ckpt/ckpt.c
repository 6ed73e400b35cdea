/* ckpt.c - HDF5 checkpoints in Caffe's snapshot layout (/data/LAYER/I)
 * plus /history, /rng and run attributes. Built in memory, written to a
 * temporary name, fsynced, then renamed, so a crash or a full disk never
 * destroys the last good one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ckpt/ckpt_internal.h"
#include "core/h5util.h"
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
    hid_t dset;
    int st = dlt__h5_write_floats(group, name, values, rank, dims, &dset, path);
    if (st != DLT_OK)
        return st;
    st = dlt__ckpt_write_crc(dset, values, t->count * sizeof(float), path);
    H5Dclose(dset);
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
    st = dlt__ckpt_write_crc(dset, meta->rng, (size_t)meta->world_size * 4 * sizeof(uint64_t), path);
out:
    if (dset >= 0)
        H5Dclose(dset);
    if (space >= 0)
        H5Sclose(space);
    return st;
}

static long count_datasets(const dlt_net *net, int nhistory, const dlt_ckpt_meta *meta)
{
    long n = 0;
    for (int li = 0; li < dlt_net_num_layers(net); li++)
        n += dlt_net_layer(net, li)->nparam;
    return n * (1 + nhistory) + (meta->rng ? 1 : 0);
}

/* Group name of solver-state buffer K: history, history2, ... (Adam has two). */
static const char *history_group(int k, char *buf, size_t size)
{
    if (k == 0)
        snprintf(buf, size, "history");
    else
        snprintf(buf, size, "history%d", k + 1);
    return buf;
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
    if (meta->loss_scale > 0) { /* optional: readers of version 2 without them ignore them */
        char scale[64];
        snprintf(scale, sizeof scale, "%.17g", meta->loss_scale);
        DLT_TRY(dlt__h5_write_attr_str(file, "loss_scale", scale, path));
        DLT_TRY(dlt__h5_write_attr_int(file, "loss_scale_good_steps", meta->loss_scale_good_steps, path));
        DLT_TRY(dlt__h5_write_attr_int(file, "loss_scale_skipped", meta->loss_scale_skipped, path));
    }
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

/* Write the file image to TMP with plain write(2) and fsync, so that a full
 * disk or quota is reported with its errno (HDF5's own file driver leaves a
 * half-closed file behind on ENOSPC). */
static int write_image(const char *tmp, const void *image, size_t n)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        DLT_FAIL(DLT_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
    const char *p = image;
    size_t left = n;
    int err = 0;
    while (left > 0 && !err) {
        ssize_t k = write(fd, p, left);
        if (k < 0 && errno != EINTR)
            err = errno;
        else if (k > 0)
            p += k, left -= (size_t)k;
    }
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (err) {
        struct statvfs fs;
        unsigned long long avail = statvfs(tmp, &fs) == 0 ? (unsigned long long)fs.f_bavail * fs.f_frsize : 0;
        if (err == ENOSPC || err == EDQUOT)
            DLT_FAIL(DLT_ERR_IO, "cannot write '%s': %s (%s): the checkpoint needs %zu bytes, %llu were "
                     "free when it failed; HINT: free space or use a --run-dir on a larger file system",
                     tmp, strerror(err), err == ENOSPC ? "ENOSPC" : "EDQUOT", n, avail + (n - left));
        DLT_FAIL(DLT_ERR_IO, "cannot write '%s': %s", tmp, strerror(err));
    }
    return 0;
}

/* Build the checkpoint in memory (HDF5's core driver, no backing file). */
static int build_image(const dlt_net *net, const float *const *history, int nhistory,
                       const dlt_ckpt_meta *meta, const char *path, void **image, size_t *size)
{
    size_t params = dlt_net_param_count((dlt_net *)net);
    size_t guess = params * sizeof(float) * (size_t)(1 + nhistory) + (1u << 20);
    hid_t fapl, file;
    DLT_H5_TRY(fapl = H5Pcreate(H5P_FILE_ACCESS), path);
    if (H5Pset_fapl_core(fapl, guess, 0) < 0) {
        H5Pclose(fapl);
        return dlt__h5_error("H5Pset_fapl_core", path, __FILE__, __LINE__);
    }
    file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (file < 0)
        return dlt__h5_error("H5Fcreate (in memory)", path, __FILE__, __LINE__);
    const float *base = dlt_net_params((dlt_net *)net);
    int st = write_attrs(file, meta, path);
    if (st == 0)
        st = write_blobs(file, "data", net, base, base, path);
    for (int k = 0; k < nhistory && st == 0; k++) {
        char group[32];
        st = write_blobs(file, history_group(k, group, sizeof group), net, base, history[k], path);
    }
    if (st == 0 && meta->rng)
        st = write_rng(file, meta, path);
    /* Written last: a loader that counts fewer checksummed datasets than
     * this knows the file is incomplete. */
    if (st == 0)
        st = dlt__h5_write_attr_int(file, "num_datasets", count_datasets(net, nhistory, meta), path);
    if (st == 0 && H5Fflush(file, H5F_SCOPE_LOCAL) < 0)
        st = dlt__h5_error("H5Fflush", path, __FILE__, __LINE__);
    ssize_t n = st == 0 ? H5Fget_file_image(file, NULL, 0) : -1;
    if (st == 0 && n <= 0)
        st = dlt__h5_error("H5Fget_file_image", path, __FILE__, __LINE__);
    if (st == 0) {
        *image = dlt_malloc((unsigned long)n);
        *size = (size_t)n;
        if (H5Fget_file_image(file, *image, (size_t)n) != n) {
            st = dlt__h5_error("H5Fget_file_image", path, __FILE__, __LINE__);
            free(*image);
            *image = NULL;
        }
    }
    H5Fclose(file);
    return st;
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
    void *image = NULL;
    size_t size = 0;
    int st = build_image(net, history, nhistory, meta, path, &image, &size);
    if (st == 0)
        st = write_image(tmp, image, size);
    free(image);
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
    st = dlt__ckpt_check_crc(dset, out, t->count * sizeof(float), name, path);
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
    st = dlt__ckpt_check_crc(dset, meta->rng, dims[0] * 4 * sizeof(uint64_t), "rng", path);
    /* One state per rank of the run that wrote it: another count means the
     * file was edited or put together from two runs; resuming would give
     * ranks the wrong streams. */
    if (st == 0 && dims[0] != (hsize_t)meta->world_size) {
        dlt_error("%s: /rng holds %llu per-rank RNG states but the checkpoint's world_size "
                  "attribute says %d ranks: an inconsistent checkpoint (edited, or parts of two "
                  "runs); HINT: resume from another checkpoint", path,
                  (unsigned long long)dims[0], meta->world_size);
        st = DLT_ERR_FORMAT;
    }
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
    if (v < 1 || v > INT_MAX)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: world_size attribute is %lld; expected the number of ranks "
                 "that wrote the checkpoint (>= 1)", path, v);
    meta->world_size = (int)v;
    DLT_TRY(dlt__h5_read_attr_str(file, "lr", &lr, path));
    meta->lr = strtod(lr, NULL);
    free(lr);
    if (dlt__h5_attr_exists(file, "loss_scale", path) > 0) {
        char *scale = NULL;
        DLT_TRY(dlt__h5_read_attr_str(file, "loss_scale", &scale, path));
        meta->loss_scale = strtod(scale, NULL);
        free(scale);
        if (!(meta->loss_scale > 0))
            DLT_FAIL(DLT_ERR_FORMAT, "%s: loss_scale attribute must be a positive number", path);
        DLT_TRY(dlt__h5_read_attr_int(file, "loss_scale_good_steps", &v, path));
        meta->loss_scale_good_steps = (long)v;
        DLT_TRY(dlt__h5_read_attr_int(file, "loss_scale_skipped", &v, path));
        meta->loss_scale_skipped = (long)v;
    }
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
        char why[512];
        if (dlt_ckpt_verify(path, why, sizeof why) == 0)
            found = 1;
        else {
            dlt_warn("checkpoint '%s' is unreadable or incomplete (%s); trying the previous one",
                     path, why);
            iters[best] = iters[--n];
        }
    }
    free(iters);
    return found;
}
