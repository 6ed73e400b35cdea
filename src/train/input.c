/* input.c - a loader, or the transform alone, configured from a net's
 * data layer (see input.h). */
#include <stdlib.h>

#include "dltrain/error.h"
#include "train/input.h"

int dlt__loader_for_data_layer(const dlt_dataset *set, const dlt_data_params *dp, int rank,
                               int world, int train, uint64_t seed, int prefetch,
                               size_t memory_budget, dlt_loader **out)
{
    dlt_loader_config lc = {.batch_size = dp->batch_size, .rank = rank, .world = world,
                            .shuffle = train, .seed = seed, .scale = dp->scale};
    float *mean = NULL;
    lc.crop_size = dp->crop_size;
    lc.mirror = dp->mirror;
    lc.mean_value = dp->n_mean_value ? dp->mean_value : NULL;
    lc.n_mean_value = dp->n_mean_value;
    lc.prefetch = prefetch;
    lc.memory_budget = memory_budget;
    lc.seq_len = dp->seq_len;
    if (dp->mean_file) {
        int c, h, w;
        dlt_dataset_shape(set, &c, &h, &w);
        DLT_TRY(dlt_mean_file_read(dp->mean_file, c, h, w, &mean));
        lc.mean = mean;
    }
    int st = dlt_loader_create(set, &lc, out);
    free(mean); /* the loader keeps its own copy */
    return st;
}

int dlt__transform_for_data_layer(const dlt_data_params *dp, const dlt_input_spec *in,
                                  dlt_transform **out)
{
    dlt_transform_config tc = {.in = *in, .scale = dp->scale, .crop_size = dp->crop_size,
                               .mirror = dp->mirror,
                               .mean_value = dp->n_mean_value ? dp->mean_value : NULL,
                               .n_mean_value = dp->n_mean_value};
    float *mean = NULL;
    if (dp->mean_file) {
        DLT_TRY(dlt_mean_file_read(dp->mean_file, in->c, in->h, in->w, &mean));
        tc.mean = mean;
    }
    int st = dlt_transform_create(&tc, out);
    free(mean); /* the transform keeps its own copy */
    return st;
}
