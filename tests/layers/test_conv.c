/* test_conv.c - Convolution against a direct loop and finite differences,
 * on each CPU backend this build has (im2col + sgemm, oneDNN). */
#include <omp.h>

#include "fd_harness.h"
#include "dltrain/net.h"
#include "layers/conv.h"

typedef struct conv_ref {
    int K, G, kh, kw, sh, sw, ph, pw, bias;
    int dh, dw; /* dilation; 0 = 1 */
} conv_ref;

static void ref_conv(const dlt_tensor *x, const float *w, const float *b, const conv_ref *c,
                     int Ho, int Wo, double *y)
{
    int Cg = x->c / c->G, Kg = c->K / c->G;
    for (int n = 0; n < x->n; n++)
        for (int k = 0; k < c->K; k++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double acc = b ? b[k] : 0;
                    int g = k / Kg;
                    for (int ci = 0; ci < Cg; ci++)
                        for (int i = 0; i < c->kh; i++)
                            for (int j = 0; j < c->kw; j++) {
                                int ih = oh * c->sh - c->ph + i * (c->dh ? c->dh : 1),
                                    iw = ow * c->sw - c->pw + j * (c->dw ? c->dw : 1);
                                if (ih < 0 || ih >= x->h || iw < 0 || iw >= x->w)
                                    continue;
                                acc += (double)w[((k * Cg + ci) * c->kh + i) * c->kw + j] *
                                       x->data[((n * x->c + g * Cg + ci) * x->h + ih) * x->w + iw];
                            }
                    y[((n * c->K + k) * Ho + oh) * Wo + ow] = acc;
                }
}

/* dW and dx of the direct loop for top grad dy. */
static void ref_conv_backward(const dlt_tensor *x, const float *w, const float *dy,
                              const conv_ref *c, int Ho, int Wo, double *dw, double *dx)
{
    int Cg = x->c / c->G, Kg = c->K / c->G;
    memset(dw, 0, (size_t)c->K * Cg * c->kh * c->kw * sizeof(double));
    memset(dx, 0, x->count * sizeof(double));
    for (int n = 0; n < x->n; n++)
        for (int k = 0; k < c->K; k++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double gy = dy[((n * c->K + k) * Ho + oh) * Wo + ow];
                    int g = k / Kg;
                    for (int ci = 0; ci < Cg; ci++)
                        for (int i = 0; i < c->kh; i++)
                            for (int j = 0; j < c->kw; j++) {
                                int ih = oh * c->sh - c->ph + i * (c->dh ? c->dh : 1),
                                    iw = ow * c->sw - c->pw + j * (c->dw ? c->dw : 1);
                                if (ih < 0 || ih >= x->h || iw < 0 || iw >= x->w)
                                    continue;
                                size_t wi = ((size_t)(k * Cg + ci) * c->kh + i) * c->kw + j;
                                size_t xi = ((size_t)(n * x->c + g * Cg + ci) * x->h + ih) * x->w + iw;
                                dw[wi] += gy * x->data[xi];
                                dx[xi] += gy * w[wi];
                            }
                }
}

/* The backend under test, for the test names. */
static const char *conv_backend(void) { return dlt_conv_backend_name(dlt_compute_conv_backend(&compute)); }

static void test_conv_case(const char *case_name, int N, int C, int H, int W, const conv_ref *c,
                           const char *text, int expect_ho, int expect_wo)
{
    char what[160];
    snprintf(what, sizeof what, "%s, %s", case_name, conv_backend());
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], N, C, H, W);
    fill_uniform(t.bot[0].data, t.bot[0].count, -1, 1);
    int st = make(&t, "Convolution", text, 1, 1, 0, NULL);
    const dlt_tensor *y = &t.top[0];
    int shape_ok = st == 0 && y->n == N && y->c == c->K && y->h == expect_ho && y->w == expect_wo &&
                   t.l.nparam == 1 + c->bias;
    double e = INFINITY;
    if (shape_ok) {
        t.l.ops->forward(&t.l);
        double *ref = dlt_malloc(y->count * sizeof(double));
        ref_conv(&t.bot[0], t.l.param[0].data, c->bias ? t.l.param[1].data : NULL, c, y->h,
                 y->w, ref);
        e = max_rel_err_f(y->data, ref, y->count);
        free(ref);
    }
    TEST_OK(shape_ok && e <= 1e-5, "conv %s: setup (status %d, top %dx%dx%dx%d) and forward "
            "match the direct loop (max rel err %.2g)", what, st, y->n, y->c, y->h, y->w, e);
    if (shape_ok)
        grad_test(&t, 1, 1e-2, what);
    if (shape_ok && dlt_compute_conv_backend(&compute) == DLT_CONV_DNNL)
        TEST_OK(dlt__conv_uses_dnnl(&t.l), "conv %s: ran on oneDNN (no im2col fallback)", what);
    destroy(&t);
}

/* A batch processed in chunks (im2col: patch matrices; oneDNN: weight
 * gradient chunks, blocked layouts): forward and all three gradients
 * against the direct loops, on the layer shapes of LeNet at the per-rank
 * batches of tests/test_dist_equiv.sh. */
static void test_conv_batch(int N, int C, int H, int W, int K, int k, int p)
{
    conv_ref c = {.K = K, .G = 1, .kh = k, .kw = k, .sh = 1, .sw = 1, .ph = p, .pw = p, .bias = 1};
    char text[128], what[96];
    snprintf(text, sizeof text, "convolution_param { num_output: %d kernel_size: %d pad: %d }", K,
             k, p);
    snprintf(what, sizeof what, "%dx%dx%dx%d, %d outputs, k%d p%d, %s", N, C, H, W, K, k, p,
             conv_backend());
    const int Ho = H + 2 * p - k + 1, Wo = W + 2 * p - k + 1;
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], N, C, H, W);
    fill_uniform(t.bot[0].data, t.bot[0].count, -1, 1);
    int st = make(&t, "Convolution", text, 1, 1, 0, NULL);
    if (st) {
        TEST_OK(0, "conv batch %s: setup failed (%d)", what, st);
        destroy(&t);
        return;
    }
    dlt_tensor *y = &t.top[0];
    t.l.ops->forward(&t.l);
    double *ref = dlt_malloc(y->count * sizeof(double));
    ref_conv(&t.bot[0], t.l.param[0].data, t.l.param[1].data, &c, Ho, Wo, ref);
    double ef = max_rel_err_f(y->data, ref, y->count);
    free(ref);

    fill_uniform(y->diff, y->count, -1, 1);
    memset(t.l.param[0].diff, 0, t.l.param[0].count * sizeof(float));
    memset(t.l.param[1].diff, 0, t.l.param[1].count * sizeof(float));
    t.l.propagate_down[0] = 1;
    t.l.ops->backward(&t.l);
    double *dw = dlt_malloc(t.l.param[0].count * sizeof(double));
    double *dx = dlt_malloc(t.bot[0].count * sizeof(double));
    double *db = dlt_calloc(K, sizeof(double));
    ref_conv_backward(&t.bot[0], t.l.param[0].data, y->diff, &c, Ho, Wo, dw, dx);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < K; o++)
            for (int q = 0; q < Ho * Wo; q++)
                db[o] += y->diff[((size_t)n * K + o) * Ho * Wo + q];
    double ew = max_rel_err_f(t.l.param[0].diff, dw, t.l.param[0].count);
    double eb = max_rel_err_f(t.l.param[1].diff, db, K);
    double ex = max_rel_err_f(t.bot[0].diff, dx, t.bot[0].count);
    free(dw), free(dx), free(db);
    /* Training runs the same layer every step: a second forward and
     * backward must give the same bits (no state left from the first). */
    size_t nw = t.l.param[0].count, nx = t.bot[0].count;
    float *first = dlt_malloc((nw + K + nx) * sizeof(float));
    memcpy(first, t.l.param[0].diff, nw * sizeof(float));
    memcpy(first + nw, t.l.param[1].diff, K * sizeof(float));
    memcpy(first + nw + K, t.bot[0].diff, nx * sizeof(float));
    memset(t.l.param[0].diff, 0, nw * sizeof(float));
    memset(t.l.param[1].diff, 0, K * sizeof(float));
    t.l.ops->forward(&t.l);
    t.l.ops->backward(&t.l);
    int same = memcmp(first, t.l.param[0].diff, nw * sizeof(float)) == 0 &&
               memcmp(first + nw, t.l.param[1].diff, K * sizeof(float)) == 0 &&
               memcmp(first + nw + K, t.bot[0].diff, nx * sizeof(float)) == 0;
    free(first);
    TEST_OK(same, "conv batch %s: a second forward and backward give the same dW, db, dx", what);
    /* Sums of up to 1,250 (forward, dx) and 27,648 (dW) float products of
     * values up to 1 (the error is absolute below 1); the bias gradient is
     * summed in double on both backends (ranks must not change it). */
    TEST_OK(ef <= 1e-4 && ew <= 1e-3 && eb <= 1e-6 && ex <= 1e-4, "conv batch %s: forward, dW, "
            "db, dx match the direct loops (rel err %.2g, %.2g, %.2g, %.2g)", what, ef, ew, eb, ex);
    destroy(&t);
}

static void test_conv_chunked(void)
{
    test_conv_batch(7, 16, 24, 24, 2, 3, 1); /* im2col: 3 samples per chunk, 3+3+1 */
    /* a ResNet 3x3 layer: oneDNN's Winograd kernels on AVX-512 (conv_dnnl.c
     * wants_winograd), within the same bounds as the direct algorithm */
    test_conv_batch(2, 64, 28, 28, 64, 3, 1);
    static const int batches[] = {12, 16, 24, 48};
    for (int i = 0; i < 4; i++) {
        test_conv_batch(batches[i], 1, 28, 28, 20, 5, 0);  /* LeNet conv1 */
        test_conv_batch(batches[i], 20, 12, 12, 50, 5, 0); /* LeNet conv2 */
    }
}

/* A sample's input gradient has the same bits whatever the batch and the
 * thread count (the np=P equivalence): LeNet's conv2, whose input gradient
 * is conv.c's own W^T dy + col2im (dx_direct) on the oneDNN backend, at
 * batch 32 on 2 threads against its first 16 samples at batch 16 on 1
 * thread. (The im2col backend's per-sample sgemms differ between OpenBLAS's
 * thread counts.) */
static void test_conv_dx_split(void)
{
    const char *text = "convolution_param { num_output: 50 kernel_size: 5 }";
    tcase a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    dlt_tensor_reshape(&a.bot[0], 32, 20, 12, 12);
    dlt_tensor_reshape(&b.bot[0], 16, 20, 12, 12);
    fill_uniform(a.bot[0].data, a.bot[0].count, -1, 1);
    memcpy(b.bot[0].data, a.bot[0].data, b.bot[0].count * sizeof(float));
    int st = make(&a, "Convolution", text, 1, 1, 0, NULL);
    if (st == 0)
        st = make(&b, "Convolution", text, 1, 1, 0, NULL);
    int same = 0;
    if (st == 0) {
        for (int k = 0; k < a.l.nparam; k++)
            memcpy(b.l.param[k].data, a.l.param[k].data, a.l.param[k].count * sizeof(float));
        fill_uniform(a.top[0].diff, a.top[0].count, -1, 1);
        memcpy(b.top[0].diff, a.top[0].diff, b.top[0].count * sizeof(float));
        a.l.propagate_down[0] = b.l.propagate_down[0] = 1;
        const int before = omp_get_max_threads();
        dlt_cpu_set_threads(2);
        a.l.ops->forward(&a.l);
        a.l.ops->backward(&a.l);
        dlt_cpu_set_threads(1);
        b.l.ops->forward(&b.l);
        b.l.ops->backward(&b.l);
        same = memcmp(a.bot[0].diff, b.bot[0].diff, b.bot[0].count * sizeof(float)) == 0;
        dlt_cpu_set_threads(before);
    }
    TEST_OK(st == 0 && same, "conv dx split, %s: LeNet conv2's input gradient of 16 samples in a "
            "batch of 32 on 2 threads equals batch 16 on 1 thread bit for bit (setup %d)",
            conv_backend(), st);
    destroy(&a);
    destroy(&b);
}

static void test_conv(void)
{
    conv_ref c1 = {.K = 4, .G = 1, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .bias = 1};
    test_conv_case("k3 s1 p0", 2, 3, 7, 6, &c1,
                   "convolution_param { num_output: 4 kernel_size: 3 }", 5, 4);
    conv_ref c2 = {.K = 3, .G = 1, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .bias = 1};
    test_conv_case("k3 s2 p1", 2, 2, 7, 8, &c2,
                   "convolution_param { num_output: 3 kernel_size: 3 stride: 2 pad: 1 "
                   "weight_filler { type: \"xavier\" } bias_filler { type: \"constant\" value: 0.1 } }",
                   4, 4);
    conv_ref c3 = {.K = 2, .G = 1, .kh = 3, .kw = 2, .sh = 2, .sw = 1, .ph = 1, .pw = 0, .bias = 1};
    test_conv_case("3x2 kernel, stride 2x1, pad 1x0", 2, 2, 6, 5, &c3,
                   "convolution_param { num_output: 2 kernel_h: 3 kernel_w: 2 stride_h: 2 "
                   "stride_w: 1 pad_h: 1 pad_w: 0 }", 3, 4);
    conv_ref c4 = {.K = 6, .G = 2, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .bias = 1};
    test_conv_case("group 2", 2, 4, 5, 5, &c4,
                   "convolution_param { num_output: 6 kernel_size: 3 pad: 1 group: 2 }", 5, 5);
    conv_ref c5 = {.K = 3, .G = 1, .kh = 2, .kw = 2, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .bias = 0};
    test_conv_case("no bias, k2 s2 p1, batch 1", 1, 3, 5, 5, &c5,
                   "convolution_param { num_output: 3 kernel_size: 2 stride: 2 pad: 1 "
                   "bias_term: false }", 3, 3);
    /* A patch embedding: the kernel as large as its stride, no overlap. */
    conv_ref c8 = {.K = 5, .G = 1, .kh = 7, .kw = 7, .sh = 7, .sw = 7, .bias = 1};
    test_conv_case("k7 s7 (patches)", 2, 3, 14, 21, &c8,
                   "convolution_param { num_output: 5 kernel_size: 7 stride: 7 "
                   "weight_filler { type: \"msra\" } }", 2, 3);
    test_conv_chunked();
    if (dlt_compute_conv_backend(&compute) == DLT_CONV_DNNL) /* im2col: OpenBLAS's threads */
        test_conv_dx_split();

    conv_ref c6 = {.K = 3, .G = 1, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 2, .pw = 2, .bias = 1,
                   .dh = 2, .dw = 2};
    test_conv_case("dilation 2 pad 2", 2, 2, 7, 6, &c6,
                   "convolution_param { num_output: 3 kernel_size: 3 pad: 2 dilation: 2 }", 7, 6);
    conv_ref c7 = {.K = 4, .G = 2, .kh = 2, .kw = 3, .sh = 2, .sw = 1, .ph = 0, .pw = 1, .bias = 0,
                   .dh = 3, .dw = 2};
    test_conv_case("dilation 3x2, group 2, stride 2x1, 2x3 kernel, no bias", 2, 2, 8, 7, &c7,
                   "convolution_param { num_output: 4 kernel_h: 2 kernel_w: 3 stride_h: 2 "
                   "stride_w: 1 pad_h: 0 pad_w: 1 dilation: 3 dilation: 2 group: 2 "
                   "bias_term: false }", 3, 5);
}

/* The compute context belongs to the net (issue 19): two nets of one
 * process built with different settings keep their own, each layer reads
 * its net's, and the two backends compute the same outputs. */
static void test_compute_per_net(void)
{
    static const char *text =
        "layer { name: 'd' type: 'Data' top: 'data' top: 'label' data_param { batch_size: 2 } }\n"
        "layer { name: 'conv' type: 'Convolution' bottom: 'data' top: 'conv'\n"
        "        convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: 'xavier' } } }\n";
    dlt_cfg *root = NULL;
    dlt_net *a = NULL, *b = NULL;
    dlt_compute_ctx ca, cb;
    dlt_compute_ctx_init(&ca);
    dlt_compute_ctx_init(&cb);
    ca.conv_backend = DLT_CONV_IM2COL;
    ca.threads = 1;
    cb.conv_backend = dlt_conv_dnnl_available() ? DLT_CONV_DNNL : DLT_CONV_IM2COL;
    cb.cudnn_workspace_limit = 1 << 20;
    int st = dlt_pt_parse_string(text, "compute.prototxt", &root);
    if (st == 0)
        st = dlt_net_create(root, DLT_PHASE_TRAIN, 3, 6, 6, 5, &ca, &a);
    if (st == 0)
        st = dlt_net_create(root, DLT_PHASE_TRAIN, 3, 6, 6, 5, &cb, &b);
    ASSERT_EQ(st, 0, "compute: two nets with different contexts build");
    if (st) {
        dlt_net_free(a);
        dlt_cfg_free(root);
        return;
    }
    ca.conv_backend = DLT_CONV_DNNL; /* the nets hold copies */
    const dlt_layer *la = dlt_net_layer(a, 1), *lb = dlt_net_layer(b, 1);
    TEST_OK(dlt_net_compute(a)->conv_backend == DLT_CONV_IM2COL && dlt_net_compute(a)->threads == 1 &&
            dlt_net_compute(b)->cudnn_workspace_limit == 1 << 20 && la->compute == dlt_net_compute(a) &&
            lb->compute == dlt_net_compute(b),
            "compute: each net keeps a copy of its context, its layers point at it");
    TEST_OK(!dlt__conv_uses_dnnl(la) && dlt__conv_uses_dnnl(lb) == (cb.conv_backend == DLT_CONV_DNNL),
            "compute: each net's convolution uses its own backend (im2col; %s)",
            dlt_conv_backend_name(cb.conv_backend));
    dlt_tensor *xa = dlt_net_blob(a, "data"), *xb = dlt_net_blob(b, "data");
    fill_uniform(xa->data, xa->count, -1, 1);
    memcpy(xb->data, xa->data, xa->count * sizeof(float));
    dlt_net_forward(a);
    dlt_net_forward(b);
    const dlt_tensor *ya = dlt_net_blob(a, "conv"), *yb = dlt_net_blob(b, "conv");
    double *ref = dlt_malloc(ya->count * sizeof(double));
    for (size_t i = 0; i < ya->count; i++)
        ref[i] = ya->data[i];
    double e = max_rel_err_f(yb->data, ref, ya->count);
    free(ref);
    TEST_OK(e <= 1e-5, "compute: both backends give the same convolution (max rel err %.2g)", e);
    dlt_net_free(a);
    dlt_net_free(b);
    dlt_cfg_free(root);
}

/* A oneDNN convolution followed by an in-place ReLU runs the ReLU as its
 * post-op (dlt__conv_fuse_relu): the same net with the ReLU writing another
 * blob is not fused. Both must give the same bits forward and backward,
 * with NaN, -0 and exact zeros among the convolution's outputs, on a
 * 2-channel HW x HW input, STRIDE both ways. PAD 1: the oneDNN primitive's
 * post-op; PAD 0: conv.c's own forwards, which apply the ReLU as they write
 * the top: stride 1 fwd_rows (positions in the lanes), stride 2 on a 12x12
 * plane fwd_direct (channels in the lanes). */
static void test_conv_relu_fusion(int pad, int hw, int stride)
{
    char fused[1024], apart[1024];
    if (!dlt_conv_dnnl_available()) {
        TEST_SKIP("conv + ReLU fusion, pad %d stride %d, %dx%d: this build has no oneDNN", pad, stride, hw, hw);
        return;
    }
    snprintf(fused, sizeof fused,
        "layer { name: 'd' type: 'Data' top: 'data' top: 'label' data_param { batch_size: 4 } }\n"
        "layer { name: 'conv' type: 'Convolution' bottom: 'data' top: 'conv'\n"
        "        convolution_param { num_output: 16 kernel_size: 3 pad: %d stride: %d weight_filler { type: 'xavier' } } }\n"
        "layer { name: 'relu' type: 'ReLU' bottom: 'conv' top: 'conv' }\n"
        "layer { name: 'ip' type: 'InnerProduct' bottom: 'conv' top: 'ip'\n"
        "        inner_product_param { num_output: 3 weight_filler { type: 'xavier' } } }\n"
        "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'ip' bottom: 'label' top: 'loss' }\n", pad, stride);
    snprintf(apart, sizeof apart,
        "layer { name: 'd' type: 'Data' top: 'data' top: 'label' data_param { batch_size: 4 } }\n"
        "layer { name: 'conv' type: 'Convolution' bottom: 'data' top: 'conv'\n"
        "        convolution_param { num_output: 16 kernel_size: 3 pad: %d stride: %d weight_filler { type: 'xavier' } } }\n"
        "layer { name: 'relu' type: 'ReLU' bottom: 'conv' top: 'r' }\n"
        "layer { name: 'ip' type: 'InnerProduct' bottom: 'r' top: 'ip'\n"
        "        inner_product_param { num_output: 3 weight_filler { type: 'xavier' } } }\n"
        "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'ip' bottom: 'label' top: 'loss' }\n", pad, stride);
    dlt_cfg *ra = NULL, *rb = NULL;
    dlt_net *a = NULL, *b = NULL;
    dlt_compute_ctx c;
    dlt_compute_ctx_init(&c);
    c.conv_backend = DLT_CONV_DNNL;
    int st = dlt_pt_parse_string(fused, "fused.prototxt", &ra);
    if (st == 0)
        st = dlt_pt_parse_string(apart, "apart.prototxt", &rb);
    if (st == 0)
        st = dlt_net_create(ra, DLT_PHASE_TRAIN, 2, hw, hw, 7, &c, &a);
    if (st == 0)
        st = dlt_net_create(rb, DLT_PHASE_TRAIN, 2, hw, hw, 7, &c, &b);
    ASSERT_EQ(st, 0, "conv + ReLU fusion, pad %d stride %d, %dx%d: the two nets build", pad, stride, hw, hw);
    if (st) {
        dlt_net_free(a);
        dlt_cfg_free(ra);
        dlt_cfg_free(rb);
        return;
    }
    /* Below AVX2 oneDNN's post-op is not used (conv.c): unfused, same values. */
    const char *isa = dlt_cpu_dnnl_isa();
    const int want = pad == 0 || (strcmp(isa, "sse41") != 0 && strcmp(isa, "avx") != 0);
    TEST_OK(dlt_net_layer_fused(a, 2) == want && !dlt_net_layer_fused(b, 2),
            "conv + ReLU fusion, pad %d stride %d, %dx%d: the in-place ReLU is %s (oneDNN ISA %s), the other not",
            pad, stride, hw, hw, want ? "fused (its forward skipped)" : "not fused", isa);
    dlt_tensor *xa = dlt_net_blob(a, "data"), *xb = dlt_net_blob(b, "data");
    fill_uniform(xa->data, xa->count, -1, 1);
    /* One NaN: the outputs whose windows hold it are NaN before the ReLU
     * (the unfused ReLU maps them to 0), and the last sample all zeros:
     * its outputs are the bias, which the first step zeroes (+0 vs -0
     * where a bias is negative). */
    xa->data[5] = NAN;
    memset(xa->data + 3 * (xa->count / 4), 0, xa->count / 4 * sizeof(float));
    for (int k = 0; k < 16; k++) /* biases of both signs */
        dlt_net_layer(a, 1)->param[1].data[k] = (k % 2 ? 0.5f : -0.5f) * (float)k / 16;
    memcpy(dlt_net_params(b), dlt_net_params(a), dlt_net_param_count(a) * sizeof(float));
    memcpy(xb->data, xa->data, xa->count * sizeof(float));
    dlt_tensor *la = dlt_net_blob(a, "label"), *lb = dlt_net_blob(b, "label");
    for (size_t i = 0; i < la->count; i++)
        la->data[i] = lb->data[i] = (float)(i % 3);
    dlt_net_zero_grads(a);
    dlt_net_zero_grads(b);
    dlt_net_forward(a);
    dlt_net_forward(b);
    const dlt_tensor *ya = dlt_net_blob(a, "conv"), *yb = dlt_net_blob(b, "r");
    size_t nan_out = 0;
    for (size_t i = 0; i < yb->count; i++)
        nan_out += isnan(yb->data[i]);
    TEST_OK(memcmp(ya->data, yb->data, ya->count * sizeof(float)) == 0 && nan_out == 0,
            "conv + ReLU fusion, pad %d stride %d, %dx%d: the fused forward's %zu outputs equal conv then ReLU bit for bit "
            "(the NaN window included)", pad, stride, hw, hw, ya->count);
    /* The ip gradient holds no NaN (the ReLU zeroed it), conv's weight
     * gradient does (x * dy with x NaN): compare all but that blob. */
    dlt_net_backward(a);
    dlt_net_backward(b);
    const dlt_layer *ipa = dlt_net_layer(a, 3), *ipb = dlt_net_layer(b, 3);
    const dlt_layer *ca = dlt_net_layer(a, 1), *cb = dlt_net_layer(b, 1);
    TEST_OK(memcmp(ipa->param[0].diff, ipb->param[0].diff, ipa->param[0].count * sizeof(float)) == 0 &&
            memcmp(ca->param[1].diff, cb->param[1].diff, ca->param[1].count * sizeof(float)) == 0 &&
            memcmp(ya->diff, dlt_net_blob(b, "conv")->diff, ya->count * sizeof(float)) == 0,
            "conv + ReLU fusion, pad %d stride %d, %dx%d: the backward (ReLU's input gradient, conv's bias gradient, ip's "
            "weight gradient) equals the unfused net's bit for bit", pad, stride, hw, hw);
    dlt_net_free(a);
    dlt_net_free(b);
    dlt_cfg_free(ra);
    dlt_cfg_free(rb);
}

int main(void)
{
    char isa[160];
    printf("# cpu: %s\n", dlt_cpu_isa_describe(isa, sizeof isa));
    fd_init();
    /* Every convolution case on each backend this build has. */
    compute.conv_backend = DLT_CONV_IM2COL;
    test_conv();
    if (dlt_conv_dnnl_available()) {
        compute.conv_backend = DLT_CONV_DNNL;
        test_conv();
    } else {
        TEST_SKIP("conv on oneDNN: this build has no oneDNN (configure --without-dnnl, or "
                  "libdnnl-dev not installed)");
    }
    compute.conv_backend = DLT_CONV_AUTO;
    test_compute_per_net();
    test_conv_relu_fusion(1, 12, 1);
    test_conv_relu_fusion(0, 12, 1);
    test_conv_relu_fusion(0, 20, 1);
    test_conv_relu_fusion(0, 12, 2);
    TEST_DONE();
}
