/* prep_captions.h - dltrain-prep --format captions: a COCO captions JSON
 * read into the images to convert (one input item per image) and their
 * tokenized captions; once the images are written, the vocabulary and the
 * caption table of each output file. */
#ifndef DLTRAIN_DATA_PREP_CAPTIONS_H
#define DLTRAIN_DATA_PREP_CAPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "data/captions.h"
#include "data/prep_inputs.h"

typedef struct dlt__prep_caption {
    size_t item;   /* the image's input item */
    char **tok;    /* (ntok) words, tokenized (captions.h) */
    int ntok;
} dlt__prep_caption;

typedef struct dlt__prep_captions {
    dlt__prep_caption *c;  /* (n) in annotation order */
    int64_t *image_id;     /* (nitems) each image's id in the JSON */
    size_t nitems;
    size_t n, cap;
    char **skips;          /* (nskips) lines for OUT.skipped.txt: bad records */
    size_t nskips, skips_cap;
} dlt__prep_captions;

/* Read O->annotations (images[id, file_name], annotations[image_id,
 * caption]); every image with at least one caption becomes an item of IN
 * (path O->images/file_name, label 0), in the order of images[]. A file
 * that is not JSON or lacks the two arrays fails, naming file, line and
 * column; a bad record (a malformed entry, a repeated image id, a caption
 * of an unknown image or with no words, an image without captions) is
 * skipped and listed in PC->skips. */
int dlt__prep_captions_collect(const dlt_prep_options *o, dlt__prep_inputs *in,
                               dlt__prep_captions *pc);
void dlt__prep_captions_free(dlt__prep_captions *pc);

/* O->vocab (a text vocabulary), else the words of the captions of the
 * training file's images (OUT_INDEX[item] >= 0 and not IS_VAL[item]) seen
 * at least O->min_count times. */
int dlt__prep_captions_vocab(const dlt_prep_options *o, const dlt__prep_captions *pc,
                             const long *out_index, const char *is_val, dlt__vocab *v);

/* The caption table of one output file: the captions of the images written
 * to it (OUT_INDEX[item] >= 0, IS_VAL[item] == VAL), ordered by image,
 * then as in the JSON; words outside V become <unk>; at most O->max_words
 * words each. *DROPPED counts captions of images that were skipped. */
void dlt__prep_captions_table(const dlt_prep_options *o, const dlt__prep_captions *pc,
                              const long *out_index, const char *is_val, int val,
                              const dlt__vocab *v, size_t n_images, dlt__caption_table *t,
                              long *dropped);

#endif
