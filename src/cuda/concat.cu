/* concat.cu - Concat along any axis on the GPU: each bottom is OUTER rows
 * of CHUNK values that land at column OFF of the top's rows of TOTAL
 * values (src/layers/concat.c's layout); a strided copy kernel forward,
 * the same copy the other way backward. */
#include "cuda/gpu.h"
extern "C" {
#include "layers/concat.h"
}

/* TO_TOP: y[o * total + off + j] = x[o * chunk + j]; else the reverse. */
static __global__ void concat_copy(float *x, float *y, size_t chunk, size_t total, size_t off, size_t n, int to_top)
{
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x) {
        const size_t t = k / chunk * total + off + k % chunk;
        if (to_top)
            y[t] = x[k];
        else
            x[k] = y[t];
    }
}

static void copy_bottom(const concat_state *s, float *x, float *y, int i, size_t off, int to_top)
{
    const size_t n = s->outer * s->chunk[i];
    if (n == 0)
        return;
    concat_copy<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(x, y, s->chunk[i], s->total, off, n,
                                                                        to_top);
    CUDA_LAUNCH_CHECK();
}

extern "C" int dlt__concat_setup_gpu(dlt_layer *l) { (void)l; return 0; }

extern "C" void dlt__concat_forward_gpu(dlt_layer *l)
{
    const concat_state *s = (const concat_state *)l->state;
    size_t off = 0;
    for (int i = 0; i < l->nbottom; i++) {
        copy_bottom(s, l->bottom[i]->gdata, l->top[0]->gdata, i, off, 1);
        off += s->chunk[i];
    }
}

extern "C" void dlt__concat_backward_gpu(dlt_layer *l)
{
    const concat_state *s = (const concat_state *)l->state;
    size_t off = 0;
    for (int i = 0; i < l->nbottom; i++) {
        if (l->propagate_down[i])
            copy_bottom(s, l->bottom[i]->gdiff, l->top[0]->gdiff, i, off, 0);
        off += s->chunk[i];
    }
}

extern "C" void dlt__concat_destroy_gpu(dlt_layer *l) { (void)l; }
