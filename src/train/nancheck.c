/* nancheck.c - locate the first layer with a non-finite value: forward
 * outputs in layer order, or the layer owning a gradient offset. Called
 * only after the loss or the gradients were found non-finite. */
#include <math.h>
#include <stdlib.h>

#include "dltrain/error.h"
#include "train/nancheck.h"

static int any_nonfinite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 1;
    return 0;
}

int dlt__first_nonfinite_output(const dlt_net *net)
{
    for (int i = 0; i < dlt_net_num_layers(net); i++) {
        const dlt_layer *l = dlt_net_layer(net, i);
        for (int t = 0; t < l->ntop; t++)
            if (l->top[t]->data && any_nonfinite(l->top[t]->data, l->top[t]->count))
                return i;
    }
    return -1;
}

int dlt__layer_of_grad_offset(dlt_net *net, size_t off)
{
    const float *g = dlt_net_grads(net) + off;
    for (int i = 0; i < dlt_net_num_layers(net); i++) {
        const dlt_layer *l = dlt_net_layer(net, i);
        for (int p = 0; p < l->nparam; p++)
            if (l->param[p].diff && g >= l->param[p].diff && g < l->param[p].diff + l->param[p].count)
                return i;
    }
    return -1;
}

void dlt__test_nan_point(int rank, long iter, float *input)
{
    const char *i = getenv("DLT_TEST_NAN_ITER"), *r = getenv("DLT_TEST_NAN_RANK");
    if (i && atol(i) == iter && (r ? atoi(r) : 0) == rank)
        input[0] = NAN;
}
