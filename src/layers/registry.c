/* registry.c - the table of layer types (layers.def): prototxt type name
 * -> CPU ops, and in a CUDA build the type's GPU entry points. Adding a
 * layer type adds one row to layers.def and one file in src/layers/. */
#include <string.h>

#include "layers/layers.h"

typedef struct layer_row {
    const char *type;
    const dlt_layer_ops *ops;
    const dlt_layer_gpu_ops *gpu; /* NULL: no GPU code (or no CUDA build) */
} layer_row;

/* One static GPU ops table per GPU row, named after the row's ops. */
#ifdef HAVE_CUDA
#define DLT_LAYER_GPU(TYPE, NAME, SETUP, RUN)                                 \
    static const dlt_layer_gpu_ops NAME##_gpu_ops = {                         \
        dlt__##SETUP##_setup_gpu, dlt__##RUN##_forward_gpu,                   \
        dlt__##RUN##_backward_gpu, dlt__##SETUP##_destroy_gpu};
#include "layers/layers.def"
#define GPU_OPS(NAME) &NAME##_gpu_ops
#else
#define GPU_OPS(NAME) NULL
#endif

static const layer_row layer_table[] = {
#define DLT_LAYER(TYPE, NAME) {TYPE, &dlt__##NAME##_ops, NULL},
#define DLT_LAYER_GPU(TYPE, NAME, SETUP, RUN) {TYPE, &dlt__##NAME##_ops, GPU_OPS(NAME)},
#include "layers/layers.def"
};
#define NTYPES ((int)(sizeof layer_table / sizeof layer_table[0]))

const dlt_layer_ops *dlt_layer_find(const char *type)
{
    if (!type)
        return NULL;
    for (int i = 0; i < NTYPES; i++)
        if (strcmp(layer_table[i].type, type) == 0)
            return layer_table[i].ops;
    return NULL;
}

const dlt_layer_gpu_ops *dlt_layer_find_gpu(const dlt_layer_ops *ops)
{
    for (int i = 0; i < NTYPES; i++)
        if (layer_table[i].ops == ops)
            return layer_table[i].gpu;
    return NULL;
}

const char *dlt_layer_type_list(void)
{
    static char list[512];
    if (!list[0]) {
        for (int i = 0; i < NTYPES; i++) {
            if (i)
                strncat(list, ", ", sizeof list - strlen(list) - 1);
            strncat(list, layer_table[i].type, sizeof list - strlen(list) - 1);
        }
    }
    return list;
}
