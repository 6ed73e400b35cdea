/* bias.cu - Bias on the GPU (src/layers/bias.c): y = x + b broadcast over
 * the outer and inner axes; db[k] summed in double over them in the CPU's
 * order, one thread per k; dx = dy (in place: nothing to copy). */
#include "cuda/recurrent.cuh"
extern "C" {
#include "layers/bias.h"
}

static __global__ void bias_fwd(const float *x, const float *b, float *y, size_t D, size_t I, size_t total)
{
    DLT_GRID_STRIDE(i, total)
        y[i] = x[i] + b[i / I % D];
}

static __global__ void bias_grad(const float *dy, float *db, size_t outer, size_t D, size_t I)
{
    DLT_GRID_STRIDE(k, D) {
        double acc = 0;
        for (size_t o = 0; o < outer; o++) {
            const float *row = dy + (o * D + k) * I;
            for (size_t i = 0; i < I; i++)
                acc += row[i];
        }
        db[k] += (float)acc;
    }
}

extern "C" int dlt__bias_setup_gpu(dlt_layer *l) { (void)l; return 0; }
extern "C" void dlt__bias_destroy_gpu(dlt_layer *l) { (void)l; }

extern "C" void dlt__bias_forward_gpu(dlt_layer *l)
{
    const bias_state *s = (const bias_state *)l->state;
    DLT_LAUNCH(bias_fwd, l->bottom[0]->count, l->bottom[0]->gdata, l->param[0].gdata, l->top[0]->gdata, s->dim,
               s->inner, l->bottom[0]->count);
}

extern "C" void dlt__bias_backward_gpu(dlt_layer *l)
{
    const bias_state *s = (const bias_state *)l->state;
    const float *dy = l->top[0]->gdiff;
    DLT_LAUNCH(bias_grad, s->dim, dy, l->param[0].gdiff, s->outer, s->dim, s->inner);
    float *dx = l->bottom[0]->gdiff;
    if (l->propagate_down[0] && dx != dy)
        dlt__dev_copy(dx, dy, l->bottom[0]->count);
}
