/* test_solver.c - solver parsing, LR policies against Caffe's formulas,
 * SGD updates against hand-computed values, net wiring (phases, in-place,
 * outputs, parameter sharing between TRAIN and TEST nets). */
#include <math.h>
#include <string.h>

#include "dltrain/net.h"
#include "dltrain/solver.h"
#include "test.h"

static const char *net_text =
    "name: 'tiny'\n"
    "layer { name: 'd' type: 'Data' top: 'data' top: 'label' include { phase: TRAIN }\n"
    "        data_param { batch_size: 4 } }\n"
    "layer { name: 'd' type: 'Data' top: 'data' top: 'label' include { phase: TEST }\n"
    "        data_param { batch_size: 2 } }\n"
    "layer { name: 'ip' type: 'InnerProduct' bottom: 'data' top: 'ip'\n"
    "        param { lr_mult: 1 } param { lr_mult: 2 decay_mult: 0 }\n"
    "        inner_product_param { num_output: 3 weight_filler { type: 'gaussian' std: 0.1 } } }\n"
    "layer { name: 'relu' type: 'ReLU' bottom: 'ip' top: 'ip' }\n"
    "layer { name: 'acc' type: 'Accuracy' bottom: 'ip' bottom: 'label' top: 'acc'\n"
    "        include { phase: TEST } }\n"
    "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'ip' bottom: 'label' top: 'loss' }\n";

static void test_lr_policies(void)
{
    dlt_pnode *root;
    int st = dlt_pt_parse_string("net: 'x' base_lr: 0.1 lr_policy: 'step' gamma: 0.5 stepsize: 10\n"
                                 "max_iter: 100 momentum: 0.9", "step.prototxt", &root);
    ASSERT_EQ(st, 0, "parse step solver");
    dlt_solver_config cfg;
    ASSERT_EQ(dlt_solver_config_parse(root, &cfg), 0, "step solver config");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 0), 0.1, 1e-12, "step lr at 0 = base_lr");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 9), 0.1, 1e-12, "step lr at 9 = base_lr");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 10), 0.05, 1e-12, "step lr at 10 = base_lr * gamma");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 35), 0.1 * 0.125, 1e-12, "step lr at 35 = base_lr * gamma^3");
    dlt_pt_free(root);

    st = dlt_pt_parse_string("net: 'x' base_lr: 0.01 lr_policy: 'inv' gamma: 0.0001 power: 0.75\n"
                             "max_iter: 10", "inv.prototxt", &root);
    ASSERT_EQ(dlt_solver_config_parse(root, &cfg), 0, "inv solver config");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 0), 0.01, 1e-12, "inv lr at 0");
    /* Caffe: base_lr * (1 + gamma * iter) ^ (-power) */
    ASSERT_NEAR(dlt_solver_lr(&cfg, 5000), 0.01 * pow(1.5, -0.75), 1e-12, "inv lr at 5000");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 10000), 0.01 * pow(2.0, -0.75), 1e-12, "inv lr at 10000");
    dlt_pt_free(root);

    st = dlt_pt_parse_string("net: 'x' base_lr: 0.2 max_iter: 10", "fixed.prototxt", &root);
    ASSERT_EQ(dlt_solver_config_parse(root, &cfg), 0, "fixed (default) solver config");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 123456), 0.2, 1e-12, "fixed lr is base_lr");
    dlt_pt_free(root);

    st = dlt_pt_parse_string("net: 'x' base_lr: 0.2 max_iter: 10 lr_policy: 'cosine'", "bad.prototxt",
                             &root);
    TEST_OK(dlt_solver_config_parse(root, &cfg) < 0, "unsupported lr_policy is an error");
    dlt_pt_free(root);
    st = dlt_pt_parse_string("net: 'x' max_iter: 10 lr_policy: 'step'", "bad.prototxt", &root);
    TEST_OK(dlt_solver_config_parse(root, &cfg) < 0, "step without stepsize is an error");
    dlt_pt_free(root);
}

/* Two SGD steps on known weights and gradients, checked against Caffe's
 * update written out by hand, with lr_mult 2 / decay_mult 0 on the bias. */
static void test_sgd(void)
{
    dlt_pnode *root, *sroot;
    ASSERT_EQ(dlt_pt_parse_string(net_text, "tiny.prototxt", &root), 0, "parse tiny net");
    ASSERT_EQ(dlt_pt_parse_string("net: 'x' base_lr: 0.1 momentum: 0.9 weight_decay: 0.01 max_iter: 2",
                                  "s.prototxt", &sroot), 0, "parse sgd solver");
    dlt_solver_config cfg;
    dlt_solver_config_parse(sroot, &cfg);
    dlt_net *net;
    ASSERT_EQ(dlt_net_create(root, DLT_PHASE_TRAIN, 2, 1, 1, 7, &net), 0, "build tiny TRAIN net");
    size_t n = dlt_net_param_count(net);
    ASSERT_EQ(n, 3 * 2 + 3, "parameter count: weight 3x2 + bias 3");
    float *w = dlt_net_params(net), *g = dlt_net_grads(net);
    float w0[9], hist[9] = {0};
    double h_ref[9] = {0}, w_ref[9];
    for (size_t i = 0; i < n; i++)
        w0[i] = w[i] = 0.1f * (float)i - 0.3f, w_ref[i] = w0[i];
    for (int step = 0; step < 2; step++) {
        for (size_t i = 0; i < n; i++)
            g[i] = 0.05f * (float)(i + 1) * (step ? -1.0f : 1.0f);
        for (size_t i = 0; i < n; i++) {
            int bias = i >= 6;
            double lr = 0.1 * (bias ? 2 : 1), decay = bias ? 0 : 0.01;
            double grad = g[i] + decay * w_ref[i];
            h_ref[i] = 0.9 * h_ref[i] + lr * grad;
            w_ref[i] -= h_ref[i];
        }
        dlt_sgd_update(&cfg, net, hist, 0.1);
    }
    double maxdiff = 0;
    for (size_t i = 0; i < n; i++)
        maxdiff = fmax(maxdiff, fabs(w[i] - w_ref[i]));
    ASSERT_NEAR(maxdiff, 0, 1e-6, "two SGD steps (momentum, L2 decay, lr_mult/decay_mult) match by hand");
    TEST_OK(fabs(w[0] - w0[0]) > 1e-3, "weights moved");

    /* Net wiring */
    ASSERT_EQ(dlt_net_num_layers(net), 4, "TRAIN net has data, ip, relu, loss");
    ASSERT_EQ(dlt_net_num_outputs(net), 1, "TRAIN net has one output");
    TEST_OK(strcmp(dlt_net_output_name(net, 0), "loss") == 0 && dlt_net_output_is_loss(net, 0),
            "TRAIN output is the loss");
    dlt_net *test;
    ASSERT_EQ(dlt_net_create(root, DLT_PHASE_TEST, 2, 1, 1, 7, &test), 0, "build tiny TEST net");
    ASSERT_EQ(dlt_net_num_outputs(test), 2, "TEST net outputs acc and loss");
    ASSERT_EQ(dlt_net_share_params(test, net), 0, "TEST net shares TRAIN weights");
    TEST_OK(dlt_net_params(test) == dlt_net_params(net), "shared parameter buffer");
    ASSERT_EQ(dlt_layer_data_params(dlt_net_data_layer(test))->batch_size, 2, "TEST batch size 2");

    /* forward/backward runs; the in-place ReLU and the loss see the same blob */
    dlt_layer *dl = dlt_net_data_layer(net);
    for (size_t i = 0; i < dl->top[0]->count; i++)
        dl->top[0]->data[i] = (float)i / 8.0f;
    for (int i = 0; i < 4; i++)
        dl->top[1]->data[i] = (float)(i % 3);
    dlt_net_zero_grads(net);
    float loss = dlt_net_forward(net);
    TEST_OK(isfinite(loss) && loss > 0, "forward gives a positive finite loss (%g)", loss);
    dlt_net_backward(net);
    double gsum = 0;
    for (size_t i = 0; i < n; i++)
        gsum += fabs(g[i]);
    TEST_OK(gsum > 0, "backward produced parameter gradients");
    dlt_net_free(test);
    dlt_net_free(net);
    dlt_pt_free(root);
    dlt_pt_free(sroot);
}

static void test_bad_nets(void)
{
    const char *bad[][2] = {
        {"layer { name: 'a' type: 'Nope' top: 'x' }", "unknown layer type"},
        {"layer { name: 'd' type: 'Data' top: 'data' top: 'label' data_param { batch_size: 2 } }\n"
         "layer { name: 'ip' type: 'InnerProduct' bottom: 'missing' top: 'ip'\n"
         "        inner_product_param { num_output: 2 } }", "bottom not produced earlier"},
        {"layers { name: 'old' }", "V1 layers format"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dlt_pnode *root;
        dlt_net *net = NULL;
        int st = dlt_pt_parse_string(bad[i][0], "bad_net.prototxt", &root);
        if (st == 0)
            st = dlt_net_create(root, DLT_PHASE_TRAIN, 1, 2, 2, 1, &net);
        TEST_OK(st < 0 && net == NULL, "net error: %s", bad[i][1]);
        dlt_pt_free(root);
    }
}

int main(void)
{
    test_lr_policies();
    test_sgd();
    test_bad_nets();
    TEST_DONE();
}
