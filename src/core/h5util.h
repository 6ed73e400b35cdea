/* h5util.h - internal HDF5 helpers below both data/ and ckpt/ (the
 * datasets, the checkpoints, the doctor's readability check):
 * one-time library setup, call checks that name the call and the file, and
 * attribute read/write (strings, ints, string arrays). */
#ifndef DLTRAIN_CORE_H5UTIL_H
#define DLTRAIN_CORE_H5UTIL_H

#include <hdf5.h>

/* Turns off HDF5's automatic error-stack printing (we report errors
 * ourselves) and sets HDF5_USE_FILE_LOCKING=FALSE unless the user set it.
 * Idempotent; every function below calls it. Call it before starting
 * threads: it may call setenv. */
void dlt__h5_init(void);

/* Report a failed HDF5 call as "HDF5 call NAME failed on PATH (src:line):
 * DESCRIPTION" with HDF5's own description of the error, clear HDF5's
 * error stack, and return DLT_ERR_IO. */
int dlt__h5_error(const char *expr, const char *path, const char *src, int line);

/* Check an HDF5 call (negative hid_t/herr_t/htri_t means failure). */
#define DLT_H5_TRY(expr, path)                                              \
    do {                                                                    \
        if ((expr) < 0)                                                     \
            return dlt__h5_error(#expr, (path), __FILE__, __LINE__);        \
    } while (0)

/* Same, but store the status in ST and jump to LABEL so that the caller
 * can close its handles. */
#define DLT_H5_GOTO(expr, path, st, label)                                  \
    do {                                                                    \
        if ((expr) < 0) {                                                   \
            (st) = dlt__h5_error(#expr, (path), __FILE__, __LINE__);        \
            goto label;                                                     \
        }                                                                   \
    } while (0)

/* Open PATH read-only (H5F_ACC_RDONLY); a missing file is reported with
 * strerror rather than HDF5's error stack. */
int dlt__h5_open_read(const char *path, hid_t *file);

/* 1 if OBJ has attribute NAME, 0 if not, <0 on error. */
int dlt__h5_attr_exists(hid_t obj, const char *name, const char *path);

/* Attributes. PATH only names the file in error messages. Strings are
 * written as variable-length UTF-8 (h5py reads them as str); readers
 * accept fixed-length strings too. Returned strings are malloc'd. */
int dlt__h5_write_attr_str(hid_t obj, const char *name, const char *value, const char *path);
int dlt__h5_read_attr_str(hid_t obj, const char *name, char **value, const char *path);
/* Scalar integer: stored as int32 when it fits, else int64. */
int dlt__h5_write_attr_int(hid_t obj, const char *name, long long value, const char *path);
int dlt__h5_read_attr_int(hid_t obj, const char *name, long long *value, const char *path);
/* Integer array of exactly N int32 values. */
int dlt__h5_write_attr_ints(hid_t obj, const char *name, const int *v, int n, const char *path);
int dlt__h5_read_attr_ints(hid_t obj, const char *name, int *v, int n, const char *path);
/* 1-D array of strings; free with dlt__h5_free_strs. */
int dlt__h5_write_attr_strs(hid_t obj, const char *name, const char *const *v, int n,
                            const char *path);
int dlt__h5_read_attr_strs(hid_t obj, const char *name, char ***v, int *n, const char *path);
void dlt__h5_free_strs(char **v, int n);

/* Dataset NAME under LOC: float32 little-endian of RANK dims DIMS, written
 * from VALUES (the checkpoint's and Caffe's blob layout). With DSET the
 * dataset is left open there for the caller (to add attributes; the
 * caller closes it), else closed. */
int dlt__h5_write_floats(hid_t loc, const char *name, const float *values, int rank,
                         const hsize_t *dims, hid_t *dset, const char *path);

#endif
