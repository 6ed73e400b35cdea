/* dataset_range.c - reads a contiguous range of samples from a dataset's
 * file: one hyperslab of /data, or of /jpeg a block of records at a time
 * so that HDF5's per-record allocations stay bounded. Used to load a whole
 * set (dlt_dataset_load) and by the streaming loader, chunk by chunk. */
#include <stdlib.h>
#include <string.h>

#include "data/dataset_internal.h"
#include "core/h5util.h"
#include "data/dataset_crc.h"
#include "dltrain/error.h"

struct dlt__range_reader {
    const dlt_dataset *ds;
    const dlt__dataset_layout *lay;
    hid_t file, dset, fspace, vltype;
    int fd;   /* under file, for the unchanged-file check; -1: by path */
};

void dlt__records_free(dlt__records *rec)
{
    free(rec->bytes);
    free(rec->off);
    memset(rec, 0, sizeof *rec);
}

static void reserve(uint8_t **buf, size_t *cap, size_t need)
{
    if (need > *cap) {
        *cap = need > 2 * *cap ? need : 2 * *cap;
        *buf = dlt_realloc(*buf, *cap);
    }
}

void dlt__records_ref(const dlt_dataset *ds, const dlt__records *rec, size_t index,
                      dlt__sample_ref *ref)
{
    const dlt__dataset_layout *lay = dlt__dataset_get_layout(ds);
    size_t i = index - rec->first;
    memset(ref, 0, sizeof *ref);
    if (lay->kind == DLT__KIND_JPEG) {
        ref->jpeg = rec->bytes + rec->off[i];
        ref->jpeg_n = rec->off[i + 1] - rec->off[i];
    } else if (lay->kind == DLT__KIND_U8) {
        ref->u8 = rec->bytes + i * lay->sample_bytes;
    } else {
        ref->f32 = (const float *)(rec->bytes + i * lay->sample_bytes);
    }
    ref->label = dlt__dataset_label(ds, index);
}

int dlt__range_reader_open(const dlt_dataset *ds, dlt__range_reader **out)
{
    const char *p = dlt_dataset_path(ds);
    dlt__range_reader *rr = dlt_calloc(1, sizeof *rr);
    int st = DLT_OK;
    rr->ds = ds;
    rr->lay = dlt__dataset_get_layout(ds);
    rr->dset = rr->fspace = rr->vltype = H5I_INVALID_HID;
    rr->fd = -1;
    *out = NULL;
    if ((st = dlt__h5_open_read(p, &rr->file)) < 0) {
        free(rr);
        return st;
    }
    rr->fd = dlt__h5_file_fd(rr->file);
    int jpeg = rr->lay->kind == DLT__KIND_JPEG;
    /* No chunk cache: each whole chunk read goes straight into our buffer. */
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (dapl >= 0)
        H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0, H5D_CHUNK_CACHE_W0_DEFAULT);
    rr->dset = H5Dopen2(rr->file, jpeg ? "jpeg" : "data", dapl >= 0 ? dapl : H5P_DEFAULT);
    if (dapl >= 0)
        H5Pclose(dapl);
    DLT_H5_GOTO(rr->dset, p, st, fail);
    DLT_H5_GOTO(rr->fspace = H5Dget_space(rr->dset), p, st, fail);
    if (jpeg)
        DLT_H5_GOTO(rr->vltype = H5Tvlen_create(H5T_NATIVE_UCHAR), p, st, fail);
    *out = rr;
    return DLT_OK;
fail:
    dlt__range_reader_close(rr);
    return st;
}

void dlt__range_reader_close(dlt__range_reader *rr)
{
    if (!rr)
        return;
    if (rr->vltype >= 0) H5Tclose(rr->vltype);
    if (rr->fspace >= 0) H5Sclose(rr->fspace);
    if (rr->dset >= 0) H5Dclose(rr->dset);
    if (rr->file >= 0) H5Fclose(rr->file);
    free(rr);
}

/* Select samples [first, first+count) of the file's dataspace. */
static int select_range(dlt__range_reader *rr, size_t first, size_t count, hid_t *mspace)
{
    const char *p = dlt_dataset_path(rr->ds);
    int r = rr->lay->data_rank;
    hsize_t start[4] = {first, 0, 0, 0}, cnt[4];
    DLT_H5_TRY(H5Sget_simple_extent_dims(rr->fspace, cnt, NULL), p);
    cnt[0] = count;
    DLT_H5_TRY(H5Sselect_hyperslab(rr->fspace, H5S_SELECT_SET, start, NULL, cnt, NULL), p);
    DLT_H5_TRY(*mspace = H5Screate_simple(r, cnt, NULL), p);
    return DLT_OK;
}

static int read_jpeg_block(dlt__range_reader *rr, size_t first, size_t count, size_t at,
                           hvl_t *vl, dlt__records *rec)
{
    const char *p = dlt_dataset_path(rr->ds);
    hid_t mspace;
    int st = DLT_OK;
    DLT_TRY(select_range(rr, first, count, &mspace));
    DLT_H5_GOTO(H5Dread(rr->dset, rr->vltype, mspace, rr->fspace, H5P_DEFAULT, vl), p, st, out);
    for (size_t i = 0; i < count; i++) {
        size_t o = rec->off[at + i];
        /* At least 1 byte: an empty record still gets a non-NULL pointer
         * (a JPEG of 0 bytes, which the loader skips as a bad record). */
        reserve(&rec->bytes, &rec->cap, o + vl[i].len + 1);
        if (vl[i].len) /* HDF5 gives an empty record a NULL p */
            memcpy(rec->bytes + o, vl[i].p, vl[i].len);
        rec->off[at + i + 1] = o + vl[i].len;
    }
    H5Dvlen_reclaim(rr->vltype, mspace, H5P_DEFAULT, vl);
out:
    H5Sclose(mspace);
    return st;
}

int dlt__range_read(dlt__range_reader *rr, size_t first, size_t count, dlt__records *rec)
{
    const char *p = dlt_dataset_path(rr->ds);
    int st = DLT_OK;
    dlt__dataset_checks_widen(dlt__dataset_get_checks(rr->ds), dlt_dataset_size(rr->ds),
                              &first, &count);
    rec->first = first;
    rec->count = 0;
    if (count == 0)
        return DLT_OK;
    DLT_TRY(dlt__dataset_checks_unchanged(rr->ds, rr->fd, first));
    if (rr->lay->kind == DLT__KIND_JPEG) {
        enum { BLOCK = 4096 };
        hvl_t *vl = dlt_malloc((count < BLOCK ? count : BLOCK) * sizeof *vl);
        if (count + 1 > rec->off_cap) {
            rec->off_cap = count + 1;
            rec->off = dlt_realloc(rec->off, rec->off_cap * sizeof *rec->off);
        }
        rec->off[0] = 0;
        for (size_t s = 0; s < count && st >= 0; s += BLOCK)
            st = read_jpeg_block(rr, first + s, count - s < BLOCK ? count - s : BLOCK, s, vl, rec);
        free(vl);
    } else {
        hid_t mspace;
        DLT_TRY(select_range(rr, first, count, &mspace));
        reserve(&rec->bytes, &rec->cap, count * rr->lay->sample_bytes);
        hid_t mtype = rr->lay->kind == DLT__KIND_U8 ? H5T_NATIVE_UCHAR : H5T_NATIVE_FLOAT;
        if (H5Dread(rr->dset, mtype, mspace, rr->fspace, H5P_DEFAULT, rec->bytes) < 0)
            st = dlt__h5_error("H5Dread", p, __FILE__, __LINE__);
        H5Sclose(mspace);
    }
    if (st >= 0) {
        rec->count = count;
        st = dlt__dataset_checks_verify(rr->ds, rr->fd, rec);
        if (st < 0)
            rec->count = 0;
    }
    return st;
}
