/* weights_caffe_pb.c - Caffe's binary .caffemodel (a NetParameter in
 * protobuf) read through the code protoc-c generates from proto/caffe.proto:
 * the new `layer` form and the old V1 `layers` form of model-zoo files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "models/models_internal.h"
#include "proto/caffe.pb-c.h"

int dlt__read_whole_file(const char *path, unsigned char **buf, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 1 << 20, len = 0;
    unsigned char *b = dlt_malloc(cap);
    size_t k;
    while ((k = fread(b + len, 1, cap - len, f)) > 0) {
        len += k;
        if (len == cap)
            b = dlt_realloc(b, cap *= 2);
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(b);
        DLT_FAIL(DLT_ERR_IO, "cannot read '%s'", path);
    }
    *buf = b;
    *n = len;
    return 0;
}

static int has_named_layer(const Caffe__NetParameter *np)
{
    for (size_t i = 0; i < np->n_layer; i++)
        if (np->layer[i]->name && np->layer[i]->name[0])
            return 1;
    for (size_t i = 0; i < np->n_layers; i++)
        if (np->layers[i]->name && np->layers[i]->name[0])
            return 1;
    return 0;
}

int dlt__caffemodel_probe(const void *buf, size_t n)
{
    Caffe__NetParameter *np = caffe__net_parameter__unpack(NULL, n, buf);
    if (!np)
        return 0;
    int ok = has_named_layer(np);
    caffe__net_parameter__free_unpacked(np, NULL);
    return ok;
}

/* One BlobProto: its shape (BlobShape, else the legacy 4-D fields) and its
 * float (or double) values, whose count must agree with the shape. */
static int read_blob(const Caffe__BlobProto *bp, dlt_weight_blob *b, const char *path,
                     const char *layer, int index)
{
    if (bp->shape) {
        if (bp->shape->n_dim > 8)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: layer '%s' blob %d has %zu dimensions (at most 8 are read)",
                     path, layer, index, bp->shape->n_dim);
        b->ndim = (int)bp->shape->n_dim;
        for (int d = 0; d < b->ndim; d++)
            b->dims[d] = (long)bp->shape->dim[d];
    } else {
        b->legacy = 1;
        b->ndim = 4;
        b->dims[0] = bp->num, b->dims[1] = bp->channels, b->dims[2] = bp->height, b->dims[3] = bp->width;
    }
    size_t count = 1;
    for (int d = 0; d < b->ndim; d++)
        count *= (size_t)(b->dims[d] < 0 ? 0 : b->dims[d]);
    size_t have = bp->n_data ? bp->n_data : bp->n_double_data;
    if (have != count)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: layer '%s' blob %d has %zu values; its shape says %zu", path,
                 layer, index, have, count);
    b->count = count;
    b->data = dlt_malloc((count ? count : 1) * sizeof(float));
    for (size_t i = 0; i < count; i++)
        b->data[i] = bp->n_data ? bp->data[i] : (float)bp->double_data[i];
    return 0;
}

static int add_layer(dlt_weight_set *out, const char *name, Caffe__BlobProto **blobs, size_t n,
                     const char *path)
{
    if (n == 0)
        return 0;
    dlt_weight_layer *wl = dlt__weight_set_add(out, name ? name : "", (int)n);
    for (size_t i = 0; i < n; i++)
        DLT_TRY(read_blob(blobs[i], &wl->blobs[i], path, wl->name, (int)i));
    return 0;
}

int dlt__caffemodel_read(const char *path, dlt_weight_set *out)
{
    unsigned char *buf;
    size_t n;
    DLT_TRY(dlt__read_whole_file(path, &buf, &n));
    Caffe__NetParameter *np = caffe__net_parameter__unpack(NULL, n, buf);
    free(buf);
    if (!np)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: not a binary Caffe NetParameter (the protobuf does not parse)", path);
    int st = 0;
    for (size_t i = 0; i < np->n_layer && st == 0; i++)
        st = add_layer(out, np->layer[i]->name, np->layer[i]->blobs, np->layer[i]->n_blobs, path);
    /* Caffe upgrades V1 files on load; only names and blobs matter here. */
    for (size_t i = 0; i < np->n_layers && st == 0; i++)
        st = add_layer(out, np->layers[i]->name, np->layers[i]->blobs, np->layers[i]->n_blobs, path);
    caffe__net_parameter__free_unpacked(np, NULL);
    return st;
}
