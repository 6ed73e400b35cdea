/* flatten.cu - Flatten on the GPU: the values keep their order, so forward
 * and backward are device copies on the compute stream. */
#include "cuda/gpu.h"
extern "C" {
#include "layers/layers.h"
}

extern "C" void dlt__flatten_forward_gpu(dlt_layer *l)
{
    dlt__dev_copy(l->top[0]->gdata, l->bottom[0]->gdata, l->bottom[0]->count);
}

extern "C" void dlt__flatten_backward_gpu(dlt_layer *l)
{
    if (l->propagate_down[0])
        dlt__dev_copy(l->bottom[0]->gdiff, l->top[0]->gdiff, l->bottom[0]->count);
}
