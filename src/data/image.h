/* image.h - internal image codec and resizing for dltrain-prep and the
 * loader: JPEG decode (TurboJPEG, scaled decode when shrinking), JPEG
 * encode, an area/bilinear resampler and DIGITS' four resize modes. */
#ifndef DLTRAIN_DATA_IMAGE_H
#define DLTRAIN_DATA_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "dltrain/data.h"

/* The public dlt_resize_mode (data.h) under its internal name. */
typedef dlt_resize_mode dlt__resize_mode;

/* An interleaved 8-bit image (HWC), 1 or 3 channels. */
typedef struct dlt__image {
    int w, h, c;
    uint8_t *px;  /* (h, w, c) */
} dlt__image;
void dlt__image_free(dlt__image *im);

/* What the leading bytes of a file say it is: "jpeg", "png", "gif", "bmp",
 * "tiff", "webp", or NULL when not a known image format. */
const char *dlt__image_sniff(const uint8_t *buf, size_t n);

/* One per thread (TurboJPEG handles are not thread-safe). */
typedef struct dlt__jpeg_codec dlt__jpeg_codec;
dlt__jpeg_codec *dlt__jpeg_codec_new(void);
void dlt__jpeg_codec_free(dlt__jpeg_codec *jc);

/* Read the header only; *GRAY (if not NULL) says it has one component.
 * 0, or -1 with a reason in WHY. */
int dlt__jpeg_header(dlt__jpeg_codec *jc, const uint8_t *buf, size_t n, int *w, int *h,
                     int *gray, char *why, size_t why_size);
/* Decode to C channels (1 gray, 3 RGB). When MIN_W/MIN_H > 0, the decoder
 * uses the smallest DCT scaling factor that keeps the image at least that
 * large (a 4x faster decode for 1/2 scale). Truncated or corrupt data is an
 * error (TurboJPEG's warnings are treated as errors), reason in WHY. */
int dlt__jpeg_decode(dlt__jpeg_codec *jc, const uint8_t *buf, size_t n, int c, int min_w,
                     int min_h, dlt__image *out, char *why, size_t why_size);
/* Decode a stored sample that must be exactly C x H x W, into CHW planes. */
int dlt__jpeg_decode_chw(dlt__jpeg_codec *jc, const uint8_t *buf, size_t n, int c, int w, int h,
                         uint8_t *chw, char *why, size_t why_size);
/* Encode IM at QUALITY (1..100), 4:2:0 for colour; *OUT malloc'd. */
int dlt__jpeg_encode(dlt__jpeg_codec *jc, const dlt__image *im, int quality, uint8_t **out,
                     size_t *out_n, char *why, size_t why_size);

/* Resample SRC to DW x DH: area averaging where shrinking, bilinear
 * (pixel-centre aligned) where enlarging, separately per axis. */
void dlt__image_resample(const dlt__image *src, int dw, int dh, dlt__image *dst);

/* Apply MODE to produce exactly W x H. Noise for fill/half_crop comes from
 * NOISE_SEED, so a build is reproducible. */
void dlt__image_resize_mode(const dlt__image *src, int w, int h, dlt__resize_mode mode,
                            uint64_t noise_seed, dlt__image *dst);

/* The target size a resize mode needs before cropping or padding: the
 * decode may be scaled down to no less than this. */
void dlt__resize_intermediate(int sw, int sh, int w, int h, dlt__resize_mode mode, int *iw,
                              int *ih);

/* The padding noise seed of an image: a function of the build's SEED
 * and the image's bytes, so that the same file gets the same noise in a
 * dataset and when classified. */
uint64_t dlt__resize_noise_seed(uint64_t seed, const uint8_t *bytes, size_t n);

/* dltrain-prep's path from JPEG bytes to a stored sample: header, decode
 * at the smallest DCT scale the resize allows, to C channels (gray or
 * RGB), resized to W x H with MODE and noise from
 * dlt__resize_noise_seed(SEED, BUF, N). *SAME_SIZE (if not NULL) says the
 * file was already W x H with C channels (its bytes can be stored as is). */
int dlt__image_prepare(dlt__jpeg_codec *jc, const uint8_t *buf, size_t n, int c, int w, int h,
                       dlt__resize_mode mode, uint64_t seed, dlt__image *out, int *same_size,
                       char *why, size_t why_size);

/* HWC -> CHW planes, as the dataset stores them. */
void dlt__image_to_chw(const dlt__image *im, uint8_t *chw);

#endif
