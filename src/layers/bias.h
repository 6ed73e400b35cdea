/* bias.h - internal: the Bias shape (l->state), shared with
 * src/cuda/bias.cu. */
#ifndef DLTRAIN_LAYERS_BIAS_H
#define DLTRAIN_LAYERS_BIAS_H

#include <stddef.h>

#include "layers/layers.h"

typedef struct bias_state {
    size_t outer, dim, inner; /* x is [outer, dim, inner]; b has dim values */
} bias_state;

#endif
