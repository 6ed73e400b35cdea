/* input.h - a loader configured from a net's data layer (batch size and
 * Caffe's transform_param), shared by the trainer and dltrain-eval. */
#ifndef DLTRAIN_TRAIN_INPUT_H
#define DLTRAIN_TRAIN_INPUT_H

#include <stdint.h>

#include "dltrain/data.h"
#include "dltrain/layer.h"

/* TRAIN: shuffled, random crops and mirrors; else sequential, centre crops.
 * PREFETCH 0 takes the loader's default; MEMORY_BUDGET sizes the shuffle
 * buffer when SET is streamed (not in memory). */
int dlt__loader_for_data_layer(const dlt_dataset *set, const dlt_data_params *dp, int rank,
                               int world, int train, uint64_t seed, int prefetch,
                               size_t memory_budget, dlt_loader **out);

/* The same transform_param for images that are not in a dataset
 * (classification): IN says how the training set's samples were made. */
int dlt__transform_for_data_layer(const dlt_data_params *dp, const dlt_input_spec *in,
                                  dlt_transform **out);

#endif
