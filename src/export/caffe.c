/* caffe.c - a trained net for Caffe: deploy.prototxt (an Input layer,
 * the layers of the TEST net that deploy.h's plan keeps, a Softmax "prob"
 * on the output), weights.caffemodel (every TEST-phase layer, a binary
 * NetParameter through the protoc-c code of proto/caffe.proto) and
 * weights.caffemodel.h5 (Caffe's HDF5 snapshot layout). Blob shapes are
 * Caffe's (dlt_caffe_param_shape), which Caffe's loaders compare exactly. */
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/h5util.h"
#include "dltrain/error.h"
#include "dltrain/export.h"
#include "dltrain/weights.h"
#include "export/deploy.h"
#include "proto/caffe.pb-c.h"

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

/* The layers the plan keeps, each as its own message less the phase
 * rules. Dropout (DLT__DEPLOY_IDENTITY) stays a layer, as in Caffe's own
 * deploy files: Caffe runs a deploy net in the TEST phase, where Dropout
 * passes its bottom through, and keeping it keeps every later layer's
 * bottom names as they are (dropping it would mean renaming them). The
 * output is a Softmax "prob" on the plan's scores, as in the ONNX model. */
static int write_deploy(const char *path, dlt_net *net, const dlt_cfg *np, const dlt__deploy *plan)
{
    FILE *f = fopen(path, "w");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    fprintf(f, "# deploy.prototxt: written by dltrain from %s (TEST phase)\n", np->file ? np->file : "net");
    fputs("name: ", f);
    put_string(f, dlt_net_name(net) ? dlt_net_name(net) : "net");
    fputs("\nlayer {\n  name: ", f);
    put_string(f, plan->input);
    fputs("\n  type: \"Input\"\n  top: ", f);
    put_string(f, plan->input);
    const dlt_tensor *x = plan->input_t;
    fprintf(f, "\n  input_param { shape { dim: 1 dim: %d dim: %d dim: %d } }\n}\n", x->c, x->h, x->w);
    for (int i = 0; i < plan->nlayers; i++) {
        if (plan->role[i] != DLT__DEPLOY_KEEP && plan->role[i] != DLT__DEPLOY_IDENTITY)
            continue;
        fputs("layer {\n", f);
        for (const dlt_cfg *k = dlt_net_layer_cfg(net, i)->child; k; k = k->next)
            if (strcmp(k->name, "include") != 0 && strcmp(k->name, "exclude") != 0 &&
                strcmp(k->name, "phase") != 0)
                put_field(f, k, 1);
        fputs("}\n", f);
    }
    fputs("layer {\n  name: \"prob\"\n  type: \"Softmax\"\n  bottom: ", f);
    put_string(f, plan->scores);
    fputs("\n  top: \"prob\"\n", f);
    if (plan->prob_axis != 1)
        fprintf(f, "  softmax_param { axis: %d }\n", plan->prob_axis);
    fputs("}\n", f);
    if (ferror(f) | (fclose(f) != 0))
        DLT_FAIL(DLT_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    return 0;
}

/* The names of field FIELD (bottom or top) of layer I as a malloc'd array
 * (pointers into the net's prototxt tree). */
static char **strings_of(const dlt_net *net, int i, const char *field, size_t *n)
{
    *n = (size_t)dlt_cfg_count(dlt_net_layer_cfg(net, i), field);
    char **v = dlt_calloc(*n + 1, sizeof *v);
    for (size_t k = 0; k < *n; k++)
        v[k] = (char *)dlt__deploy_blob(net, i, field, (int)k);
    return v;
}

static int write_caffemodel(const char *path, dlt_net *net)
{
    const int n = dlt_net_num_layers(net);
    Caffe__NetParameter np = CAFFE__NET_PARAMETER__INIT;
    np.name = (char *)(dlt_net_name(net) ? dlt_net_name(net) : "net");
    np.n_layer = (size_t)n;
    np.layer = dlt_calloc((size_t)n + 1, sizeof *np.layer);
    Caffe__LayerParameter *lps = dlt_calloc((size_t)n + 1, sizeof *lps);
    int nblobs = 0;
    for (int i = 0; i < n; i++)
        nblobs += dlt_net_layer(net, i)->nparam;
    Caffe__BlobProto *bps = dlt_calloc((size_t)nblobs + 1, sizeof *bps);
    Caffe__BlobShape *shapes = dlt_calloc((size_t)nblobs + 1, sizeof *shapes);
    int64_t *dims = dlt_calloc((size_t)nblobs * 4 + 1, sizeof *dims);
    Caffe__BlobProto **bptrs = dlt_calloc((size_t)nblobs + 1, sizeof *bptrs);
    int k = 0;
    for (int i = 0; i < n; i++) {
        dlt_layer *l = dlt_net_layer(net, i);
        Caffe__LayerParameter *lp = &lps[i];
        caffe__layer_parameter__init(lp);
        lp->name = l->name;
        lp->type = (char *)l->ops->type;
        lp->bottom = strings_of(net, i, "bottom", &lp->n_bottom);
        lp->top = strings_of(net, i, "top", &lp->n_top);
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
    return dlt__h5_write_floats(g, name, l->param[p].data, rank, dims, NULL, path);
}

/* Caffe's Net::ToHDF5 layout: /data/LAYER/I (and an empty /diff). A layer
 * name with '/' becomes nested groups, which Caffe's HDF5 loader does not
 * look into (its .caffemodel loader has no such limit). */
static int write_h5(const char *path, const dlt_net *net)
{
    const int n = dlt_net_num_layers(net);
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
        const dlt_layer *l = dlt_net_layer(net, i);
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
    dlt__deploy plan;
    DLT_TRY(dlt__deploy_plan(net, net_param, &plan));
    char path[4096];
    snprintf(path, sizeof path, "%s/deploy.prototxt", outdir);
    int st = write_deploy(path, net, net_param, &plan);
    if (st == 0) {
        snprintf(path, sizeof path, "%s/weights.caffemodel", outdir);
        st = write_caffemodel(path, net);
    }
    if (st == 0) {
        snprintf(path, sizeof path, "%s/weights.caffemodel.h5", outdir);
        st = write_h5(path, net);
    }
    dlt__deploy_free(&plan);
    return st;
}
