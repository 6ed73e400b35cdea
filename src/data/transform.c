/* transform.c - the one input pipeline (see data.h): an image file decoded
 * and resized as dltrain-prep stores it, and Caffe's transform_param on a
 * stored sample. The loader, dltrain-eval --classify and model export all
 * come through here, so a model sees in deployment what it saw in training. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/image.h"
#include "dltrain/data.h"
#include "core/readfile.h"
#include "dltrain/error.h"

struct dlt_transform {
    dlt_transform_config cfg;  /* mean and mean_value point into this struct */
    int oh, ow;                /* output sample shape (crop) */
    float *mean;               /* (c, h, w) or NULL */
    float mean_value[4];       /* per channel; zeros if unused */
    dlt__jpeg_codec *jc;       /* for dlt_transform_decode, made on first use */
    uint8_t *chw;              /* (c, h, w) decoded sample */
};

static const char *const order_names[] = {"GRAY", "RGB", "BGR"};

const char *dlt_channel_order_name(dlt_channel_order order)
{
    return (unsigned)order < 3 ? order_names[order] : "?";
}

int dlt_channel_order_parse(const char *s, dlt_channel_order *out)
{
    for (int i = 0; i < 3; i++)
        if (strcasecmp(s, order_names[i]) == 0) {
            *out = (dlt_channel_order)i;
            return 0;
        }
    return -1;
}

int dlt_input_spec_write(const char *path, const dlt_input_spec *in)
{
    FILE *f = fopen(path, "w");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    fprintf(f, "# how the training set's samples were made (dltrain-eval --classify repeats it)\n"
            "shape %d %d %d\nchannel_order %s\nresize %s\nresize_seed %llu\n", in->c, in->h,
            in->w, dlt_channel_order_name(in->order), dlt_resize_mode_name(in->resize),
            (unsigned long long)in->resize_seed);
    if (fclose(f) != 0)
        DLT_FAIL(DLT_ERR_IO, "error writing '%s': %s", path, strerror(errno));
    return DLT_OK;
}

int dlt_input_spec_read(const char *path, dlt_input_spec *out)
{
    DLT_TRY(dlt__regular_file(path, "input spec"));
    FILE *f = fopen(path, "r");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    memset(out, 0, sizeof *out);
    out->order = DLT_CHANNELS_RGB, out->resize = DLT_RESIZE_SQUASH, out->resize_seed = 1;
    char line[512], key[64], val[256];
    int lineno = 0, st = DLT_OK;
    while (st == DLT_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '#' || *s == '\0')
            continue;
        unsigned long long seed = 0;
        int ok = sscanf(s, "%63s %255s", key, val) == 2;
        if (ok && strcmp(key, "shape") == 0)
            ok = sscanf(s, "%*s %d %d %d", &out->c, &out->h, &out->w) == 3 && out->c > 0 &&
                 out->h > 0 && out->w > 0;
        else if (ok && strcmp(key, "channel_order") == 0)
            ok = dlt_channel_order_parse(val, &out->order) == 0;
        else if (ok && strcmp(key, "resize") == 0)
            ok = dlt_resize_mode_parse(val, &out->resize) == 0;
        else if (ok && strcmp(key, "resize_seed") == 0) {
            ok = sscanf(val, "%llu", &seed) == 1;
            out->resize_seed = seed;
        }
        else
            ok = 0; /* unknown keys are errors: a typo must not pass silently */
        if (!ok) {
            dlt_error("%s:%d: expected 'shape C H W', 'channel_order RGB|BGR|GRAY', "
                      "'resize MODE' or 'resize_seed N'", path, lineno);
            st = DLT_ERR_PARSE;
        }
    }
    fclose(f);
    if (st == DLT_OK && out->c == 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: no 'shape C H W' line", path);
    return st;
}

int dlt_transform_create(const dlt_transform_config *cfg, dlt_transform **out)
{
    *out = NULL;
    const dlt_input_spec *in = &cfg->in;
    if (in->c <= 0 || in->h <= 0 || in->w <= 0)
        DLT_FAIL(DLT_ERR_ARG, "bad input shape %d x %d x %d", in->c, in->h, in->w);
    if (cfg->crop_size < 0 || cfg->crop_size > in->h || cfg->crop_size > in->w)
        DLT_FAIL(DLT_ERR_ARG, "crop_size %d does not fit the stored %d x %d images",
                 cfg->crop_size, in->h, in->w);
    if (cfg->mean && cfg->mean_value)
        DLT_FAIL(DLT_ERR_ARG, "give mean_file or mean_value, not both (as Caffe)");
    if (cfg->mean_value && cfg->n_mean_value != 1 && cfg->n_mean_value != in->c)
        DLT_FAIL(DLT_ERR_ARG, "%d mean_value entries for %d channels; give one, or one per "
                 "channel", cfg->n_mean_value, in->c);
    if (cfg->mean_value && in->c > 4)
        DLT_FAIL(DLT_ERR_ARG, "mean_value per channel supports at most 4 channels");
    dlt_transform *tf = dlt_calloc(1, sizeof *tf);
    tf->cfg = *cfg;
    tf->oh = cfg->crop_size ? cfg->crop_size : in->h;
    tf->ow = cfg->crop_size ? cfg->crop_size : in->w;
    size_t sample = (size_t)in->c * in->h * in->w;
    if (cfg->mean) {
        tf->mean = dlt_malloc(sample * sizeof *tf->mean);
        memcpy(tf->mean, cfg->mean, sample * sizeof *tf->mean);
    }
    for (int c = 0; cfg->mean_value && c < in->c && c < 4; c++)
        tf->mean_value[c] = cfg->mean_value[cfg->n_mean_value == 1 ? 0 : c];
    tf->cfg.mean = tf->mean;
    tf->cfg.mean_value = NULL;
    *out = tf;
    return DLT_OK;
}

void dlt_transform_free(dlt_transform *tf)
{
    if (!tf)
        return;
    free(tf->mean);
    free(tf->chw);
    dlt__jpeg_codec_free(tf->jc);
    free(tf);
}

void dlt_transform_output_shape(const dlt_transform *tf, int *c, int *h, int *w)
{
    if (c) *c = tf->cfg.in.c;
    if (h) *h = tf->oh;
    if (w) *w = tf->ow;
}

/* Caffe's DataTransformer::Transform order: mirror draw, then h_off, w_off;
 * top[c][y][mirror ? ow-1-x : x] = (src[c][y+h_off][x+w_off] - mean) * scale,
 * the mean image indexed at the source position. */
void dlt_transform_sample(const dlt_transform *tf, const uint8_t *u8, const float *f32,
                          dlt_rng *rng, float *out)
{
    const dlt_transform_config *cf = &tf->cfg;
    const int C = cf->in.c, H = cf->in.h, W = cf->in.w, oh = tf->oh, ow = tf->ow;
    int h_off = 0, w_off = 0, flip = 0;
    if (rng) {
        flip = cf->mirror && dlt_rng_below(rng, 2);
        if (cf->crop_size) {
            h_off = (int)dlt_rng_below(rng, (uint64_t)(H - oh + 1));
            w_off = (int)dlt_rng_below(rng, (uint64_t)(W - ow + 1));
        }
    } else if (cf->crop_size) {
        h_off = (H - oh) / 2;
        w_off = (W - ow) / 2;
    }
    float scale = cf->scale;
    for (int c = 0; c < C; c++) {
        float mv = tf->mean_value[c < 4 ? c : 0];
        for (int y = 0; y < oh; y++) {
            size_t src_row = ((size_t)c * H + (size_t)(y + h_off)) * W + (size_t)w_off;
            float *dst = out + ((size_t)c * oh + y) * ow;
            const float *mrow = tf->mean ? tf->mean + src_row : NULL;
            for (int x = 0; x < ow; x++) {
                float v = u8 ? (float)u8[src_row + x] : f32[src_row + x];
                v -= mrow ? mrow[x] : mv;
                dst[flip ? ow - 1 - x : x] = v * scale;
            }
        }
    }
}

int dlt_transform_decode(dlt_transform *tf, const uint8_t *buf, size_t n, uint8_t *chw,
                         char *why, size_t why_size)
{
    const dlt_input_spec *in = &tf->cfg.in;
    if (in->c != 1 && in->c != 3) {
        snprintf(why, why_size, "the net takes %d channels; images decode to 1 (gray) or 3",
                 in->c);
        return -1;
    }
    const char *kind = dlt__image_sniff(buf, n);
    if (kind && strcmp(kind, "jpeg") != 0) {
        snprintf(why, why_size, "unsupported image format %s (only JPEG is read)", kind);
        return -1;
    }
    if (!tf->jc)
        tf->jc = dlt__jpeg_codec_new();
    dlt__image im;
    if (dlt__image_prepare(tf->jc, buf, n, in->c, in->w, in->h, in->resize, in->resize_seed,
                           &im, NULL, why, why_size) < 0)
        return -1;
    dlt__image_to_chw(&im, chw);
    dlt__image_free(&im);
    if (in->c == 3 && in->order == DLT_CHANNELS_BGR) { /* decoded RGB: swap the planes */
        size_t plane = (size_t)in->h * in->w;
        for (size_t p = 0; p < plane; p++) {
            uint8_t t = chw[p];
            chw[p] = chw[2 * plane + p];
            chw[2 * plane + p] = t;
        }
    }
    return 0;
}

int dlt_transform_image_file(dlt_transform *tf, const char *path, float *out)
{
    DLT_TRY(dlt__regular_file(path, "image"));
    FILE *f = fopen(path, "rb");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0) {
        fclose(f);
        DLT_FAIL(DLT_ERR_IO, "cannot read '%s': not a regular file, or empty", path);
    }
    size_t n = (size_t)sb.st_size;
    uint8_t *buf = dlt_malloc(n);
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    if (got != n) {
        free(buf);
        DLT_FAIL(DLT_ERR_IO, "cannot read '%s' (short read)", path);
    }
    const dlt_input_spec *in = &tf->cfg.in;
    if (!tf->chw)
        tf->chw = dlt_malloc((size_t)in->c * in->h * in->w);
    char why[256];
    int st = dlt_transform_decode(tf, buf, n, tf->chw, why, sizeof why);
    free(buf);
    if (st < 0)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: %s", path, why);
    dlt_transform_sample(tf, tf->chw, NULL, NULL, out);
    return DLT_OK;
}
