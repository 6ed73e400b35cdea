/* export_caffe.c - a trained net for Caffe: deploy.prototxt (the TEST
 * net as Caffe deploys it: Input layer, no data/loss/accuracy layers,
 * Softmax "prob"), weights.caffemodel (binary NetParameter through the
 * protoc-c code of proto/caffe.proto) and weights.caffemodel.h5 (Caffe's
 * HDF5 snapshot layout). Blob shapes are Caffe's (dlt_caffe_param_shape),
 * which Caffe's loaders compare exactly. */
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/h5util.h"
#include "dltrain/error.h"
#include "dltrain/export.h"
#include "dltrain/weights.h"
#include "proto/caffe.pb-c.h"

/* The TEST-phase layer messages of the prototxt paired with the net's
 * layers (the net builds them in file order, one per message). */
typedef struct entry {
    const dlt_cfg *lp;
    dlt_layer *l;
    int keep;         /* in deploy.prototxt */
} entry;

static int pair_layers(dlt_net *net, const dlt_cfg *np, entry **out, int *n)
{
    int cap = dlt_net_num_layers(net), k = 0;
    entry *e = dlt_calloc((size_t)cap + 1, sizeof *e);
    for (const dlt_cfg *lp = np->child; lp; lp = lp->next) {
        if (strcmp(lp->name, "layer") != 0 && strcmp(lp->name, "layers") != 0)
            continue;
        int in;
        if (dlt_net_layer_in_phase(lp, DLT_PHASE_TEST, &in) < 0) {
            free(e);
            return DLT_ERR_PARSE;
        }
        const char *name = NULL;
        dlt_cfg_string(lp, "name", "", &name);
        if (!in)
            continue;
        if (k >= cap || strcmp(dlt_net_layer(net, k)->name, name) != 0) {
            free(e);
            DLT_FAIL(DLT_ERR_ARG, "%s: layer '%s' is not the TEST net's layer %d: the net was not built "
                     "from this prototxt", np->file, name, k);
        }
        e[k].lp = lp;
        e[k].l = dlt_net_layer(net, k);
        k++;
    }
    *out = e;
    *n = k;
    return 0;
}

/* Blob names needed to compute the net's output, as a small set. */
typedef struct names {
    const char **v;
    int n;
} names;

static int names_has(const names *s, const char *x)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0)
            return 1;
    return 0;
}

static void names_add(names *s, const char *x)
{
    if (names_has(s, x))
        return;
    s->v = dlt_realloc(s->v, (size_t)(s->n + 1) * sizeof *s->v);
    s->v[s->n++] = x;
}

static const char *field_str(const dlt_cfg *lp, const char *field, int i)
{
    const dlt_cfg *f = dlt_cfg_nth(lp, field, i);
    const char *s = NULL;
    if (f)
        dlt_cfg_node_string(f, &s);
    return s;
}

static int drops(const dlt_layer *l)
{
    return dlt_layer_data_params(l) != NULL || l->is_loss || strcmp(l->ops->type, "Accuracy") == 0;
}

/* Keep the layers the output depends on: the input of the last
 * SoftmaxWithLoss (then "prob" is its Softmax), else the last kept
 * layer's tops. Auxiliary classifiers (GoogLeNet's loss1, loss2) and
 * everything else that only fed a loss or an accuracy go, as in Caffe's
 * deploy files. Returns the blob "prob" reads, or NULL. */
static const char *choose_layers(entry *e, int n)
{
    const char *prob_from = NULL;
    names need = {0};
    for (int i = n - 1; i >= 0 && !prob_from; i--)
        if (strcmp(e[i].l->ops->type, "SoftmaxWithLoss") == 0)
            prob_from = field_str(e[i].lp, "bottom", 0);
    if (prob_from) {
        names_add(&need, prob_from);
    } else {
        for (int i = n - 1; i >= 0; i--)
            if (!drops(e[i].l)) {
                for (int t = 0; field_str(e[i].lp, "top", t); t++)
                    names_add(&need, field_str(e[i].lp, "top", t));
                break;
            }
    }
    for (int i = n - 1; i >= 0; i--) {
        if (drops(e[i].l))
            continue;
        for (int t = 0; field_str(e[i].lp, "top", t) && !e[i].keep; t++)
            e[i].keep = names_has(&need, field_str(e[i].lp, "top", t));
        for (int b = 0; e[i].keep && field_str(e[i].lp, "bottom", b); b++)
            names_add(&need, field_str(e[i].lp, "bottom", b));
    }
    free(need.v);
    return prob_from;
}

static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

/* One field of the configuration tree back in protobuf text format. */
static void put_field(FILE *f, const dlt_cfg *c, int depth)
{
    fprintf(f, "%*s%s", 2 * depth, "", c->name);
    if (c->kind == DLT_CFG_MESSAGE) {
        fputs(" {\n", f);
        for (const dlt_cfg *k = c->child; k; k = k->next)
            put_field(f, k, depth + 1);
        fprintf(f, "%*s}\n", 2 * depth, "");
        return;
    }
    fputs(": ", f);
    if (c->kind == DLT_CFG_STRING)
        put_string(f, c->text);
    else
        fputs(c->text, f);
    fputc('\n', f);
}

static int write_deploy(const char *path, dlt_net *net, const dlt_cfg *np, const entry *e, int n,
                        const char *prob_from)
{
    dlt_layer *data = dlt_net_data_layer(net);
    dlt_batch in;
    if (!data || dlt_net_input(net, &in) < 0)
        DLT_FAIL(DLT_ERR_ARG, "%s: the TEST net has no data layer, so no input shape for deploy.prototxt",
                 np->file);
    const char *input = NULL;
    for (int i = 0; i < n && !input; i++)
        if (e[i].l == data)
            input = field_str(e[i].lp, "top", 0);
    FILE *f = fopen(path, "w");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    fprintf(f, "# deploy.prototxt: written by dltrain from %s (TEST phase)\n", np->file);
    fputs("name: ", f);
    put_string(f, dlt_net_name(net) ? dlt_net_name(net) : "net");
    fputs("\nlayer {\n  name: ", f);
    put_string(f, input ? input : "data");
    fputs("\n  type: \"Input\"\n  top: ", f);
    put_string(f, input ? input : "data");
    fprintf(f, "\n  input_param { shape { dim: 1 dim: %d dim: %d dim: %d } }\n}\n", in.c, in.h, in.w);
    for (int i = 0; i < n; i++) {
        if (!e[i].keep)
            continue;
        fputs("layer {\n", f);
        for (const dlt_cfg *k = e[i].lp->child; k; k = k->next)
            if (strcmp(k->name, "include") != 0 && strcmp(k->name, "exclude") != 0 &&
                strcmp(k->name, "phase") != 0)
                put_field(f, k, 1);
        fputs("}\n", f);
    }
    if (prob_from) {
        fputs("layer {\n  name: \"prob\"\n  type: \"Softmax\"\n  bottom: ", f);
        put_string(f, prob_from);
        fputs("\n  top: \"prob\"\n}\n", f);
    }
    if (ferror(f) | (fclose(f) != 0))
        DLT_FAIL(DLT_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    return 0;
}

/* The strings of field FIELD of LP as a malloc'd array (pointers into the tree). */
static char **strings_of(const dlt_cfg *lp, const char *field, size_t *n)
{
    *n = (size_t)dlt_cfg_count(lp, field);
    char **v = dlt_calloc(*n + 1, sizeof *v);
    for (size_t i = 0; i < *n; i++)
        v[i] = (char *)field_str(lp, field, (int)i);
    return v;
}

static int write_caffemodel(const char *path, dlt_net *net, const entry *e, int n)
{
    Caffe__NetParameter np = CAFFE__NET_PARAMETER__INIT;
    np.name = (char *)(dlt_net_name(net) ? dlt_net_name(net) : "net");
    np.n_layer = (size_t)n;
    np.layer = dlt_calloc((size_t)n + 1, sizeof *np.layer);
    Caffe__LayerParameter *lps = dlt_calloc((size_t)n + 1, sizeof *lps);
    int nblobs = 0;
    for (int i = 0; i < n; i++)
        nblobs += e[i].l->nparam;
    Caffe__BlobProto *bps = dlt_calloc((size_t)nblobs + 1, sizeof *bps);
    Caffe__BlobShape *shapes = dlt_calloc((size_t)nblobs + 1, sizeof *shapes);
    int64_t *dims = dlt_calloc((size_t)nblobs * 4 + 1, sizeof *dims);
    Caffe__BlobProto **bptrs = dlt_calloc((size_t)nblobs + 1, sizeof *bptrs);
    int k = 0;
    for (int i = 0; i < n; i++) {
        dlt_layer *l = e[i].l;
        Caffe__LayerParameter *lp = &lps[i];
        caffe__layer_parameter__init(lp);
        lp->name = l->name;
        lp->type = (char *)l->ops->type;
        lp->bottom = strings_of(e[i].lp, "bottom", &lp->n_bottom);
        lp->top = strings_of(e[i].lp, "top", &lp->n_top);
        lp->n_blobs = (size_t)l->nparam;
        lp->blobs = bptrs + k;
        for (int p = 0; p < l->nparam; p++, k++) {
            long d[4];
            int rank = dlt_caffe_param_shape(l, p, d);
            caffe__blob_shape__init(&shapes[k]);
            shapes[k].n_dim = (size_t)rank;
            shapes[k].dim = dims + 4 * k;
            for (int r = 0; r < rank; r++)
                shapes[k].dim[r] = d[r];
            caffe__blob_proto__init(&bps[k]);
            bps[k].shape = &shapes[k];
            bps[k].n_data = l->param[p].count;
            bps[k].data = l->param[p].data;
            bptrs[k] = &bps[k];
        }
        np.layer[i] = lp;
    }
    size_t size = caffe__net_parameter__get_packed_size(&np);
    uint8_t *buf = dlt_malloc(size + 1);
    caffe__net_parameter__pack(&np, buf);
    int st = 0;
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, size, f) != size || fclose(f) != 0) {
        dlt_error("cannot write '%s': %s", path, strerror(errno));
        st = DLT_ERR_IO;
    }
    for (int i = 0; i < n; i++) {
        free(lps[i].bottom);
        free(lps[i].top);
    }
    free(buf);
    free(bptrs);
    free(dims);
    free(shapes);
    free(bps);
    free(lps);
    free(np.layer);
    return st;
}

static int write_h5_blob(hid_t g, int p, const dlt_layer *l, const char *path)
{
    long d[4];
    int rank = dlt_caffe_param_shape(l, p, d);
    hsize_t dims[4];
    for (int r = 0; r < rank; r++)
        dims[r] = (hsize_t)d[r];
    char name[16];
    snprintf(name, sizeof name, "%d", p);
    int st = 0;
    hid_t space = -1, dset = -1;
    DLT_H5_GOTO(space = H5Screate_simple(rank, dims, NULL), path, st, out);
    DLT_H5_GOTO(dset = H5Dcreate2(g, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                path, st, out);
    DLT_H5_GOTO(H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, l->param[p].data), path, st,
                out);
out:
    if (dset >= 0)
        H5Dclose(dset);
    if (space >= 0)
        H5Sclose(space);
    return st;
}

/* Caffe's Net::ToHDF5 layout: /data/LAYER/I (and an empty /diff). A layer
 * name with '/' becomes nested groups, which Caffe's HDF5 loader does not
 * look into (its .caffemodel loader has no such limit). */
static int write_h5(const char *path, const entry *e, int n)
{
    dlt__h5_init();
    hid_t file, lcpl, data, diff;
    DLT_H5_TRY(file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), path);
    int st = 0;
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    data = H5Gcreate2(file, "data", lcpl, H5P_DEFAULT, H5P_DEFAULT);
    diff = H5Gcreate2(file, "diff", lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (data < 0 || diff < 0)
        st = dlt__h5_error("H5Gcreate2", path, __FILE__, __LINE__);
    for (int i = 0; i < n && st == 0; i++) {
        const dlt_layer *l = e[i].l;
        if (l->nparam == 0)
            continue;
        hid_t g = H5Gcreate2(data, l->name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) {
            st = dlt__h5_error("H5Gcreate2", path, __FILE__, __LINE__);
            break;
        }
        for (int p = 0; p < l->nparam && st == 0; p++)
            st = write_h5_blob(g, p, l, path);
        H5Gclose(g);
    }
    if (diff >= 0)
        H5Gclose(diff);
    if (data >= 0)
        H5Gclose(data);
    H5Pclose(lcpl);
    if (H5Fclose(file) < 0 && st == 0)
        st = dlt__h5_error("H5Fclose", path, __FILE__, __LINE__);
    return st;
}

int dlt_export_caffe(dlt_net *net, const dlt_cfg *net_param, const char *outdir)
{
    entry *e;
    int n;
    DLT_TRY(pair_layers(net, net_param, &e, &n));
    const char *prob_from = choose_layers(e, n);
    char path[4096];
    snprintf(path, sizeof path, "%s/deploy.prototxt", outdir);
    int st = write_deploy(path, net, net_param, e, n, prob_from);
    if (st == 0) {
        snprintf(path, sizeof path, "%s/weights.caffemodel", outdir);
        st = write_caffemodel(path, net, e, n);
    }
    if (st == 0) {
        snprintf(path, sizeof path, "%s/weights.caffemodel.h5", outdir);
        st = write_h5(path, e, n);
    }
    free(e);
    return st;
}
