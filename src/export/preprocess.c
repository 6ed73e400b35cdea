/* preprocess.c - preprocess.json (and mean.npy): how a deployment turns an
 * image into the model's input exactly as training did, written from the
 * settings of the one input pipeline (data.h: decode, channel order,
 * resize; the TEST data layer's transform_param: centre crop, mean, scale). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "dltrain/export.h"
#include "dltrain/layer.h"
#include "export/deploy.h"

#define PREPROCESS_FORMAT "dltrain-preprocess"
#define PREPROCESS_VERSION 1

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* NumPy's .npy (format 1.0): float32, C order, shape (C, H, W). */
static int write_npy(const char *path, const float *v, int c, int h, int w)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': "
                     "(%d, %d, %d), }", c, h, w);
    int total = (10 + n + 1 + 63) / 64 * 64; /* header padded to 64 bytes, ends in '\n' */
    unsigned hl = (unsigned)(total - 10);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc((int)(hl & 0xff), f);
    fputc((int)(hl >> 8), f);
    fprintf(f, "%s%*s\n", dict, total - 10 - n - 1, "");
    size_t count = (size_t)c * h * w;
    int bad = fwrite(v, sizeof *v, count, f) != count;
    bad |= fclose(f) != 0;
    if (bad)
        DLT_FAIL(DLT_ERR_IO, "error writing '%s': %s", path, strerror(errno));
    return 0;
}

static const char *resize_meaning(dlt_resize_mode m)
{
    switch (m) {
    case DLT_RESIZE_SQUASH: return "stretch to the stored width x height (aspect ratio not kept)";
    case DLT_RESIZE_CROP: return "scale to cover the stored size, cut the centre";
    case DLT_RESIZE_FILL: return "scale to fit inside the stored size, pad both ends with noise";
    case DLT_RESIZE_HALF_CROP: return "scale by the mean of the crop and fill ratios: half crop, "
                                      "half fill";
    }
    return "";
}

int dlt_export_preprocess(dlt_net *net, const dlt_input_spec *spec,
                          const char *const *classes, int n, const char *outdir)
{
    const dlt_layer *data = dlt_net_data_layer(net);
    if (!data)
        DLT_FAIL(DLT_ERR_ARG, "the net has no data layer: no transform_param to describe");
    const dlt_data_params *dp = dlt_layer_data_params(data);
    const dlt_tensor *in = data->top[0];
    float *mean = NULL;
    char path[4096];
    if (dp->mean_file) {
        DLT_TRY(dlt_mean_file_read(dp->mean_file, spec->c, spec->h, spec->w, &mean));
        snprintf(path, sizeof path, "%s/mean.npy", outdir);
        int st = write_npy(path, mean, spec->c, spec->h, spec->w);
        if (st < 0) {
            free(mean);
            return st;
        }
    }
    snprintf(path, sizeof path, "%s/preprocess.json", outdir);
    FILE *f = fopen(path, "w");
    if (!f) {
        free(mean);
        DLT_FAIL(DLT_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    }
    const int crop_h = (spec->h - in->h) / 2, crop_w = (spec->w - in->w) / 2;
    fprintf(f, "{\n  \"format\": \"%s\",\n  \"version\": %d,\n", PREPROCESS_FORMAT,
            PREPROCESS_VERSION);
    fprintf(f, "  \"steps\": \"decode the image (1 channel: gray, libjpeg's luma; 3: in "
            "channel_order), resize it to image.shape as image.resize says, centre-crop to "
            "input.shape, then input = (pixel - mean) * scale, pixels 0..255 as floats, NCHW\",\n");
    fprintf(f, "  \"input\": {\"name\": ");
    json_string(f, dlt__deploy_input_name(net));
    fprintf(f, ", \"layout\": \"NCHW\", \"dtype\": \"float32\", \"shape\": [%d, %d, %d]},\n",
            in->c, in->h, in->w);
    fprintf(f, "  \"image\": {\"shape\": [%d, %d, %d], \"channel_order\": \"%s\", "
            "\"resize\": \"%s\", \"resize_meaning\": \"%s\", \"resize_seed\": %llu},\n",
            spec->c, spec->h, spec->w, dlt_channel_order_name(spec->order),
            dlt_resize_mode_name(spec->resize), resize_meaning(spec->resize),
            (unsigned long long)spec->resize_seed);
    if (dp->crop_size)
        fprintf(f, "  \"crop\": {\"size\": %d, \"mode\": \"centre\", \"offset\": [%d, %d]},\n",
                dp->crop_size, crop_h, crop_w);
    else
        fprintf(f, "  \"crop\": null,\n");
    fprintf(f, "  \"mirror\": false,\n  \"scale\": %.9g,\n", dp->scale);
    if (mean) {
        double avg[4] = {0};
        const size_t plane = (size_t)spec->h * spec->w;
        for (int c = 0; c < spec->c && c < 4; c++) {
            for (size_t p = 0; p < plane; p++)
                avg[c] += mean[(size_t)c * plane + p];
            avg[c] /= (double)plane;
        }
        fprintf(f, "  \"mean\": {\"kind\": \"image\", \"file\": \"mean.npy\", \"shape\": "
                "[%d, %d, %d], \"source\": ", spec->c, spec->h, spec->w);
        json_string(f, dp->mean_file);
        fprintf(f, ", \"applies_to\": \"the resized image before the crop\", "
                "\"channel_averages\": [");
        for (int c = 0; c < spec->c && c < 4; c++)
            fprintf(f, "%s%.9g", c ? ", " : "", avg[c]);
        fprintf(f, "]},\n");
    } else if (dp->n_mean_value) {
        fprintf(f, "  \"mean\": {\"kind\": \"values\", \"values\": [");
        for (int c = 0; c < spec->c && c < 4; c++)
            fprintf(f, "%s%.9g", c ? ", " : "", dp->mean_value[dp->n_mean_value == 1 ? 0 : c]);
        fprintf(f, "]},\n");
    } else {
        fprintf(f, "  \"mean\": null,\n");
    }
    fprintf(f, "  \"output\": {\"name\": \"prob\", \"meaning\": \"softmax probability per "
            "class\"},\n  \"classes\": [");
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s", i ? ", " : "");
        json_string(f, classes[i]);
    }
    fprintf(f, "]\n}\n");
    free(mean);
    if (fclose(f) != 0)
        DLT_FAIL(DLT_ERR_IO, "error writing '%s': %s", path, strerror(errno));
    return 0;
}
