/* accuracy.cu - Accuracy (top-k) on the GPU: one thread per position
 * counts the classes scoring at least the true class's score, as the CPU
 * layer does; the counts are summed with integer atomics (exact). */
#include <stdlib.h>

#include "cuda/gpu.h"
extern "C" {
#include "layers/accuracy.h"
}

typedef struct counts {
    unsigned long long correct, count;
} counts;

static __global__ void topk(const float *x, const float *label, counts *acc, int C, size_t inner, size_t total,
                            int k, int has_ignore, int ignore)
{
    unsigned long long correct = 0, count = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t o = i / inner, j = i % inner;
        int lv = (int)label[i];
        if (has_ignore && lv == ignore)
            continue;
        count++;
        if (lv < 0 || lv >= C)
            continue;
        const float *xo = x + o * C * inner + j;
        float t = xo[(size_t)lv * inner];
        int better = -1; /* the true class itself counts once */
        for (int c = 0; c < C && better < k; c++)
            better += xo[(size_t)c * inner] >= t;
        correct += better < k;
    }
    atomicAdd(&acc->correct, correct);
    atomicAdd(&acc->count, count);
}

extern "C" int dlt__accuracy_setup_gpu(dlt_layer *l)
{
    l->gpu_state = dlt__dev_alloc(sizeof(counts));
    return 0;
}

extern "C" void dlt__accuracy_forward_gpu(dlt_layer *l)
{
    const accuracy_config *cfg = (const accuracy_config *)l->state;
    counts *acc = (counts *)l->gpu_state;
    dlt__gpu *g = dlt__gpu_get();
    const dlt_tensor *x = l->bottom[0];
    const size_t inner = cfg->inner, total = cfg->outer * inner;
    CUDA_CHECK(cudaMemsetAsync(acc, 0, sizeof(counts), g->stream));
    topk<<<dlt__grid(total), DLT_BLOCK, 0, g->stream>>>(x->gdata, l->bottom[1]->gdata, acc, cfg->C, inner, total,
                                                        cfg->top_k, cfg->has_ignore, cfg->ignore_label);
    CUDA_LAUNCH_CHECK();
    counts h;
    dlt__dev_download(&h, acc, sizeof h);
    l->top[0]->data[0] = h.count ? (float)((double)h.correct / h.count) : 0.0f;
    dlt__dev_upload(l->top[0]->gdata, l->top[0]->data, sizeof(float));
}

/* No gradient; zeros keep the "bottom diffs are written" contract (splits). */
extern "C" void dlt__accuracy_backward_gpu(dlt_layer *l)
{
    if (l->propagate_down[0])
        dlt__dev_zero(l->bottom[0]->gdiff, l->bottom[0]->count * sizeof(float));
}

extern "C" void dlt__accuracy_destroy_gpu(dlt_layer *l) { dlt__dev_free(l->gpu_state); }
