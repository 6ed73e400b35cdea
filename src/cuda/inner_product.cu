/* inner_product.cu - InnerProduct on the GPU with cuBLAS (column-major):
 * a row-major (r, c) matrix is a column-major (c, r) one, so row-major
 * Y (M,K) = X (M,D) W^T, W stored (K,D), is column-major Y^T = W X^T with
 * W read transposed; with transpose: true W is stored (D,K) and read as is.
 * M = rows before the layer's axis (the batch for axis 1). */
#include <stdlib.h>

#include "cuda/gpu.h"
extern "C" {
#include "layers/inner_product.h"
}

typedef struct ip_gpu {
    float *ones;  /* (N) for the bias as a rank-1 product */
} ip_gpu;

extern "C" int dlt__inner_product_setup_gpu(dlt_layer *l)
{
    const ip_config *c = (const ip_config *)l->state;
    const int N = c->rows;
    ip_gpu *s = (ip_gpu *)dlt_calloc(1, sizeof *s);
    float *h = (float *)dlt_malloc((size_t)N * sizeof(float) + 1);
    for (int i = 0; i < N; i++)
        h[i] = 1.0f;
    s->ones = (float *)dlt__dev_alloc((size_t)N * sizeof(float) + 1);
    dlt__dev_upload(s->ones, h, (size_t)N * sizeof(float));
    free(h);
    l->gpu_state = s;
    return 0;
}

extern "C" void dlt__inner_product_forward_gpu(dlt_layer *l)
{
    const ip_config *c = (const ip_config *)l->state;
    const ip_gpu *s = (const ip_gpu *)l->gpu_state;
    cublasHandle_t h = dlt__gpu_get()->cublas;
    const int N = c->rows, K = c->num_output, D = c->dim;
    const float one = 1.0f, zero = 0.0f;
    float *y = l->top[0]->gdata;
    if (c->bias_term) /* Y^T (K,N) = b (K,1) x ones (1,N) */
        CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, K, N, 1, &one, l->param[1].gdata, K,
                                 s->ones, 1, &zero, y, K));
    CUBLAS_CHECK(cublasSgemm(h, c->transpose ? CUBLAS_OP_N : CUBLAS_OP_T, CUBLAS_OP_N, K, N, D, &one,
                             l->param[0].gdata, c->transpose ? K : D, l->bottom[0]->gdata, D,
                             c->bias_term ? &one : &zero, y, K));
}

extern "C" void dlt__inner_product_backward_gpu(dlt_layer *l)
{
    const ip_config *c = (const ip_config *)l->state;
    const ip_gpu *s = (const ip_gpu *)l->gpu_state;
    cublasHandle_t h = dlt__gpu_get()->cublas;
    const int N = c->rows, K = c->num_output, D = c->dim;
    const float one = 1.0f, zero = 0.0f;
    const float *dy = l->top[0]->gdiff;
    if (c->transpose) /* dW (D,K) += X^T dy: column-major (K,D) += dy^T (K,N) X (N,D) */
        CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, K, D, N, &one, dy, K, l->bottom[0]->gdata, D,
                                 &one, l->param[0].gdiff, K));
    else /* dW (K,D) += dy^T X: column-major dW^T (D,K) += X^T (D,N) dy (N,K) */
        CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, D, K, N, &one, l->bottom[0]->gdata, D, dy, K,
                                 &one, l->param[0].gdiff, D));
    if (c->bias_term) /* db (K) += dy^T (K,N) ones (N) */
        CUBLAS_CHECK(cublasSgemv(h, CUBLAS_OP_N, K, N, &one, dy, K, s->ones, 1, &one,
                                 l->param[1].gdiff, 1));
    if (l->propagate_down[0]) /* dX = dy W (or dy W^T): column-major dX^T (D,N) = op(W) dy^T (K,N) */
        CUBLAS_CHECK(cublasSgemm(h, c->transpose ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, D, N, K, &one,
                                 l->param[0].gdata, c->transpose ? K : D, dy, K, &zero, l->bottom[0]->gdiff, D));
}

extern "C" void dlt__inner_product_destroy_gpu(dlt_layer *l)
{
    ip_gpu *s = (ip_gpu *)l->gpu_state;
    if (!s)
        return;
    dlt__dev_free(s->ones);
    free(s);
}
