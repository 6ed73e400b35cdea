/* layer_device.c - run a layer where it lives, and move it to the GPU:
 * the one place that chooses between ops->forward and ops->forward_gpu. */
#include "core/device_impl.h"
#include "dltrain/error.h"
#include "layers/layers.h"

/* The net's settings that are library state rather than layer state:
 * cuBLAS's atomics mode on the GPU, the CPU libraries' threads. Each
 * applies only when it changes, so nets with equal settings cost nothing. */
static void use_compute(const dlt_layer *l)
{
    if (!l->compute)
        return;
    if (l->on_gpu)
        dlt__dev_set_deterministic(l->compute->cudnn_deterministic);
    else
        dlt__cpu_use_threads(l->compute->threads);
}

void dlt_layer_forward(dlt_layer *l)
{
    use_compute(l);
    if (l->on_gpu)
        l->ops->forward_gpu(l);
    else
        l->ops->forward(l);
}

void dlt_layer_backward(dlt_layer *l)
{
    use_compute(l);
    if (l->on_gpu)
        l->ops->backward_gpu(l);
    else
        l->ops->backward(l);
}

int dlt_layer_to_gpu(dlt_layer *l)
{
    const dlt_layer_ops *o = l->ops;
    if (!o->setup_gpu || !o->forward_gpu || !o->backward_gpu)
        DLT_FAIL(DLT_ERR_ARG, "layer '%s': layer type %s has no GPU implementation; use --device cpu",
                 l->name ? l->name : "?", o->type);
    for (int i = 0; i < l->nbottom; i++)
        dlt_tensor_to_device(l->bottom[i]);
    for (int i = 0; i < l->ntop; i++)
        dlt_tensor_to_device(l->top[i]);
    for (int i = 0; i < l->nparam; i++)
        dlt_tensor_to_device(&l->param[i]);
    DLT_TRY(o->setup_gpu(l));
    l->on_gpu = 1;
    return 0;
}

void dlt_layer_free_gpu(dlt_layer *l)
{
    if (l->on_gpu && l->ops->destroy_gpu)
        l->ops->destroy_gpu(l);
    l->gpu_state = NULL;
    l->on_gpu = 0;
}
