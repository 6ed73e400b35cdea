/* h5gen.c - fuzz input -> HDF5 file (encoding in h5gen.h). */
#include "h5gen.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
    const uint8_t *p, *end;
} reader;

static uint8_t u8(reader *r) { return r->p < r->end ? *r->p++ : 0; }

static uint32_t u32(reader *r)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)u8(r) << (8 * i);
    return v;
}

static void take(reader *r, void *dst, size_t n)
{
    size_t have = (size_t)(r->end - r->p) < n ? (size_t)(r->end - r->p) : n;
    memcpy(dst, r->p, have);
    memset((uint8_t *)dst + have, 0, n - have);
    r->p += have;
}

static void name(reader *r, char *out)
{
    int n = u8(r) % 64;
    take(r, out, (size_t)n);
    out[n] = '\0';
}

static hsize_t dim(reader *r)
{
    uint8_t b = u8(r);
    return b < 255 ? b : u32(r);
}

enum { T_VLEN_U8 = 9, T_VLEN_STR = 10, T_STR16 = 11, NTYPES = 14 };

static hid_t make_type(int t)
{
    hid_t s;
    switch (t) {
    case 0: return H5Tcopy(H5T_NATIVE_UINT8);
    case 1: return H5Tcopy(H5T_NATIVE_INT8);
    case 2: return H5Tcopy(H5T_NATIVE_INT16);
    case 3: return H5Tcopy(H5T_NATIVE_INT32);
    case 4: return H5Tcopy(H5T_NATIVE_UINT32);
    case 5: return H5Tcopy(H5T_NATIVE_INT64);
    case 6: return H5Tcopy(H5T_NATIVE_UINT64);
    case 7: return H5Tcopy(H5T_NATIVE_FLOAT);
    case 8: return H5Tcopy(H5T_NATIVE_DOUBLE);
    case T_VLEN_U8: return H5Tvlen_create(H5T_NATIVE_UINT8);
    case T_VLEN_STR:
        s = H5Tcopy(H5T_C_S1);
        H5Tset_size(s, H5T_VARIABLE);
        return s;
    case T_STR16:
        s = H5Tcopy(H5T_C_S1);
        H5Tset_size(s, 16);
        return s;
    case 12: return H5Tcopy(H5T_IEEE_F32BE);
    default: return H5Tcopy(H5T_STD_I32BE);
    }
}

/* A vlen element's length: a byte < 255, or 255 and a uint16. */
static size_t vlen_length(reader *r)
{
    uint8_t b = u8(r);
    return b < 255 ? b : (size_t)u8(r) | (size_t)u8(r) << 8;
}

/* N elements of type T from the input into a buffer H5Dwrite/H5Awrite
 * take; a vlen element (hvl_t, or char * for strings) points into its own
 * allocation, listed in *PIECES (N of them) for free_pieces. */
static void *elements(reader *r, int t, hid_t type, size_t n, void ***pieces)
{
    *pieces = NULL;
    if (t == T_VLEN_U8 || t == T_VLEN_STR) {
        size_t each = t == T_VLEN_U8 ? sizeof(hvl_t) : sizeof(char *);
        uint8_t *buf = calloc(n ? n : 1, each);
        *pieces = calloc(n ? n : 1, sizeof **pieces);
        for (size_t i = 0; i < n; i++) {
            size_t len = vlen_length(r);
            uint8_t *s = malloc(len + 1);
            take(r, s, len);
            s[len] = 0;
            (*pieces)[i] = s;
            if (t == T_VLEN_U8) {
                hvl_t v = {len, s};
                memcpy(buf + i * each, &v, sizeof v);
            } else {
                memcpy(buf + i * each, &s, sizeof s);
            }
        }
        return buf;
    }
    size_t es = H5Tget_size(type);
    uint8_t *buf = malloc(n * es + 1);
    take(r, buf, n * es);
    return buf;
}

static void free_pieces(void **pieces, size_t n)
{
    for (size_t i = 0; pieces && i < n; i++)
        free(pieces[i]);
    free(pieces);
}

static void dataset(reader *r, hid_t file, hid_t lcpl, hid_t *last)
{
    char nm[64];
    name(r, nm);
    int t = u8(r) % NTYPES, rank = 1 + u8(r) % 4;
    hsize_t dims[4], chunk[4];
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        dims[i] = dim(r);
        n = dims[i] && n > SIZE_MAX / dims[i] ? SIZE_MAX : n * (size_t)dims[i];
    }
    uint8_t cb = u8(r);
    hid_t type = make_type(t), space = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (cb) {
        for (int i = 0; i < rank; i++)
            chunk[i] = dims[i] == 0 ? 1 : dims[i] < cb ? dims[i] : cb;
        H5Pset_chunk(dcpl, rank, chunk);
    }
    hid_t d = H5Dcreate2(file, nm, type, space, lcpl, dcpl, H5P_DEFAULT);
    if (d >= 0 && n <= H5GEN_MAX_ELEMENTS) {
        void **pieces, *buf = elements(r, t, type, n, &pieces);
        H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        free(buf);
        free_pieces(pieces, n);
    }
    if (*last >= 0)
        H5Dclose(*last);
    *last = d;
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Tclose(type);
}

static void attribute(reader *r, hid_t file, hid_t last)
{
    hid_t obj = u8(r) % 2 && last >= 0 ? last : file;
    char nm[64];
    name(r, nm);
    int t = u8(r) % NTYPES, rank = u8(r) % 2;
    hsize_t d = rank ? dim(r) : 1;
    if (d > 4096)
        return;
    hid_t type = make_type(t);
    hid_t space = rank ? H5Screate_simple(1, &d, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, nm, type, space, H5P_DEFAULT, H5P_DEFAULT);
    void **pieces, *buf = elements(r, t, type, (size_t)d, &pieces);
    if (a >= 0) {
        H5Awrite(a, type, buf);
        H5Aclose(a);
    }
    free(buf);
    free_pieces(pieces, (size_t)d);
    H5Sclose(space);
    H5Tclose(type);
}

int h5gen_write(const uint8_t *data, size_t size, const char *path)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* refusals are expected */
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0)
        return -1;
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), last = H5I_INVALID_HID;
    H5Pset_create_intermediate_group(lcpl, 1);
    reader r = {data, data + size};
    for (int records = 0; r.p < r.end && records < 256; records++) {
        uint8_t op = u8(&r);
        if (op == 0)
            dataset(&r, file, lcpl, &last);
        else if (op == 1)
            attribute(&r, file, last);
        else
            break;
    }
    if (last >= 0)
        H5Dclose(last);
    H5Pclose(lcpl);
    return H5Fclose(file) < 0 ? -1 : 0;
}
