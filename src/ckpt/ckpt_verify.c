/* ckpt_verify.c - checkpoint checksums and a net-independent check that a
 * checkpoint file is complete and intact (for --resume auto and tests). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ckpt/ckpt_internal.h"
#include "core/h5util.h"
#include "dltrain/ckpt.h"
#include "dltrain/error.h"

unsigned long dlt__ckpt_crc(const void *buf, size_t n)
{
    const unsigned char *p = buf;
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) { /* zlib takes uInt lengths */
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return crc;
}

int dlt__ckpt_write_crc(hid_t dset, const void *buf, size_t n, const char *path)
{
    return dlt__h5_write_attr_int(dset, "crc32", (long long)dlt__ckpt_crc(buf, n), path);
}

int dlt__ckpt_check_crc(hid_t dset, const void *buf, size_t n, const char *name, const char *path)
{
    long long want;
    if (H5Aexists(dset, "crc32") <= 0)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: /%s has no crc32 attribute (incomplete checkpoint)", path, name);
    DLT_TRY(dlt__h5_read_attr_int(dset, "crc32", &want, path));
    unsigned long have = dlt__ckpt_crc(buf, n);
    if ((unsigned long long)want != have)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: /%s fails its checksum (crc32 %08lx, stored %08llx): corrupt file",
                 path, name, have, (unsigned long long)want);
    return 0;
}

typedef struct visit {
    const char *path;
    long datasets;      /* checksummed datasets seen */
    char *why;
    size_t why_size;
} visit;

/* Read one dataset in its native type and check its checksum. */
static herr_t check_one(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    visit *v = data;
    (void)info;
    hid_t dset;
    H5E_BEGIN_TRY { dset = H5Dopen2(group, name, H5P_DEFAULT); }
    H5E_END_TRY;
    if (dset < 0)
        return 0; /* a group */
    int st = -1;
    hid_t ftype = H5Dget_type(dset), space = H5Dget_space(dset);
    hssize_t count = H5Sget_simple_extent_npoints(space);
    H5T_class_t cls = H5Tget_class(ftype);
    hid_t mtype = cls == H5T_FLOAT ? H5T_NATIVE_FLOAT : H5T_NATIVE_UINT64;
    size_t bytes = (size_t)(count > 0 ? count : 0) * H5Tget_size(mtype);
    void *buf = malloc(bytes ? bytes : 1);
    long long want;
    if (!buf || count < 0 || (cls != H5T_FLOAT && cls != H5T_INTEGER))
        snprintf(v->why, v->why_size, "/%s: unexpected dataset type or size", name);
    else if (H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        snprintf(v->why, v->why_size, "/%s cannot be read (truncated file?)", name);
    else if (H5Aexists(dset, "crc32") <= 0 || dlt__h5_read_attr_int(dset, "crc32", &want, v->path) < 0)
        snprintf(v->why, v->why_size, "/%s has no crc32 attribute", name);
    else if ((unsigned long long)want != dlt__ckpt_crc(buf, bytes))
        snprintf(v->why, v->why_size, "/%s fails its crc32 checksum", name);
    else {
        v->datasets++;
        st = 0;
    }
    free(buf);
    H5Sclose(space);
    H5Tclose(ftype);
    H5Dclose(dset);
    return st < 0 ? -1 : 0;
}

int dlt_ckpt_verify(const char *path, char *why, size_t why_size)
{
    dlt__h5_init();
    snprintf(why, why_size, "ok");
    hid_t file;
    H5E_BEGIN_TRY { file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); }
    H5E_END_TRY;
    if (file < 0) {
        snprintf(why, why_size, "not a readable HDF5 file");
        return DLT_ERR_FORMAT;
    }
    int st = DLT_ERR_FORMAT;
    char *format = NULL;
    long long version = 0, expected = 0;
    H5E_BEGIN_TRY
    {
        if (H5Aexists(file, "dltrain_format") <= 0 || H5Aexists(file, "dltrain_version") <= 0)
            snprintf(why, why_size, "no dltrain_format/dltrain_version attributes");
        else if (dlt__h5_read_attr_str(file, "dltrain_format", &format, path) < 0 ||
                 strcmp(format, DLT_CKPT_FORMAT) != 0)
            snprintf(why, why_size, "not a dltrain checkpoint");
        else if (dlt__h5_read_attr_int(file, "dltrain_version", &version, path) < 0 ||
                 version != DLT_CKPT_VERSION)
            snprintf(why, why_size, "format version %lld, expected %d", version, DLT_CKPT_VERSION);
        else if (H5Aexists(file, "num_datasets") <= 0 ||
                 dlt__h5_read_attr_int(file, "num_datasets", &expected, path) < 0)
            snprintf(why, why_size, "no num_datasets attribute (the write did not finish)");
        else {
            visit v = {path, 0, why, why_size};
            if (H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, check_one, &v) >= 0) {
                if (v.datasets == expected)
                    st = 0;
                else
                    snprintf(why, why_size, "%ld datasets, expected %lld", v.datasets, expected);
            }
        }
    }
    H5E_END_TRY;
    free(format);
    H5Fclose(file);
    return st;
}
