/* caption_attention.c - the attention maps of dltrain-caption --attention
 * DIR as JPEG strips, an HTML page and a TSV of the weights. */
#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/image.h"
#include "dltrain/error.h"
#include "monitor/report_page.h"
#include "train/caption_attention.h"

enum { GAP = 4, MIN_PANEL = 160 }; /* pixels between panels; panels at least this tall */
#define RED 115.0f                    /* red added at the most attended location */

struct dlt__att_writer {
    char dir[4096];
    int fh, fw, count;
    FILE *tsv, *html;
    dlt__jpeg_codec *jpeg;
};

static int open_in(const dlt__att_writer *w, const char *name, FILE **f)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", w->dir, name);
    *f = fopen(path, "w");
    if (!*f)
        DLT_FAIL(DLT_ERR_IO, "%s: %s", path, strerror(errno));
    return 0;
}

int dlt__att_writer_open(const char *dir, int fh, int fw, dlt__att_writer **out)
{
    *out = NULL;
    if (strlen(dir) >= sizeof((dlt__att_writer *)0)->dir)
        DLT_FAIL(DLT_ERR_ARG, "--attention: directory name too long");
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        DLT_FAIL(DLT_ERR_IO, "--attention %s: %s", dir, strerror(errno));
    dlt__att_writer *w = dlt_calloc(1, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    w->fh = fh, w->fw = fw;
    int st = open_in(w, "index.tsv", &w->tsv);
    if (st == 0)
        st = open_in(w, "index.html", &w->html);
    if (st < 0) {
        dlt__att_writer_close(w);
        return st;
    }
    w->jpeg = dlt__jpeg_codec_new();
    fprintf(w->html, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>attention "
                     "maps</title>\n<style>body{font-family:sans-serif;background:#222;color:#eee}"
                     " .w{display:flex} .w span{display:inline-block;text-align:center;"
                     "overflow:hidden}</style></head><body>\n"
                     "<p>Each strip: the image, then where the decoder looked for each word "
                     "(red and bright: high attention weight).</p>\n");
    *out = w;
    return 0;
}

/* Gray levels 0..255 of IMAGE's pixels (its channels as RGB when 3, else
 * the first), stretched from its minimum to its maximum. */
static void image_levels(const float *image, int c, int h, int w, float *rgb)
{
    const size_t plane = (size_t)h * w;
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (size_t i = 0; i < (size_t)c * plane; i++) {
        lo = image[i] < lo ? image[i] : lo;
        hi = image[i] > hi ? image[i] : hi;
    }
    const float k = hi > lo ? 255.0f / (hi - lo) : 0.0f;
    for (size_t i = 0; i < plane; i++)
        for (int ch = 0; ch < 3; ch++)
            rgb[i * 3 + ch] = (image[(c == 3 ? (size_t)ch * plane : 0) + i] - lo) * k;
}

int dlt__att_writer_add(dlt__att_writer *w, const char *name, const float *image, int c, int h,
                        int wd, const char *const *words, int len, const float *maps)
{
    const int L = w->fh * w->fw, scale = (MIN_PANEL + h - 1) / h;
    const int ph = h * scale, pw = wd * scale, panels = len + 1;
    dlt__image strip = {.w = panels * pw + (panels - 1) * GAP, .h = ph, .c = 3};
    strip.px = dlt_malloc((size_t)strip.w * strip.h * 3);
    memset(strip.px, 96, (size_t)strip.w * strip.h * 3); /* grey gaps between the panels */
    float *rgb = dlt_malloc(sizeof *rgb * (size_t)h * wd * 3);
    image_levels(image, c, h, wd, rgb);
    for (int p = 0; p < panels; p++) {
        const float *a = p ? maps + (size_t)(p - 1) * L : NULL;
        float amax = 0;
        for (int l = 0; a && l < L; l++)
            amax = a[l] > amax ? a[l] : amax;
        for (int y = 0; y < ph; y++)
            for (int x = 0; x < pw; x++) {
                int iy = y / scale, ix = x / scale;
                /* the feature location over this pixel: the map spans the image */
                int l = (iy * w->fh / h) * w->fw + ix * w->fw / wd;
                /* s = weight / the step's largest: dimmed where low, blended
                 * toward red where high, so red minus green is RED * s */
                float s = a && amax > 0 ? a[l] / amax : 0.0f;
                float keep = a ? (0.3f + 0.7f * s) * (1.0f - RED / 255.0f * s) : 1.0f;
                uint8_t *o = strip.px + ((size_t)y * strip.w + p * (pw + GAP) + x) * 3;
                const float *v = rgb + ((size_t)iy * wd + ix) * 3;
                o[0] = (uint8_t)(v[0] * keep + RED * s + 0.5f);
                o[1] = (uint8_t)(v[1] * keep + 0.5f);
                o[2] = (uint8_t)(v[2] * keep + 0.5f);
            }
    }
    free(rgb);
    char file[64], path[4200], why[256];
    snprintf(file, sizeof file, "%06d.jpg", w->count++);
    snprintf(path, sizeof path, "%s/%s", w->dir, file);
    uint8_t *jbuf = NULL;
    size_t jn = 0;
    int st = dlt__jpeg_encode(w->jpeg, &strip, 90, &jbuf, &jn, why, sizeof why);
    free(strip.px);
    if (st != 0)
        DLT_FAIL(DLT_ERR_IO, "%s: %s", path, why);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(jbuf);
        DLT_FAIL(DLT_ERR_IO, "%s: %s", path, strerror(errno));
    }
    size_t wrote = fwrite(jbuf, 1, jn, f);
    free(jbuf);
    if ((fclose(f) != 0) | (wrote != jn))
        DLT_FAIL(DLT_ERR_IO, "%s: write failed: %s", path, strerror(errno));

    fprintf(w->tsv, "%s\t%s\t", file, name);
    for (int k = 0; k < len; k++)
        fprintf(w->tsv, "%s%s", k ? " " : "", words[k]);
    fputc('\t', w->tsv);
    for (int k = 0; k < len; k++)
        for (int l = 0; l < L; l++)
            fprintf(w->tsv, "%s%.5f", l ? "," : k ? ";" : "", maps[(size_t)k * L + l]);
    fputc('\n', w->tsv);

    fprintf(w->html, "<p>");
    dlt__html(w->html, name);
    fprintf(w->html, "<br><img src=\"%s\" alt=\"\"><br><span class=\"w\"><span style=\"width:%dpx\">"
                     "</span>", file, pw + GAP);
    for (int k = 0; k < len; k++) {
        fprintf(w->html, "<span style=\"width:%dpx\">", pw + GAP);
        dlt__html(w->html, words[k]);
        fputs("</span>", w->html);
    }
    fputs("</span></p>\n", w->html);
    return 0;
}

int dlt__att_writer_close(dlt__att_writer *w)
{
    if (!w)
        return 0;
    int st = 0;
    if (w->html) {
        fputs("</body></html>\n", w->html);
        if ((ferror(w->html) | fclose(w->html)) != 0)
            st = DLT_ERR_IO;
    }
    if (w->tsv && (ferror(w->tsv) | fclose(w->tsv)) != 0)
        st = DLT_ERR_IO;
    if (st)
        dlt_error("%s: writing index.tsv or index.html failed", w->dir);
    dlt__jpeg_codec_free(w->jpeg);
    free(w);
    return st;
}
