/* input.c - a loader configured from a net's data layer (see input.h). */
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
