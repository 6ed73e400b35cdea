/* prep.h - dltrain-prep's library side: building HDF5 datasets from image
 * folders, list files, CIFAR binaries, IDX files and COCO-style caption
 * files, with threads, a skip report for bad inputs, and optional JPEG
 * storage. */
#ifndef DLTRAIN_PREP_H
#define DLTRAIN_PREP_H

#include <stdint.h>

/* Exit status of dltrain-prep when the dataset was written but some
 * inputs were skipped (listed in OUT.skipped.txt). 0, 1, 2 as error.h. */
#define DLT_EXIT_SKIPPED 3

typedef enum {
    DLT_PREP_FOLDER,    /* ROOT/CLASS/.../IMAGE, classes sorted by name */
    DLT_PREP_LIST,      /* lines "PATH LABEL", PATH relative to --root */
    DLT_PREP_CIFAR10,   /* data_batch_*.bin: 1 label byte + 3072 pixel bytes */
    DLT_PREP_CIFAR100,  /* train.bin/test.bin: coarse, fine label bytes + 3072 */
    DLT_PREP_IDX,       /* inputs IMAGES, LABELS: IDX (MNIST) files, gzipped or not */
    DLT_PREP_CAPTIONS   /* annotations: COCO captions JSON; images under `images` */
} dlt_prep_format;

typedef struct dlt_prep_options {
    dlt_prep_format format;
    const char *const *inputs;  /* folder, list file, CIFAR batch files, or IDX pair */
    int ninputs;
    const char *root;           /* list: prefix of relative paths (default: none) */
    const char *out;            /* OUT.h5 */
    const char *val_out;        /* second file for --val-percent (default OUT_val.h5) */
    double val_percent;         /* 0..100 */
    int width, height;          /* 0: the source size (CIFAR) or 256 */
    int channels;               /* 3 colour, 1 gray */
    const char *resize;         /* squash, crop, fill, half_crop (NULL: squash) */
    int shuffle;
    uint64_t seed;
    const char *classes_file;   /* one name per line */
    int jpeg;                   /* store JPEG bytes (/jpeg) */
    int quality;                /* re-encoding quality */
    long chunk;                 /* samples per HDF5 chunk (0: automatic) */
    int threads;                /* decode threads (0: the cores we may use) */
    int quiet;
    int progress_tty;           /* -1: detect, 0: periodic lines, 1: bar */
    /* captions */
    const char *annotations;    /* COCO captions JSON */
    const char *images;         /* folder the file_name entries are relative to */
    const char *vocab;          /* vocabulary to use (text, one word per line), or NULL: build */
    const char *vocab_out;      /* write the vocabulary there too (text), or NULL */
    long min_count;             /* a built vocabulary keeps words seen this often (0: 5) */
    int max_words;              /* captions cut to this many words (0: no limit) */
} dlt_prep_options;

/* Outcome of a build. */
typedef struct dlt_prep_result {
    long written, val_written;  /* samples in OUT and in the validation file */
    long skipped;               /* bad inputs, listed in OUT.skipped.txt */
    long ignored;               /* files with non-image extensions (folder) */
    long captions, val_captions; /* captions: in OUT and in the validation file */
    double seconds;
} dlt_prep_result;

/* Build the dataset(s). Returns 0 (check res->skipped) or a negative
 * status after reporting the error. */
int dlt_prep_run(const dlt_prep_options *opt, dlt_prep_result *res);

#endif
