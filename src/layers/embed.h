/* embed.h - internal: the Embed configuration (l->state), shared with
 * src/cuda/embed.cu. */
#ifndef DLTRAIN_LAYERS_EMBED_H
#define DLTRAIN_LAYERS_EMBED_H

#include <stddef.h>

#include "layers/layers.h"

typedef struct embed_config {
    int num_output;  /* K: the length of one embedding */
    int input_dim;   /* V: the number of indices (rows of the weight) */
    int bias_term;
    size_t m;        /* indices in the bottom */
} embed_config;

#endif
