/* dropout.cu - Dropout on the GPU. The mask is drawn on the host from the
 * rank's checkpointed RNG (dlt__dropout_next_mask, the CPU's own draw) and
 * uploaded: a few bytes per value, and GPU and CPU runs, and resumed runs,
 * drop exactly the same values. At test time the identity. */
#include "cuda/gpu.h"
extern "C" {
#include "layers/layers.h"
}

typedef struct dropout_gpu {
    unsigned char *mask; /* (count) on the device, 1 = kept */
    float scale;         /* of the last training forward */
    int train;           /* the last forward dropped values */
} dropout_gpu;

static __global__ void masked_scale(const float *x, const unsigned char *mask, float *y, size_t n, float scale)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] = mask[i] ? x[i] * scale : 0.0f;
}

extern "C" int dlt__dropout_setup_gpu(dlt_layer *l)
{
    dropout_gpu *s = (dropout_gpu *)dlt_calloc(1, sizeof *s);
    s->mask = (unsigned char *)dlt__dev_alloc(l->bottom[0]->count + 1);
    l->gpu_state = s;
    return 0;
}

/* y = mask ? x * scale : 0 when training, else y = x (no-op in place). */
static void apply(dlt_layer *l, const float *x, float *y)
{
    const dropout_gpu *s = (const dropout_gpu *)l->gpu_state;
    size_t n = l->bottom[0]->count;
    if (!s->train) {
        if (y != x)
            dlt__dev_copy(y, x, n);
        return;
    }
    masked_scale<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(x, s->mask, y, n, s->scale);
    CUDA_LAUNCH_CHECK();
}

extern "C" void dlt__dropout_forward_gpu(dlt_layer *l)
{
    dropout_gpu *s = (dropout_gpu *)l->gpu_state;
    const unsigned char *mask = dlt__dropout_next_mask(l, &s->scale);
    s->train = mask != NULL;
    if (mask)
        dlt__dev_upload(s->mask, mask, l->bottom[0]->count);
    apply(l, l->bottom[0]->gdata, l->top[0]->gdata);
}

extern "C" void dlt__dropout_backward_gpu(dlt_layer *l)
{
    if (l->propagate_down[0])
        apply(l, l->top[0]->gdiff, l->bottom[0]->gdiff);
}

extern "C" void dlt__dropout_destroy_gpu(dlt_layer *l)
{
    dropout_gpu *s = (dropout_gpu *)l->gpu_state;
    if (!s)
        return;
    dlt__dev_free(s->mask);
    free(s);
}
