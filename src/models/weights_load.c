/* weights_load.c - `--weights FILE[,FILE...]`: tell the kind of each file
 * from its content, read its blobs with the reader of that kind, and copy
 * them into the net by layer name as Caffe's CopyTrainedLayersFrom does. */
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/h5util.h"
#include "dltrain/ckpt.h"
#include "dltrain/data.h"
#include "dltrain/error.h"
#include "dltrain/weights.h"
#include "models/models_internal.h"

#define EXPECTED "a dltrain checkpoint, a Caffe HDF5 weights file (.caffemodel.h5) or a binary .caffemodel"

dlt_weight_layer *dlt__weight_set_add(dlt_weight_set *ws, const char *name, int nblobs)
{
    ws->layers = dlt_realloc(ws->layers, (size_t)(ws->nlayers + 1) * sizeof *ws->layers);
    dlt_weight_layer *l = &ws->layers[ws->nlayers++];
    l->name = dlt_strdup(name);
    l->nblobs = nblobs;
    l->blobs = dlt_calloc((size_t)nblobs, sizeof *l->blobs);
    return l;
}

void dlt_weight_set_free(dlt_weight_set *ws)
{
    for (int i = 0; i < ws->nlayers; i++) {
        for (int b = 0; b < ws->layers[i].nblobs; b++)
            free(ws->layers[i].blobs[b].data);
        free(ws->layers[i].blobs);
        free(ws->layers[i].name);
    }
    free(ws->layers);
    memset(ws, 0, sizeof *ws);
}

static void say(char *what, size_t size, const char *s)
{
    if (what && size)
        snprintf(what, size, "%s", s);
}

/* An HDF5 file: ours (checkpoint or dataset), Caffe's weights or dataset. */
static int detect_h5(const char *path, dlt_weights_kind *kind, char *what, size_t size)
{
    hid_t f;
    DLT_TRY(dlt__h5_open_read(path, &f));
    int st = 0;
    char *fmt = NULL;
    *kind = DLT_WEIGHTS_OTHER_H5;
    say(what, size, "an HDF5 file with no /data group of parameter blobs");
    if (dlt__h5_attr_exists(f, "dltrain_format", path) > 0) {
        st = dlt__h5_read_attr_str(f, "dltrain_format", &fmt, path);
        if (st == 0 && strcmp(fmt, DLT_CKPT_FORMAT) == 0) {
            *kind = DLT_WEIGHTS_DLTRAIN;
            say(what, size, "a dltrain checkpoint");
        } else if (st == 0 && strcmp(fmt, DLT_DATASET_FORMAT) == 0) {
            *kind = DLT_WEIGHTS_DATASET_H5;
            say(what, size, "a dltrain dataset (from dltrain-prep)");
        } else if (st == 0 && what) {
            snprintf(what, size, "an HDF5 file of dltrain_format '%s'", fmt);
        }
    } else if (H5Lexists(f, "data", H5P_DEFAULT) > 0) {
        H5O_type_t t = H5O_TYPE_UNKNOWN;
        hid_t o = H5Oopen(f, "data", H5P_DEFAULT);
        if (o >= 0) {
            H5I_type_t it = H5Iget_type(o);
            t = it == H5I_GROUP ? H5O_TYPE_GROUP : it == H5I_DATASET ? H5O_TYPE_DATASET : t;
            H5Oclose(o);
        }
        if (t == H5O_TYPE_GROUP) {
            *kind = DLT_WEIGHTS_CAFFE_H5;
            say(what, size, "a Caffe HDF5 weights file (.caffemodel.h5)");
        } else if (t == H5O_TYPE_DATASET) {
            *kind = DLT_WEIGHTS_DATASET_H5;
            say(what, size, "a dataset in Caffe's HDF5Data layout (/data, /label)");
        }
    }
    free(fmt);
    H5Eclear2(H5E_DEFAULT);
    H5Fclose(f);
    return st;
}

static int looks_like_text(const unsigned char *b, size_t n)
{
    size_t m = n < 4096 ? n : 4096;
    for (size_t i = 0; i < m; i++)
        if (b[i] < 0x20 && b[i] != '\n' && b[i] != '\r' && b[i] != '\t')
            return 0;
    return m > 0;
}

int dlt_weights_detect(const char *path, dlt_weights_kind *kind, char *what, size_t size)
{
    dlt__h5_init();
    *kind = DLT_WEIGHTS_UNKNOWN;
    FILE *f = fopen(path, "rb");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    fclose(f);
#if H5_VERSION_GE(1, 12, 0)
    htri_t h5 = H5Fis_accessible(path, H5P_DEFAULT);
#else
    htri_t h5 = H5Fis_hdf5(path);
#endif
    H5Eclear2(H5E_DEFAULT);
    if (h5 > 0)
        return detect_h5(path, kind, what, size);
    unsigned char *buf;
    size_t n;
    DLT_TRY(dlt__read_whole_file(path, &buf, &n));
    if (n >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
        say(what, size, "a JPEG image");
    else if (n >= 8 && memcmp(buf, "\x89PNG", 4) == 0)
        say(what, size, "a PNG image");
    else if (n > 0 && dlt__caffemodel_probe(buf, n)) {
        *kind = DLT_WEIGHTS_CAFFEMODEL;
        say(what, size, "a binary Caffe model (.caffemodel)");
    } else if (looks_like_text(buf, n))
        say(what, size, "a text file (a prototxt? weights are binary)");
    else
        say(what, size, n == 0 ? "an empty file" : "neither HDF5 nor a binary Caffe NetParameter");
    free(buf);
    return 0;
}

static int read_iter(const char *path, long *iter)
{
    hid_t f;
    long long v = -1;
    DLT_TRY(dlt__h5_open_read(path, &f));
    int st = dlt__h5_read_attr_int(f, "iter", &v, path);
    H5Fclose(f);
    *iter = (long)v;
    return st;
}

int dlt_weights_read(const char *path, dlt_weight_set *out)
{
    memset(out, 0, sizeof *out);
    out->iter = -1;
    char what[256];
    DLT_TRY(dlt_weights_detect(path, &out->kind, what, sizeof what));
    int st;
    switch (out->kind) {
    case DLT_WEIGHTS_DLTRAIN: {
        char why[512];
        if (dlt_ckpt_verify(path, why, sizeof why) != 0)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: this dltrain checkpoint cannot be used: %s", path, why);
        st = read_iter(path, &out->iter);
        if (st == 0)
            st = dlt__weights_h5_read(path, out);
        break;
    }
    case DLT_WEIGHTS_CAFFE_H5: st = dlt__weights_h5_read(path, out); break;
    case DLT_WEIGHTS_CAFFEMODEL: st = dlt__caffemodel_read(path, out); break;
    default:
        DLT_FAIL(DLT_ERR_FORMAT, "%s is %s; expected weights: " EXPECTED, path, what);
    }
    if (st < 0)
        dlt_weight_set_free(out);
    return st;
}

/* Drop leading and trailing 1s: Caffe's legacy 4-D (1,1,K,D) and the
 * natural (K,D), dltrain's (K,C) for a 1x1 kernel and Caffe's (K,C,1,1)
 * all compare equal, as Caffe's own ShapeEquals accepts legacy blobs. */
static int squeeze(const long *d, int n, const long **out)
{
    int a = 0, b = n;
    while (a < b && d[a] == 1)
        a++;
    while (b > a && d[b - 1] == 1)
        b--;
    *out = d + a;
    return b - a;
}

static const char *shape_str(const long *d, int n, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < n && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%ld", i ? "," : "", d[i]);
    if (k < size)
        snprintf(buf + k, size - k, ")");
    return buf;
}

int dlt_caffe_param_shape(const dlt_layer *l, int p, long dims[4])
{
    const dlt_tensor *t = &l->param[p];
    long d[4] = {t->n, t->c, t->h, t->w};
    if (p == 0 && strcmp(l->ops->type, "Convolution") == 0) { /* (K, C/group, kh, kw), even 1x1 */
        memcpy(dims, d, sizeof d);
        return 4;
    }
    if (p == 0 && strcmp(l->ops->type, "InnerProduct") == 0) { /* (K, D), or (D, K) transposed */
        dims[0] = d[0], dims[1] = d[1];
        return 2;
    }
    const long *s; /* biases, BatchNorm and Scale blobs: their one axis */
    int n = squeeze(d, 4, &s);
    if (n == 0) { /* a single value, e.g. BatchNorm's scale factor */
        dims[0] = 1;
        return 1;
    }
    memcpy(dims, s, (size_t)n * sizeof *dims);
    return n;
}

static int find_layer(dlt_net *net, const char *name)
{
    for (int i = 0; i < dlt_net_num_layers(net); i++)
        if (strcmp(dlt_net_layer(net, i)->name, name) == 0)
            return i;
    return -1;
}

/* Append ", NAME" to the list in BUF (truncated with "..." when long). */
static void list_add(char *buf, size_t size, const char *name)
{
    size_t k = strlen(buf);
    if (k + strlen(name) + 8 < size)
        snprintf(buf + k, size - k, "%s'%s'", k ? ", " : "", name);
    else if (k + 4 < size && strcmp(buf + k - 3, "...") != 0)
        snprintf(buf + k, size - k, ", ...");
}

static int copy_layers(dlt_net *net, const dlt_weight_set *ws, const char *source, int *seen)
{
    float *params = dlt_net_params(net);
    char skipped[2048] = "";
    int copied = 0;
    for (int i = 0; i < ws->nlayers; i++) {
        const dlt_weight_layer *fl = &ws->layers[i];
        int li = find_layer(net, fl->name);
        if (li < 0) {
            list_add(skipped, sizeof skipped, fl->name);
            continue;
        }
        dlt_layer *l = dlt_net_layer(net, li);
        if (l->nparam != fl->nblobs)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: layer '%s' has %d parameter blobs there, %d in the net (type %s); "
                     "HINT: rename the layer in the prototxt to train it from scratch", source, fl->name,
                     fl->nblobs, l->nparam, l->ops->type);
        for (int p = 0; p < l->nparam; p++) {
            const dlt_weight_blob *b = &fl->blobs[p];
            long nd[4];
            int nn = dlt_caffe_param_shape(l, p, nd);
            const long *fs, *ns;
            int fk = squeeze(b->dims, b->ndim, &fs), nk = squeeze(nd, nn, &ns);
            if (b->count != l->param[p].count || fk != nk || memcmp(fs, ns, (size_t)fk * sizeof *fs) != 0) {
                char a[128], c[128];
                DLT_FAIL(DLT_ERR_FORMAT, "%s: layer '%s' blob %d: shape %s%s there, %s in the net; cannot copy "
                         "(HINT: rename the layer in the prototxt to train it from scratch, as for a new "
                         "last layer when fine-tuning)", source, fl->name, p, shape_str(b->dims, b->ndim, a, sizeof a),
                         b->legacy ? " (legacy num/channels/height/width)" : "", shape_str(nd, nn, c, sizeof c));
            }
            memcpy(params + (l->param[p].data - params), b->data, b->count * sizeof(float));
        }
        seen[li] = 1;
        copied++;
    }
    dlt_info("weights from %s: %d layers copied", source, copied);
    if (skipped[0])
        dlt_info("  not in the net, skipped: %s", skipped);
    return copied;
}

/* Net layers with parameters that no file gave: listed once; an error in
 * DLT_WEIGHTS_COMPLETE mode. */
static int report_missing(dlt_net *net, const int *seen, const char *list, dlt_weights_mode mode)
{
    char missing[2048] = "";
    int n = 0;
    for (int i = 0; i < dlt_net_num_layers(net); i++) {
        dlt_layer *l = dlt_net_layer(net, i);
        if (l->nparam > 0 && !seen[i]) {
            list_add(missing, sizeof missing, l->name);
            n++;
        }
    }
    if (n == 0)
        return 0;
    if (mode == DLT_WEIGHTS_COMPLETE)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: no weights for layer%s %s of the net (a file of another net?)", list,
                 n > 1 ? "s" : "", missing);
    dlt_info("  not in %s, initialized by their fillers: %s", list, missing);
    return 0;
}

int dlt_weights_copy(dlt_net *net, const dlt_weight_set *ws, const char *source, dlt_weights_mode mode)
{
    int *seen = dlt_calloc((size_t)dlt_net_num_layers(net) + 1, sizeof *seen);
    int st = copy_layers(net, ws, source, seen);
    if (st >= 0) {
        int m = report_missing(net, seen, source, mode);
        st = m < 0 ? m : st;
    }
    free(seen);
    return st;
}

int dlt_weights_load(dlt_net *net, const char *list, dlt_weights_mode mode, long *iter)
{
    int *seen = dlt_calloc((size_t)dlt_net_num_layers(net) + 1, sizeof *seen);
    char *copy = dlt_strdup(list), *save = NULL;
    int st = 0;
    if (iter)
        *iter = -1;
    for (char *path = strtok_r(copy, ",", &save); path && st >= 0; path = strtok_r(NULL, ",", &save)) {
        dlt_weight_set ws;
        st = dlt_weights_read(path, &ws);
        if (st < 0)
            break;
        st = copy_layers(net, &ws, path, seen);
        if (iter && ws.kind == DLT_WEIGHTS_DLTRAIN)
            *iter = ws.iter;
        dlt_weight_set_free(&ws);
    }
    if (st >= 0)
        st = report_missing(net, seen, list, mode);
    free(seen);
    free(copy);
    return st < 0 ? st : 0;
}
