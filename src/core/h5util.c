/* h5util.c - HDF5 setup, error reporting and attribute helpers for the
 * data and checkpoint modules (see h5util.h). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/h5util.h"
#include "core/readfile.h"
#include "dltrain/error.h"

static pthread_once_t h5_once = PTHREAD_ONCE_INIT;

static void h5_init_once(void)
{
    /* We print HDF5 failures ourselves, once, with the file name. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* HDF5 >= 1.10 locks files with flock(); that fails with ENOLCK or
     * hangs on many NFS and Lustre mounts, and our readers open read-only
     * while the writer writes a private temporary file, so we do not need
     * it. HDF5 reads the variable at each H5Fopen. A user's setting wins. */
    if (!getenv("HDF5_USE_FILE_LOCKING")) {
        setenv("HDF5_USE_FILE_LOCKING", "FALSE", 0);
        dlt_note_once("hdf5-file-locking",
                      "HDF5 file locking disabled (HDF5_USE_FILE_LOCKING=FALSE): it fails on "
                      "many NFS and Lustre mounts; set HDF5_USE_FILE_LOCKING=TRUE to keep it");
    }
}

void dlt__h5_init(void) { pthread_once(&h5_once, h5_init_once); }

/* ---- errors ---- */

typedef struct {
    char top[256];    /* the API function's own description */
    char bottom[256]; /* the innermost cause (often the errno text) */
    int n;
} h5_err_walk;

static void err_desc(const H5E_error2_t *e, char *buf, size_t size)
{
    if (e->desc && e->desc[0]) {
        snprintf(buf, size, "%s", e->desc);
        return;
    }
    char msg[160] = "";
    H5E_type_t type;
    if (H5Eget_msg(e->min_num, &type, msg, sizeof msg) < 0 || !msg[0])
        snprintf(msg, sizeof msg, "error in %s", e->func_name ? e->func_name : "?");
    snprintf(buf, size, "%s", msg);
}

static herr_t err_walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    h5_err_walk *w = data;
    if (n == 0)
        err_desc(e, w->top, sizeof w->top);
    err_desc(e, w->bottom, sizeof w->bottom);
    w->n = (int)n + 1;
    return 0;
}

/* "f = H5Fopen(path, ...)" -> "H5Fopen" */
static void call_name(const char *expr, char *buf, size_t size)
{
    const char *p = strstr(expr, "H5");
    if (!p)
        p = expr;
    size_t i = 0;
    while (i + 1 < size && p[i] && p[i] != '(' && p[i] != ' ')
        buf[i] = p[i], i++;
    buf[i] = '\0';
}

/* "lock", "locking", "flock" as words: not the "lock" of "sblock" or "block". */
static int has_lock_word(const char *s)
{
    for (const char *p = strstr(s, "lock"); p; p = strstr(p + 1, "lock")) {
        const char *b = p > s && p[-1] == 'f' ? p - 1 : p;
        if (b == s || !isalpha((unsigned char)b[-1]))
            return 1;
    }
    return 0;
}

int dlt__h5_error(const char *expr, const char *path, const char *src, int line)
{
    h5_err_walk w = {"", "", 0};
    char name[64];
    call_name(expr, name, sizeof name);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, err_walk_cb, &w);
    H5Eclear2(H5E_DEFAULT);
    if (!w.top[0])
        snprintf(w.top, sizeof w.top, "no HDF5 error description");
    const char *hint = "";
    /* "truncated file: eof = ..., sblock->base_addr = ..." also holds
     * "lock" (in sblock): the truncation is checked first, and locking
     * only as a word of its own. */
    if (strstr(w.bottom, "truncated file") || strstr(w.top, "truncated file"))
        hint = "; the file looks truncated or damaged (shorter than its header says: an "
               "interrupted copy or write?); HINT: copy or rebuild it";
    else if (has_lock_word(w.bottom) || has_lock_word(w.top))
        hint = "; HINT: set HDF5_USE_FILE_LOCKING=FALSE (file locking fails on many NFS/Lustre mounts)";
    else if (strstr(w.bottom, "signature"))
        hint = " (not an HDF5 file?)";
    if (w.n > 1 && strcmp(w.top, w.bottom) != 0)
        dlt_error_at(NULL, 0, "HDF5 call %s failed on %s (%s:%d): %s; cause: %s%s", name,
                     path ? path : "?", src, line, w.top, w.bottom, hint);
    else
        dlt_error_at(NULL, 0, "HDF5 call %s failed on %s (%s:%d): %s%s", name,
                     path ? path : "?", src, line, w.top, hint);
    return DLT_ERR_IO;
}

/* ---- files ---- */

int dlt__h5_open_read(const char *path, hid_t *file)
{
    struct stat sb;
    dlt__h5_init();
    *file = H5I_INVALID_HID;
    if (stat(path, &sb) != 0)
        DLT_FAIL(DLT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        DLT_FAIL(DLT_ERR_IO, "%s: is a directory, expected an HDF5 file", path);
    DLT_TRY(dlt__regular_file(path, "HDF5 file")); /* opening a FIFO would wait for a writer */
    hid_t f;
    DLT_H5_TRY(f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), path);
    *file = f;
    return DLT_OK;
}

/* ---- attributes ---- */

int dlt__h5_attr_exists(hid_t obj, const char *name, const char *path)
{
    htri_t e;
    DLT_H5_TRY(e = H5Aexists(obj, name), path);
    return e > 0;
}

static void close_all(hid_t attr, hid_t space, hid_t ftype, hid_t mtype)
{
    if (mtype >= 0) H5Tclose(mtype);
    if (ftype >= 0) H5Tclose(ftype);
    if (space >= 0) H5Sclose(space);
    if (attr >= 0) H5Aclose(attr);
}

static hid_t vlen_str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

static herr_t vlen_reclaim(hid_t type, hid_t space, void *buf)
{
#if H5_VERSION_GE(1, 12, 0)
    return H5Treclaim(type, space, H5P_DEFAULT, buf);
#else
    return H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
#endif
}

/* Write N strings (N == 0 with SCALAR != 0 means one scalar string). */
static int write_strs(hid_t obj, const char *name, const char *const *v, int n, int scalar,
                      const char *path)
{
    int st = DLT_OK;
    hid_t type = H5I_INVALID_HID, space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    hsize_t dims[1] = {(hsize_t)n};
    dlt__h5_init();
    DLT_H5_GOTO(type = vlen_str_type(), path, st, out);
    if (scalar)
        DLT_H5_GOTO(space = H5Screate(H5S_SCALAR), path, st, out);
    else
        DLT_H5_GOTO(space = H5Screate_simple(1, dims, NULL), path, st, out);
    if (H5Aexists(obj, name) > 0)
        DLT_H5_GOTO(H5Adelete(obj, name), path, st, out);
    DLT_H5_GOTO(attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT), path, st,
                out);
    DLT_H5_GOTO(H5Awrite(attr, type, v), path, st, out);
out:
    close_all(attr, space, type, H5I_INVALID_HID);
    return st;
}

int dlt__h5_write_attr_str(hid_t obj, const char *name, const char *value, const char *path)
{
    const char *v[1] = {value};
    return write_strs(obj, name, v, 1, 1, path);
}

int dlt__h5_write_attr_strs(hid_t obj, const char *name, const char *const *v, int n,
                            const char *path)
{
    return write_strs(obj, name, v, n, 0, path);
}

void dlt__h5_free_strs(char **v, int n)
{
    if (!v)
        return;
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int dlt__h5_read_attr_strs(hid_t obj, const char *name, char ***out, int *nout,
                           const char *path)
{
    int st = DLT_OK;
    hid_t attr = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hid_t ftype = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    char **v = NULL;
    hssize_t n = 0;
    *out = NULL;
    *nout = 0;
    dlt__h5_init();
    DLT_H5_GOTO(attr = H5Aopen(obj, name, H5P_DEFAULT), path, st, out);
    DLT_H5_GOTO(ftype = H5Aget_type(attr), path, st, out);
    DLT_H5_GOTO(space = H5Aget_space(attr), path, st, out);
    DLT_H5_GOTO(n = H5Sget_simple_extent_npoints(space), path, st, out);
    if (H5Tget_class(ftype) != H5T_STRING || H5Sget_simple_extent_ndims(space) > 1) {
        dlt_error("%s: attribute '%s' is not a string or 1-D string array", path, name);
        st = DLT_ERR_FORMAT;
        goto out;
    }
    v = dlt_calloc((unsigned long)n + 1, sizeof *v);
    if (H5Tis_variable_str(ftype) > 0) {
        char **raw = dlt_calloc((unsigned long)n + 1, sizeof *raw);
        DLT_H5_GOTO(mtype = vlen_str_type(), path, st, out_raw);
        DLT_H5_GOTO(H5Tset_cset(mtype, H5Tget_cset(ftype)), path, st, out_raw);
        DLT_H5_GOTO(H5Aread(attr, mtype, raw), path, st, out_raw);
        for (hssize_t i = 0; i < n; i++)
            v[i] = dlt_strdup(raw[i] ? raw[i] : "");
        vlen_reclaim(mtype, space, raw);
    out_raw:
        free(raw);
    } else {
        size_t sz = H5Tget_size(ftype);
        char *raw = dlt_calloc((unsigned long)n + 1, sz + 1);
        DLT_H5_GOTO(mtype = H5Tcopy(ftype), path, st, out_fixed);
        DLT_H5_GOTO(H5Aread(attr, mtype, raw), path, st, out_fixed);
        for (hssize_t i = 0; i < n; i++) {
            char *s = dlt_malloc(sz + 1);
            memcpy(s, raw + (size_t)i * sz, sz);
            s[sz] = '\0';
            /* space-padded (Fortran) strings: drop the padding */
            for (size_t k = strlen(s); k > 0 && s[k - 1] == ' '; k--)
                s[k - 1] = '\0';
            v[i] = s;
        }
    out_fixed:
        free(raw);
    }
out:
    close_all(attr, space, ftype, mtype);
    if (st < 0) {
        dlt__h5_free_strs(v, (int)n);
        return st;
    }
    *out = v;
    *nout = (int)n;
    return DLT_OK;
}

int dlt__h5_read_attr_str(hid_t obj, const char *name, char **value, const char *path)
{
    char **v;
    int n;
    *value = NULL;
    DLT_TRY(dlt__h5_read_attr_strs(obj, name, &v, &n, path));
    if (n != 1) {
        dlt__h5_free_strs(v, n);
        DLT_FAIL(DLT_ERR_FORMAT, "%s: attribute '%s' has %d strings, expected one", path, name,
                 n);
    }
    *value = v[0];
    free(v);
    return DLT_OK;
}

static int write_ints(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *v,
                      int n, int scalar, const char *path)
{
    int st = DLT_OK;
    hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    hsize_t dims[1] = {(hsize_t)n};
    dlt__h5_init();
    if (scalar)
        DLT_H5_GOTO(space = H5Screate(H5S_SCALAR), path, st, out);
    else
        DLT_H5_GOTO(space = H5Screate_simple(1, dims, NULL), path, st, out);
    if (H5Aexists(obj, name) > 0)
        DLT_H5_GOTO(H5Adelete(obj, name), path, st, out);
    DLT_H5_GOTO(attr = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT), path, st,
                out);
    DLT_H5_GOTO(H5Awrite(attr, mtype, v), path, st, out);
out:
    close_all(attr, space, H5I_INVALID_HID, H5I_INVALID_HID);
    return st;
}

int dlt__h5_write_attr_int(hid_t obj, const char *name, long long value, const char *path)
{
    int fits = value >= INT32_MIN && value <= INT32_MAX;
    return write_ints(obj, name, fits ? H5T_STD_I32LE : H5T_STD_I64LE, H5T_NATIVE_LLONG, &value,
                      1, 1, path);
}

int dlt__h5_write_attr_ints(hid_t obj, const char *name, const int *v, int n, const char *path)
{
    return write_ints(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT, v, n, 0, path);
}

/* Read exactly N integers of any integer type, converted to MTYPE. */
static int read_ints(hid_t obj, const char *name, hid_t mtype, void *v, int n, const char *path)
{
    int st = DLT_OK;
    hid_t attr = H5I_INVALID_HID, space = H5I_INVALID_HID, ftype = H5I_INVALID_HID;
    hssize_t np = 0;
    dlt__h5_init();
    DLT_H5_GOTO(attr = H5Aopen(obj, name, H5P_DEFAULT), path, st, out);
    DLT_H5_GOTO(ftype = H5Aget_type(attr), path, st, out);
    DLT_H5_GOTO(space = H5Aget_space(attr), path, st, out);
    DLT_H5_GOTO(np = H5Sget_simple_extent_npoints(space), path, st, out);
    if (H5Tget_class(ftype) != H5T_INTEGER || np != n) {
        dlt_error("%s: attribute '%s' should be %d integer%s, found %lld value%s of another "
                  "type or count", path, name, n, n == 1 ? "" : "s", (long long)np,
                  np == 1 ? "" : "s");
        st = DLT_ERR_FORMAT;
        goto out;
    }
    DLT_H5_GOTO(H5Aread(attr, mtype, v), path, st, out);
out:
    close_all(attr, space, ftype, H5I_INVALID_HID);
    return st;
}

int dlt__h5_read_attr_int(hid_t obj, const char *name, long long *value, const char *path)
{
    return read_ints(obj, name, H5T_NATIVE_LLONG, value, 1, path);
}

int dlt__h5_read_attr_ints(hid_t obj, const char *name, int *v, int n, const char *path)
{
    return read_ints(obj, name, H5T_NATIVE_INT, v, n, path);
}

int dlt__h5_write_floats(hid_t loc, const char *name, const float *values, int rank,
                         const hsize_t *dims, hid_t *dset_out, const char *path)
{
    int st = DLT_OK;
    hid_t space = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    dlt__h5_init();
    DLT_H5_GOTO(space = H5Screate_simple(rank, dims, NULL), path, st, out);
    DLT_H5_GOTO(dset = H5Dcreate2(loc, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT,
                                  H5P_DEFAULT), path, st, out);
    DLT_H5_GOTO(H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), path, st, out);
out:
    if (st == DLT_OK && dset_out)
        *dset_out = dset;
    else if (dset >= 0)
        H5Dclose(dset);
    if (space >= 0)
        H5Sclose(space);
    return st;
}
