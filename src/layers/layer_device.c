/* layer_device.c - run a layer where it lives, and move it to the GPU:
 * the one place that chooses between the CPU ops and the GPU ops the
 * registry holds for the layer's type. */
#include "dltrain/device.h"
#include "dltrain/error.h"
#include "layers/layers.h"

/* The net's settings that are library state rather than layer state:
 * cuBLAS's atomics mode on the GPU, the CPU libraries' threads. Each
 * applies only when it changes, so nets with equal settings cost nothing. */
static void use_compute(const dlt_layer *l)
{
    if (!l->compute)
        return;
    if (l->on_gpu) {
        dlt_device_set_deterministic(l->compute->cudnn_deterministic);
        dlt_device_set_precision(l->compute->precision);
    }
    else
        dlt__cpu_use_threads(l->compute->threads);
}

void dlt_layer_forward(dlt_layer *l)
{
    use_compute(l);
    if (l->on_gpu)
        l->gpu_ops->forward(l);
    else
        l->ops->forward(l);
}

void dlt_layer_backward(dlt_layer *l)
{
    use_compute(l);
    if (l->on_gpu)
        l->gpu_ops->backward(l);
    else
        l->ops->backward(l);
}

int dlt_layer_to_gpu(dlt_layer *l)
{
    const dlt_layer_gpu_ops *g = dlt_layer_find_gpu(l->ops);
    if (!g)
        DLT_FAIL(DLT_ERR_ARG, "layer '%s': layer type %s has no GPU implementation; use --device cpu",
                 l->name ? l->name : "?", l->ops->type);
    for (int i = 0; i < l->nbottom; i++)
        dlt_tensor_to_device(l->bottom[i]);
    for (int i = 0; i < l->ntop; i++)
        dlt_tensor_to_device(l->top[i]);
    for (int i = 0; i < l->nparam; i++)
        dlt_tensor_to_device(&l->param[i]);
    l->gpu_ops = g;
    DLT_TRY(g->setup(l));
    l->on_gpu = 1;
    return 0;
}

void dlt_layer_free_gpu(dlt_layer *l)
{
    if (l->on_gpu && l->gpu_ops->destroy)
        l->gpu_ops->destroy(l);
    l->gpu_state = NULL;
    l->gpu_ops = NULL;
    l->on_gpu = 0;
}
