/* test_nets.c - every network in nets/ builds, runs forward and backward on
 * random data at a small batch, and has the published blob shapes and
 * parameter counts; nets whose shapes do not fit fail at setup with the
 * layer names and shapes in the message. */
#include <fcntl.h>
#include <float.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dltrain/compute.h"
#include "dltrain/cpu.h"
#include "dltrain/error.h"
#include "dltrain/net.h"
#include "dltrain/prototxt.h"
#include "layers/batchnorm.h"
#include "layers/conv.h"
#include "layers/eltwise.h"
#include "net_files.h"
#include "test.h"

static dlt_rng rng;

typedef struct shape_check {
    const char *blob;
    int c, h, w;
} shape_check;

typedef struct net_case {
    const char *file;
    int c, h, w, batch, classes;
    long trainable;            /* parameters with lr_mult != 0; 0: print only */
    const shape_check *shapes; /* ends with blob NULL */
} net_case;

static void test_net(const net_case *nc)
{
    dlt_cfg *root = NULL;
    dlt_net *net = NULL, *test_net = NULL;
    int st = tn_load(nc->file, nc->batch, &root);
    if (st == 0)
        st = dlt_net_create(root, DLT_PHASE_TRAIN, nc->c, nc->h, nc->w, 7, NULL, &net);
    /* The TEST phase too (sharing the weights), so every field is read. */
    if (st == 0)
        st = dlt_net_create(root, DLT_PHASE_TEST, nc->c, nc->h, nc->w, 7, NULL, &test_net);
    if (st == 0)
        st = dlt_net_share_params(test_net, net);
    dlt_net_free(test_net);
    int unused = st == 0 ? dlt_cfg_check_unused(root, NULL) : -1;
    TEST_OK(st == 0 && unused == 0, "%s: TRAIN and TEST nets build for %dx%dx%d, batch %d, "
            "every field used (status %d)", nc->file, nc->c, nc->h, nc->w, nc->batch, st);
    if (st) {
        dlt_net_free(net);
        dlt_cfg_free(root);
        return;
    }
    int shapes_ok = 1;
    for (const shape_check *s = nc->shapes; s->blob; s++) {
        const dlt_tensor *t = dlt_net_blob(net, s->blob);
        int ok = t && t->n == nc->batch && t->c == s->c && t->h == s->h && t->w == s->w;
        if (!ok)
            printf("#   %s: blob '%s' is (%d,%d,%d,%d), published (%d,%d,%d,%d)\n", nc->file,
                   s->blob, t ? t->n : -1, t ? t->c : -1, t ? t->h : -1, t ? t->w : -1,
                   nc->batch, s->c, s->h, s->w);
        shapes_ok &= ok;
    }
    TEST_OK(shapes_ok, "%s: blob shapes match the published architecture", nc->file);

    long total = 0, trainable = 0;
    for (int i = 0; i < dlt_net_num_layers(net); i++) {
        const dlt_layer *l = dlt_net_layer(net, i);
        for (int p = 0; p < l->nparam; p++) {
            total += (long)l->param[p].count;
            if (l->lr_mult[p] != 0)
                trainable += (long)l->param[p].count;
        }
    }
    if (nc->trainable)
        TEST_OK(trainable == nc->trainable, "%s: %ld trainable parameters (published %ld), %ld "
                "with statistics", nc->file, trainable, nc->trainable, total);
    else
        printf("# %s: %ld trainable parameters, %ld with statistics\n", nc->file, trainable, total);

    /* Random images and labels; forward and backward. */
    dlt_layer *d = dlt_net_data_layer(net);
    for (size_t i = 0; i < d->top[0]->count; i++)
        d->top[0]->data[i] = (float)dlt_rng_uniform(&rng);
    for (size_t i = 0; i < d->top[1]->count; i++)
        d->top[1]->data[i] = (float)dlt_rng_below(&rng, (uint64_t)nc->classes);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    float loss = dlt_net_forward(net);
    dlt_net_zero_grads(net);
    dlt_net_backward(net);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const float *g = dlt_net_grads(net);
    size_t nz = 0, bad = 0;
    for (size_t i = 0; i < dlt_net_param_count(net); i++)
        nz += g[i] != 0, bad += !isfinite(g[i]);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    /* Untrained: the loss is near ln(classes) per loss layer (weights sum). */
    TEST_OK(isfinite(loss) && loss > 0 && bad == 0 && nz > dlt_net_param_count(net) / 4,
            "%s: forward + backward in %.2f s: loss %.3f (ln %d = %.3f), %zu of %zu gradients "
            "non-zero, none NaN", nc->file, secs, loss, nc->classes, log(nc->classes), nz,
            dlt_net_param_count(net));
    dlt_net_free(net);
    dlt_cfg_free(root);
}

/* dlt_net_share_diffs changes no result: the same net with and without
 * shared diff buffers gives bit-identical loss and parameter gradients
 * over two steps (the second after an SGD update). */
static void test_shared_diffs(const net_case *nc)
{
    dlt_cfg *root = NULL;
    dlt_net *a = NULL, *b = NULL;
    int st = tn_load(nc->file, nc->batch, &root);
    if (st == 0)
        st = dlt_net_create(root, DLT_PHASE_TRAIN, nc->c, nc->h, nc->w, 7, NULL, &a);
    if (st == 0)
        st = dlt_net_create(root, DLT_PHASE_TRAIN, nc->c, nc->h, nc->w, 7, NULL, &b);
    size_t saved = st == 0 ? dlt_net_share_diffs(b) : 0;
    int same = st == 0;
    float la = 0, lb = 0;
    for (int step = 0; same && step < 2; step++) {
        dlt_layer *da = dlt_net_data_layer(a), *db = dlt_net_data_layer(b);
        dlt_rng r;
        dlt_rng_seed(&r, 100 + (uint64_t)step);
        for (size_t i = 0; i < da->top[0]->count; i++)
            da->top[0]->data[i] = db->top[0]->data[i] = (float)dlt_rng_uniform(&r);
        for (size_t i = 0; i < da->top[1]->count; i++)
            da->top[1]->data[i] = db->top[1]->data[i] = (float)dlt_rng_below(&r, (uint64_t)nc->classes);
        dlt_net_zero_grads(a), dlt_net_zero_grads(b);
        la = dlt_net_forward(a), lb = dlt_net_forward(b);
        dlt_net_backward(a), dlt_net_backward(b);
        same = la == lb && memcmp(dlt_net_grads(a), dlt_net_grads(b), dlt_net_param_count(a) * sizeof(float)) == 0;
        float *wa = dlt_net_params(a), *wb = dlt_net_params(b), *ga = dlt_net_grads(a), *gb = dlt_net_grads(b);
        for (size_t i = 0; i < dlt_net_param_count(a); i++)
            wa[i] -= 0.01f * ga[i], wb[i] -= 0.01f * gb[i];
    }
    TEST_OK(same && saved > 0, "%s: shared diff buffers (%.1f MB saved) give bit-identical loss (%.5f) and "
            "gradients over 2 steps", nc->file, saved / 1048576.0, lb);
    dlt_net_free(a);
    dlt_net_free(b);
    dlt_cfg_free(root);
}

/* Build TEXT; expect a parse error whose message (stderr) holds every
 * string in WANT. */
static void expect_setup_error(const char *what, const char *text, const char *const *want)
{
    char tmpl[] = "/tmp/dlt_test_nets_XXXXXX";
    int fd = mkstemp(tmpl);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    dlt_cfg *root = NULL;
    dlt_net *net = NULL;
    int st = dlt_pt_parse_string(text, "bad.prototxt", &root);
    if (st == 0)
        st = dlt_net_create(root, DLT_PHASE_TRAIN, 3, 8, 8, 1, NULL, &net);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char msg[4096] = "";
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = 0;
    close(fd);
    unlink(tmpl);
    int has = 1;
    for (int i = 0; want[i]; i++)
        if (!strstr(msg, want[i])) {
            printf("#   message lacks '%s'\n", want[i]);
            has = 0;
        }
    fprintf(stderr, "%s", msg);
    TEST_OK(st == DLT_ERR_PARSE && !net && has, "%s: setup fails, message names the layer and "
            "shapes (status %d)", what, st);
    dlt_net_free(net);
    dlt_cfg_free(root);
}

#define DATA "layer { name: 'd' type: 'Data' top: 'data' top: 'label' data_param { batch_size: 2 } }\n"
#define CONV(n, b, k, s) "layer { name: '" n "' type: 'Convolution' bottom: '" b "' top: '" n \
    "' convolution_param { num_output: 4 kernel_size: " k " stride: " s " } }\n"

static void test_bad_nets(void)
{
    const char *const w1[] = {"'cat'", "(2,4,6,6)", "(2,4,3,3)", "bad.prototxt:", NULL};
    expect_setup_error("concat of 6x6 and 3x3 maps",
                       DATA CONV("a", "data", "3", "1") CONV("b", "data", "3", "2")
                       "layer { name: 'cat' type: 'Concat' bottom: 'a' bottom: 'b' top: 'c' }", w1);
    const char *const w2[] = {"'sum'", "(2,4,6,6)", "(2,3,8,8)", NULL};
    expect_setup_error("eltwise of a conv output and the data",
                       DATA CONV("a", "data", "3", "1")
                       "layer { name: 'sum' type: 'Eltwise' bottom: 'a' bottom: 'data' top: 's' }",
                       w2);
    const char *const w3[] = {"'ip'", "'lbl'", "not produced", NULL};
    expect_setup_error("inner product on a blob no layer makes",
                       DATA "layer { name: 'ip' type: 'InnerProduct' bottom: 'lbl' top: 'y' "
                       "inner_product_param { num_output: 3 } }", w3);
    const char *const w4[] = {"'c2'", "kernel 5x5", "padded input 3x3", NULL};
    expect_setup_error("conv kernel larger than its input",
                       DATA CONV("c1", "data", "3", "2") CONV("c2", "c1", "5", "1"), w4);
    const char *const w5[] = {"'ip'", "(2,10,1,1)", "(2,4,6,6)", NULL};
    expect_setup_error("loss on blobs of different batch layout",
                       DATA CONV("a", "data", "3", "1")
                       "layer { name: 'ip' type: 'InnerProduct' bottom: 'data' top: 'y' "
                       "inner_product_param { num_output: 10 } }\n"
                       "layer { name: 'ip' type: 'Eltwise' bottom: 'y' bottom: 'a' top: 'z' }", w5);
    const char *const w6[] = {"unknown layer type 'Deconv'", "Convolution", "BatchNorm", "LRN", NULL};
    expect_setup_error("unknown layer type lists the known ones",
                       DATA "layer { name: 'x' type: 'Deconv' bottom: 'data' top: 'y' }", w6);
}

/* Data parallelism's premise, in one process: LeNet-Fashion at batch B and
 * the same samples in S parts of B/S (the ranks' batches) compute
 * bit-identical activations for every sample, and bit-identical activation
 * gradients where S is a power of two (the loss scales by 1/batch, exact
 * then); the parts' parameter gradients, summed in float as the allreduce
 * does, equal the whole batch's to float rounding of the sums (measured up
 * to 9e-7 of the blob's largest gradient on AVX2, AVX and SSE4.1 kernels).
 * Two steps, the second after an SGD update. */
/* A net for test_split: a file of nets/, or prototxt TEXT named NAME. */
typedef struct split_net {
    const char *name, *file, *text;
    int c, h, w;
    double grad_limit; /* parameter gradients: worst difference / the blob's largest */
} split_net;

static int split_load(const split_net *sn, int batch, dlt_cfg **root)
{
    if (sn->file)
        return tn_load(sn->file, batch, root);
    int st = dlt_pt_parse_string(sn->text, sn->name, root);
    if (st == 0)
        tn_set_batch(*root, batch);
    return st;
}

static void test_split(const split_net *sn, dlt_conv_backend be, int B, int S)
{
    dlt_cfg *ra = NULL, *rb = NULL;
    dlt_net *a = NULL, *b = NULL;
    const int nb = B / S;
    dlt_compute_ctx compute;
    dlt_compute_ctx_init(&compute);
    compute.conv_backend = be;
    int st = split_load(sn, B, &ra);
    if (st == 0)
        st = split_load(sn, nb, &rb);
    if (st == 0)
        st = dlt_net_create(ra, DLT_PHASE_TRAIN, sn->c, sn->h, sn->w, 7, &compute, &a);
    if (st == 0)
        st = dlt_net_create(rb, DLT_PHASE_TRAIN, sn->c, sn->h, sn->w, 7, &compute, &b);
    char bname[96];
    snprintf(bname, sizeof bname, "%s, %s", sn->name, dlt_conv_backend_name(be));
    if (st) {
        TEST_OK(0, "split %d = %d x %d (%s): nets build (status %d)", B, S, nb, bname, st);
        goto out;
    }
    const size_t np = dlt_net_param_count(a);
    float *gsum = dlt_calloc(np, sizeof(float));
    size_t act_differ = 0, grad_differ = 0;
    const int exact_diff = (S & (S - 1)) == 0;
    double grad_worst = 0;
    const char *worst = "";
    dlt_rng r;
    dlt_rng_seed(&r, 31);
    for (int step = 0; step < 2; step++) {
        dlt_layer *da = dlt_net_data_layer(a), *db = dlt_net_data_layer(b);
        size_t in = da->top[0]->count / B;
        for (size_t i = 0; i < da->top[0]->count; i++) /* like images: many exact zeros */
            da->top[0]->data[i] = dlt_rng_uniform(&r) < 0.5 ? 0.0f
                                  : (float)(int)(256 * dlt_rng_uniform(&r)) / 256.0f;
        for (int i = 0; i < B; i++)
            da->top[1]->data[i] = (float)dlt_rng_below(&r, 10);
        memcpy(dlt_net_params(b), dlt_net_params(a), np * sizeof(float));
        dlt_net_zero_grads(a);
        dlt_net_forward(a);
        dlt_net_backward(a);
        memset(gsum, 0, np * sizeof(float));
        for (int s = 0; s < S; s++) {
            memcpy(db->top[0]->data, da->top[0]->data + (size_t)s * nb * in, (size_t)nb * in * sizeof(float));
            memcpy(db->top[1]->data, da->top[1]->data + (size_t)s * nb, (size_t)nb * sizeof(float));
            dlt_net_zero_grads(b);
            dlt_net_forward(b);
            dlt_net_backward(b);
            for (size_t i = 0; i < np; i++)
                gsum[i] += dlt_net_grads(b)[i];
            /* Every per-sample blob; the loss scales its gradient by 1/batch, S times the whole's. */
            for (int li = 0; li < dlt_net_num_layers(a); li++) {
                const dlt_layer *la = dlt_net_layer(a, li), *lb = dlt_net_layer(b, li);
                for (int t = 0; t < la->ntop; t++) {
                    const dlt_tensor *ta = la->top[t], *tb = lb->top[t];
                    if (ta->n != B || tb->n != nb)
                        continue;
                    const size_t per = tb->count / nb, off = (size_t)s * nb * per;
                    for (size_t i = 0; i < tb->count; i++) {
                        act_differ += ta->data[off + i] != tb->data[i];
                        grad_differ += exact_diff && ta->diff && ta->diff[off + i] != tb->diff[i] / (float)S;
                    }
                }
            }
        }
        const float *ga = dlt_net_grads(a);
        for (int li = 0; li < dlt_net_num_layers(a); li++) {
            const dlt_layer *l = dlt_net_layer(a, li);
            for (int p = 0; p < l->nparam; p++) {
                size_t off = (size_t)(l->param[p].diff - ga), n = l->param[p].count;
                double gmax = 0, dmax = 0;
                for (size_t i = 0; i < n; i++) {
                    gmax = fmax(gmax, fabs(ga[off + i]));
                    dmax = fmax(dmax, fabs(ga[off + i] - gsum[off + i] / (float)S));
                }
                if (gmax > 0 && dmax / gmax > grad_worst)
                    grad_worst = dmax / gmax, worst = l->name;
            }
        }
        float *w = dlt_net_params(a);
        for (size_t i = 0; i < np; i++)
            w[i] -= 0.05f * ga[i];
    }
    TEST_OK(act_differ == 0 && grad_differ == 0, "split %d = %d x %d (%s conv): activations%s "
            "bit-identical (%zu and %zu values differ)", B, S, nb, bname,
            exact_diff ? " and their gradients" : "", act_differ, grad_differ);
    TEST_OK(grad_worst <= sn->grad_limit, "split %d = %d x %d (%s conv): parameter gradients "
            "equal to float rounding (worst %.2g of the blob's largest, %s; limit %g)", B, S, nb,
            bname, grad_worst, worst, sn->grad_limit);
    free(gsum);
out:
    dlt_net_free(a);
    dlt_net_free(b);
    dlt_cfg_free(ra);
    dlt_cfg_free(rb);
}

/* 1x1 convolutions at 28x28 (oneDNN's plain-layout GEMM path, widening
 * and narrowing) next to a 3x3 one (blocked layouts), as in a ResNet's
 * bottleneck: no BatchNorm (batch statistics differ per split). */
static const split_net conv1x1_net = {
    "conv1x1", NULL,
    "layer { name: 'd' type: 'Data' top: 'data' top: 'label' data_param { batch_size: 2 } }\n"
    "layer { name: 'a' type: 'Convolution' bottom: 'data' top: 'a' convolution_param { num_output: 16 "
    "kernel_size: 1 weight_filler { type: 'msra' } } }\n"
    "layer { name: 'ra' type: 'ReLU' bottom: 'a' top: 'a' }\n"
    "layer { name: 'b' type: 'Convolution' bottom: 'a' top: 'b' convolution_param { num_output: 8 "
    "kernel_size: 3 pad: 1 weight_filler { type: 'msra' } } }\n"
    "layer { name: 'rb' type: 'ReLU' bottom: 'b' top: 'b' }\n"
    "layer { name: 'c' type: 'Convolution' bottom: 'b' top: 'c' convolution_param { num_output: 4 "
    "kernel_size: 1 weight_filler { type: 'msra' } } }\n"
    "layer { name: 'p' type: 'Pooling' bottom: 'c' top: 'p' pooling_param { pool: AVE global_pooling: true } }\n"
    "layer { name: 'ip' type: 'InnerProduct' bottom: 'p' top: 'ip' inner_product_param { num_output: 10 "
    "weight_filler { type: 'xavier' } } }\n"
    "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'ip' bottom: 'label' top: 'loss' }\n",
    4, 28, 28,
    /* the 3x3 layer's weight gradient sums 16 x 784 products per chunk in float:
     * 3.7e-6 measured, the same on blocked layouts (DLT_DNNL_LAYOUT=blocked) */
    1e-5};

/* Which layers of conv1x1_net run on oneDNN's plain layouts: the two 1x1
 * ones (28x28 planes), not the 3x3 one. */
static void test_conv1x1_layouts(void)
{
    if (!dlt_conv_dnnl_available()) {
        TEST_SKIP("conv1x1 layouts: built without oneDNN");
        return;
    }
    dlt_cfg *root = NULL;
    dlt_net *net = NULL;
    dlt_compute_ctx compute;
    dlt_compute_ctx_init(&compute);
    compute.conv_backend = DLT_CONV_DNNL;
    int st = split_load(&conv1x1_net, 8, &root);
    if (st == 0)
        st = dlt_net_create(root, DLT_PHASE_TRAIN, 4, 28, 28, 7, &compute, &net);
    int plain[3] = {-1, -1, -1};
    for (int li = 0; st == 0 && li < dlt_net_num_layers(net); li++) {
        const dlt_layer *l = dlt_net_layer(net, li);
        if (strcmp(l->ops->type, "Convolution") == 0 && l->name[0] >= 'a' && l->name[0] <= 'c')
            plain[l->name[0] - 'a'] = dlt__conv_dnnl_plain_layouts(l);
    }
    TEST_OK(st == 0 && plain[0] == 1 && plain[1] == 0 && plain[2] == 1,
            "conv1x1: 1x1 convolutions at 28x28 on plain layouts, the 3x3 one blocked "
            "(status %d; a %d, b %d, c %d)", st, plain[0], plain[1], plain[2]);
    dlt_net_free(net);
    dlt_cfg_free(root);
}

/* Inference fusion: in the TEST phase a BatchNorm on global statistics
 * runs the in-place Scale and ReLU after it in its own pass; the result
 * is bit-identical to the three layers run one by one (here: the TRAIN
 * phase of the same net, use_global_stats forced, where nothing is fused). */
static void test_bn_fusion(void)
{
    static const char text[] =
        "layer { name: 'd' type: 'Data' top: 'data' top: 'label' data_param { batch_size: 6 } }\n"
        "layer { name: 'cv' type: 'Convolution' bottom: 'data' top: 'cv' convolution_param { "
        "num_output: 8 kernel_size: 3 weight_filler { type: 'msra' } } }\n"
        "layer { name: 'bn' type: 'BatchNorm' bottom: 'cv' top: 'cv' "
        "batch_norm_param { use_global_stats: true } }\n"
        "layer { name: 'sc' type: 'Scale' bottom: 'cv' top: 'cv' scale_param { bias_term: true } }\n"
        "layer { name: 'r' type: 'ReLU' bottom: 'cv' top: 'cv' relu_param { negative_slope: 0.1 } }\n"
        "layer { name: 'ip' type: 'InnerProduct' bottom: 'cv' top: 'ip' inner_product_param { "
        "num_output: 10 weight_filler { type: 'xavier' } } }\n"
        "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'ip' bottom: 'label' top: 'loss' }\n";
    dlt_cfg *root = NULL;
    dlt_net *tr = NULL, *te = NULL;
    int st = dlt_pt_parse_string(text, "bn_fusion", &root);
    if (st == 0)
        st = dlt_net_create(root, DLT_PHASE_TRAIN, 3, 12, 12, 5, NULL, &tr);
    if (st == 0)
        st = dlt_net_create(root, DLT_PHASE_TEST, 3, 12, 12, 5, NULL, &te);
    if (st) {
        TEST_OK(0, "bn fusion: nets build (status %d)", st);
        goto out;
    }
    dlt_rng r;
    dlt_rng_seed(&r, 77);
    float *w = dlt_net_params(tr);
    for (size_t i = 0; i < dlt_net_param_count(tr); i++)
        w[i] = (float)(dlt_rng_uniform(&r) * 2 - 0.5); /* gamma, beta, running mean: any sign */
    const dlt_layer *bt = dlt_net_layer(tr, 2);
    for (size_t c = 0; c < bt->param[1].count; c++)
        bt->param[1].data[c] = fabsf(bt->param[1].data[c]); /* variance sums */
    bt->param[2].data[0] = 1.5f;                              /* their factor */
    memcpy(dlt_net_params(te), w, dlt_net_param_count(tr) * sizeof(float));
    dlt_layer *da = dlt_net_data_layer(tr), *db = dlt_net_data_layer(te);
    for (size_t i = 0; i < da->top[0]->count; i++)
        da->top[0]->data[i] = db->top[0]->data[i] = (float)(dlt_rng_uniform(&r) - 0.5);
    for (int i = 0; i < 6; i++)
        da->top[1]->data[i] = db->top[1]->data[i] = (float)dlt_rng_below(&r, 10);
    dlt_net_forward(tr);
    dlt_net_forward(te);
    const dlt_layer *bn = dlt_net_layer(te, 2);
    const bn_state *bs = bn->state;
    const dlt_tensor *a = dlt_net_layer(tr, 4)->top[0], *b = dlt_net_layer(te, 4)->top[0];
    size_t differ = 0, neg = 0;
    for (size_t i = 0; i < a->count; i++)
        differ += a->data[i] != b->data[i], neg += b->data[i] < 0;
    TEST_OK(bs->fused_scale && bs->fused_relu && differ == 0 && neg > 0,
            "bn fusion: TEST BatchNorm runs Scale and ReLU in its pass (%s), output bit-identical "
            "to the layers one by one (%zu of %zu differ; %zu negative: the slope applied)",
            bs->fused_scale && bs->fused_relu ? "fused" : "not fused", differ, a->count, neg);
out:
    dlt_net_free(tr);
    dlt_net_free(te);
    dlt_cfg_free(root);
}

/* In-place layers after a producer must not change the gradients: each
 * chain below is built twice, in place (one blob name throughout, as Caffe's
 * ResNet and GoogLeNet files write it) and with a new blob per layer, and
 * the two give bit-identical losses, parameter gradients and BatchNorm
 * statistics. Before this check existed, an in-place BatchNorm read its
 * output back after the Scale and ReLU had overwritten it, and a split
 * summed its readers' gradients again at the producer, undoing the in-place
 * ReLU's backward. The in-place TRAIN chain BatchNorm + Scale + ReLU is
 * also the fused one (one forward, one backward pass), so this compares
 * the fused chain with the layers one by one. */
typedef struct inplace_case {
    const char *what;
    const char *body; /* after the Data layer: %1$s.. the blob names */
    int bn_layer;     /* index of a BatchNorm whose chain is fused in place, or -1 */
    int elt_layer;    /* index of an Eltwise whose ReLU is fused in place, or -1 */
} inplace_case;

static int build_chain(const char *body, int inplace, int no_fusion, dlt_cfg **root, dlt_net **net)
{
    const char *n[5] = {"cv", "cv", "cv", "cv", "e"};
    if (!inplace)
        n[1] = "b1", n[2] = "s1", n[3] = "r1", n[4] = "r2";
    char text[4096], layers[3072];
    snprintf(layers, sizeof layers, body, n[0], n[1], n[2], n[3], n[4]);
    snprintf(text, sizeof text,
             "layer { name: 'd' type: 'Data' top: 'data' top: 'label' data_param { batch_size: 6 } }\n"
             "layer { name: 'cv' type: 'Convolution' bottom: 'data' top: 'cv' convolution_param { "
             "num_output: 5 kernel_size: 3 weight_filler { type: 'msra' } } }\n%s"
             "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'ip' bottom: 'label' top: 'loss' }\n",
             layers);
    dlt_compute_ctx cc;
    dlt_compute_ctx_init(&cc);
    cc.no_fusion = no_fusion;
    int st = dlt_pt_parse_string(text, "inplace", root);
    return st ? st : dlt_net_create(*root, DLT_PHASE_TRAIN, 2, 9, 9, 5, &cc, net);
}

/* One forward and backward of NET on fixed weights and inputs (seed 91);
 * returns the loss, gradients in G. */
static float chain_step(dlt_net *net, float *g)
{
    dlt_rng r;
    dlt_rng_seed(&r, 91);
    float *w = dlt_net_params(net);
    for (size_t i = 0; i < dlt_net_param_count(net); i++)
        w[i] = (float)(dlt_rng_uniform(&r) - 0.4);
    dlt_layer *da = dlt_net_data_layer(net);
    for (size_t i = 0; i < da->top[0]->count; i++)
        da->top[0]->data[i] = (float)(dlt_rng_uniform(&r) - 0.5);
    for (int i = 0; i < 6; i++)
        da->top[1]->data[i] = (float)dlt_rng_below(&r, 10);
    dlt_net_zero_grads(net);
    float loss = dlt_net_forward(net);
    dlt_net_backward(net);
    memcpy(g, dlt_net_grads(net), dlt_net_param_count(net) * sizeof(float));
    return loss;
}

static void test_inplace_chain(const inplace_case *c, int no_fusion)
{
    dlt_cfg *ra = NULL, *rb = NULL;
    dlt_net *a = NULL, *b = NULL;
    float *ga = NULL, *gb = NULL;
    int st = build_chain(c->body, 1, no_fusion, &ra, &a);
    if (st == 0)
        st = build_chain(c->body, 0, no_fusion, &rb, &b);
    if (st || dlt_net_param_count(a) != dlt_net_param_count(b)) {
        TEST_OK(0, "in place, %s: nets build with the same parameters (status %d)", c->what, st);
        goto out;
    }
    const size_t np = dlt_net_param_count(a);
    ga = dlt_malloc(np * sizeof(float)), gb = dlt_malloc(np * sizeof(float));
    const float la = chain_step(a, ga), lb = chain_step(b, gb);
    size_t differ = 0, zero = 0;
    for (size_t i = 0; i < np; i++)
        differ += memcmp(&ga[i], &gb[i], sizeof(float)) != 0, zero += ga[i] == 0;
    /* the BatchNorm statistics are parameters too: compared above */
    const char *fused = "";
    if (c->bn_layer >= 0) {
        const bn_state *bs = dlt_net_layer(a, c->bn_layer)->state;
        fused = no_fusion ? ", unfused" : bs->train_chain ? ", chain fused" : ", NOT fused";
    } else if (c->elt_layer >= 0) {
        const eltwise_state *es = dlt_net_layer(a, c->elt_layer)->state;
        fused = no_fusion ? ", unfused" : es->fused_relu ? ", chain fused" : ", NOT fused";
    }
    TEST_OK(la == lb && differ == 0 && zero < np && strcmp(fused, ", NOT fused") != 0,
            "in place, %s%s: loss %.7g vs %.7g, %zu of %zu gradients differ from the out-of-place net",
            c->what, fused, la, lb, differ, np);
    if ((c->bn_layer < 0 && c->elt_layer < 0) || no_fusion)
        goto out;
    /* and the in-place gradients are the loss's: central differences on the
     * convolution's weights. The loss is a float: its rounding allows
     * 8 ulp / 2h of error on top of 2%; the bugs above were off by 10-100%. */
    float *w = dlt_net_params(a);
    const float h = 1e-3f;
    const double noise = 8 * FLT_EPSILON * fabs(la) / (2.0 * h);
    double worst = 0;
    for (size_t i = 0; i < 12; i++) {
        const float o = w[i];
        w[i] = o + h;
        const double lp = dlt_net_forward(a);
        w[i] = o - h;
        const double lm = dlt_net_forward(a);
        w[i] = o;
        const double fd = (lp - lm) / (2.0 * h);
        worst = fmax(worst, fabs(fd - ga[i]) / (2e-2 * fmax(fabs(fd), fabs(ga[i])) + noise));
    }
    TEST_OK(worst < 1, "in place, %s: convolution weight gradients match central differences "
            "(worst error %.2f of the allowed 2%% + %.1e)", c->what, worst, noise);
out:
    free(ga);
    free(gb);
    dlt_net_free(a);
    dlt_net_free(b);
    dlt_cfg_free(ra);
    dlt_cfg_free(rb);
}

static void test_inplace_chains(void)
{
#define IP_TAIL(b) "layer { name: 'ip' type: 'InnerProduct' bottom: '" b "' top: 'ip' " \
                   "inner_product_param { num_output: 10 weight_filler { type: 'xavier' } } }\n"
    static const inplace_case cases[] = {
        {"BatchNorm + Scale + leaky ReLU",
         "layer { name: 'bn' type: 'BatchNorm' bottom: '%1$s' top: '%2$s' }\n"
         "layer { name: 'sc' type: 'Scale' bottom: '%2$s' top: '%3$s' scale_param { bias_term: true } }\n"
         "layer { name: 'r' type: 'ReLU' bottom: '%3$s' top: '%4$s' relu_param { negative_slope: 0.1 } }\n"
         IP_TAIL("%4$s"), 2, -1},
        {"BatchNorm + Scale",
         "layer { name: 'bn' type: 'BatchNorm' bottom: '%1$s' top: '%2$s' }\n"
         "layer { name: 'sc' type: 'Scale' bottom: '%2$s' top: '%3$s' scale_param { bias_term: true } }\n"
         IP_TAIL("%3$s"), 2, -1},
        {"BatchNorm on global statistics (frozen) + Scale + ReLU",
         "layer { name: 'bn' type: 'BatchNorm' bottom: '%1$s' top: '%2$s' "
         "batch_norm_param { use_global_stats: true } }\n"
         "layer { name: 'sc' type: 'Scale' bottom: '%2$s' top: '%3$s' }\n"
         "layer { name: 'r' type: 'ReLU' bottom: '%3$s' top: '%4$s' }\n"
         IP_TAIL("%4$s"), 2, -1},
        {"Convolution + ReLU read by two layers",
         "layer { name: 'r' type: 'ReLU' bottom: '%1$s' top: '%4$s' }\n"
         "layer { name: 'ipa' type: 'InnerProduct' bottom: '%4$s' top: 'ipa' "
         "inner_product_param { num_output: 10 weight_filler { type: 'xavier' } } }\n"
         "layer { name: 'ipb' type: 'InnerProduct' bottom: '%4$s' top: 'ipb' "
         "inner_product_param { num_output: 10 weight_filler { type: 'xavier' } } }\n"
         "layer { name: 'sum' type: 'Eltwise' bottom: 'ipa' bottom: 'ipb' top: 'ip' }\n", -1, -1},
        {"BatchNorm + Scale + ReLU read by two layers",
         "layer { name: 'bn' type: 'BatchNorm' bottom: '%1$s' top: '%2$s' }\n"
         "layer { name: 'sc' type: 'Scale' bottom: '%2$s' top: '%3$s' scale_param { bias_term: true } }\n"
         "layer { name: 'r' type: 'ReLU' bottom: '%3$s' top: '%4$s' }\n"
         "layer { name: 'ipa' type: 'InnerProduct' bottom: '%4$s' top: 'ipa' "
         "inner_product_param { num_output: 10 weight_filler { type: 'xavier' } } }\n"
         "layer { name: 'ipb' type: 'InnerProduct' bottom: '%4$s' top: 'ipb' "
         "inner_product_param { num_output: 10 weight_filler { type: 'xavier' } } }\n"
         "layer { name: 'sum' type: 'Eltwise' bottom: 'ipa' bottom: 'ipb' top: 'ip' }\n", 2, -1},
#define SECOND_CONV "layer { name: 'cv2' type: 'Convolution' bottom: 'data' top: 'c2' " \
                    "convolution_param { num_output: 5 kernel_size: 3 weight_filler { type: 'msra' } } }\n"
        {"Eltwise SUM + leaky ReLU (a ResNet block's end)",
         SECOND_CONV
         "layer { name: 'sum' type: 'Eltwise' bottom: '%1$s' bottom: 'c2' top: 'e' "
         "eltwise_param { coeff: 0.5 coeff: -2 } }\n"
         "layer { name: 'r' type: 'ReLU' bottom: 'e' top: '%5$s' relu_param { negative_slope: 0.1 } }\n"
         IP_TAIL("%5$s"), -1, 3},
        {"Eltwise SUM in place on bottom 0 + ReLU",
         SECOND_CONV
         "layer { name: 'sum' type: 'Eltwise' bottom: '%1$s' bottom: 'c2' top: '%2$s' }\n"
         "layer { name: 'r' type: 'ReLU' bottom: '%2$s' top: '%4$s' }\n"
         IP_TAIL("%4$s"), -1, 3},
#undef SECOND_CONV
    };
#undef IP_TAIL
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int no_fusion = 0; no_fusion <= 1; no_fusion++)
            test_inplace_chain(&cases[i], no_fusion);
}

int main(void)
{
    dlt_rng_seed(&rng, 2024);
    static const shape_check lenet[] = {{"pool2", 50, 4, 4}, {"ip1", 500, 1, 1},
                                        {"ip2", 10, 1, 1}, {NULL, 0, 0, 0}};
    static const shape_check cq[] = {{"pool1", 32, 16, 16}, {"pool2", 32, 8, 8},
                                     {"pool3", 64, 4, 4}, {"ip2", 10, 1, 1}, {NULL, 0, 0, 0}};
    static const shape_check cf[] = {{"norm1", 32, 16, 16}, {"norm2", 32, 8, 8},
                                     {"pool3", 64, 4, 4}, {"ip1", 10, 1, 1}, {NULL, 0, 0, 0}};
    static const shape_check fb[] = {{"pool1", 32, 14, 14}, {"pool2", 96, 7, 7},
                                      {"fc1", 512, 1, 1}, {"fc2", 10, 1, 1}, {NULL, 0, 0, 0}};
    static const shape_check alex[] = {{"conv1", 96, 55, 55}, {"pool1", 96, 27, 27},
                                       {"conv2", 256, 27, 27}, {"pool2", 256, 13, 13},
                                       {"conv5", 256, 13, 13}, {"pool5", 256, 6, 6},
                                       {"fc7", 4096, 1, 1}, {"fc8", 1000, 1, 1}, {NULL, 0, 0, 0}};
    static const shape_check goog[] = {
        {"pool2/3x3_s2", 192, 28, 28}, {"inception_3a/output", 256, 28, 28},
        {"inception_3b/output", 480, 28, 28}, {"inception_4a/output", 512, 14, 14},
        {"inception_4b/output", 512, 14, 14}, {"inception_4c/output", 512, 14, 14},
        {"inception_4d/output", 528, 14, 14}, {"inception_4e/output", 832, 14, 14},
        {"inception_5a/output", 832, 7, 7}, {"inception_5b/output", 1024, 7, 7},
        {"pool5/7x7_s1", 1024, 1, 1}, {"loss1/ave_pool", 512, 4, 4},
        {"loss2/ave_pool", 528, 4, 4}, {"loss1/classifier", 1000, 1, 1},
        {"loss2/classifier", 1000, 1, 1}, {"loss3/classifier", 1000, 1, 1}, {NULL, 0, 0, 0}};
    static const shape_check r18[] = {{"pool1", 64, 56, 56}, {"res2b", 64, 56, 56},
                                      {"res3b", 128, 28, 28}, {"res4b", 256, 14, 14},
                                      {"res5b", 512, 7, 7}, {"pool5", 512, 1, 1},
                                      {"fc1000", 1000, 1, 1}, {NULL, 0, 0, 0}};
    static const shape_check r50[] = {{"pool1", 64, 56, 56}, {"res2c", 256, 56, 56},
                                      {"res3d", 512, 28, 28}, {"res4f", 1024, 14, 14},
                                      {"res5c", 2048, 7, 7}, {"pool5", 2048, 1, 1},
                                      {"fc1000", 1000, 1, 1}, {NULL, 0, 0, 0}};
    /* Published counts: Caffe LeNet 431,080; AlexNet 60,965,224 (bvlc_alexnet);
     * ResNet-18 11,689,512 and ResNet-50 25,557,032 (torchvision, BN affine
     * = our Scale; BatchNorm statistics are not trained). */
    const net_case cases[] = {
        {"lenet_train_val.prototxt", 1, 28, 28, 4, 10, 431080, lenet},
        {"cifar10_quick_train_val.prototxt", 3, 32, 32, 4, 10, 145578, cq},
        {"cifar10_full_train_val.prototxt", 3, 32, 32, 4, 10, 89578, cf},
        {"fashion_bn_train_val.prototxt", 1, 28, 28, 4, 10, 0, fb},
        {"alexnet_train_val.prototxt", 3, 227, 227, 1, 1000, 60965224, alex},
        {"googlenet_train_val.prototxt", 3, 224, 224, 1, 1000, 0, goog},
        {"resnet18_train_val.prototxt", 3, 224, 224, 2, 1000, 11689512, r18},
        {"resnet50_train_val.prototxt", 3, 224, 224, 1, 1000, 25557032, r50},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        test_net(&cases[i]);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        test_shared_diffs(&cases[i]);
    test_bad_nets();
    static const int splits[][2] = {{48, 2}, {48, 3}, {48, 4}, {64, 4}};
    const split_net lenet_split = {"lenet_fashion", "lenet_fashion_train_val.prototxt", NULL, 1, 28, 28, 2e-6};
    for (int be = DLT_CONV_IM2COL; be <= (dlt_conv_dnnl_available() ? DLT_CONV_DNNL : DLT_CONV_IM2COL); be++)
        for (size_t i = 0; i < sizeof splits / sizeof splits[0]; i++)
            test_split(&lenet_split, (dlt_conv_backend)be, splits[i][0], splits[i][1]);
    test_conv1x1_layouts();
    test_bn_fusion();
    test_inplace_chains();
    if (dlt_conv_dnnl_available())
        for (size_t i = 0; i < sizeof splits / sizeof splits[0]; i++)
            test_split(&conv1x1_net, DLT_CONV_DNNL, splits[i][0], splits[i][1]);
    TEST_DONE();
}
