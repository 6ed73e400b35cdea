/* caption_attention.h - dltrain-caption --attention DIR: where the
 * decoder looked for each word, as pictures (Xu et al.'s figures) and as
 * numbers. Per image one JPEG strip: the image, then one panel per word
 * with the attended locations bright and red (red minus green = 115 x the
 * weight / the step's largest), the others dimmed; DIR/index.html
 * shows the strips with their words under the panels; DIR/index.tsv has one
 * line per image: FILE, NAME, caption, and the maps (steps separated by ';',
 * the H*W weights of a step, row-major, by ','). */
#ifndef DLTRAIN_TRAIN_CAPTION_ATTENTION_H
#define DLTRAIN_TRAIN_CAPTION_ATTENTION_H

typedef struct dlt__att_writer dlt__att_writer;

/* DIR (created if missing) for maps of FH x FW locations. */
int dlt__att_writer_open(const char *dir, int fh, int fw, dlt__att_writer **out);

/* One image: IMAGE (C x H x W floats, the net's input; any range, shown
 * min..max), its caption WORDS[0..LEN), MAPS (LEN x FH*FW, the attention
 * weights at the step that chose each word). */
int dlt__att_writer_add(dlt__att_writer *w, const char *name, const float *image, int c, int h,
                        int wd, const char *const *words, int len, const float *maps);

/* Finishes index.html and closes the files (also after an error); 0 or the
 * first error. */
int dlt__att_writer_close(dlt__att_writer *w);

#endif
