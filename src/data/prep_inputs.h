/* prep_inputs.h - the list of inputs dltrain-prep converts: files found in
 * class folders or named by a list file, or CIFAR records, with labels and
 * class names. */
#ifndef DLTRAIN_DATA_PREP_INPUTS_H
#define DLTRAIN_DATA_PREP_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "dltrain/prep.h"

#define DLT_CIFAR_SIDE 32
#define DLT_CIFAR_PIXELS (3 * 32 * 32)

typedef struct dlt__prep_item {
    char *path;          /* image file, or the CIFAR batch file */
    const uint8_t *rec;  /* CIFAR: (3, 32, 32) pixels inside a loaded batch, else NULL */
    long record;         /* CIFAR record index or list-file line (for messages) */
    int32_t label;
} dlt__prep_item;

typedef struct dlt__prep_inputs {
    dlt__prep_item *items;
    size_t n, cap;
    char **classes;      /* (nclasses) */
    int nclasses;
    uint8_t **batches;   /* loaded CIFAR files, owned */
    int nbatches;
    long ignored;        /* folder: files without an image extension */
} dlt__prep_inputs;

/* Collect every input of OPT (fails, naming file and line, on a malformed
 * list file, a missing folder or a CIFAR file of the wrong size). Labels
 * outside the classes are kept: the builder skips and reports them. */
int dlt__prep_inputs_collect(const dlt_prep_options *opt, dlt__prep_inputs *in);
void dlt__prep_inputs_free(dlt__prep_inputs *in);

#endif
