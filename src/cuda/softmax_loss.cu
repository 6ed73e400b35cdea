/* softmax_loss.cu - SoftmaxWithLoss on the GPU: cuDNN's softmax over
 * channels, then own kernels for the negative log-likelihood (summed in
 * double) and the gradient, with the CPU layer's normalization. */
#include <float.h>
#include <stdlib.h>

#include "cuda/gpu.h"
extern "C" {
#include "layers/softmax_loss.h"
}

typedef struct sums {
    double loss;
    unsigned long long valid;
    int bad_label;  /* 1 + the first out-of-range label seen, 0 if none */
} sums;

typedef struct sml_gpu {
    cudnnTensorDescriptor_t x;
    float *prob;  /* (N, C, H, W) */
    sums *acc;    /* device */
} sml_gpu;

static __global__ void nll(const float *prob, const float *label, sums *acc, int C, size_t inner,
                           size_t total, int has_ignore, int ignore)
{
    double loss = 0;
    unsigned long long valid = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t o = i / inner, j = i % inner;
        int lv = (int)label[i];
        if (has_ignore && lv == ignore)
            continue;
        if (lv < 0 || lv >= C) {
            atomicCAS(&acc->bad_label, 0, lv + 1);
            continue;
        }
        float p = prob[(o * C + lv) * inner + j];
        loss -= log(p > FLT_MIN ? p : FLT_MIN);
        valid++;
    }
    atomicAdd(&acc->loss, loss);
    atomicAdd(&acc->valid, valid);
}

static __global__ void grad(const float *prob, const float *label, float *dx, int C, size_t inner,
                            size_t total, int has_ignore, int ignore, float scale)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t j = i % inner, o = i / (inner * C);
        int c = (int)(i / inner % C);
        int lv = (int)label[o * inner + j];
        dx[i] = (has_ignore && lv == ignore) ? 0.0f : (prob[i] - (c == lv ? 1.0f : 0.0f)) * scale;
    }
}

extern "C" int dlt__softmax_loss_setup_gpu(dlt_layer *l)
{
    const dlt_tensor *x = l->bottom[0];
    const softmax_loss_state *st = (const softmax_loss_state *)l->state;
    sml_gpu *s = (sml_gpu *)dlt_calloc(1, sizeof *s);
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&s->x));
    /* outer x C x inner x 1: cuDNN's channel softmax over softmax_param axis. */
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(s->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)st->outer, st->C,
                                           (int)st->inner, 1));
    s->prob = (float *)dlt__dev_alloc(x->count * sizeof(float) + sizeof(float));
    s->acc = (sums *)dlt__dev_alloc(sizeof(sums));
    l->gpu_state = s;
    return 0;
}

extern "C" void dlt__softmax_loss_forward_gpu(dlt_layer *l)
{
    softmax_loss_state *st = (softmax_loss_state *)l->state;
    sml_gpu *s = (sml_gpu *)l->gpu_state;
    dlt__gpu *g = dlt__gpu_get();
    const dlt_tensor *x = l->bottom[0];
    const size_t inner = st->inner, total = st->outer * inner;
    const float one = 1.0f, zero = 0.0f;
    CUDNN_CHECK(cudnnSoftmaxForward(g->cudnn, CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_CHANNEL, &one, s->x,
                                    x->gdata, &zero, s->x, s->prob));
    CUDA_CHECK(cudaMemsetAsync(s->acc, 0, sizeof(sums), g->stream));
    nll<<<dlt__grid(total), DLT_BLOCK, 0, g->stream>>>(s->prob, l->bottom[1]->gdata, s->acc, st->C, inner, total,
                                                       st->has_ignore, st->ignore_label);
    CUDA_LAUNCH_CHECK();
    sums h;
    dlt__dev_download(&h, s->acc, sizeof h);
    if (h.bad_label)
        dlt_fatal("layer '%s': label %d out of range [0, %d); the data's classes must fit num_output "
                  "of the last layer", l->name, h.bad_label - 1, st->C);
    double norm;
    switch (st->normalization) {
    case NORM_FULL: norm = (double)total; break;
    case NORM_VALID: norm = (double)h.valid; break;
    case NORM_BATCH_SIZE: norm = (double)st->outer; break;
    default: norm = 1; break;
    }
    if (norm < 1) /* Caffe: max(1, normalizer) */
        norm = 1;
    st->normalizer = norm;
    l->top[0]->data[0] = (float)(h.loss / norm);
    dlt__dev_upload(l->top[0]->gdata, l->top[0]->data, sizeof(float));
    if (l->ntop == 2)
        dlt__dev_copy(l->top[1]->gdata, s->prob, x->count);
}

extern "C" void dlt__softmax_loss_backward_gpu(dlt_layer *l)
{
    if (!l->propagate_down[0])
        return;
    const softmax_loss_state *st = (const softmax_loss_state *)l->state;
    const sml_gpu *s = (const sml_gpu *)l->gpu_state;
    const dlt_tensor *x = l->bottom[0];
    const size_t inner = st->inner;
    const float scale = (float)(l->loss_weight[0] / st->normalizer);
    grad<<<dlt__grid(x->count), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(
        s->prob, l->bottom[1]->gdata, x->gdiff, st->C, inner, x->count, st->has_ignore, st->ignore_label, scale);
    CUDA_LAUNCH_CHECK();
}

extern "C" void dlt__softmax_loss_destroy_gpu(dlt_layer *l)
{
    sml_gpu *s = (sml_gpu *)l->gpu_state;
    if (!s)
        return;
    cudnnDestroyTensorDescriptor(s->x);
    dlt__dev_free(s->prob);
    dlt__dev_free(s->acc);
    free(s);
}
