/* idx.c - reads IDX files (LeCun's MNIST format, also Fashion-MNIST),
 * plain or gzip-compressed: zlib's gzread passes plain files through. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dltrain/data.h"
#include "core/readfile.h"
#include "dltrain/error.h"

/* gzread takes an unsigned int length: read big buffers in pieces.
 * Returns the bytes read (short at end of file) or -1. */
static long long read_full(gzFile gz, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t want = len - done;
        if (want > (1u << 30))
            want = 1u << 30;
        int got = gzread(gz, (char *)buf + done, (unsigned)want);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (long long)done;
}

static const char *gz_strerror(gzFile gz)
{
    int zerr;
    const char *msg = gzerror(gz, &zerr);
    return zerr == Z_ERRNO ? strerror(errno) : msg;
}

static const char *idx_type_name(int type)
{
    switch (type) {
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    default: return "unknown";
    }
}

/* Header: 0x00 0x00 TYPE NDIM, then NDIM big-endian uint32 sizes. */
static int read_header(gzFile gz, const char *path, dlt_idx *out)
{
    uint8_t h[4], d[16];
    long long got = read_full(gz, h, 4);
    if (got < 0)
        DLT_FAIL(DLT_ERR_IO, "%s: read error: %s", path, gz_strerror(gz));
    if (got < 4)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: not an IDX file (only %lld bytes; the header alone has 4)",
                 path, got);
    uint32_t magic = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (h[0] != 0 || h[1] != 0 || h[3] < 1 || h[3] > 4 ||
        (h[2] != 0x08 && strcmp(idx_type_name(h[2]), "unknown") == 0))
        DLT_FAIL(DLT_ERR_FORMAT,
                 "%s: not an IDX file (magic 0x%08x; expected 0x0000080N, N = 1..4 dimensions)",
                 path, magic);
    if (h[2] != 0x08)
        DLT_FAIL(DLT_ERR_FORMAT,
                 "%s: IDX element type 0x%02x (%s) is not supported; only 0x08 (unsigned byte)",
                 path, h[2], idx_type_name(h[2]));
    out->ndim = h[3];
    got = read_full(gz, d, 4 * (size_t)out->ndim);
    if (got < 0)
        DLT_FAIL(DLT_ERR_IO, "%s: read error: %s", path, gz_strerror(gz));
    if (got < 4 * out->ndim)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: truncated: header ends inside the %d dimension sizes",
                 path, out->ndim);
    size_t count = 1;
    for (int i = 0; i < out->ndim; i++) {
        const uint8_t *p = d + 4 * i;
        uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (n > INT32_MAX || (n && count > SIZE_MAX / n))
            DLT_FAIL(DLT_ERR_FORMAT, "%s: dimension %d has an implausible size %u", path, i, n);
        out->dims[i] = (int)n;
        count *= n;
    }
    out->count = count;
    return DLT_OK;
}

/* First piece of the data read before the buffer grows (64 MiB: MNIST's
 * training images, 47 MB, in one). */
#define IDX_FIRST_READ ((size_t)64 << 20)

int dlt_idx_read(const char *path, dlt_idx *out)
{
    memset(out, 0, sizeof *out);
    errno = 0;
    DLT_TRY(dlt__regular_file(path, "IDX file"));
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        DLT_FAIL(DLT_ERR_IO, "%s: cannot open: %s", path,
                 errno ? strerror(errno) : "out of memory");
    gzbuffer(gz, 1 << 18);
    int st = read_header(gz, path, out);
    if (st < 0)
        goto fail;
    /* The header's sizes are not trusted with memory: a damaged one can
     * claim terabytes. The buffer grows with what is actually read. */
    size_t cap = out->count < IDX_FIRST_READ ? out->count : IDX_FIRST_READ;
    out->data = dlt_malloc(cap + 1);
    long long got = 0;
    for (;;) {
        long long k = read_full(gz, out->data + got, cap - (size_t)got);
        if (k < 0) {
            got = -1;
            break;
        }
        got += k;
        if ((size_t)got < cap || cap == out->count)
            break;
        cap = out->count - cap < cap ? out->count : 2 * cap;
        out->data = dlt_realloc(out->data, cap + 1);
    }
    if (got < 0) {
        dlt_error("%s: read error: %s", path, gz_strerror(gz));
        st = DLT_ERR_IO;
        goto fail;
    }
    if ((size_t)got != out->count) {
        dlt_error("%s: truncated: expected %zu bytes of data, got %lld", path, out->count, got);
        st = DLT_ERR_FORMAT;
        goto fail;
    }
    uint8_t extra[1];
    got = read_full(gz, extra, 1);
    if (got != 0) {
        if (got < 0)
            dlt_error("%s: read error after the data: %s", path, gz_strerror(gz));
        else
            dlt_error("%s: trailing data after the %zu bytes the header's dimensions "
                      "call for", path, out->count);
        st = got < 0 ? DLT_ERR_IO : DLT_ERR_FORMAT;
        goto fail;
    }
    gzclose(gz);
    return DLT_OK;
fail:
    gzclose(gz);
    dlt_idx_free(out);
    return st;
}

void dlt_idx_free(dlt_idx *idx)
{
    if (!idx)
        return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}
