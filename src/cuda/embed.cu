/* embed.cu - Embed on the GPU (src/layers/embed.c). Forward gathers one
 * weight row per index; an index that is not an integer in [0, input_dim)
 * is found by the kernel, and the host stops with the CPU layer's message
 * (a bad record, never an out-of-bounds read). Backward: one thread per
 * column k walks the indices in order, so each dW[v][k] and db[k] is summed
 * in the CPU's order, with no atomics (reproducible run to run). */
#include <stdlib.h>

#include "cuda/recurrent.cuh"
extern "C" {
#include "layers/embed.h"
}

typedef struct embed_gpu {
    unsigned long long *bad; /* device: 0, or 1 + the position of a bad index */
} embed_gpu;

static __device__ __forceinline__ int valid_index(float f, int V)
{
    return f >= 0 && f < (float)V && f == floorf(f);
}

static __global__ void embed_fwd(const float *x, const float *w, const float *b, float *y, size_t m, int K, int V,
                                 unsigned long long *bad)
{
    DLT_GRID_STRIDE(e, m * K) {
        const size_t i = e / K;
        const int k = (int)(e % K);
        const float f = x[i];
        if (!valid_index(f, V)) {
            atomicCAS(bad, 0ULL, (unsigned long long)i + 1);
            y[e] = 0.0f;
            continue;
        }
        y[e] = w[(size_t)f * K + k] + (b ? b[k] : 0.0f);
    }
}

static __global__ void embed_grad(const float *x, const float *dy, float *dw, float *db, size_t m, int K, int V)
{
    DLT_GRID_STRIDE(k, (size_t)K) {
        double acc = 0;
        for (size_t i = 0; i < m; i++) {
            const float f = x[i];
            const float d = dy[i * K + k];
            if (valid_index(f, V)) /* checked in forward; kept so no read can stray */
                dw[(size_t)f * K + k] += d;
            acc += d;
        }
        if (db)
            db[k] += (float)acc;
    }
}

extern "C" int dlt__embed_setup_gpu(dlt_layer *l)
{
    embed_gpu *s = (embed_gpu *)dlt_calloc(1, sizeof *s);
    s->bad = (unsigned long long *)dlt__dev_alloc(sizeof *s->bad);
    l->gpu_state = s;
    return 0;
}

extern "C" void dlt__embed_forward_gpu(dlt_layer *l)
{
    const embed_config *c = (const embed_config *)l->state;
    embed_gpu *s = (embed_gpu *)l->gpu_state;
    const float *x = l->bottom[0]->gdata;
    DLT_LAUNCH(embed_fwd, c->m * c->num_output, x, l->param[0].gdata, c->bias_term ? l->param[1].gdata : NULL,
               l->top[0]->gdata, c->m, c->num_output, c->input_dim, s->bad);
    unsigned long long bad = 0;
    dlt__dev_download(&bad, s->bad, sizeof bad); /* waits for the kernel */
    if (bad) {
        float f;
        dlt__dev_download(&f, x + (bad - 1), sizeof f);
        dlt_fatal("layer '%s': Embed index %g at position %llu is not an integer in [0, %d) (input_dim); "
                  "the token ids must fit the vocabulary", l->name, (double)f, bad - 1, c->input_dim);
    }
}

extern "C" void dlt__embed_backward_gpu(dlt_layer *l)
{
    const embed_config *c = (const embed_config *)l->state;
    DLT_LAUNCH(embed_grad, (size_t)c->num_output, l->bottom[0]->gdata, l->top[0]->gdiff, l->param[0].gdiff,
               c->bias_term ? l->param[1].gdiff : NULL, c->m, c->num_output, c->input_dim);
    if (l->propagate_down[0])
        dlt__dev_zero(l->bottom[0]->gdiff, c->m * sizeof(float));
}

extern "C" void dlt__embed_destroy_gpu(dlt_layer *l)
{
    embed_gpu *s = (embed_gpu *)l->gpu_state;
    if (!s)
        return;
    dlt__dev_free(s->bad);
    free(s);
}
