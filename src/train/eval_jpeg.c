/* eval_jpeg.c - a JPEG file as a net input for dltrain-eval --classify:
 * decode with libjpeg-turbo, gray or BGR, bilinear resize, scale. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "dltrain/error.h"
#include "dltrain/eval.h"

static int read_file(const char *path, unsigned char **buf, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = dlt_malloc(n > 0 ? (unsigned long)n : 1);
    size_t got = n > 0 ? fread(*buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (n <= 0 || got != (size_t)n) {
        free(*buf);
        DLT_FAIL(DLT_ERR_IO, "cannot read '%s' (empty or short read)", path);
    }
    *size = (size_t)n;
    return 0;
}

/* Half-pixel-centre bilinear sampling (as OpenCV INTER_LINEAR, PIL
 * BILINEAR for upscaling); the identity when the sizes match. */
static void resize_bilinear(const unsigned char *src, int sw, int sh, int c, float *dst, int w,
                            int h, float scale)
{
    for (int y = 0; y < h; y++) {
        double fy = (y + 0.5) * sh / h - 0.5;
        int y0 = fy < 0 ? 0 : (int)fy;
        int y1 = y0 + 1 < sh ? y0 + 1 : sh - 1;
        double ay = fy - y0 < 0 ? 0 : fy - y0;
        for (int x = 0; x < w; x++) {
            double fx = (x + 0.5) * sw / w - 0.5;
            int x0 = fx < 0 ? 0 : (int)fx;
            int x1 = x0 + 1 < sw ? x0 + 1 : sw - 1;
            double ax = fx - x0 < 0 ? 0 : fx - x0;
            for (int ch = 0; ch < c; ch++) {
                double v00 = src[((size_t)y0 * sw + x0) * c + ch], v01 = src[((size_t)y0 * sw + x1) * c + ch];
                double v10 = src[((size_t)y1 * sw + x0) * c + ch], v11 = src[((size_t)y1 * sw + x1) * c + ch];
                double v = (1 - ay) * ((1 - ax) * v00 + ax * v01) + ay * ((1 - ax) * v10 + ax * v11);
                dst[((size_t)ch * h + y) * w + x] = (float)v * scale;
            }
        }
    }
}

int dlt_image_load_jpeg(const char *path, int c, int h, int w, float scale, float *out)
{
    if (c != 1 && c != 3)
        DLT_FAIL(DLT_ERR_ARG, "the net takes %d channels; JPEG input needs 1 (gray) or 3 (BGR)", c);
    unsigned char *jpeg;
    size_t size;
    DLT_TRY(read_file(path, &jpeg, &size));
    tjhandle tj = tjInitDecompress();
    int sw, sh, sub, space, st = 0;
    unsigned char *pix = NULL;
    if (!tj || tjDecompressHeader3(tj, jpeg, (unsigned long)size, &sw, &sh, &sub, &space) != 0) {
        dlt_error("%s: not a decodable JPEG: %s", path, tjGetErrorStr2(tj));
        st = DLT_ERR_FORMAT;
    } else {
        pix = dlt_malloc((unsigned long)sw * sh * c);
        if (tjDecompress2(tj, jpeg, (unsigned long)size, pix, sw, 0, sh, c == 1 ? TJPF_GRAY : TJPF_BGR,
                          TJFLAG_ACCURATEDCT) != 0) {
            dlt_error("%s: JPEG decoding failed: %s", path, tjGetErrorStr2(tj));
            st = DLT_ERR_FORMAT;
        } else {
            resize_bilinear(pix, sw, sh, c, out, w, h, scale);
        }
    }
    if (tj)
        tjDestroy(tj);
    free(pix);
    free(jpeg);
    return st;
}
