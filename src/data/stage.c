/* stage.c - node-local staging of a dataset (--stage-dir): one copy per
 * node on local disk, verified by size and CRC-32 against a sidecar file,
 * reused by later runs while valid, replaced when damaged or stale. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dltrain/data.h"
#include "dltrain/error.h"

#define BUF_BYTES (4u << 20)

void dlt_stage_path(const char *src, const char *dir, char *out, size_t size)
{
    const char *base = strrchr(src, '/');
    snprintf(out, size, "%s/%s", dir, base ? base + 1 : src);
}

/* CRC-32 and size of PATH; -1 if it cannot be read. */
static int file_crc(const char *path, unsigned long *crc, long long *bytes)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    unsigned char *buf = dlt_malloc(BUF_BYTES);
    uLong c = crc32(0L, Z_NULL, 0);
    long long total = 0;
    ssize_t k;
    while ((k = read(fd, buf, BUF_BYTES)) > 0) {
        c = crc32(c, buf, (uInt)k);
        total += k;
    }
    free(buf);
    close(fd);
    if (k < 0)
        return -1;
    *crc = c, *bytes = total;
    return 0;
}

/* The sidecar DST.crc32: "SIZE CRC32 SOURCE_MTIME". */
static int read_sidecar(const char *dst, long long *size, unsigned long *crc, long long *mtime)
{
    char p[4200];
    snprintf(p, sizeof p, "%s.crc32", dst);
    FILE *f = fopen(p, "r");
    if (!f)
        return -1;
    int n = fscanf(f, "%lld %lx %lld", size, crc, mtime);
    fclose(f);
    return n == 3 ? 0 : -1;
}

static int copy_file(const char *src, const char *dst, long long *bytes, unsigned long *crc)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dst, (long)getpid());
    int in = open(src, O_RDONLY);
    if (in < 0)
        DLT_FAIL(DLT_ERR_IO, "%s: cannot open for staging: %s", src, strerror(errno));
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) {
        close(in);
        DLT_FAIL(DLT_ERR_IO, "%s: cannot create staged copy: %s", tmp, strerror(errno));
    }
    unsigned char *buf = dlt_malloc(BUF_BYTES);
    uLong c = crc32(0L, Z_NULL, 0);
    long long total = 0;
    ssize_t k;
    int st = DLT_OK;
    while ((k = read(in, buf, BUF_BYTES)) > 0) {
        c = crc32(c, buf, (uInt)k);
        for (ssize_t w = 0; w < k;) {
            ssize_t m = write(out, buf + w, (size_t)(k - w));
            if (m < 0) {
                dlt_error("%s: write failed while staging: %s", tmp, strerror(errno));
                st = DLT_ERR_IO;
                break;
            }
            w += m;
        }
        if (st < 0)
            break;
        total += k;
    }
    if (k < 0 && st >= 0) {
        dlt_error("%s: read failed while staging: %s", src, strerror(errno));
        st = DLT_ERR_IO;
    }
    free(buf);
    close(in);
    if (st >= 0 && (fsync(out) != 0 || close(out) != 0)) {
        dlt_error("%s: cannot flush staged copy: %s", tmp, strerror(errno));
        st = DLT_ERR_IO;
    } else if (st < 0) {
        close(out);
    }
    if (st >= 0 && rename(tmp, dst) != 0) {
        dlt_error("%s: cannot rename staged copy into place: %s", dst, strerror(errno));
        st = DLT_ERR_IO;
    }
    if (st < 0)
        unlink(tmp);
    *bytes = total, *crc = c;
    return st;
}

int dlt_stage_dataset(const char *src, const char *dir, char *out, size_t size)
{
    struct stat ss;
    if (stat(src, &ss) != 0)
        DLT_FAIL(DLT_ERR_IO, "%s: cannot stage: %s", src, strerror(errno));
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        DLT_FAIL(DLT_ERR_IO, "%s: cannot create the staging folder: %s", dir, strerror(errno));
    dlt_stage_path(src, dir, out, size);
    long long ssize, smtime, bytes;
    unsigned long scrc, crc;
    struct stat ds;
    if (read_sidecar(out, &ssize, &scrc, &smtime) == 0 && stat(out, &ds) == 0) {
        if (ssize == (long long)ss.st_size && smtime == (long long)ss.st_mtime &&
            ds.st_size == ss.st_size && file_crc(out, &crc, &bytes) == 0 && crc == scrc) {
            dlt_info("staging: reusing %s (size and CRC-32 %08lx verified)", out, crc);
            return DLT_OK;
        }
        dlt_warn("staging: %s does not match %s (size, CRC-32 or source date): copying again",
                 out, src);
    }
    DLT_TRY(copy_file(src, out, &bytes, &crc));
    /* Read back what landed on disk: a bad local disk shows here, not mid-run. */
    unsigned long back;
    long long back_n;
    if (file_crc(out, &back, &back_n) != 0 || back != crc || back_n != bytes) {
        unlink(out);
        DLT_FAIL(DLT_ERR_IO, "%s: staged copy does not read back as written (CRC-32 %08lx, "
                 "expected %08lx)", out, back, crc);
    }
    char side[4200], tmp[4300];
    snprintf(side, sizeof side, "%s.crc32", out);
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", side, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%lld %08lx %lld\n", bytes, crc, (long long)ss.st_mtime) < 0 ||
        fclose(f) != 0 || rename(tmp, side) != 0)
        DLT_FAIL(DLT_ERR_IO, "%s: cannot write the checksum file: %s", side, strerror(errno));
    dlt_info("staging: copied %s to %s (%.1f MB, CRC-32 %08lx)", src, out, bytes / 1e6, crc);
    return DLT_OK;
}
