/* data.h - HDF5 datasets (schema in DESIGN.md), IDX input, and the
 * batch loader with its prefetch thread. */
#ifndef DLTRAIN_DATA_H
#define DLTRAIN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "dltrain/tensor.h"

#define DLT_DATASET_FORMAT "dltrain-dataset"
#define DLT_DATASET_VERSION 1

/* ---- how samples were made from image files ----
 * A dataset records the channel order of its samples and, when they were
 * decoded from image files, the resize applied: classification (and model
 * export) decode a new image the same way, so that the net sees in
 * deployment what it saw in training. */
typedef enum {
    DLT_CHANNELS_GRAY,  /* one channel, luma (libjpeg's RGB -> gray) */
    DLT_CHANNELS_RGB,   /* dltrain-prep's order */
    DLT_CHANNELS_BGR    /* Caffe's order (OpenCV decoding) */
} dlt_channel_order;
/* "GRAY", "RGB", "BGR"; parse accepts those names in any case. */
const char *dlt_channel_order_name(dlt_channel_order order);
int dlt_channel_order_parse(const char *s, dlt_channel_order *out);

/* Resize modes as DIGITS defines them (digits/utils/image.py resize_image). */
typedef enum {
    DLT_RESIZE_SQUASH,    /* stretch to W x H, aspect ratio not kept */
    DLT_RESIZE_CROP,      /* scale to cover W x H, cut the centre */
    DLT_RESIZE_FILL,      /* scale to fit inside, pad both ends with noise */
    DLT_RESIZE_HALF_CROP  /* scale by the mean ratio: half crop, half fill */
} dlt_resize_mode;
/* "squash", "crop", "fill", "half_crop"; parse returns -1 for other names. */
const char *dlt_resize_mode_name(dlt_resize_mode mode);
int dlt_resize_mode_parse(const char *s, dlt_resize_mode *out);

typedef struct dlt_input_spec {
    int c, h, w;              /* the stored sample shape */
    dlt_channel_order order;
    dlt_resize_mode resize;
    uint64_t resize_seed;     /* dltrain-prep --seed: the padding noise of fill modes */
} dlt_input_spec;
/* Read/write the spec as "key value" lines (RUN/config/input.txt, which
 * the trainer writes from its training set). Errors name the file:line. */
int dlt_input_spec_write(const char *path, const dlt_input_spec *in);
int dlt_input_spec_read(const char *path, dlt_input_spec *out);

/* ---- the input transform: one pipeline for the loader, classification
 * and model export ----
 * An image file is decoded (libjpeg-turbo) into the dataset's channel
 * order and resized to its stored shape exactly as dltrain-prep builds a
 * sample; a stored sample then goes through Caffe's transform_param
 * (DataTransformer::Transform): crop, mirror, (pixel - mean) * scale. */
typedef struct dlt_transform dlt_transform;
typedef struct dlt_transform_config {
    dlt_input_spec in;
    float scale;             /* transform_param scale */
    int crop_size;           /* random offset at TRAIN, centred at TEST; 0: none */
    int mirror;              /* random horizontal flip, TRAIN only */
    const float *mean;       /* (c, h, w) of the stored samples (mean_file), or NULL */
    const float *mean_value; /* per channel (one value: all channels), or NULL */
    int n_mean_value;
} dlt_transform_config;
/* Copies what it needs from CFG; errors (DLT_ERR_ARG) say which setting. */
int dlt_transform_create(const dlt_transform_config *cfg, dlt_transform **out);
void dlt_transform_free(dlt_transform *tf);
/* The sample shape the transform produces (crop_size applied). */
void dlt_transform_output_shape(const dlt_transform *tf, int *c, int *h, int *w);
/* A stored sample, uint8 U8 or float F32 (c, h, w), into OUT (c, oh, ow).
 * RNG NULL: TEST (centre crop, no mirror). Else TRAIN, drawing as Caffe
 * does: the mirror coin (when mirror), then the crop's row and column
 * offsets (when crop_size). Thread-safe: TF is only read. */
void dlt_transform_sample(const dlt_transform *tf, const uint8_t *u8, const float *f32,
                          dlt_rng *rng, float *out);
/* Image file bytes (JPEG) into the stored sample (c, h, w) as dltrain-prep
 * makes it: decode (1 channel: gray; 3: the spec's order), resize with the
 * spec's mode, fill noise from the spec's seed and the bytes. 0, or -1
 * with a reason in WHY. Not thread-safe (one codec per transform). */
int dlt_transform_decode(dlt_transform *tf, const uint8_t *buf, size_t n, uint8_t *chw,
                         char *why, size_t why_size);
/* The image file PATH, decoded and transformed as a TEST sample into OUT
 * (c, oh, ow). Errors name the file. */
int dlt_transform_image_file(dlt_transform *tf, const char *path, float *out);

/* ---- IDX files (MNIST, Fashion-MNIST), plain or gzip-compressed ---- */
typedef struct dlt_idx {
    int ndim;          /* 1 for labels, 3 for images */
    int dims[4];
    size_t count;      /* product of dims */
    uint8_t *data;     /* count bytes (type 0x08 unsigned byte only) */
} dlt_idx;
/* Errors name the file and what was expected (magic, sizes, truncation). */
int dlt_idx_read(const char *path, dlt_idx *out);
void dlt_idx_free(dlt_idx *idx);

/* ---- writing a dataset (dltrain-prep) ----
 * Writes PATH.tmp-PID, renamed to PATH by dlt_dataset_writer_close;
 * dlt_dataset_writer_abort removes the temporary file. */
typedef struct dlt_dataset_writer dlt_dataset_writer;
int dlt_dataset_writer_open(const char *path, int c, int h, int w,
                            const char *const *class_names, int nclasses,
                            dlt_dataset_writer **out);
/* Storage choices (dltrain-prep --encoding, --chunk). */
typedef struct dlt_dataset_writer_options {
    int jpeg;          /* 1: /jpeg, variable-length uint8 [N] of JPEG bytes, not /data */
    size_t chunk;      /* samples per HDF5 chunk; 0: about 1 MiB (10 MiB of raw for jpeg) */
    /* Recorded as attributes: channel_order (NULL: "GRAY" for 1 channel,
     * else "RGB"); resize and resize_seed when the samples were resized
     * from image files (RESIZE NULL: not recorded). */
    const char *channel_order;
    const char *resize;
    uint64_t resize_seed;
} dlt_dataset_writer_options;
int dlt_dataset_writer_open_ex(const char *path, int c, int h, int w,
                               const char *const *class_names, int nclasses,
                               const dlt_dataset_writer_options *opt, dlt_dataset_writer **out);
/* JPEG storage: N encoded images (JPEGS[i] of SIZES[i] bytes); PIXELS, if
 * not NULL, N*c*h*w decoded bytes for /mean. */
int dlt_dataset_writer_append_jpeg(dlt_dataset_writer *wr, const uint8_t *const *jpegs,
                                   const size_t *sizes, const uint8_t *pixels,
                                   const int32_t *labels, size_t n);
/* The temporary file being written (a SIGINT handler unlinks it). */
const char *dlt_dataset_writer_tmp_path(const dlt_dataset_writer *wr);
/* Append N samples: IMAGES is N*c*h*w bytes, LABELS N ints. */
int dlt_dataset_writer_append(dlt_dataset_writer *wr, const uint8_t *images,
                              const int32_t *labels, size_t n);
/* Writes /mean and the attributes, closes, renames. */
int dlt_dataset_writer_close(dlt_dataset_writer *wr);
void dlt_dataset_writer_abort(dlt_dataset_writer *wr);

/* ---- reading a dataset ----
 * Accepts our schema (uint8 /data, int32 /label) and Caffe's HDF5Data
 * layout (float32 /data, float /label). Opened read-only. dlt_dataset_open
 * reads every sample into memory; dlt_dataset_open_lazy reads only the
 * labels and the layout, and the samples stay on disk until
 * dlt_dataset_load (or are streamed by the loader, chunk by chunk). */
typedef struct dlt_dataset dlt_dataset;
int dlt_dataset_open(const char *path, dlt_dataset **out);
int dlt_dataset_open_lazy(const char *path, dlt_dataset **out);
int dlt_dataset_load(dlt_dataset *ds);
int dlt_dataset_in_memory(const dlt_dataset *ds);
/* Bytes the samples take in memory once loaded (for JPEG sets, the file
 * size: an upper bound known without reading the records). */
size_t dlt_dataset_memory_bytes(const dlt_dataset *ds);
void dlt_dataset_close(dlt_dataset *ds);
size_t dlt_dataset_size(const dlt_dataset *ds);
void dlt_dataset_shape(const dlt_dataset *ds, int *c, int *h, int *w);
int dlt_dataset_num_classes(const dlt_dataset *ds); /* 0 if unknown */
/* Name of class INDEX from the classes attribute; NULL if unknown. */
const char *dlt_dataset_class_name(const dlt_dataset *ds, int index);
const char *dlt_dataset_path(const dlt_dataset *ds);
/* How the samples were made: shape, the channel_order attribute, or for a
 * file without one the order its writer used: "RGB" for a dltrain file
 * (every dltrain-prep stores RGB), "BGR" (Caffe's convention) for a file
 * in Caffe's HDF5Data layout; always "GRAY" for one channel. The resize
 * and resize_seed attributes, or squash and 1 (dltrain-prep's defaults). */
void dlt_dataset_input_spec(const dlt_dataset *ds, dlt_input_spec *out);
/* Sample INDEX as floats times SCALE into OUT (c*h*w); returns its label.
 * The set must be in memory. */
int dlt_dataset_sample(const dlt_dataset *ds, size_t index, float scale, float *out);

/* ---- caption datasets (dltrain-prep --format captions; README.md,
 * "Caption datasets") ----
 * Several captions per image: caption i is words [0, len) of row i of
 * /captions, describing sample (image) dlt_dataset_caption's *image.
 * Word ids: the four reserved ones, then the vocabulary. */
enum { DLT_WORD_PAD = 0, DLT_WORD_START = 1, DLT_WORD_END = 2, DLT_WORD_UNK = 3 };
/* Captions in the file; 0 for a dataset without (a classification set). */
size_t dlt_dataset_num_captions(const dlt_dataset *ds);
/* T_max: words of the longest caption (the columns of /captions). */
int dlt_dataset_caption_max_words(const dlt_dataset *ds);
/* Caption I's word ids (*LEN of them, no <start>/<end>) and its image. */
const int32_t *dlt_dataset_caption(const dlt_dataset *ds, size_t i, int *len, size_t *image);
/* Words of the vocabulary (ids 0 .. size-1), NULL for an id outside it. */
int dlt_dataset_vocab_size(const dlt_dataset *ds);
const char *dlt_dataset_word(const dlt_dataset *ds, int id);

/* ---- loader: batches of one rank, prefetched by a thread ----
 * TRAIN: epoch e uses the global permutation of (seed, e); global step s
 * covers positions [s*W*B, (s+1)*W*B) of it and rank r takes the r-th
 * B-slice, so P ranks with batch B see exactly the samples one rank with
 * batch P*B sees. Steps per epoch = floor(N / (W*B)).
 * TEST: no shuffle; step s, rank r reads samples (s*W + r)*B + k, mod N.
 * Streaming (TRAIN on a set not in memory, see stream.h): epoch e deals a
 * permutation of (seed, e) of the HDF5 chunks to the ranks, rank r taking
 * positions [r*S, (r+1)*S) of the chunks laid end to end, S = steps * B,
 * and mixes them in a shuffle buffer of memory_budget/4 bytes. Steps per
 * epoch are the same floor(N / (W*B)); the N mod (W*B) samples at the end
 * of the epoch's chunk order are not served that epoch (in memory: those
 * at the end of the permutation). Either way, a sample is served at most
 * once per epoch, and every rank runs the same number of steps. */
typedef struct dlt_loader dlt_loader;
typedef struct dlt_loader_config {
    int batch_size;   /* per rank */
    int rank, world;
    int shuffle;      /* 1 for TRAIN */
    uint64_t seed;
    float scale;      /* transform_param scale */
    /* Caffe's transform_param, applied as (pixel - mean) * scale:
     * crop_size: random offset at TRAIN, centred at TEST (0: no crop);
     * mirror: random horizontal flip, TRAIN only. Crop offsets and flips
     * of a sample come from an RNG seeded by (seed, step, position in the
     * global batch): the same on any number of ranks and after a resume. */
    int crop_size;
    int mirror;
    const float *mean;     /* (c, h, w) of the dataset (mean_file), or NULL */
    const float *mean_value; /* per channel (mean_value; one value = all), or NULL */
    int n_mean_value;
    int prefetch;     /* batches prepared ahead, each by its own thread (0: 2) */
    size_t memory_budget; /* streaming: bytes for the shuffle buffer and chunk (0: 256 MiB) */
    int seq_len;      /* caption sets: time steps T of the word batches (0: T_max + 1) */
} dlt_loader_config;
/* Sample shape the loader produces (crop_size applied). */
void dlt_loader_output_shape(const dlt_loader *ld, int *c, int *h, int *w);
/* A mean image (c, h, w) for transform_param mean_file: Caffe's
 * .binaryproto (BlobProto), or an HDF5 file with /mean (dltrain-prep's). */
int dlt_mean_file_read(const char *path, int c, int h, int w, float **out);
int dlt_loader_create(const dlt_dataset *ds, const dlt_loader_config *cfg, dlt_loader **out);
void dlt_loader_free(dlt_loader *ld);
long dlt_loader_steps_per_epoch(const dlt_loader *ld);
/* Records skipped because they do not decode (damaged or empty JPEG
 * records) in the batches handed out so far (not in batches prefetched
 * beyond the last fetch): each is warned about (the first few), counted,
 * and its place in the batch taken by the next good sample of the batch. */
long dlt_loader_bad_records(const dlt_loader *ld);
/* 1 if the loader streams chunks from disk; then the shuffle buffer's
 * size in bytes (JPEG: estimated from the file's mean record size). */
int dlt_loader_streaming(const dlt_loader *ld, size_t *buffer_bytes);
/* Copy the batch of global step STEP into DATA (B*c*h*w) and LABEL (B, or NULL),
 * then start preparing STEP+1 in the background. With the environment
 * variable DLTRAIN_TRACE_SAMPLES=FILE, a TRAIN loader appends a line
 * "rank epoch index" to FILE for each sample it serves (tests). */
int dlt_loader_fetch(dlt_loader *ld, long step, float *data, float *label);
/* Caption sets: a sample is a caption (an epoch serves every caption
 * once; the permutation and sharding above are over captions), its data
 * its image, its label the image's index. The time steps T of the word
 * batches (0 for other sets). */
int dlt_loader_seq_len(const dlt_loader *ld);
/* dlt_loader_fetch plus each caption's words for teacher forcing, as
 * floats, each (T, B) with sample k of step t at t*B + k (Caffe's
 * recurrent layout): INPUT_WORDS <start> w1 .. w_len, then <pad>;
 * TARGET_WORDS w1 .. w_len <end>, then <pad> (a loss with ignore_label: 0
 * skips the padding); CONT 0 at t = 0, 1 after (the sequence-continuation
 * markers of Caffe's LSTM). A caption longer than T - 1 words is cut (its
 * last target is then a word, not <end>). NULL buffers are not filled. */
int dlt_loader_fetch_seq(dlt_loader *ld, long step, float *data, float *label,
                         float *input_words, float *target_words, float *cont);
/* The same into DST (LABEL may be NULL), which must have the loader's
 * batch shape: e.g. the view of dlt_net_input, filled in place. */
int dlt_loader_fetch_batch(dlt_loader *ld, long step, const dlt_batch *dst);

/* ---- node-local staging (--stage-dir) ----
 * Node-local rank 0 calls dlt_stage_dataset; the others wait (barrier) and
 * open dlt_stage_path's result. A copy is reused when its size, CRC-32 and
 * the source's size and date match DIR/NAME.crc32; otherwise replaced. */
void dlt_stage_path(const char *src, const char *dir, char *out, size_t size);
int dlt_stage_dataset(const char *src, const char *dir, char *out, size_t size);

#endif
