/* test_gpu_layers.c - every layer type on the GPU against the same layer
 * on the CPU, inside a small net built twice from one prototxt and seed:
 * each layer's top after forward, each parameter gradient and blob
 * gradient after backward, then an SGD step with the device kernel.
 * Skips (TAP "1..0 # SKIP reason") without CUDA or without a usable GPU.
 * Tolerances (max relative error, |a-b| / max(1, |b|)):
 *   Data, ReLU, MAX pooling, Accuracy: exact (0);  AVE pooling: 1e-6;
 *   Convolution, InnerProduct: 1e-4 (cuDNN/cuBLAS sum in another order);
 *   SoftmaxWithLoss: 1e-5;  gradients: 1e-3;  SGD step: 1e-6. */
#include <string.h>

#include "config.h"
#include "core/device_impl.h"
#ifdef HAVE_CUDA
#include "cuda/nccl_comm.h"
#include "cuda/sgd.h"
#endif
#include "dltrain/comm.h"
#include "dltrain/device.h"
#include "dltrain/error.h"
#include "dltrain/net.h"
#include "dltrain/solver.h"
#include "test.h"

static const char *net_text =
    "name: 'gpu_test'\n"
    "layer { name: 'data' type: 'Data' top: 'data' top: 'label' data_param { batch_size: 8 } }\n"
    "layer { name: 'conv1' type: 'Convolution' bottom: 'data' top: 'conv1'\n"
    "  convolution_param { num_output: 6 kernel_size: 3 pad: 1 stride: 1\n"
    "    weight_filler { type: 'xavier' } bias_filler { type: 'gaussian' std: 0.1 } } }\n"
    "layer { name: 'relu1' type: 'ReLU' bottom: 'conv1' top: 'conv1' relu_param { negative_slope: 0.1 } }\n"
    "layer { name: 'pool1' type: 'Pooling' bottom: 'conv1' top: 'pool1'\n"
    "  pooling_param { pool: MAX kernel_size: 3 stride: 2 } }\n"
    "layer { name: 'conv2' type: 'Convolution' bottom: 'pool1' top: 'conv2'\n"
    "  convolution_param { num_output: 4 group: 2 kernel_size: 3 stride: 2 pad: 1\n"
    "    weight_filler { type: 'gaussian' std: 0.2 } } }\n"
    "layer { name: 'pool2' type: 'Pooling' bottom: 'conv2' top: 'pool2'\n"
    "  pooling_param { pool: AVE kernel_size: 2 stride: 2 pad: 1 } }\n"
    "layer { name: 'ip1' type: 'InnerProduct' bottom: 'pool2' top: 'ip1'\n"
    "  inner_product_param { num_output: 5 weight_filler { type: 'xavier' }\n"
    "    bias_filler { type: 'constant' value: 0.1 } } }\n"
    "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'ip1' bottom: 'label' top: 'loss' }\n"
    "layer { name: 'acc' type: 'Accuracy' bottom: 'ip1' bottom: 'label' top: 'acc'\n"
    "  accuracy_param { top_k: 2 } }\n";

static double rel_err(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (fabs(b[i]) > 1 ? fabs(b[i]) : 1);
        m = d > m ? d : m;
    }
    return m;
}

static double tolerance(const char *type)
{
    if (!strcmp(type, "Convolution") || !strcmp(type, "InnerProduct"))
        return 1e-4;
    if (!strcmp(type, "SoftmaxWithLoss"))
        return 1e-5;
    if (!strcmp(type, "Pooling"))
        return 1e-6; /* MAX is exact in practice; AVE sums in another order */
    return 0;
}

int main(void)
{
    char why[256];
    if (!dlt_device_built_with_cuda())
        TEST_SKIP_ALL("built without CUDA (configure --with-cuda)");
    if (dlt_device_gpu_count(why, sizeof why) == 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "no CUDA device (%s)", why);
        TEST_SKIP_ALL(msg);
    }
    dlt_device_kind got;
    dlt_device_set_cudnn_options(1, (size_t)64 << 20);
    if (dlt_device_select(DLT_DEVICE_GPU, 0, 1, &got) < 0 || got != DLT_DEVICE_GPU)
        TEST_SKIP_ALL("a GPU is visible but could not be bound");

    dlt_pnode *root = NULL;
    if (dlt_pt_parse_string(net_text, "gpu_test.prototxt", &root) != 0)
        return 1;
    dlt_net *cpu = NULL, *gpu = NULL;
    int st = dlt_net_create(root, DLT_PHASE_TRAIN, 3, 11, 11, 7, &cpu);
    if (st == 0)
        st = dlt_net_create(root, DLT_PHASE_TRAIN, 3, 11, 11, 7, &gpu);
    ASSERT_EQ(st, 0, "both nets build");
    if (st)
        TEST_DONE();
    ASSERT_EQ(dlt_net_to_device(gpu, DLT_DEVICE_GPU), 0, "the net moves to the GPU");

    /* The same batch in both nets' data tops (pinned host memory on the GPU side). */
    dlt_layer *dc = dlt_net_data_layer(cpu), *dg = dlt_net_data_layer(gpu);
    dlt_rng rng;
    dlt_rng_seed(&rng, 11);
    for (size_t i = 0; i < dc->top[0]->count; i++)
        dc->top[0]->data[i] = dg->top[0]->data[i] = (float)(dlt_rng_uniform(&rng) * 2 - 1);
    for (size_t i = 0; i < dc->top[1]->count; i++)
        dc->top[1]->data[i] = dg->top[1]->data[i] = (float)dlt_rng_below(&rng, 5);

    float lc = dlt_net_forward(cpu), lg = dlt_net_forward(gpu);
    ASSERT_NEAR(lg, lc, 1e-5 * (fabs(lc) > 1 ? fabs(lc) : 1), "loss on the GPU matches the CPU");
    for (int i = 0; i < dlt_net_num_layers(cpu); i++) {
        dlt_layer *a = dlt_net_layer(gpu, i), *b = dlt_net_layer(cpu, i);
        for (int t = 0; t < a->ntop; t++) {
            dlt_tensor_download(a->top[t]);
            double e = rel_err(a->top[t]->data, b->top[t]->data, b->top[t]->count);
            TEST_OK(e <= tolerance(b->ops->type), "%s '%s' top %d forward (%zu values): max rel err %.2g <= %.0g",
                    b->ops->type, b->name, t, b->top[t]->count, e, tolerance(b->ops->type));
        }
    }
    dlt_net_zero_grads(cpu);
    dlt_net_zero_grads(gpu);
    dlt_net_forward(cpu);
    dlt_net_forward(gpu);
    dlt_net_backward(cpu);
    dlt_net_backward(gpu);
    dlt_net_grads_to_host(gpu);
    for (int i = 0; i < dlt_net_num_layers(cpu); i++) {
        dlt_layer *a = dlt_net_layer(gpu, i), *b = dlt_net_layer(cpu, i);
        for (int p = 0; p < b->nparam; p++) {
            double e = rel_err(a->param[p].diff, b->param[p].diff, b->param[p].count);
            TEST_OK(e <= 1e-3, "%s '%s' param %d gradient: max rel err %.2g <= 1e-3", b->ops->type, b->name, p, e);
        }
        for (int k = 0; k < b->nbottom; k++)
            if (b->propagate_down[k]) {
                dlt_tensor_download_diff(a->bottom[k]);
                double e = rel_err(a->bottom[k]->diff, b->bottom[k]->diff, b->bottom[k]->count);
                TEST_OK(e <= 1e-3, "%s '%s' bottom %d gradient: max rel err %.2g <= 1e-3", b->ops->type,
                        b->name, k, e);
            }
    }
#ifdef HAVE_CUDA
    /* One SGD step: host loop on the CPU net, the device kernel on the GPU
     * net (all lr_mult/decay_mult are 1 here, so one call covers the buffer). */
    dlt_solver_config cfg = {0};
    cfg.momentum = 0.9, cfg.weight_decay = 5e-4;
    size_t n = dlt_net_param_count(cpu);
    float *hc = dlt_calloc(n, sizeof(float)), *hg = dlt__dev_alloc(n * sizeof(float));
    dlt_sgd_update(&cfg, cpu, hc, 0.01);
    dlt__gpu_sgd_update(dlt_net_device_params(gpu), dlt_net_device_grads(gpu), hg, n, 0.01f, 5e-4f, 0.9f);
    float *w = dlt_calloc(n, sizeof(float));
    dlt__dev_download(w, dlt_net_device_params(gpu), n * sizeof(float));
    double e = rel_err(w, dlt_net_params(cpu), n);
    TEST_OK(e <= 1e-6, "SGD kernel step matches the host update (%zu weights, max rel err %.2g)", n, e);
    /* NCCL on one rank: bootstrap through MPI and a (trivial) average. */
    dlt_comm *comm = dlt_comm_init(NULL, NULL);
    dlt__nccl *nc = dlt__nccl_create(comm);
    dlt__nccl_allreduce_mean(nc, dlt_net_device_params(gpu), n, 1u << 20);
    dlt__dev_download(w, dlt_net_device_params(gpu), n * sizeof(float));
    TEST_OK(rel_err(w, dlt_net_params(cpu), n) <= 1e-6, "NCCL average over 1 rank leaves the weights");
    dlt__nccl_free(nc);
    free(w);
    dlt__dev_free(hg);
    dlt_net_forward(cpu);
    lg = dlt_net_forward(gpu);
    lc = dlt_net_forward(cpu);
    ASSERT_NEAR(lg, lc, 1e-4 * (fabs(lc) > 1 ? fabs(lc) : 1), "loss after an SGD step matches");
    free(hc);
    dlt_comm_finalize(comm);
#endif
    dlt_net_free(gpu);
    dlt_net_free(cpu);
    dlt_pt_free(root);
    TEST_DONE();
}
