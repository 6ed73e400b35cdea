/* test_gpu_layers.c - every layer type, with the options the CPU layers
 * support, on the GPU against the same layer on the CPU: three small nets
 * built twice from one prototxt and seed (gpu_compare.h feeds each GPU
 * layer the CPU layer's inputs and compares each top after forward, each
 * gradient after backward, the statistics BatchNorm keeps, then the net
 * end to end); then the solvers' device kernels against the host update,
 * and NCCL on one rank. Skips ("1..0 # SKIP reason") without CUDA
 * or without a usable GPU.
 * Error per blob: max |gpu - cpu| / max |cpu|. Tolerances:
 *   Data, ReLU, Dropout, Flatten, Concat, MAX pooling, Accuracy: 0 (copies
 *   and selections); elementwise math (Sigmoid, TanH, Eltwise, Scale, LRN,
 *   Softmax): 1e-5 (GPU libm differs in the last bits); sums in another
 *   order (Convolution, InnerProduct, AVE pooling, BatchNorm,
 *   SoftmaxWithLoss): 1e-4; every gradient: 1e-3; solver steps: 1e-6. */
#include <string.h>

#include "config.h"
#ifdef HAVE_CUDA
#include "dltrain/reducer.h"
#endif
#include "dltrain/comm.h"
#include "dltrain/prototxt.h"
#include "dltrain/solver.h"
#include "gpu_compare.h"

#define DATA(b) "layer { name: 'data' type: 'Data' top: 'data' top: 'label' data_param { batch_size: " #b " } }\n"

/* Convolution (groups, AVE/MAX pooling with padding), leaky ReLU, InnerProduct, loss, top-2 accuracy. */
static const char *net_basic = DATA(8)
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

/* Rectangular dilated convolution; Sigmoid, TanH and Softmax (axis 2) on
 * one blob (split gradients summed on the device); Concat; LRN both
 * regions; BatchNorm (batch statistics); Scale in place with bias;
 * Eltwise SUM with coefficients, PROD, MAX of three; ReLU; Dropout;
 * global AVE and rectangular padded MAX pooling; Flatten; InnerProduct
 * with transpose; Softmax; loss with loss_weight 2. */
static const char *net_mix = DATA(4)
    "layer { name: 'conv1' type: 'Convolution' bottom: 'data' top: 'conv1'\n"
    "  convolution_param { num_output: 8 kernel_h: 3 kernel_w: 2 pad_h: 1 pad_w: 0 stride_h: 1 stride_w: 2\n"
    "    dilation: 2 weight_filler { type: 'xavier' } bias_filler { type: 'gaussian' std: 0.1 } } }\n"
    "layer { name: 'sig' type: 'Sigmoid' bottom: 'conv1' top: 'sig' }\n"
    "layer { name: 'th' type: 'TanH' bottom: 'conv1' top: 'th' }\n"
    "layer { name: 'sm2' type: 'Softmax' bottom: 'conv1' top: 'sm2' softmax_param { axis: 2 } }\n"
    "layer { name: 'cat' type: 'Concat' bottom: 'sig' bottom: 'th' bottom: 'sm2' top: 'cat' }\n"
    "layer { name: 'lrn1' type: 'LRN' bottom: 'cat' top: 'lrn1'\n"
    "  lrn_param { local_size: 5 alpha: 0.3 beta: 0.75 k: 2 } }\n"
    "layer { name: 'lrn2' type: 'LRN' bottom: 'lrn1' top: 'lrn2'\n"
    "  lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 norm_region: WITHIN_CHANNEL } }\n"
    "layer { name: 'bn' type: 'BatchNorm' bottom: 'lrn2' top: 'bn'\n"
    "  batch_norm_param { moving_average_fraction: 0.9 } }\n"
    "layer { name: 'sc' type: 'Scale' bottom: 'bn' top: 'bn'\n"
    "  scale_param { bias_term: true filler { type: 'gaussian' mean: 1 std: 0.3 }\n"
    "    bias_filler { type: 'gaussian' std: 0.2 } } }\n"
    "layer { name: 'esum' type: 'Eltwise' bottom: 'bn' bottom: 'cat' top: 'esum'\n"
    "  eltwise_param { operation: SUM coeff: 0.5 coeff: -1.5 } }\n"
    "layer { name: 'eprod' type: 'Eltwise' bottom: 'esum' bottom: 'lrn1' top: 'eprod'\n"
    "  eltwise_param { operation: PROD } }\n"
    "layer { name: 'emax' type: 'Eltwise' bottom: 'eprod' bottom: 'esum' bottom: 'bn' top: 'emax'\n"
    "  eltwise_param { operation: MAX } }\n"
    "layer { name: 'relu' type: 'ReLU' bottom: 'emax' top: 'emax' }\n"
    "layer { name: 'drop' type: 'Dropout' bottom: 'emax' top: 'drop' dropout_param { dropout_ratio: 0.3 } }\n"
    "layer { name: 'gpool' type: 'Pooling' bottom: 'drop' top: 'gpool'\n"
    "  pooling_param { pool: AVE global_pooling: true } }\n"
    "layer { name: 'mpool' type: 'Pooling' bottom: 'drop' top: 'mpool'\n"
    "  pooling_param { pool: MAX kernel_h: 3 kernel_w: 2 stride: 2 pad: 1 } }\n"
    "layer { name: 'flat' type: 'Flatten' bottom: 'mpool' top: 'flat' }\n"
    "layer { name: 'ip1' type: 'InnerProduct' bottom: 'flat' top: 'ip1'\n"
    "  inner_product_param { num_output: 6 transpose: true weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'ip2' type: 'InnerProduct' bottom: 'gpool' top: 'ip2'\n"
    "  inner_product_param { num_output: 6 weight_filler { type: 'xavier' }\n"
    "    bias_filler { type: 'constant' value: 0.1 } } }\n"
    "layer { name: 'e2' type: 'Eltwise' bottom: 'ip1' bottom: 'ip2' top: 'e2' }\n"
    "layer { name: 'prob' type: 'Softmax' bottom: 'e2' top: 'prob' }\n"
    "layer { name: 'ip3' type: 'InnerProduct' bottom: 'prob' top: 'ip3'\n"
    "  inner_product_param { num_output: 5 weight_filler { type: 'gaussian' std: 1 } } }\n"
    "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'ip3' bottom: 'label' top: 'loss' loss_weight: 2 }\n"
    "layer { name: 'acc' type: 'Accuracy' bottom: 'ip3' bottom: 'label' top: 'acc' }\n";

/* Concat along H of one blob with itself; BatchNorm with global
 * statistics; InnerProduct on axis 2; loss with ignore_label and no
 * normalization; Sigmoid in place. */
static const char *net_axes = DATA(3)
    "layer { name: 'c1' type: 'Convolution' bottom: 'data' top: 'c1'\n"
    "  convolution_param { num_output: 4 kernel_size: 3 pad: 1 group: 2 bias_term: false\n"
    "    weight_filler { type: 'gaussian' std: 0.3 } } }\n"
    "layer { name: 'cat0' type: 'Concat' bottom: 'c1' bottom: 'c1' top: 'cat0' concat_param { axis: 2 } }\n"
    "layer { name: 'bn0' type: 'BatchNorm' bottom: 'cat0' top: 'bn0' batch_norm_param { use_global_stats: true } }\n"
    "layer { name: 's0' type: 'Sigmoid' bottom: 'bn0' top: 'bn0' }\n"
    "layer { name: 'ipa' type: 'InnerProduct' bottom: 'bn0' top: 'ipa'\n"
    "  inner_product_param { num_output: 3 axis: 2 weight_filler { type: 'xavier' }\n"
    "    bias_filler { type: 'constant' value: 0.2 } } }\n"
    "layer { name: 'ipb' type: 'InnerProduct' bottom: 'ipa' top: 'ipb'\n"
    "  inner_product_param { num_output: 5 weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'ipb' bottom: 'label' top: 'loss'\n"
    "  loss_param { ignore_label: 1 normalization: NONE } }\n";

/* Pooling with stride > kernel on a 6x6 input: the last row and column of
 * windows lie wholly past the image (Caffe keeps them; both devices give
 * 0 and no gradient there). */
static const char *net_stride = DATA(4)
    "layer { name: 'c1' type: 'Convolution' bottom: 'data' top: 'c1'\n"
    "  convolution_param { num_output: 3 kernel_size: 3 pad: 1 weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'mk1' type: 'Pooling' bottom: 'c1' top: 'mk1'\n"
    "  pooling_param { pool: MAX kernel_size: 1 stride: 2 } }\n"
    "layer { name: 'ak2' type: 'Pooling' bottom: 'c1' top: 'ak2'\n"
    "  pooling_param { pool: AVE kernel_size: 2 stride: 3 } }\n"
    "layer { name: 'ipm' type: 'InnerProduct' bottom: 'mk1' top: 'ipm'\n"
    "  inner_product_param { num_output: 5 weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'ipa' type: 'InnerProduct' bottom: 'ak2' top: 'ipa'\n"
    "  inner_product_param { num_output: 5 weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'sum' type: 'Eltwise' bottom: 'ipm' bottom: 'ipa' top: 'sum' }\n"
    "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'sum' bottom: 'label' top: 'loss' }\n";

static double tolerance(const char *type)
{
    static const char *const exact[] = {"Data", "ReLU", "Dropout", "Flatten", "Concat", "Accuracy", NULL};
    static const char *const elementwise[] = {"Sigmoid", "TanH", "Eltwise", "Scale", "LRN", "Softmax", NULL};
    for (int i = 0; exact[i]; i++)
        if (!strcmp(type, exact[i]))
            return 0;
    for (int i = 0; elementwise[i]; i++)
        if (!strcmp(type, elementwise[i]))
            return 1e-5;
    return 1e-4; /* Convolution, InnerProduct, Pooling (AVE sums), BatchNorm, SoftmaxWithLoss */
}

static void compare_text(const char *what, const char *text, int c, int h, int w)
{
    dlt_cfg *root = NULL;
    int st = dlt_pt_parse_string(text, what, &root);
    TEST_OK(st == 0, "%s: prototxt parses", what);
    if (st == 0)
        gc_compare_net(what, root, c, h, w, 5, tolerance, 1e-4, 1e-3, 1);
    dlt_cfg_free(root);
}

#ifdef HAVE_CUDA
/* The device solver against the host one: both nets start from the same
 * weights; each step both get the CPU net's gradients (so only the update
 * arithmetic differs), three steps, then the weights and histories. */
static void compare_solver(const char *label, const char *solver_text)
{
    dlt_cfg *root = NULL, *sroot = NULL;
    dlt_net *cpu = NULL, *gpu = NULL;
    dlt_solver_config cfg;
    int st = dlt_pt_parse_string(net_basic, "basic", &root);
    if (st == 0)
        st = dlt_pt_parse_string(solver_text, label, &sroot);
    if (st == 0)
        st = dlt_solver_config_parse(sroot, &cfg);
    if (st == 0)
        st = dlt_net_create(root, DLT_PHASE_TRAIN, 3, 11, 11, 7, &gc_compute, &cpu);
    if (st == 0)
        st = dlt_net_create(root, DLT_PHASE_TRAIN, 3, 11, 11, 7, &gc_compute, &gpu);
    if (st == 0)
        st = dlt_net_to_device(gpu, DLT_DEVICE_GPU);
    TEST_OK(st == 0, "solver %s: setup (status %d)", label, st);
    if (st) {
        dlt_net_free(cpu), dlt_net_free(gpu), dlt_cfg_free(root), dlt_cfg_free(sroot);
        return;
    }
    size_t n = dlt_net_param_count(cpu);
    dlt_solver *sc = dlt_solver_create(&cfg, n), *sg = dlt_solver_create(&cfg, n);
    gc_fill_batch(cpu, gpu, 5, 3);
    double norm_c = 0, norm_g = 0;
    for (long it = 0; it < 3; it++) {
        dlt_net_zero_grads(cpu);
        dlt_net_forward(cpu);
        dlt_net_backward(cpu);
        for (size_t i = 0; i < n; i++) /* large enough for clip_gradients to act */
            dlt_net_grads(cpu)[i] *= 50.0f;
        dlt_device_upload(dlt_net_device_grads(gpu), dlt_net_grads(cpu), n * sizeof(float));
        norm_c = dlt_solver_step(sc, cpu, it);
        norm_g = dlt_solver_step(sg, gpu, it);
    }
    TEST_OK(dlt_solver_memory(sg) == DLT_DEVICE && dlt_solver_memory(sc) == DLT_HOST,
            "solver %s: each history followed its net (device, host)", label);
    dlt_net_params_to_host(gpu);
    dlt_solver_history_to_host(sg);
    double e = blob_err(dlt_net_params(gpu), dlt_net_params(cpu), n);
    TEST_OK(e <= 1e-6, "solver %s: weights after 3 device steps match the host (err %.2g <= 1e-6)", label, e);
    for (int k = 0; k < dlt_solver_num_history(sc); k++) {
        double he = blob_err(dlt_solver_history(sg, k), dlt_solver_history(sc, k), n);
        TEST_OK(he <= 1e-6, "solver %s: history %d matches (err %.2g <= 1e-6)", label, k, he);
    }
    ASSERT_NEAR(norm_g, norm_c, 1e-6 * (norm_c > 1 ? norm_c : 1), "solver %s: gradient norm %.6g on the device",
                label, norm_g);
    dlt_solver_free(sg), dlt_solver_free(sc);
    dlt_net_free(gpu), dlt_net_free(cpu);
    dlt_cfg_free(root), dlt_cfg_free(sroot);
}

/* NCCL on one rank, through the reducer (device memory selects it):
 * bootstrap through MPI; a one-rank average leaves the buffer as it is,
 * after backward (blocking) and with buckets started early (overlap). */
static void nccl_one_rank(void)
{
    dlt_comm *comm = dlt_comm_init(NULL, NULL);
    const size_t n = 3 << 20;
    float *h = dlt_malloc(n * sizeof(float)), *back = dlt_malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        h[i] = (float)i * 0.25f;
    float *d = dlt_device_alloc(n * sizeof(float));
    dlt_device_upload(d, h, n * sizeof(float));
    for (int mode = 0; mode < 2; mode++) {
        dlt_reducer_config cfg = {1u << 20, mode ? DLT_ALLREDUCE_BLOCKING : DLT_ALLREDUCE_OVERLAP,
                                  DLT_REDUCER_AUTO, 0, DLT_DEVICE};
        dlt_reducer *r = dlt_reducer_create(comm, d, n, &cfg);
        TEST_OK(strcmp(dlt_reducer_kind_name(r), "nccl") == 0, "device memory: the reducer uses %s",
                dlt_reducer_kind_name(r));
        dlt_reducer_begin(r);
        dlt_reducer_ready(r, n / 2);
        TEST_OK(dlt_reducer_finish(r), "NCCL reducer: all values finite");
        dlt_reducer_free(r);
    }
    dlt_device_download(back, d, n * sizeof(float));
    TEST_OK(memcmp(back, h, n * sizeof(float)) == 0, "NCCL average over 1 rank leaves 12 MB unchanged");
    dlt_device_free(d);
    free(h), free(back);
    dlt_comm_finalize(comm);
}
#endif

int main(void)
{
    gc_require_gpu(1);
    compare_text("basic", net_basic, 3, 11, 11);
    compare_text("mix", net_mix, 3, 9, 9);
    compare_text("axes", net_axes, 2, 6, 6);
    compare_text("stride > kernel pooling", net_stride, 2, 6, 6);
#ifdef HAVE_CUDA
    static const char *const solvers[][2] = {
        {"SGD L2", "net: 'basic' max_iter: 9 base_lr: 0.01 momentum: 0.9 weight_decay: 0.0005 type: 'SGD'"},
        {"SGD L1 clip iter_size", "net: 'basic' max_iter: 9 base_lr: 0.01 momentum: 0.9 weight_decay: 0.001"
                                  " regularization_type: 'L1' clip_gradients: 1 iter_size: 2 type: 'SGD'"},
        {"Nesterov", "net: 'basic' max_iter: 9 base_lr: 0.02 momentum: 0.95 weight_decay: 0.0005 type: 'Nesterov'"},
        {"Adam", "net: 'basic' max_iter: 9 base_lr: 0.001 momentum: 0.9 momentum2: 0.999 delta: 1e-8"
                 " weight_decay: 0.0001 type: 'Adam'"},
        {"AdaGrad", "net: 'basic' max_iter: 9 base_lr: 0.01 weight_decay: 0.0005 type: 'AdaGrad'"},
        {"RMSProp", "net: 'basic' max_iter: 9 base_lr: 0.001 rms_decay: 0.98 weight_decay: 0.0005 type: 'RMSProp'"},
        {"AdaDelta", "net: 'basic' max_iter: 9 base_lr: 1.0 momentum: 0.95 delta: 1e-6 weight_decay: 0.0005"
                     " type: 'AdaDelta'"},
    };
    for (size_t i = 0; i < sizeof solvers / sizeof solvers[0]; i++)
        compare_solver(solvers[i][0], solvers[i][1]);
    nccl_one_rank();
#endif
    TEST_DONE();
}
