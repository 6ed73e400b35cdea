/* image.c - JPEG decode/encode through TurboJPEG, a separable area/bilinear
 * resampler, and DIGITS' resize modes (see image.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "data/image.h"
#include "dltrain/error.h"
#include "dltrain/size.h"
#include "dltrain/tensor.h"

struct dlt__jpeg_codec {
    tjhandle dec, enc;
    uint8_t *scratch;   /* interleaved pixels of dlt__jpeg_decode_chw, reused */
    size_t scratch_n;
};

/* After a failed call a TurboJPEG decompressor can keep the error state
 * and fail every later file (seen with libjpeg-turbo 2.1): start afresh. */
static void reset_decoder(dlt__jpeg_codec *jc)
{
    tjDestroy(jc->dec);
    jc->dec = tjInitDecompress();
    if (!jc->dec)
        dlt_fatal("cannot create a TurboJPEG handle: %s", tjGetErrorStr2(NULL));
}

static const char *const resize_names[] = {"squash", "crop", "fill", "half_crop"};

const char *dlt_resize_mode_name(dlt_resize_mode mode)
{
    return (unsigned)mode < 4 ? resize_names[mode] : "?";
}

int dlt_resize_mode_parse(const char *s, dlt_resize_mode *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, resize_names[i]) == 0) {
            *out = (dlt_resize_mode)i;
            return 0;
        }
    return -1;
}

void dlt__image_free(dlt__image *im)
{
    free(im->px);
    im->px = NULL;
    im->w = im->h = im->c = 0;
}

const char *dlt__image_sniff(const uint8_t *b, size_t n)
{
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        return "jpeg";
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "png";
    if (n >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0))
        return "gif";
    if (n >= 2 && b[0] == 'B' && b[1] == 'M')
        return "bmp";
    if (n >= 4 && (memcmp(b, "II*\0", 4) == 0 || memcmp(b, "MM\0*", 4) == 0))
        return "tiff";
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
        return "webp";
    return NULL;
}

dlt__jpeg_codec *dlt__jpeg_codec_new(void)
{
    dlt__jpeg_codec *jc = dlt_calloc(1, sizeof *jc);
    jc->dec = tjInitDecompress();
    jc->enc = tjInitCompress();
    if (!jc->dec || !jc->enc)
        dlt_fatal("cannot create a TurboJPEG handle: %s", tjGetErrorStr2(NULL));
    return jc;
}

void dlt__jpeg_codec_free(dlt__jpeg_codec *jc)
{
    if (!jc)
        return;
    tjDestroy(jc->dec);
    tjDestroy(jc->enc);
    free(jc->scratch);
    free(jc);
}

int dlt__jpeg_header(dlt__jpeg_codec *jc, const uint8_t *buf, size_t n, int *w, int *h,
                     int *gray, char *why, size_t why_size)
{
    int sub, cs;
    if (n < 4 || !(buf[0] == 0xFF && buf[1] == 0xD8)) {
        snprintf(why, why_size, "not a JPEG file");
        return -1;
    }
    /* A tables-only stream (no frame) succeeds without setting the size. */
    *w = *h = 0;
    if (tjDecompressHeader3(jc->dec, buf, (unsigned long)n, w, h, &sub, &cs) != 0) {
        snprintf(why, why_size, "corrupt JPEG header: %s", tjGetErrorStr2(jc->dec));
        reset_decoder(jc);
        return -1;
    }
    if (*w <= 0 || *h <= 0) {
        if (*w == 0 && *h == 0)
            snprintf(why, why_size, "JPEG holds no image (only tables)");
        else
            snprintf(why, why_size, "JPEG has size %d x %d", *w, *h);
        return -1;
    }
    /* A decoded image (w x h x 3 bytes) and the scaling search's pixel
     * counts are ints: a 60000 x 60000 header is refused, not overflowed. */
    const int64_t px[3] = {*w, *h, 3};
    char big[256];
    if (dlt_size_prod_why(px, 3, DLT_DIM_MAX, NULL, big, sizeof big) < 0) {
        snprintf(why, why_size, "JPEG of %d x %d pixels is too large to decode (%s)", *w, *h, big);
        return -1;
    }
    if (gray)
        *gray = cs == TJCS_GRAY;
    return 0;
}

int dlt__jpeg_decode(dlt__jpeg_codec *jc, const uint8_t *buf, size_t n, int c, int min_w,
                     int min_h, dlt__image *out, char *why, size_t why_size)
{
    int w, h;
    memset(out, 0, sizeof *out);
    if (dlt__jpeg_header(jc, buf, n, &w, &h, NULL, why, why_size) < 0)
        return -1;
    /* Smallest factor (the list goes from large to small) that keeps the
     * decoded image at least min_w x min_h: DCT-domain scaling is far
     * cheaper than decoding full size and averaging afterwards. */
    int sw = w, sh = h;
    if (min_w > 0 && min_h > 0) {
        int nf;
        tjscalingfactor *sf = tjGetScalingFactors(&nf);
        for (int i = 0; sf && i < nf; i++) {
            if (sf[i].num > sf[i].denom)
                continue;
            int tw = TJSCALED(w, sf[i]), th = TJSCALED(h, sf[i]);
            if (tw >= min_w && th >= min_h && tw * th < sw * sh)
                sw = tw, sh = th;
        }
    }
    out->w = sw, out->h = sh, out->c = c;
    out->px = dlt_malloc((size_t)sw * sh * c);
    int pf = c == 1 ? TJPF_GRAY : TJPF_RGB;
    if (tjDecompress2(jc->dec, buf, (unsigned long)n, out->px, sw, 0, sh, pf,
                      TJFLAG_STOPONWARNING) != 0) {
        /* A truncated file is only a warning to libjpeg (it pads with grey);
         * a training set must not silently hold half-grey images. */
        snprintf(why, why_size, "%s JPEG: %s",
                 tjGetErrorCode(jc->dec) == TJERR_WARNING ? "truncated or damaged" : "corrupt",
                 tjGetErrorStr2(jc->dec));
        reset_decoder(jc);
        dlt__image_free(out);
        return -1;
    }
    return 0;
}

int dlt__jpeg_decode_chw(dlt__jpeg_codec *jc, const uint8_t *buf, size_t n, int c, int w, int h,
                         uint8_t *chw, char *why, size_t why_size)
{
    /* The loader's hot path: one header parse, a reused buffer, no scaling. */
    int jw, jh;
    if (dlt__jpeg_header(jc, buf, n, &jw, &jh, NULL, why, why_size) < 0)
        return -1;
    if (jw != w || jh != h) {
        snprintf(why, why_size, "JPEG is %d x %d, the dataset's shape says %d x %d", jw, jh, w,
                 h);
        return -1;
    }
    size_t need = (size_t)w * h * c;
    if (jc->scratch_n < need) {
        free(jc->scratch);
        jc->scratch = dlt_malloc(need);
        jc->scratch_n = need;
    }
    if (tjDecompress2(jc->dec, buf, (unsigned long)n, jc->scratch, w, 0, h,
                      c == 1 ? TJPF_GRAY : TJPF_RGB, TJFLAG_STOPONWARNING) != 0) {
        snprintf(why, why_size, "%s JPEG: %s",
                 tjGetErrorCode(jc->dec) == TJERR_WARNING ? "truncated or damaged" : "corrupt",
                 tjGetErrorStr2(jc->dec));
        reset_decoder(jc);
        return -1;
    }
    dlt__image im = {.w = w, .h = h, .c = c, .px = jc->scratch};
    dlt__image_to_chw(&im, chw);
    return 0;
}

int dlt__jpeg_encode(dlt__jpeg_codec *jc, const dlt__image *im, int quality, uint8_t **out,
                     size_t *out_n, char *why, size_t why_size)
{
    unsigned char *jbuf = NULL;
    unsigned long jn = 0;
    int pf = im->c == 1 ? TJPF_GRAY : TJPF_RGB;
    int samp = im->c == 1 ? TJSAMP_GRAY : TJSAMP_420;
    if (tjCompress2(jc->enc, im->px, im->w, 0, im->h, pf, &jbuf, &jn, samp, quality,
                    TJFLAG_ACCURATEDCT) != 0) {
        snprintf(why, why_size, "JPEG encode failed: %s", tjGetErrorStr2(jc->enc));
        tjFree(jbuf);
        return -1;
    }
    *out = dlt_malloc(jn);
    memcpy(*out, jbuf, jn);
    *out_n = jn;
    tjFree(jbuf);
    return 0;
}

/* ---- resampling ---- */

/* Weights of one output coordinate: source pixels [start, start+n). */
typedef struct tap {
    int start, n;
    float *wt;
} tap;

/* Per-axis filter from SN source to DN output pixels. Shrinking: each
 * output pixel averages the source interval it covers, with fractional
 * weights at the ends (area / box filter, no aliasing). Enlarging:
 * bilinear between the two nearest pixel centres. */
static tap *make_taps(int sn, int dn, float **pool)
{
    tap *t = dlt_malloc((size_t)dn * sizeof *t);
    double s = (double)sn / dn;
    int maxn = s > 1 ? (int)ceil(s) + 2 : 2;
    *pool = dlt_malloc((size_t)dn * maxn * sizeof **pool);
    for (int o = 0; o < dn; o++) {
        float *wt = *pool + (size_t)o * maxn;
        t[o].wt = wt;
        if (s > 1) {
            double x0 = o * s, x1 = (o + 1) * s;
            int i0 = (int)floor(x0), i1 = (int)ceil(x1);
            if (i1 > sn) i1 = sn;
            t[o].start = i0, t[o].n = i1 - i0;
            for (int i = i0; i < i1; i++) {
                double a = i < x0 ? x0 : i, b = i + 1 > x1 ? x1 : i + 1;
                wt[i - i0] = (float)((b - a) / s);
            }
        } else {
            double x = (o + 0.5) * s - 0.5;
            if (x < 0) x = 0;
            int i0 = (int)floor(x);
            if (i0 >= sn - 1) {
                t[o].start = sn - 1, t[o].n = 1, wt[0] = 1;
                continue;
            }
            float f = (float)(x - i0);
            t[o].start = i0, t[o].n = 2, wt[0] = 1 - f, wt[1] = f;
        }
    }
    return t;
}

void dlt__image_resample(const dlt__image *src, int dw, int dh, dlt__image *dst)
{
    int c = src->c;
    dst->w = dw, dst->h = dh, dst->c = c;
    dst->px = dlt_malloc((size_t)dw * dh * c);
    if (dw == src->w && dh == src->h) {
        memcpy(dst->px, src->px, (size_t)dw * dh * c);
        return;
    }
    float *xp, *yp;
    tap *tx = make_taps(src->w, dw, &xp), *ty = make_taps(src->h, dh, &yp);
    /* Horizontal pass into floats (src->h rows x dw), then vertical. */
    float *mid = dlt_malloc((size_t)src->h * dw * c * sizeof *mid);
    for (int y = 0; y < src->h; y++) {
        const uint8_t *row = src->px + (size_t)y * src->w * c;
        float *mrow = mid + (size_t)y * dw * c;
        for (int x = 0; x < dw; x++)
            for (int k = 0; k < c; k++) {
                float acc = 0;
                for (int i = 0; i < tx[x].n; i++)
                    acc += tx[x].wt[i] * row[(size_t)(tx[x].start + i) * c + k];
                mrow[(size_t)x * c + k] = acc;
            }
    }
    size_t rowlen = (size_t)dw * c;
    float *acc = dlt_malloc(rowlen * sizeof *acc);
    for (int y = 0; y < dh; y++) {
        memset(acc, 0, rowlen * sizeof *acc);
        for (int i = 0; i < ty[y].n; i++) {
            const float *mrow = mid + (size_t)(ty[y].start + i) * rowlen;
            float wgt = ty[y].wt[i];
            for (size_t j = 0; j < rowlen; j++)
                acc[j] += wgt * mrow[j];
        }
        uint8_t *out = dst->px + (size_t)y * rowlen;
        for (size_t j = 0; j < rowlen; j++) {
            float v = acc[j] + 0.5f;
            out[j] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
        }
    }
    free(acc);
    free(mid);
    free(tx), free(ty), free(xp), free(yp);
}

/* ---- DIGITS resize modes ---- */

void dlt__resize_intermediate(int sw, int sh, int w, int h, dlt__resize_mode mode, int *iw,
                              int *ih)
{
    double wr = (double)sw / w, hr = (double)sh / h;
    switch (mode) {
    case DLT_RESIZE_SQUASH:
        *iw = w, *ih = h;
        break;
    case DLT_RESIZE_CROP:
        if (wr > hr)
            *ih = h, *iw = (int)lround(sw / hr);
        else
            *iw = w, *ih = (int)lround(sh / wr);
        break;
    case DLT_RESIZE_FILL:
        if (wr > hr) {
            *iw = w, *ih = (int)lround(sh / wr);
            if ((h - *ih) % 2)
                (*ih)++;
        } else {
            *ih = h, *iw = (int)lround(sw / hr);
            if ((w - *iw) % 2)
                (*iw)++;
        }
        break;
    case DLT_RESIZE_HALF_CROP: {
        double r = (wr + hr) / 2;
        *iw = (int)lround(sw / r), *ih = (int)lround(sh / r);
        if (wr > hr && (h - *ih) % 2)
            (*ih)++;
        else if (wr < hr && (w - *iw) % 2)
            (*iw)++;
        break;
    }
    }
    if (*iw < 1) *iw = 1;
    if (*ih < 1) *ih = 1;
}

void dlt__image_resize_mode(const dlt__image *src, int w, int h, dlt__resize_mode mode,
                            uint64_t noise_seed, dlt__image *dst)
{
    int iw, ih, c = src->c;
    if (src->w == w && src->h == h) {
        dlt__image_resample(src, w, h, dst);
        return;
    }
    dlt__resize_intermediate(src->w, src->h, w, h, mode, &iw, &ih);
    dlt__image mid;
    dlt__image_resample(src, iw, ih, &mid);
    dst->w = w, dst->h = h, dst->c = c;
    dst->px = dlt_malloc((size_t)w * h * c);
    /* Noise first; the (cropped) image is pasted over it centred. */
    dlt_rng rng;
    dlt_rng_seed(&rng, noise_seed);
    for (size_t i = 0; i < (size_t)w * h * c; i++)
        dst->px[i] = (uint8_t)dlt_rng_below(&rng, 255);
    /* Offsets as DIGITS: start = round((resized - target) / 2) when the
     * resized side is longer; padding (target - resized) / 2 when shorter. */
    int sx = 0, sy = 0, dx = 0, dy = 0;
    if (iw > w) sx = (int)lround((iw - w) / 2.0); else dx = (w - iw) / 2;
    if (ih > h) sy = (int)lround((ih - h) / 2.0); else dy = (h - ih) / 2;
    int cw = iw < w ? iw : w, ch = ih < h ? ih : h;
    for (int y = 0; y < ch; y++)
        memcpy(dst->px + ((size_t)(y + dy) * w + dx) * c,
               mid.px + ((size_t)(y + sy) * iw + sx) * c, (size_t)cw * c);
    dlt__image_free(&mid);
}

uint64_t dlt__resize_noise_seed(uint64_t seed, const uint8_t *bytes, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a over the bytes */
    for (size_t i = 0; i < n; i++)
        h = (h ^ bytes[i]) * 0x100000001b3ULL;
    return seed * 1000003u ^ h;
}

int dlt__image_prepare(dlt__jpeg_codec *jc, const uint8_t *buf, size_t n, int c, int w, int h,
                       dlt__resize_mode mode, uint64_t seed, dlt__image *out, int *same_size,
                       char *why, size_t why_size)
{
    int sw, sh, gray, iw, ih;
    dlt__image src;
    memset(out, 0, sizeof *out);
    if (dlt__jpeg_header(jc, buf, n, &sw, &sh, &gray, why, why_size) < 0)
        return -1;
    dlt__resize_intermediate(sw, sh, w, h, mode, &iw, &ih);
    if (dlt__jpeg_decode(jc, buf, n, c, iw, ih, &src, why, why_size) < 0)
        return -1;
    if (same_size)
        *same_size = sw == w && sh == h && gray == (c == 1);
    dlt__image_resize_mode(&src, w, h, mode, dlt__resize_noise_seed(seed, buf, n), out);
    dlt__image_free(&src);
    return 0;
}

#if defined(__x86_64__)
#include <tmmintrin.h>
/* 16 RGB pixels at a time with SSSE3 byte shuffles: plain C leaves this
 * stride-3 loop scalar, about a third of a 256x256 JPEG decode's time. */
__attribute__((target("ssse3"))) static size_t rgb_planes_ssse3(const uint8_t *s, uint8_t *r,
                                                                 uint8_t *g, uint8_t *b,
                                                                 size_t n)
{
    int8_t m[3][3][16]; /* [channel][source vector][lane] */
    for (int ch = 0; ch < 3; ch++)
        for (int v = 0; v < 3; v++)
            for (int lane = 0; lane < 16; lane++) {
                int idx = 3 * lane + ch;
                m[ch][v][lane] = (int8_t)(idx / 16 == v ? idx % 16 : 0x80);
            }
    __m128i mk[3][3];
    for (int ch = 0; ch < 3; ch++)
        for (int v = 0; v < 3; v++)
            mk[ch][v] = _mm_loadu_si128((const __m128i *)m[ch][v]);
    uint8_t *dst[3] = {r, g, b};
    size_t p = 0;
    for (; p + 16 <= n; p += 16) {
        __m128i x[3];
        for (int v = 0; v < 3; v++)
            x[v] = _mm_loadu_si128((const __m128i *)(s + 3 * p + 16 * v));
        for (int ch = 0; ch < 3; ch++) {
            __m128i o = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(x[0], mk[ch][0]),
                                                  _mm_shuffle_epi8(x[1], mk[ch][1])),
                                     _mm_shuffle_epi8(x[2], mk[ch][2]));
            _mm_storeu_si128((__m128i *)(dst[ch] + p), o);
        }
    }
    return p;
}
#endif

void dlt__image_to_chw(const dlt__image *im, uint8_t *chw)
{
    size_t plane = (size_t)im->w * im->h;
    if (im->c == 3) { /* the common case, in a form the compiler vectorises */
        uint8_t *r = chw, *g = chw + plane, *b = chw + 2 * plane;
        const uint8_t *s = im->px;
        size_t p = 0;
#if defined(__x86_64__)
        if (__builtin_cpu_supports("ssse3"))
            p = rgb_planes_ssse3(s, r, g, b, plane);
#endif
        for (; p < plane; p++)
            r[p] = s[3 * p], g[p] = s[3 * p + 1], b[p] = s[3 * p + 2];
        return;
    }
    for (size_t p = 0; p < plane; p++)
        for (int k = 0; k < im->c; k++)
            chw[(size_t)k * plane + p] = im->px[p * im->c + k];
}
