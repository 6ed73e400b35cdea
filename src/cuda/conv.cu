/* conv.cu - Convolution on the GPU with cuDNN (groups as a group count).
 * Algorithms come from cuDNN's heuristics (the _v7 queries), filtered by
 * the workspace limit and, when asked, by determinism; they are chosen
 * once per layer for its fixed shape and cached in the layer's GPU state. */
#include <stdlib.h>

#include "cuda/gpu.h"
extern "C" {
#include "layers/conv.h"
}

typedef struct conv_gpu {
    cudnnTensorDescriptor_t x, y, bias;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    void *workspace;
    size_t workspace_bytes;
} conv_gpu;

/* The first heuristic choice that succeeds, fits LIMIT and (if DET) is
 * deterministic; FALLBACK needs no workspace and is deterministic. */
#define PICK(perf, n, limit, det, fallback, out)                                         \
    do {                                                                                 \
        (out) = (fallback);                                                              \
        for (int i_ = 0; i_ < (n); i_++)                                                 \
            if ((perf)[i_].status == CUDNN_STATUS_SUCCESS && (perf)[i_].memory <= (limit) && \
                (!(det) || (perf)[i_].determinism == CUDNN_DETERMINISTIC)) {             \
                (out) = (perf)[i_].algo;                                                 \
                break;                                                                   \
            }                                                                            \
    } while (0)

static void choose_algorithms(conv_gpu *s, const dlt__gpu *g, const dlt_compute_ctx *cc)
{
    size_t limit = cc ? cc->cudnn_workspace_limit : DLT_CUDNN_WORKSPACE_DEFAULT;
    int det = cc ? cc->cudnn_deterministic : 0;
    int n = 0;
    cudnnConvolutionFwdAlgoPerf_t pf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(g->cudnn, s->x, s->w, s->conv, s->y,
                                                       CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, pf));
    PICK(pf, n, limit, det, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, s->fwd);
    cudnnConvolutionBwdDataAlgoPerf_t pd[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(g->cudnn, s->w, s->y, s->conv, s->x,
                                                            CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, pd));
    PICK(pd, n, limit, det, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, s->bwd_data);
    cudnnConvolutionBwdFilterAlgoPerf_t pw[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(g->cudnn, s->x, s->y, s->conv, s->w,
                                                              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, pw));
    PICK(pw, n, limit, det, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, s->bwd_filter);
    size_t a = 0, b = 0, c = 0;
    CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(g->cudnn, s->x, s->w, s->conv, s->y, s->fwd, &a));
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(g->cudnn, s->w, s->y, s->conv, s->x,
                                                             s->bwd_data, &b));
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(g->cudnn, s->x, s->y, s->conv, s->w,
                                                               s->bwd_filter, &c));
    s->workspace_bytes = a > b ? (a > c ? a : c) : (b > c ? b : c);
}

extern "C" int dlt__conv_setup_gpu(dlt_layer *l)
{
    const conv_config *c = dlt__conv_config(l);
    const dlt__gpu *g = dlt__gpu_get();
    const dlt_tensor *x = l->bottom[0], *y = l->top[0];
    conv_gpu *s = (conv_gpu *)dlt_calloc(1, sizeof *s);
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&s->x));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&s->y));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&s->bias));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&s->w));
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&s->conv));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(s->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, x->n, x->c, x->h, x->w));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(s->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, y->n, y->c, y->h, y->w));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(s->bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, c->num_output, 1, 1));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(s->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, c->num_output,
                                           c->g.c / c->group, c->g.kh, c->g.kw));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(s->conv, c->g.ph, c->g.pw, c->g.sh, c->g.sw,
                                                c->g.dh ? c->g.dh : 1, c->g.dw ? c->g.dw : 1,
                                                CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionGroupCount(s->conv, c->group));
    /* --precision fp32: FMA math, no TF32 tensor-core rounding, so results
     * compare with the CPU. Otherwise the default math type, which lets
     * cuDNN use TF32 tensor cores on FP32 data (Ampere and later). */
    CUDNN_CHECK(cudnnSetConvolutionMathType(s->conv, l->compute && l->compute->precision != DLT_PRECISION_FP32
                                                         ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
    int n, k, h, w;
    CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(s->conv, s->x, s->w, &n, &k, &h, &w));
    if (n != y->n || k != y->c || h != y->h || w != y->w)
        DLT_FAIL(DLT_ERR_INTERNAL, "layer '%s': cuDNN output %dx%dx%dx%d differs from %dx%dx%dx%d",
                 l->name, n, k, h, w, y->n, y->c, y->h, y->w);
    choose_algorithms(s, g, l->compute);
    if (s->workspace_bytes)
        s->workspace = dlt__dev_alloc(s->workspace_bytes);
    l->gpu_state = s;
    return 0;
}

extern "C" void dlt__conv_forward_gpu(dlt_layer *l)
{
    const conv_config *c = dlt__conv_config(l);
    const conv_gpu *s = (const conv_gpu *)l->gpu_state;
    cudnnHandle_t h = dlt__gpu_get()->cudnn;
    const float one = 1.0f, zero = 0.0f;
    CUDNN_CHECK(cudnnConvolutionForward(h, &one, s->x, l->bottom[0]->gdata, s->w, l->param[0].gdata, s->conv,
                                        s->fwd, s->workspace, s->workspace_bytes, &zero, s->y,
                                        l->top[0]->gdata));
    if (c->bias_term)
        CUDNN_CHECK(cudnnAddTensor(h, &one, s->bias, l->param[1].gdata, &one, s->y, l->top[0]->gdata));
}

extern "C" void dlt__conv_backward_gpu(dlt_layer *l)
{
    const conv_config *c = dlt__conv_config(l);
    const conv_gpu *s = (const conv_gpu *)l->gpu_state;
    cudnnHandle_t h = dlt__gpu_get()->cudnn;
    const float one = 1.0f, zero = 0.0f;
    const float *dy = l->top[0]->gdiff;
    /* Parameter diffs accumulate (beta = 1); the bottom diff is written (beta = 0). */
    if (c->bias_term)
        CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, s->y, dy, &one, s->bias, l->param[1].gdiff));
    CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, s->x, l->bottom[0]->gdata, s->y, dy, s->conv,
                                               s->bwd_filter, s->workspace, s->workspace_bytes, &one, s->w,
                                               l->param[0].gdiff));
    if (l->propagate_down[0])
        CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, s->w, l->param[0].gdata, s->y, dy, s->conv,
                                                 s->bwd_data, s->workspace, s->workspace_bytes, &zero, s->x,
                                                 l->bottom[0]->gdiff));
}

extern "C" void dlt__conv_destroy_gpu(dlt_layer *l)
{
    conv_gpu *s = (conv_gpu *)l->gpu_state;
    if (!s)
        return;
    dlt__dev_free(s->workspace);
    cudnnDestroyTensorDescriptor(s->x);
    cudnnDestroyTensorDescriptor(s->y);
    cudnnDestroyTensorDescriptor(s->bias);
    cudnnDestroyFilterDescriptor(s->w);
    cudnnDestroyConvolutionDescriptor(s->conv);
    free(s);
}
