/* registry.c - the table of layer types: prototxt type name -> ops.
 * Adding a layer type adds one row here and one file in src/layers/. */
#include <string.h>

#include "layers/layers.h"

static const dlt_layer_ops *const layer_table[] = {
    &dlt__data_ops,
    &dlt__hdf5_data_ops,
    &dlt__conv_ops,
    &dlt__pooling_ops,
    &dlt__inner_product_ops,
    &dlt__relu_ops,
    &dlt__softmax_loss_ops,
    &dlt__accuracy_ops,
    &dlt__sigmoid_ops,
    &dlt__tanh_ops,
    &dlt__dropout_ops,
    &dlt__softmax_ops,
    &dlt__concat_ops,
    &dlt__eltwise_ops,
    &dlt__flatten_ops,
    &dlt__lrn_ops,
    &dlt__batchnorm_ops,
    &dlt__scale_ops,
};
#define NTYPES ((int)(sizeof layer_table / sizeof layer_table[0]))

const dlt_layer_ops *dlt_layer_find(const char *type)
{
    if (!type)
        return NULL;
    for (int i = 0; i < NTYPES; i++)
        if (strcmp(layer_table[i]->type, type) == 0)
            return layer_table[i];
    return NULL;
}

const char *dlt_layer_type_list(void)
{
    static char list[512];
    if (!list[0]) {
        for (int i = 0; i < NTYPES; i++) {
            if (i)
                strncat(list, ", ", sizeof list - strlen(list) - 1);
            strncat(list, layer_table[i]->type, sizeof list - strlen(list) - 1);
        }
    }
    return list;
}
