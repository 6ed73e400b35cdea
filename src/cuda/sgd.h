/* sgd.h - internal: the SGD-with-momentum update on device buffers
 * (Caffe's order, as dlt_sgd_update on the host). C-callable. */
#ifndef DLTRAIN_CUDA_SGD_H
#define DLTRAIN_CUDA_SGD_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
/* g += decay*w; h = momentum*h + rate*g; w -= h  (N elements, device pointers). */
void dlt__gpu_sgd_update(float *w, const float *g, float *h, size_t n, float rate, float decay,
                         float momentum);
#ifdef __cplusplus
}
#endif
#endif
