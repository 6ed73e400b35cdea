/* slice.cu - Slice on the GPU (src/layers/slice.c): each top is OUTER rows
 * of its chunk, taken from rows of TOTAL values at its offset: one strided
 * 2D copy per top, forward and back. */
#include "cuda/gpu.h"
extern "C" {
#include "layers/slice.h"
}

/* OUTER rows of WIDTH floats from SRC (row pitch SPITCH floats) to DST
 * (row pitch DPITCH floats), on the compute stream. */
static void copy_rows(float *dst, size_t dpitch, const float *src, size_t spitch, size_t width, size_t outer)
{
    if (!width || !outer)
        return;
    CUDA_CHECK(cudaMemcpy2DAsync(dst, dpitch * sizeof(float), src, spitch * sizeof(float), width * sizeof(float),
                                 outer, cudaMemcpyDeviceToDevice, dlt__gpu_get()->stream));
}

extern "C" int dlt__slice_setup_gpu(dlt_layer *l) { (void)l; return 0; }
extern "C" void dlt__slice_destroy_gpu(dlt_layer *l) { (void)l; }

extern "C" void dlt__slice_forward_gpu(dlt_layer *l)
{
    const slice_state *s = (const slice_state *)l->state;
    size_t off = 0;
    for (int i = 0; i < l->ntop; i++) {
        copy_rows(l->top[i]->gdata, s->chunk[i], l->bottom[0]->gdata + off, s->total, s->chunk[i], s->outer);
        off += s->chunk[i];
    }
}

extern "C" void dlt__slice_backward_gpu(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    const slice_state *s = (const slice_state *)l->state;
    size_t off = 0;
    for (int i = 0; i < l->ntop; i++) {
        copy_rows(l->bottom[0]->gdiff + off, s->total, l->top[i]->gdiff, s->chunk[i], s->chunk[i], s->outer);
        off += s->chunk[i];
    }
}
