/* dataset_crc.c - writing-side CRC rules and reading-side checks of a
 * dataset's checksums (dataset_crc.h). A JPEG record enters its block's
 * CRC as its length (uint32 little-endian) then its bytes, so that moved
 * record boundaries are caught too. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/crc32c.h"
#include "data/dataset_crc.h"
#include "dltrain/error.h"

uint32_t dlt__dataset_crc_jpeg(uint32_t crc, const uint8_t *rec, size_t n)
{
    uint8_t len[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    crc = dlt__crc32c(crc, len, 4);
    return n ? dlt__crc32c(crc, rec, n) : crc;
}

uint32_t dlt__dataset_crc_labels(uint32_t crc, const int32_t *labels, size_t n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return dlt__crc32c(crc, labels, n * sizeof *labels);
#else
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)labels[i];
        uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
        crc = dlt__crc32c(crc, b, 4);
    }
    return crc;
#endif
}

int dlt__h5_file_fd(hid_t f)
{
    void *handle = NULL;
    hid_t fapl = H5Fget_access_plist(f);
    int sec2 = fapl >= 0 && H5Pget_driver(fapl) == H5FD_SEC2;
    if (fapl >= 0)
        H5Pclose(fapl);
    if (!sec2 || H5Fget_vfd_handle(f, H5P_DEFAULT, &handle) < 0 || !handle)
        return -1;
    return *(int *)handle;
}

/* FD's file (the inode being read: a file renamed over PATH since is not
 * a change to it), or PATH when FD < 0. */
static void stat_file(int fd, const char *path, long long *size, long long *mtime_ns)
{
    struct stat sb;
    *size = -1, *mtime_ns = 0;
    if ((fd >= 0 && fstat(fd, &sb) == 0) || stat(path, &sb) == 0) {
        *size = (long long)sb.st_size;
        *mtime_ns = (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
    }
}

int dlt__dataset_checks_read(hid_t f, const char *path, size_t n, dlt__dataset_checks *ck)
{
    memset(ck, 0, sizeof *ck);
    stat_file(dlt__h5_file_fd(f), path, &ck->size, &ck->mtime_ns);
    int has = dlt__h5_attr_exists(f, "crc32c_block", path);
    DLT_TRY(has);
    if (!has) {
        dlt_note_once(path, "%s has no checksums (Caffe's HDF5 layout, or written by a "
                      "dltrain-prep before they were added): its samples are read unverified; "
                      "HINT: rebuild it with dltrain-prep to have damage detected", path);
        return DLT_OK;
    }
    long long block, lcrc;
    DLT_TRY(dlt__h5_read_attr_int(f, "crc32c_block", &block, path));
    if (block <= 0)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: crc32c_block attribute is %lld; expected > 0", path, block);
    has = dlt__h5_attr_exists(f, "label_crc32c", path);
    DLT_TRY(has);
    if (has) {
        DLT_TRY(dlt__h5_read_attr_int(f, "label_crc32c", &lcrc, path));
        ck->has_label_crc = 1;
        ck->label_crc = (uint32_t)lcrc;
    }
    size_t want = (n + (size_t)block - 1) / (size_t)block;
    int st = DLT_OK;
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hsize_t dims[1];
    DLT_H5_GOTO(dset = H5Dopen2(f, "crc32c", H5P_DEFAULT), path, st, out);
    DLT_H5_GOTO(space = H5Dget_space(dset), path, st, out);
    if (H5Sget_simple_extent_ndims(space) != 1 ||
        H5Sget_simple_extent_dims(space, dims, NULL) < 0 || (size_t)dims[0] != want) {
        dlt_error("%s: /crc32c must hold %zu checksums (%zu samples in blocks of %lld); HINT: "
                  "a file cut or assembled by another tool after dltrain-prep must drop /crc32c "
                  "and the crc32c_block and label_crc32c attributes, or be rebuilt", path, want,
                  n, block);
        st = DLT_ERR_FORMAT;
        goto out;
    }
    ck->crc = dlt_malloc((want ? want : 1) * sizeof *ck->crc);
    if (want > 0)
        DLT_H5_GOTO(H5Dread(dset, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, ck->crc),
                    path, st, out);
    ck->nblocks = want;
    ck->block = (size_t)block;
out:
    if (space >= 0) H5Sclose(space);
    if (dset >= 0) H5Dclose(dset);
    return st;
}

void dlt__dataset_checks_free(dlt__dataset_checks *ck)
{
    free(ck->crc);
    memset(ck, 0, sizeof *ck);
}

int dlt__dataset_checks_labels(const dlt__dataset_checks *ck, const char *path,
                               const int32_t *labels, size_t n)
{
    if (!ck->has_label_crc)
        return DLT_OK;
    uint32_t have = dlt__dataset_crc_labels(0, labels, n);
    if (have != ck->label_crc)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: /label fails its checksum (crc32c %08x, stored %08x): "
                 "the file is damaged; HINT: rebuild it with dltrain-prep or copy it again",
                 path, (unsigned)have, (unsigned)ck->label_crc);
    return DLT_OK;
}

void dlt__dataset_checks_widen(const dlt__dataset_checks *ck, size_t n, size_t *first,
                               size_t *count)
{
    if (!ck->block || *count == 0)
        return;
    size_t a = *first / ck->block * ck->block;
    size_t b = (*first + *count + ck->block - 1) / ck->block * ck->block;
    if (b > n)
        b = n;
    *first = a, *count = b - a;
}

/* The chunk holding sample I: the CRC block, else the HDF5 chunk. */
static size_t chunk_of(const dlt_dataset *ds, size_t i, size_t *lo, size_t *hi)
{
    const dlt__dataset_checks *ck = dlt__dataset_get_checks(ds);
    size_t per = ck->block ? ck->block : dlt__dataset_get_layout(ds)->chunk;
    size_t n = dlt_dataset_size(ds);
    if (!per)
        per = n ? n : 1;
    *lo = i / per * per;
    *hi = *lo + per < n ? *lo + per : n;
    return i / per;
}

/* ", and it changed since it was opened (...)" or "". */
static void changed_note(const dlt_dataset *ds, int fd, char *buf, size_t size)
{
    const dlt__dataset_checks *ck = dlt__dataset_get_checks(ds);
    long long now_size, now_mtime;
    buf[0] = '\0';
    stat_file(fd, dlt_dataset_path(ds), &now_size, &now_mtime);
    if (now_size < 0)
        snprintf(buf, size, "; it is gone since this job opened it (%s)", strerror(errno));
    else if (now_size != ck->size)
        snprintf(buf, size, "; it %s since this job opened it (%lld bytes then, %lld now)",
                 now_size < ck->size ? "shrank" : "grew", ck->size, now_size);
    else if (now_mtime != ck->mtime_ns)
        snprintf(buf, size, "; it was modified since this job opened it");
}

int dlt__dataset_checks_unchanged(const dlt_dataset *ds, int fd, size_t first)
{
    const dlt__dataset_checks *ck = dlt__dataset_get_checks(ds);
    long long now_size, now_mtime;
    stat_file(fd, dlt_dataset_path(ds), &now_size, &now_mtime);
    if (now_size == ck->size && now_mtime == ck->mtime_ns)
        return DLT_OK;
    char why[160];
    size_t lo, hi;
    size_t k = chunk_of(ds, first, &lo, &hi);
    changed_note(ds, fd, why, sizeof why);
    DLT_FAIL(DLT_ERR_IO, "%s: changed under this job, stopping before chunk %zu (samples "
             "%zu-%zu)%s; HINT: a dataset must not be rewritten while a job reads it: "
             "write a new file and point the next job at it", dlt_dataset_path(ds), k, lo,
             hi - 1, why);
}

/* CPU seconds spent verifying, all threads (bench_loader's figure). */
static _Atomic long long verify_ns;

double dlt__dataset_checks_cpu_seconds(void) { return 1e-9 * (double)verify_ns; }

static long long thread_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int verify(const dlt_dataset *ds, int fd, const dlt__records *rec);

int dlt__dataset_checks_verify(const dlt_dataset *ds, int fd, const dlt__records *rec)
{
    if (!dlt__dataset_get_checks(ds)->block)
        return DLT_OK;
    long long t0 = thread_ns();
    int st = verify(ds, fd, rec);
    verify_ns += thread_ns() - t0;
    return st;
}

static int verify(const dlt_dataset *ds, int fd, const dlt__records *rec)
{
    const dlt__dataset_checks *ck = dlt__dataset_get_checks(ds);
    const dlt__dataset_layout *lay = dlt__dataset_get_layout(ds);
    if (!ck->block)
        return DLT_OK;
    size_t end = rec->first + rec->count;
    for (size_t lo = rec->first; lo < end; lo += ck->block) {
        size_t hi = lo + ck->block < end ? lo + ck->block : end, k = lo / ck->block;
        if (lo % ck->block || (hi % ck->block && hi != dlt_dataset_size(ds)))
            DLT_FAIL(DLT_ERR_INTERNAL, "%s: samples %zu-%zu are not whole checksum blocks",
                     dlt_dataset_path(ds), lo, hi - 1);
        uint32_t have = 0;
        size_t a = lo - rec->first, b = hi - rec->first;
        if (lay->kind == DLT__KIND_JPEG) {
            for (size_t i = a; i < b; i++)
                have = dlt__dataset_crc_jpeg(have, rec->bytes + rec->off[i],
                                             rec->off[i + 1] - rec->off[i]);
        } else {
            have = dlt__crc32c(0, rec->bytes + a * lay->sample_bytes,
                              (b - a) * lay->sample_bytes);
        }
        if (have != ck->crc[k]) {
            char why[160];
            changed_note(ds, fd, why, sizeof why);
            DLT_FAIL(DLT_ERR_FORMAT, "%s: chunk %zu (samples %zu-%zu) fails its checksum "
                     "(crc32c %08x, stored %08x): the file is damaged or was changed while "
                     "this job reads it%s; HINT: rebuild it with dltrain-prep or copy it "
                     "again", dlt_dataset_path(ds), k, lo, hi - 1, (unsigned)have,
                     (unsigned)ck->crc[k], why);
        }
    }
    return DLT_OK;
}
