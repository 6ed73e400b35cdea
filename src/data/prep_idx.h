/* prep_idx.h - dltrain-prep's IDX path (MNIST, Fashion-MNIST): an images
 * file and a labels file into one uint8 HDF5 dataset. */
#ifndef DLTRAIN_DATA_PREP_IDX_H
#define DLTRAIN_DATA_PREP_IDX_H

#include "dltrain/prep.h"

/* OPT->inputs holds IMAGES and LABELS (IDX, optionally gzipped); writes
 * OPT->out with OPT->classes_file's names, else "0".."9" (or the
 * Fashion-MNIST names when IMAGES' path says fashion). Resizing, colour,
 * splits and JPEG storage do not apply. Returns 0 or a negative status
 * after reporting the error. */
int dlt__prep_idx_run(const dlt_prep_options *opt, dlt_prep_result *res);

#endif
