/* test_solver.c - solver parsing (and its error messages), all LR
 * policies against Caffe's formulas, warmup and linear scaling, SGD,
 * Nesterov, Adam, AdaGrad, RMSProp and AdaDelta updates, L1, clipping and
 * iter_size against hand-computed values, net wiring (phases, in-place, outputs, parameter
 * sharing between TRAIN and TEST nets). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dltrain/net.h"
#include "dltrain/prototxt.h"
#include "dltrain/solver.h"
#include "net/solver_rules.h"
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
    dlt_cfg *root;
    int st = dlt_pt_parse_string("net: 'x' base_lr: 0.1 lr_policy: 'step' gamma: 0.5 stepsize: 10\n"
                                 "max_iter: 100 momentum: 0.9", "step.prototxt", &root);
    ASSERT_EQ(st, 0, "parse step solver");
    dlt_solver_config cfg;
    ASSERT_EQ(dlt_solver_config_parse(root, &cfg), 0, "step solver config");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 0), 0.1, 1e-12, "step lr at 0 = base_lr");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 9), 0.1, 1e-12, "step lr at 9 = base_lr");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 10), 0.05, 1e-12, "step lr at 10 = base_lr * gamma");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 35), 0.1 * 0.125, 1e-12, "step lr at 35 = base_lr * gamma^3");
    dlt_cfg_free(root);

    st = dlt_pt_parse_string("net: 'x' base_lr: 0.01 lr_policy: 'inv' gamma: 0.0001 power: 0.75\n"
                             "max_iter: 10", "inv.prototxt", &root);
    ASSERT_EQ(dlt_solver_config_parse(root, &cfg), 0, "inv solver config");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 0), 0.01, 1e-12, "inv lr at 0");
    /* Caffe: base_lr * (1 + gamma * iter) ^ (-power) */
    ASSERT_NEAR(dlt_solver_lr(&cfg, 5000), 0.01 * pow(1.5, -0.75), 1e-12, "inv lr at 5000");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 10000), 0.01 * pow(2.0, -0.75), 1e-12, "inv lr at 10000");
    dlt_cfg_free(root);

    st = dlt_pt_parse_string("net: 'x' base_lr: 0.2 max_iter: 10", "fixed.prototxt", &root);
    ASSERT_EQ(dlt_solver_config_parse(root, &cfg), 0, "fixed (default) solver config");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 123456), 0.2, 1e-12, "fixed lr is base_lr");
    dlt_cfg_free(root);

    st = dlt_pt_parse_string("net: 'x' base_lr: 0.2 max_iter: 10 lr_policy: 'cosine'", "bad.prototxt",
                             &root);
    TEST_OK(dlt_solver_config_parse(root, &cfg) < 0, "unsupported lr_policy is an error");
    dlt_cfg_free(root);
    st = dlt_pt_parse_string("net: 'x' max_iter: 10 lr_policy: 'step' gamma: 0.1", "bad.prototxt", &root);
    TEST_OK(dlt_solver_config_parse(root, &cfg) < 0, "step without stepsize is an error");
    dlt_cfg_free(root);
}

/* Two SGD steps on known weights and gradients, checked against Caffe's
 * update written out by hand, with lr_mult 2 / decay_mult 0 on the bias. */
static void test_sgd(void)
{
    dlt_cfg *root, *sroot;
    ASSERT_EQ(dlt_pt_parse_string(net_text, "tiny.prototxt", &root), 0, "parse tiny net");
    ASSERT_EQ(dlt_pt_parse_string("net: 'x' base_lr: 0.1 momentum: 0.9 weight_decay: 0.01 max_iter: 2",
                                  "s.prototxt", &sroot), 0, "parse sgd solver");
    dlt_solver_config cfg;
    dlt_solver_config_parse(sroot, &cfg);
    dlt_net *net;
    ASSERT_EQ(dlt_net_create(root, DLT_PHASE_TRAIN, 2, 1, 1, 7, NULL, &net), 0, "build tiny TRAIN net");
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
    ASSERT_EQ(dlt_net_create(root, DLT_PHASE_TEST, 2, 1, 1, 7, NULL, &test), 0, "build tiny TEST net");
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
    dlt_cfg_free(root);
    dlt_cfg_free(sroot);
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
        dlt_cfg *root;
        dlt_net *net = NULL;
        int st = dlt_pt_parse_string(bad[i][0], "bad_net.prototxt", &root);
        if (st == 0)
            st = dlt_net_create(root, DLT_PHASE_TRAIN, 1, 2, 2, 1, NULL, &net);
        TEST_OK(st < 0 && net == NULL, "net error: %s", bad[i][1]);
        dlt_cfg_free(root);
    }
}

/* Parse solver TEXT (named "s.prototxt") into CFG; 0 or the status. */
static int parse_solver(const char *text, dlt_solver_config *cfg, dlt_cfg **root)
{
    int st = dlt_pt_parse_string(text, "s.prototxt", root);
    return st < 0 ? st : dlt_solver_config_parse(*root, cfg);
}

static void test_more_policies(void)
{
    dlt_cfg *root;
    dlt_solver_config cfg;
    ASSERT_EQ(parse_solver("net: 'x' base_lr: 0.1 lr_policy: 'exp' gamma: 0.99 max_iter: 10",
                           &cfg, &root), 0, "exp solver");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 0), 0.1, 1e-15, "exp lr at 0");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 100), 0.1 * pow(0.99, 100), 1e-15, "exp lr at 100 = base*gamma^100");
    dlt_cfg_free(root);

    ASSERT_EQ(parse_solver("net: 'x' base_lr: 0.1 lr_policy: 'multistep' gamma: 0.1\n"
                           "stepvalue: 100 stepvalue: 250 stepvalue: 400 max_iter: 500",
                           &cfg, &root), 0, "multistep solver");
    ASSERT_EQ(cfg.nstepvalue, 3, "three stepvalues read");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 99), 0.1, 1e-15, "multistep lr at 99 (before first boundary)");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 100), 0.01, 1e-15, "multistep lr at 100 (first boundary)");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 249), 0.01, 1e-15, "multistep lr at 249");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 250), 0.001, 1e-15, "multistep lr at 250");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 400), 1e-4, 1e-15, "multistep lr at 400 (last boundary)");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 100000), 1e-4, 1e-15, "multistep lr after the last boundary");
    dlt_cfg_free(root);

    ASSERT_EQ(parse_solver("net: 'x' base_lr: 0.1 lr_policy: 'poly' power: 2 max_iter: 1000",
                           &cfg, &root), 0, "poly solver");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 0), 0.1, 1e-15, "poly lr at 0");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 250), 0.1 * 0.75 * 0.75, 1e-15, "poly lr at 250 = base*(1-1/4)^2");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 1000), 0.0, 1e-15, "poly lr at max_iter is 0");
    dlt_cfg_free(root);

    ASSERT_EQ(parse_solver("net: 'x' base_lr: 0.1 lr_policy: 'sigmoid' gamma: -0.01 stepsize: 500\n"
                           "max_iter: 1000", &cfg, &root), 0, "sigmoid solver");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 500), 0.05, 1e-15, "sigmoid lr at stepsize = base/2");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 700), 0.1 / (1 + exp(0.01 * 200)), 1e-15,
                "sigmoid lr at 700 = base/(1+exp(-gamma*(700-500)))");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 0), 0.1 / (1 + exp(-5.0)), 1e-15,
                "sigmoid lr at 0 = base/(1+exp(gamma*500)), close to base for gamma < 0");
    dlt_cfg_free(root);
}

/* Goyal et al. 2017: scaled rate, linear warmup from the unscaled rate. */
static void test_scaling(void)
{
    dlt_cfg *root;
    dlt_solver_config cfg;
    ASSERT_EQ(parse_solver("net: 'x' base_lr: 0.1 lr_policy: 'step' gamma: 0.1 stepsize: 100\n"
                           "max_iter: 500", &cfg, &root), 0, "solver for scaling");
    dlt_solver_set_scaling(&cfg, 4.0, 0);
    ASSERT_NEAR(dlt_solver_lr(&cfg, 0), 0.4, 1e-15, "linear scaling x4 at 0");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 150), 0.04, 1e-15, "linear scaling x4 keeps the step policy");
    dlt_solver_set_scaling(&cfg, 4.0, 20);
    ASSERT_NEAR(dlt_solver_lr(&cfg, 0), 0.1, 1e-15, "warmup starts at the unscaled rate");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 10), 0.1 * 2.5, 1e-15, "warmup halfway: (1 + 3/2) x base");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 20), 0.4, 1e-15, "warmup done at 20: 4 x base");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 99), 0.4, 1e-15, "after warmup: scaled policy");
    dlt_solver_set_scaling(&cfg, 1.0, 10);
    ASSERT_NEAR(dlt_solver_lr(&cfg, 0), 0.01, 1e-15, "unscaled warmup starts at base/N");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 5), 0.1 * (0.1 + 0.9 * 0.5), 1e-15, "unscaled warmup at N/2");
    ASSERT_NEAR(dlt_solver_lr(&cfg, 10), 0.1, 1e-15, "unscaled warmup reaches base_lr at N");
    dlt_cfg_free(root);
}

static void test_solver_types(void)
{
    const struct { const char *text; dlt_solver_type type; int nhist; } cases[] = {
        {"net: 'x' max_iter: 1", DLT_SOLVER_SGD, 1},
        {"net: 'x' max_iter: 1 type: 'Nesterov'", DLT_SOLVER_NESTEROV, 1},
        {"net: 'x' max_iter: 1 type: 'Adam'", DLT_SOLVER_ADAM, 2},
        {"net: 'x' max_iter: 1 solver_type: NESTEROV", DLT_SOLVER_NESTEROV, 1},
        {"net: 'x' max_iter: 1 solver_type: ADAM", DLT_SOLVER_ADAM, 2},
        {"net: 'x' max_iter: 1 solver_type: SGD", DLT_SOLVER_SGD, 1},
        {"net: 'x' max_iter: 1 type: 'AdaGrad'", DLT_SOLVER_ADAGRAD, 1},
        {"net: 'x' max_iter: 1 solver_type: ADAGRAD", DLT_SOLVER_ADAGRAD, 1},
        {"net: 'x' max_iter: 1 type: 'RMSProp'", DLT_SOLVER_RMSPROP, 1},
        {"net: 'x' max_iter: 1 solver_type: RMSPROP rms_decay: 0.9", DLT_SOLVER_RMSPROP, 1},
        {"net: 'x' max_iter: 1 type: 'AdaDelta' momentum: 0.95", DLT_SOLVER_ADADELTA, 2},
        {"net: 'x' max_iter: 1 solver_type: ADADELTA", DLT_SOLVER_ADADELTA, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dlt_cfg *root;
        dlt_solver_config cfg;
        int st = parse_solver(cases[i].text, &cfg, &root);
        TEST_OK(st == 0 && cfg.type == cases[i].type, "'%s' selects %s", cases[i].text,
                dlt_solver_type_name(cases[i].type));
        dlt_solver *s = dlt_solver_create(&cfg, 5);
        ASSERT_EQ(dlt_solver_num_history(s), cases[i].nhist, "%s has %d history buffers",
                  dlt_solver_type_name(cases[i].type), cases[i].nhist);
        dlt_solver_free(s);
        dlt_cfg_free(root);
    }
    dlt_cfg *root;
    dlt_solver_config cfg;
    parse_solver("net: 'x' max_iter: 1 type: 'Adam'", &cfg, &root);
    ASSERT_NEAR(cfg.momentum2, 0.999, 1e-12, "Adam momentum2 defaults to 0.999 (Caffe)");
    ASSERT_NEAR(cfg.delta, 1e-8, 1e-20, "Adam delta defaults to 1e-8 (Caffe)");
    dlt_cfg_free(root);
    parse_solver("net: 'x' max_iter: 1 type: 'RMSProp'", &cfg, &root);
    ASSERT_NEAR(cfg.rms_decay, 0.99, 1e-12, "RMSProp rms_decay defaults to 0.99 (Caffe)");
    dlt_cfg_free(root);
    /* Every row of the table: its name selects it, and it has history. */
    for (int t = 0; t < DLT_SOLVER_NTYPES; t++) {
        char text[128];
        snprintf(text, sizeof text, "net: 'x' max_iter: 1 type: '%s'", dlt_solver_type_name(t));
        int st = parse_solver(text, &cfg, &root);
        TEST_OK(st == 0 && cfg.type == (dlt_solver_type)t, "table row %d: type '%s' selects it", t,
                dlt_solver_type_name(t));
        dlt_solver *s = dlt_solver_create(&cfg, 3);
        int nh = dlt_solver_num_history(s);
        TEST_OK(nh >= 1 && nh <= 2 && dlt_solver_history(s, nh - 1) && !dlt_solver_history(s, nh),
                "table row %d: %d history buffers, zeroed", t, nh);
        dlt_solver_free(s);
        dlt_cfg_free(root);
    }
}

/* Each bad solver fails, and its message names the place (s.prototxt:L:C). */
static void test_bad_solvers(void)
{
    const char *bad[][3] = {
        {"net: 'x' max_iter: 10\nlr_policy: 'cosine'", "s.prototxt:2:1", "unknown lr_policy"},
        {"net: 'x' max_iter: 10\nlr_policy: 'step' gamma: 0.1", "s.prototxt:2:1", "step without stepsize"},
        {"net: 'x' max_iter: 10\nlr_policy: 'step' stepsize: 3", "s.prototxt:2:1", "step without gamma"},
        {"net: 'x' max_iter: 10\nlr_policy: 'inv' gamma: 0.1", "s.prototxt:2:1", "inv without power"},
        {"net: 'x' max_iter: 10\nlr_policy: 'multistep' gamma: 0.1", "s.prototxt:2:1",
         "multistep without stepvalue"},
        {"net: 'x' max_iter: 10 lr_policy: 'multistep' gamma: 0.1\nstepvalue: 5\nstepvalue: 3",
         "s.prototxt:3:1", "decreasing stepvalues"},
        {"net: 'x' max_iter: 10\nlr_policy: 'sigmoid' gamma: 0.1", "s.prototxt:2:1",
         "sigmoid without stepsize"},
        {"net: 'x' max_iter: 10\n  type: 'LBFGS'", "s.prototxt:2:3", "unsupported solver type"},
        {"net: 'x' max_iter: 10\ntype: 'Adam'\nsolver_type: ADAM", "s.prototxt:3:1",
         "type and solver_type together"},
        {"net: 'x' max_iter: 10\nsolver_type: FOO", "s.prototxt:2:1", "unknown solver_type enum"},
        {"net: 'x' max_iter: 10 type: 'AdaGrad' momentum: 0.9", "momentum cannot be used with AdaGrad",
         "AdaGrad with momentum (Caffe's CHECK)"},
        {"net: 'x' max_iter: 10 type: 'RMSProp' momentum: 0.9", "momentum cannot be used with RMSProp",
         "RMSProp with momentum (Caffe's CHECK)"},
        {"net: 'x' max_iter: 10 type: 'RMSProp' rms_decay: 1", "RMSProp needs 0 <= rms_decay < 1",
         "RMSProp with rms_decay 1"},
        {"net: 'x' max_iter: 10\nregularization_type: 'L3'", "s.prototxt:2:1", "unknown regularization"},
        {"net: 'x' max_iter: 10\niter_size: 0", "s.prototxt:2:1", "iter_size 0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dlt_cfg *root = NULL;
        dlt_solver_config cfg;
        char path[] = "/tmp/test_solver_errXXXXXX";
        int fd = mkstemp(path), saved = dup(2);
        fflush(stderr);
        dup2(fd, 2);
        int st = parse_solver(bad[i][0], &cfg, &root);
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        char msg[2048] = {0};
        lseek(fd, 0, SEEK_SET);
        ssize_t got = read(fd, msg, sizeof msg - 1);
        close(fd);
        unlink(path);
        msg[got > 0 ? got : 0] = '\0';
        TEST_OK(st < 0 && strstr(msg, bad[i][1]) != NULL, "%s is an error naming %s", bad[i][2],
                bad[i][1]);
        if (!(st < 0 && strstr(msg, bad[i][1])))
            printf("#   status %d, message: %s\n", st, msg);
        dlt_cfg_free(root);
    }
}

/* Reference update in double, written from Caffe's solvers
 * (sgd_solver.cpp, nesterov_solver.cpp, adam_solver.cpp,
 * adagrad_solver.cpp, rmsprop_solver.cpp, adadelta_solver.cpp). V is the second history slot. Parameter i of
 * the tiny net is a weight (lr_mult 1, decay_mult 1) for i < 6, a bias
 * (lr_mult 2, decay_mult 0) otherwise. */
static void reference_step(const dlt_solver_config *c, double *w, double *h, double *v,
                           const double *grad, size_t n, long iter)
{
    double lr = dlt_solver_lr(c, iter);
    for (size_t i = 0; i < n; i++) {
        int bias = i >= 6;
        double rate = lr * (bias ? 2 : 1), decay = bias ? 0 : c->weight_decay;
        double g = grad[i] / (double)c->iter_size;
        if (c->regularization == DLT_REG_L1)
            g += decay * (w[i] > 0 ? 1 : w[i] < 0 ? -1 : 0);
        else
            g += decay * w[i];
        if (c->type == DLT_SOLVER_SGD) {
            h[i] = c->momentum * h[i] + rate * g;
            w[i] -= h[i];
        } else if (c->type == DLT_SOLVER_NESTEROV) {
            double old = h[i];
            h[i] = c->momentum * h[i] + rate * g;
            w[i] -= (1 + c->momentum) * h[i] - c->momentum * old;
        } else if (c->type == DLT_SOLVER_ADAGRAD) {
            h[i] += g * g;
            w[i] -= rate * g / (sqrt(h[i]) + c->delta);
        } else if (c->type == DLT_SOLVER_RMSPROP) {
            h[i] = c->rms_decay * h[i] + (1 - c->rms_decay) * g * g;
            w[i] -= rate * g / (sqrt(h[i]) + c->delta);
        } else if (c->type == DLT_SOLVER_ADADELTA) {
            /* Zeiler 2012 with Caffe's placement of delta and of the rate:
             * the squared update is accumulated before the rate scales it. */
            double m = c->momentum;
            h[i] = m * h[i] + (1 - m) * g * g;
            double dx = g * sqrt((v[i] + c->delta) / (h[i] + c->delta));
            v[i] = m * v[i] + (1 - m) * dx * dx;
            w[i] -= rate * dx;
        } else {
            double t = (double)iter + 1;
            h[i] = c->momentum * h[i] + (1 - c->momentum) * g;
            v[i] = c->momentum2 * v[i] + (1 - c->momentum2) * g * g;
            /* Kingma & Ba's bias corrections as Caffe applies them: folded
             * into the step, eps added to sqrt(v) (not sqrt(v_hat)). */
            double correction = sqrt(1 - pow(c->momentum2, t)) / (1 - pow(c->momentum, t));
            w[i] -= rate * correction * h[i] / (sqrt(v[i]) + c->delta);
        }
    }
}

/* Three steps of each solver on the tiny net's 9 parameters. */
static void test_updates(void)
{
    const char *solvers[][2] = {
        {"net: 'x' base_lr: 0.1 momentum: 0.9 weight_decay: 0.01 max_iter: 9", "SGD momentum L2"},
        {"net: 'x' base_lr: 0.1 momentum: 0.9 weight_decay: 0.01 max_iter: 9 type: 'Nesterov'",
         "Nesterov"},
        {"net: 'x' base_lr: 0.01 momentum: 0.9 momentum2: 0.999 delta: 1e-8 weight_decay: 0.01\n"
         "max_iter: 9 type: 'Adam'", "Adam (bias-corrected)"},
        {"net: 'x' base_lr: 0.1 momentum: 0.5 weight_decay: 0.05 regularization_type: 'L1'\n"
         "max_iter: 9", "SGD with L1"},
        {"net: 'x' base_lr: 0.1 momentum: 0.9 weight_decay: 0.01 max_iter: 9 iter_size: 4\n"
         "lr_policy: 'exp' gamma: 0.5", "SGD, iter_size 4 normalization, exp policy"},
        {"net: 'x' base_lr: 0.05 delta: 1e-7 weight_decay: 0.01 max_iter: 9 type: 'AdaGrad'", "AdaGrad"},
        {"net: 'x' base_lr: 0.03 weight_decay: 0.02 regularization_type: 'L1' max_iter: 9\n"
         "solver_type: ADAGRAD lr_policy: 'step' gamma: 0.5 stepsize: 2", "AdaGrad, L1, step policy"},
        {"net: 'x' base_lr: 0.01 rms_decay: 0.98 weight_decay: 0.01 max_iter: 9 type: 'RMSProp'",
         "RMSProp"},
        {"net: 'x' base_lr: 0.01 delta: 1e-3 weight_decay: 0.01 max_iter: 9 iter_size: 2\n"
         "solver_type: RMSPROP lr_policy: 'inv' gamma: 0.5 power: 0.75",
         "RMSProp, default rms_decay, iter_size 2, inv"},
        {"net: 'x' base_lr: 1.0 momentum: 0.95 delta: 1e-6 weight_decay: 0.01 max_iter: 9\n"
         "type: 'AdaDelta'", "AdaDelta"},
        {"net: 'x' base_lr: 0.5 momentum: 0.9 delta: 1e-4 weight_decay: 0.01 max_iter: 9 iter_size: 2\n"
         "type: 'AdaDelta'", "AdaDelta, iter_size 2"},
    };
    dlt_cfg *nroot;
    ASSERT_EQ(dlt_pt_parse_string(net_text, "tiny.prototxt", &nroot), 0, "parse tiny net");
    for (size_t k = 0; k < sizeof solvers / sizeof solvers[0]; k++) {
        dlt_cfg *sroot;
        dlt_solver_config cfg;
        ASSERT_EQ(parse_solver(solvers[k][0], &cfg, &sroot), 0, "parse %s solver", solvers[k][1]);
        dlt_net *net;
        dlt_net_create(nroot, DLT_PHASE_TRAIN, 2, 1, 1, 7, NULL, &net);
        size_t n = dlt_net_param_count(net);
        float *w = dlt_net_params(net), *g = dlt_net_grads(net);
        double wr[9], hr[9] = {0}, vr[9] = {0}, gr[9];
        for (size_t i = 0; i < n; i++)
            w[i] = 0.1f * (float)i - 0.35f, wr[i] = w[i];
        dlt_solver *s = dlt_solver_create(&cfg, n);
        for (long it = 0; it < 3; it++) {
            for (size_t i = 0; i < n; i++)
                g[i] = 0.05f * (float)(i + 1) * (it == 1 ? -1.0f : 1.0f) + 0.01f * (float)it,
                gr[i] = g[i];
            reference_step(&cfg, wr, hr, vr, gr, n, it);
            dlt_solver_step(s, net, it);
        }
        double maxdiff = 0, moved = 0;
        for (size_t i = 0; i < n; i++) {
            maxdiff = fmax(maxdiff, fabs(w[i] - wr[i]));
            moved = fmax(moved, fabs(wr[i] - (0.1 * i - 0.35)));
        }
        ASSERT_NEAR(maxdiff, 0, 1e-6, "%s: three steps match the hand-computed update", solvers[k][1]);
        TEST_OK(moved > 1e-3, "%s: weights moved (%g)", solvers[k][1], moved);
        dlt_solver_free(s);
        dlt_net_free(net);
        dlt_cfg_free(sroot);
    }
    dlt_cfg_free(nroot);
}

/* clip_gradients scales by clip/||g|| above the threshold and not below. */
static void test_clip(void)
{
    dlt_cfg *nroot, *sroot;
    dlt_pt_parse_string(net_text, "tiny.prototxt", &nroot);
    dlt_solver_config cfg;
    ASSERT_EQ(parse_solver("net: 'x' base_lr: 1 max_iter: 9 clip_gradients: 0.5", &cfg, &sroot), 0,
              "parse clipping solver");
    dlt_net *net;
    dlt_net_create(nroot, DLT_PHASE_TRAIN, 2, 1, 1, 7, NULL, &net);
    size_t n = dlt_net_param_count(net);
    float *w = dlt_net_params(net), *g = dlt_net_grads(net);
    dlt_solver *s = dlt_solver_create(&cfg, n);
    for (int pass = 0; pass < 2; pass++) {
        double scale = pass == 0 ? 1.0 : 0.01; /* norm 1 (clipped), then 0.01 (not) */
        double gv[9], norm = 0;
        for (size_t i = 0; i < n; i++)
            w[i] = 0, gv[i] = (i % 2 ? -1.0 : 1.0) / 3.0 * scale, g[i] = (float)gv[i],
            norm += gv[i] * gv[i];
        norm = sqrt(norm);
        double got = dlt_solver_step(s, net, 0);
        ASSERT_NEAR(got, norm, 1e-6, "clip: reports the global gradient norm %g", norm);
        double f = norm > 0.5 ? 0.5 / norm : 1, maxdiff = 0;
        for (size_t i = 0; i < n; i++) /* lr 1, no momentum; bias lr_mult 2 */
            maxdiff = fmax(maxdiff, fabs(w[i] + (i >= 6 ? 2 : 1) * gv[i] * f));
        ASSERT_NEAR(maxdiff, 0, 1e-6, "clip: norm %g %s", norm, f < 1 ? "is scaled down to 0.5"
                                                                     : "below 0.5 is untouched");
    }
    dlt_solver_free(s);
    dlt_net_free(net);
    dlt_cfg_free(sroot);
    dlt_cfg_free(nroot);
}

/* iter_size 2 with batch 4 gives the same update as one step at batch 8
 * (the loss normalizes by the batch; Caffe divides the sum by iter_size). */
static void test_iter_size(void)
{
    char big[2048], small[2048];
    const char *fmt =
        "name: 'tiny'\n"
        "layer { name: 'd' type: 'Data' top: 'data' top: 'label' data_param { batch_size: %d } }\n"
        "layer { name: 'ip' type: 'InnerProduct' bottom: 'data' top: 'ip'\n"
        "        inner_product_param { num_output: 3 weight_filler { type: 'gaussian' std: 0.5 } } }\n"
        "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'ip' bottom: 'label' top: 'loss' }\n";
    snprintf(big, sizeof big, fmt, 8);
    snprintf(small, sizeof small, fmt, 4);
    dlt_cfg *rb, *rs, *sb, *ss;
    dlt_pt_parse_string(big, "big.prototxt", &rb);
    dlt_pt_parse_string(small, "small.prototxt", &rs);
    dlt_solver_config cb, cs;
    parse_solver("net: 'x' base_lr: 0.5 momentum: 0.9 weight_decay: 0.01 max_iter: 9", &cb, &sb);
    parse_solver("net: 'x' base_lr: 0.5 momentum: 0.9 weight_decay: 0.01 max_iter: 9 iter_size: 2",
                 &cs, &ss);
    dlt_net *nb, *ns;
    ASSERT_EQ(dlt_net_create(rb, DLT_PHASE_TRAIN, 5, 1, 1, 3, NULL, &nb), 0, "batch-8 net");
    ASSERT_EQ(dlt_net_create(rs, DLT_PHASE_TRAIN, 5, 1, 1, 3, NULL, &ns), 0, "batch-4 net");
    size_t n = dlt_net_param_count(nb);
    memcpy(dlt_net_params(ns), dlt_net_params(nb), n * sizeof(float));
    dlt_solver *sbig = dlt_solver_create(&cb, n), *ssmall = dlt_solver_create(&cs, n);
    float x[8 * 5], y[8];
    for (int i = 0; i < 40; i++)
        x[i] = (float)sin(1.7 * i) * 2.0f;
    for (int i = 0; i < 8; i++)
        y[i] = (float)(i % 3);
    dlt_layer *db = dlt_net_data_layer(nb), *ds = dlt_net_data_layer(ns);
    for (long it = 0; it < 3; it++) {
        memcpy(db->top[0]->data, x, sizeof x);
        memcpy(db->top[1]->data, y, sizeof y);
        dlt_net_zero_grads(nb);
        dlt_net_forward(nb);
        dlt_net_backward(nb);
        dlt_solver_step(sbig, nb, it);
        dlt_net_zero_grads(ns);
        for (int half = 0; half < 2; half++) {
            memcpy(ds->top[0]->data, x + half * 20, 20 * sizeof(float));
            memcpy(ds->top[1]->data, y + half * 4, 4 * sizeof(float));
            dlt_net_forward(ns);
            dlt_net_backward(ns);
        }
        dlt_solver_step(ssmall, ns, it);
    }
    double maxdiff = 0;
    for (size_t i = 0; i < n; i++)
        maxdiff = fmax(maxdiff, fabs(dlt_net_params(nb)[i] - dlt_net_params(ns)[i]));
    ASSERT_NEAR(maxdiff, 0, 1e-6, "iter_size 2 x batch 4 == batch 8 after three steps");
    dlt_solver_free(sbig);
    dlt_solver_free(ssmall);
    dlt_net_free(nb);
    dlt_net_free(ns);
    dlt_cfg_free(rb);
    dlt_cfg_free(rs);
    dlt_cfg_free(sb);
    dlt_cfg_free(ss);
}

/* The host step (vectorized per ISA, threaded for large blobs) gives the
 * bits of the plain per-value loop for every solver, L2 and L1, with and
 * without weight decay: no contraction into FMAs, no reordering. 100003
 * values: vector bodies, a tail, and the threaded split. */
static void test_host_step_bits(void)
{
    const size_t n = 100003;
    float *in = malloc(4 * n * sizeof(float)), *got = malloc(4 * n * sizeof(float));
    float *ref = malloc(4 * n * sizeof(float));
    if (!in || !got || !ref) {
        TEST_OK(0, "host step buffers");
        return;
    }
    unsigned r = 7;
    for (size_t i = 0; i < 4 * n; i++) { /* w, g, h0 (h0 >= 0: AdaGrad, RMSProp take its sqrt), h1 >= 0 */
        r = r * 1664525u + 1013904223u;
        const float u = (float)(r >> 8) / 16777216.0f;
        in[i] = i < 2 * n ? u - 0.5f : u * 0.01f;
        if (i % 97 == 0 && i < n)
            in[i] = 0.0f; /* L1's sign of zero */
    }
    static const struct { float decay; int l1; } regs[] = {{0.0f, 0}, {0.0005f, 0}, {0.01f, 1}};
    for (int t = 0; t < DLT_SOLVER_NTYPES; t++)
        for (size_t k = 0; k < sizeof regs / sizeof regs[0]; k++) {
            const dlt__update_args a = {.rate = 0.01f, .decay = regs[k].decay, .l1 = regs[k].l1,
                                        .momentum = 0.9f, .momentum2 = 0.999f, .rms_decay = 0.98f,
                                        .delta = 1e-6f, .step = 0.003f};
            memcpy(got, in, 4 * n * sizeof(float));
            memcpy(ref, in, 4 * n * sizeof(float));
            dlt__solver_host_step((dlt_solver_type)t, &a, got, got + n, got + 2 * n, got + 3 * n, n);
            float *w = ref, *g = ref + n, *h0 = ref + 2 * n, *h1 = ref + 3 * n;
            for (size_t i = 0; i < n; i++)
                switch (t) {
#define XX(ID, name, nhistory)                                       \
    case DLT_SOLVER_##ID:                                            \
        DLT__UPDATE_VALUE(ID, nhistory, &a, w, g, h0, h1, i);        \
        break;
                    DLT_SOLVER_MAP(XX)
#undef XX
                }
            size_t differ = 0;
            for (size_t i = 0; i < 4 * n; i++)
                differ += memcmp(&got[i], &ref[i], sizeof(float)) != 0;
            TEST_OK(differ == 0, "%s host step, decay %g%s: the plain loop's bits (%zu of %zu values differ)",
                    dlt_solver_type_name((dlt_solver_type)t), regs[k].decay, regs[k].l1 ? " L1" : "", differ,
                    4 * n);
        }
    free(in), free(got), free(ref);
}

int main(void)
{
    test_lr_policies();
    test_sgd();
    test_bad_nets();
    test_more_policies();
    test_scaling();
    test_solver_types();
    test_bad_solvers();
    test_updates();
    test_host_step_bits();
    test_clip();
    test_iter_size();
    TEST_DONE();
}
