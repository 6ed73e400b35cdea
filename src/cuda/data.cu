/* data.cu - Data/HDF5Data on the GPU: the loader writes each batch into
 * pinned host buffers (the tops' host memory), and forward copies them
 * to the device asynchronously on the copy stream; the compute stream
 * waits on an event instead of the host waiting on the copy. */
#include <stdlib.h>
#include <string.h>

#include "cuda/gpu.h"
extern "C" {
#include "layers/layers.h"
}

typedef struct data_gpu {
    cudaEvent_t copied;  /* recorded on the copy stream after the batch */
} data_gpu;

extern "C" int dlt__data_setup_gpu(dlt_layer *l)
{
    data_gpu *s = (data_gpu *)dlt_calloc(1, sizeof *s);
    CUDA_CHECK(cudaEventCreateWithFlags(&s->copied, cudaEventDisableTiming));
    for (int i = 0; i < l->ntop; i++) { /* swap malloc'ed host buffers for pinned ones */
        dlt_tensor *t = l->top[i];
        float *pinned = NULL;
        CUDA_CHECK(cudaHostAlloc((void **)&pinned, (t->count ? t->count : 1) * sizeof(float),
                                 cudaHostAllocDefault));
        memcpy(pinned, t->data, t->count * sizeof(float));
        free(t->data);
        t->data = pinned;
    }
    l->gpu_state = s;
    return 0;
}

extern "C" void dlt__data_forward_gpu(dlt_layer *l)
{
    dlt__gpu *g = dlt__gpu_get();
    data_gpu *s = (data_gpu *)l->gpu_state;
    for (int i = 0; i < l->ntop; i++)
        CUDA_CHECK(cudaMemcpyAsync(l->top[i]->gdata, l->top[i]->data, l->top[i]->count * sizeof(float),
                                   cudaMemcpyHostToDevice, g->copy_stream));
    CUDA_CHECK(cudaEventRecord(s->copied, g->copy_stream));
    CUDA_CHECK(cudaStreamWaitEvent(g->stream, s->copied, 0));
}

extern "C" void dlt__data_backward_gpu(dlt_layer *l) { (void)l; }

extern "C" void dlt__data_destroy_gpu(dlt_layer *l)
{
    data_gpu *s = (data_gpu *)l->gpu_state;
    if (!s)
        return;
    CUDA_CHECK(cudaEventSynchronize(s->copied));
    for (int i = 0; i < l->ntop; i++) { /* back to malloc: the tensor frees with free() */
        dlt_tensor *t = l->top[i];
        float *host = (float *)dlt_malloc((t->count ? t->count : 1) * sizeof(float));
        memcpy(host, t->data, t->count * sizeof(float));
        CUDA_CHECK(cudaFreeHost(t->data));
        t->data = host;
    }
    CUDA_CHECK(cudaEventDestroy(s->copied));
    free(s);
}
