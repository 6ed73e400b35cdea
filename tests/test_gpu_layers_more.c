/* test_gpu_layers_more.c - LRN, BatchNorm, Scale, Softmax, Concat and
 * Eltwise on the GPU against the same layers on the CPU, in one small net
 * built twice from one prototxt and seed (the pattern of
 * test_gpu_layers.c): each top after forward, BatchNorm's statistics
 * blobs after forward, every parameter and bottom gradient after backward.
 * The net covers both LRN regions, BatchNorm in train mode (in place and
 * not) and with global statistics, Scale with and without bias (in place
 * and not), Softmax over axes 0-3 (in place too), Concat over axes 0-3, Eltwise SUM with
 * coeff, PROD and MAX over 3 bottoms and SUM in place, SoftmaxWithLoss and
 * Accuracy over axis 2 of (T,N,V,1) word scores with ignore_label. Skips (TAP
 * "1..0 # SKIP") without CUDA or a usable GPU. Tolerances (max relative
 * error |a-b| / max(1, |b|)): forward and statistics 1e-5, gradients 1e-4. */
#include <string.h>

#include "dltrain/device.h"
#include "dltrain/error.h"
#include "dltrain/net.h"
#include "dltrain/prototxt.h"
#include "test.h"

static const char *net_text =
    "name: 'gpu_test_more'\n"
    "layer { name: 'data' type: 'Data' top: 'data' top: 'label' data_param { batch_size: 4 } }\n"
    "layer { name: 'sc0' type: 'Scale' bottom: 'data' top: 's0' scale_param { bias_term: true\n"
    "  filler { type: 'gaussian' mean: 1 std: 0.5 } bias_filler { type: 'gaussian' std: 0.2 } } }\n"
    "layer { name: 'lrnA' type: 'LRN' bottom: 's0' top: 'la'\n"
    "  lrn_param { local_size: 3 alpha: 0.3 beta: 0.75 k: 2 } }\n"
    "layer { name: 'lrnW' type: 'LRN' bottom: 's0' top: 'lw'\n"
    "  lrn_param { local_size: 3 alpha: 0.5 beta: 0.6 norm_region: WITHIN_CHANNEL } }\n"
    "layer { name: 'bn1' type: 'BatchNorm' bottom: 'la' top: 'la' }\n"
    "layer { name: 'sc1' type: 'Scale' bottom: 'la' top: 'la' scale_param { bias_term: true\n"
    "  filler { type: 'gaussian' mean: 1 std: 0.5 } bias_filler { type: 'gaussian' std: 0.2 } } }\n"
    "layer { name: 'bn2' type: 'BatchNorm' bottom: 'lw' top: 'bn2' batch_norm_param { moving_average_fraction: 0.9 } }\n"
    "layer { name: 'sc2' type: 'Scale' bottom: 'bn2' top: 'sc2' scale_param { filler { type: 'uniform' min: 0.5 max: 1.5 } } }\n"
    "layer { name: 'bn3' type: 'BatchNorm' bottom: 'lw' top: 'g3' batch_norm_param { use_global_stats: true } }\n"
    "layer { name: 'esum' type: 'Eltwise' bottom: 'la' bottom: 'sc2' top: 'esum'\n"
    "  eltwise_param { operation: SUM coeff: 0.5 coeff: -1.5 } }\n"
    "layer { name: 'eprod' type: 'Eltwise' bottom: 'la' bottom: 'sc2' bottom: 'g3' top: 'eprod'\n"
    "  eltwise_param { operation: PROD } }\n"
    "layer { name: 'emax' type: 'Eltwise' bottom: 'la' bottom: 'sc2' bottom: 'esum' top: 'emax'\n"
    "  eltwise_param { operation: MAX } }\n"
    "layer { name: 'eadd' type: 'Eltwise' bottom: 'emax' bottom: 'eprod' top: 'emax' }\n"
    "layer { name: 'cat1' type: 'Concat' bottom: 'esum' bottom: 'emax' top: 'c1' }\n"
    "layer { name: 'smC' type: 'Softmax' bottom: 'c1' top: 'smC' }\n"
    "layer { name: 'catH' type: 'Concat' bottom: 'esum' bottom: 'eprod' top: 'cH' concat_param { axis: 2 } }\n"
    "layer { name: 'smH' type: 'Softmax' bottom: 'cH' top: 'cH' softmax_param { axis: 2 } }\n"
    "layer { name: 'smW' type: 'Softmax' bottom: 'esum' top: 'smW' softmax_param { axis: -1 } }\n"
    "layer { name: 'sm0' type: 'Softmax' bottom: 'esum' top: 'sm0' softmax_param { axis: 0 } }\n"
    "layer { name: 'catW' type: 'Concat' bottom: 'smW' bottom: 'sm0' top: 'cW' concat_param { axis: 3 } }\n"
    "layer { name: 'ipC' type: 'InnerProduct' bottom: 'smC' top: 'ipC'\n"
    "  inner_product_param { num_output: 5 weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'ipH' type: 'InnerProduct' bottom: 'cH' top: 'ipH'\n"
    "  inner_product_param { num_output: 5 weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'ipW' type: 'InnerProduct' bottom: 'cW' top: 'ipW'\n"
    "  inner_product_param { num_output: 5 weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'cat5' type: 'Concat' bottom: 'ipC' bottom: 'ipH' bottom: 'ipW' top: 'ip15' }\n"
    "layer { name: 'ipL' type: 'InnerProduct' bottom: 'ip15' top: 'ipL'\n"
    "  inner_product_param { num_output: 5 weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'sm' type: 'Softmax' bottom: 'ipL' top: 'pL' }\n"
    "layer { name: 'ipO' type: 'InnerProduct' bottom: 'pL' top: 'ipO'\n"
    "  inner_product_param { num_output: 5 weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'cat0' type: 'Concat' bottom: 'eprod' bottom: 'g3' top: 'c0' concat_param { axis: 0 } }\n"
    "layer { name: 'lab2' type: 'Concat' bottom: 'label' bottom: 'label' top: 'label2' concat_param { axis: 0 } }\n"
    "layer { name: 'ip0' type: 'InnerProduct' bottom: 'c0' top: 'ip0'\n"
    "  inner_product_param { num_output: 5 weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'loss0' type: 'SoftmaxWithLoss' bottom: 'ip0' bottom: 'label2' top: 'loss0' }\n"
    "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'ipO' bottom: 'label' top: 'loss' }\n"
    /* Word-score layout (T,N,V,1) = (4,2,5,1): loss and accuracy over axis 2. */
    "layer { name: 'cv2' type: 'Convolution' bottom: 'data' top: 'cv2'\n"
    "  convolution_param { num_output: 2 kernel_size: 1 weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'ipT' type: 'InnerProduct' bottom: 'cv2' top: 'ipT'\n"
    "  inner_product_param { num_output: 5 axis: 2 weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'lossT' type: 'SoftmaxWithLoss' bottom: 'ipT' bottom: 'label2' top: 'lossT'\n"
    "  softmax_param { axis: 2 } loss_param { ignore_label: 1 } }\n"
    "layer { name: 'accT' type: 'Accuracy' bottom: 'ipT' bottom: 'label2' top: 'accT'\n"
    "  accuracy_param { axis: 2 ignore_label: 1 } }\n";

static double rel_err(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (fabs(b[i]) > 1 ? fabs(b[i]) : 1);
        m = d > m ? d : m;
    }
    return m;
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
    dlt_compute_ctx compute;
    dlt_compute_ctx_init(&compute);
    compute.cudnn_deterministic = 1;
    compute.cudnn_workspace_limit = (size_t)64 << 20;
    if (dlt_device_select(DLT_DEVICE_GPU, 0, 1, &got) < 0 || got != DLT_DEVICE_GPU)
        TEST_SKIP_ALL("a GPU is visible but could not be bound");

    dlt_cfg *root = NULL;
    if (dlt_pt_parse_string(net_text, "gpu_test_more.prototxt", &root) != 0)
        return 1;
    dlt_net *cpu = NULL, *gpu = NULL;
    int st = dlt_net_create(root, DLT_PHASE_TRAIN, 3, 7, 9, 7, &compute, &cpu);
    if (st == 0)
        st = dlt_net_create(root, DLT_PHASE_TRAIN, 3, 7, 9, 7, &compute, &gpu);
    ASSERT_EQ(st, 0, "both nets build");
    if (st)
        TEST_DONE();
    ASSERT_EQ(dlt_net_to_device(gpu, DLT_DEVICE_GPU), 0, "the net moves to the GPU");

    /* Global-statistics BatchNorm: the same running sums in both nets. */
    for (int i = 0; i < dlt_net_num_layers(cpu); i++) {
        dlt_layer *a = dlt_net_layer(gpu, i), *b = dlt_net_layer(cpu, i);
        if (strcmp(b->name, "bn3"))
            continue;
        for (int c = 0; c < b->param[0].c; c++) {
            a->param[0].data[c] = b->param[0].data[c] = 0.5f * (float)(c - 1);
            a->param[1].data[c] = b->param[1].data[c] = 1.5f + c;
        }
        a->param[2].data[0] = b->param[2].data[0] = 2.5f;
        for (int p = 0; p < 3; p++)
            dlt_tensor_upload(&a->param[p]);
    }

    dlt_layer *dc = dlt_net_data_layer(cpu), *dg = dlt_net_data_layer(gpu);
    dlt_rng rng;
    dlt_rng_seed(&rng, 11);
    for (size_t i = 0; i < dc->top[0]->count; i++)
        dc->top[0]->data[i] = dg->top[0]->data[i] = (float)(dlt_rng_uniform(&rng) * 4 - 2);
    for (size_t i = 0; i < dc->top[1]->count; i++)
        dc->top[1]->data[i] = dg->top[1]->data[i] = (float)dlt_rng_below(&rng, 5);
    /* Ties for MAX: equal values in bottoms 0 and 1 of 'emax' come from
     * equal inputs only by chance; the CPU's first-wins rule is checked
     * through the gradients below either way. */

    float lc = dlt_net_forward(cpu), lg = dlt_net_forward(gpu);
    ASSERT_NEAR(lg, lc, 1e-5 * (fabs(lc) > 1 ? fabs(lc) : 1), "loss on the GPU matches the CPU");
    for (int i = 0; i < dlt_net_num_layers(cpu); i++) {
        dlt_layer *a = dlt_net_layer(gpu, i), *b = dlt_net_layer(cpu, i);
        const double tol =
            !strcmp(b->ops->type, "InnerProduct") || !strcmp(b->ops->type, "Convolution") ? 1e-4 : 1e-5;
        for (int t = 0; t < a->ntop; t++) {
            dlt_tensor_download(a->top[t]);
            double e = rel_err(a->top[t]->data, b->top[t]->data, b->top[t]->count);
            TEST_OK(e <= tol, "%s '%s' top %d forward (%zu values): max rel err %.2g <= %.0g", b->ops->type,
                    b->name, t, b->top[t]->count, e, tol);
        }
        if (!strcmp(b->ops->type, "BatchNorm"))
            for (int p = 0; p < b->nparam; p++) {
                dlt_tensor_download(&a->param[p]);
                double e = rel_err(a->param[p].data, b->param[p].data, b->param[p].count);
                TEST_OK(e <= 1e-5, "BatchNorm '%s' statistics blob %d after forward: max rel err %.2g <= 1e-5",
                        b->name, p, e);
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
            TEST_OK(e <= 1e-4, "%s '%s' param %d gradient: max rel err %.2g <= 1e-4", b->ops->type, b->name, p, e);
        }
        for (int k = 0; k < b->nbottom; k++)
            if (b->propagate_down[k]) {
                dlt_tensor_download_diff(a->bottom[k]);
                double e = rel_err(a->bottom[k]->diff, b->bottom[k]->diff, b->bottom[k]->count);
                TEST_OK(e <= 1e-4, "%s '%s' bottom %d gradient: max rel err %.2g <= 1e-4", b->ops->type,
                        b->name, k, e);
            }
    }
    dlt_net_free(gpu);
    dlt_net_free(cpu);
    dlt_cfg_free(root);
    TEST_DONE();
}
