/* mean_file.c - reads the mean image for transform_param mean_file: Caffe's
 * .binaryproto (a serialized BlobProto) or an HDF5 file's /mean. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/h5util.h"
#include "dltrain/data.h"
#include "core/readfile.h"
#include "dltrain/error.h"

/* Protobuf varint at *p (< end); -1 on truncation. */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* BlobProto: num=1 channels=2 height=3 width=4 (varints), data=5 (packed
 * or repeated float), shape=7 (BlobShape { repeated int64 dim = 1 }). */
static int parse_blobproto(const char *path, const uint8_t *b, size_t n, int c, int h, int w,
                           float *out)
{
    const uint8_t *p = b, *end = b + n;
    long dims[4] = {1, 0, 0, 0}, sdims[8];
    int nsd = 0;
    size_t got = 0, want = (size_t)c * h * w;
    while (p < end) {
        uint64_t key, v;
        if (varint(&p, end, &key) < 0)
            goto trunc;
        int field = (int)(key >> 3), wt = (int)(key & 7);
        if (wt == 0) {
            if (varint(&p, end, &v) < 0)
                goto trunc;
            if (field >= 1 && field <= 4)
                dims[field - 1] = (long)v;
        } else if (wt == 2) {
            if (varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
                goto trunc;
            const uint8_t *q = p, *qe = p + v;
            if (field == 5) {
                for (; q + 4 <= qe && got < want; q += 4, got++)
                    memcpy(&out[got], q, 4);
            } else if (field == 7) {
                while (q < qe && nsd < 8) {
                    uint64_t k2, d;
                    if (varint(&q, qe, &k2) < 0 || varint(&q, qe, &d) < 0)
                        goto trunc;
                    if (k2 == 8) { /* dim, one varint */
                        sdims[nsd++] = (long)d;
                    } else if (k2 == 10) { /* dims packed: D bytes of varints */
                        const uint8_t *pe = q + d;
                        if (d > (uint64_t)(qe - q))
                            goto trunc;
                        while (q < pe && nsd < 8) {
                            uint64_t x;
                            if (varint(&q, pe, &x) < 0)
                                goto trunc;
                            sdims[nsd++] = (long)x;
                        }
                        q = pe;
                    }
                }
            }
            p = qe;
        } else if (wt == 5) {
            if (end - p < 4)
                goto trunc;
            if (field == 5 && got < want)
                memcpy(&out[got++], p, 4);
            p += 4;
        } else if (wt == 1) {
            p += 8;
        } else {
            DLT_FAIL(DLT_ERR_FORMAT, "%s: not a Caffe BlobProto (wire type %d)", path, wt);
        }
    }
    if (nsd >= 3) { /* shape { dim: 1 dim: C dim: H dim: W } */
        dims[1] = sdims[nsd - 3], dims[2] = sdims[nsd - 2], dims[3] = sdims[nsd - 1];
    }
    if (dims[1] != c || dims[2] != h || dims[3] != w || got != want)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: mean blob is %ld x %ld x %ld with %zu values; the dataset "
                 "needs %d x %d x %d", path, dims[1], dims[2], dims[3], got, c, h, w);
    return DLT_OK;
trunc:
    DLT_FAIL(DLT_ERR_FORMAT, "%s: truncated Caffe BlobProto", path);
}

static int read_h5_mean(const char *path, int c, int h, int w, float *out)
{
    hid_t f, d = H5I_INVALID_HID, sp = H5I_INVALID_HID;
    int st = DLT_OK;
    hsize_t dims[4] = {0, 0, 0, 0};
    DLT_TRY(dlt__h5_open_read(path, &f));
    htri_t ex = H5Lexists(f, "mean", H5P_DEFAULT);
    if (ex <= 0) {
        dlt_error("%s: no /mean dataset (dltrain-prep writes one)", path);
        st = DLT_ERR_FORMAT;
        goto out;
    }
    DLT_H5_GOTO(d = H5Dopen2(f, "mean", H5P_DEFAULT), path, st, out);
    DLT_H5_GOTO(sp = H5Dget_space(d), path, st, out);
    if (H5Sget_simple_extent_ndims(sp) != 3 || H5Sget_simple_extent_dims(sp, dims, NULL) < 0 ||
        dims[0] != (hsize_t)c || dims[1] != (hsize_t)h || dims[2] != (hsize_t)w) {
        dlt_error("%s: /mean is not %d x %d x %d (the training images' shape)", path, c, h, w);
        st = DLT_ERR_FORMAT;
        goto out;
    }
    DLT_H5_GOTO(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), path, st, out);
out:
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    return st;
}

int dlt_mean_file_read(const char *path, int c, int h, int w, float **out)
{
    *out = NULL;
    DLT_TRY(dlt__regular_file(path, "mean_file"));
    FILE *fp = fopen(path, "rb");
    if (!fp)
        DLT_FAIL(DLT_ERR_IO, "%s: cannot open mean_file: %s", path, strerror(errno));
    uint8_t sig[8] = {0};
    size_t ns = fread(sig, 1, 8, fp);
    float *m = dlt_malloc((size_t)c * h * w * sizeof *m);
    int st;
    if (ns == 8 && memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0) {
        fclose(fp);
        st = read_h5_mean(path, c, h, w, m);
    } else {
        fseek(fp, 0, SEEK_END);
        long len = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        uint8_t *buf = dlt_malloc(len > 0 ? (size_t)len : 1);
        size_t got = fread(buf, 1, (size_t)(len > 0 ? len : 0), fp);
        fclose(fp);
        st = parse_blobproto(path, buf, got, c, h, w, m);
        free(buf);
    }
    if (st < 0) {
        free(m);
        return st;
    }
    *out = m;
    return DLT_OK;
}
