/* gpu_compare.h - shared by the GPU tests: skip without a usable GPU, and
 * compare one net run on the GPU with the same net (same prototxt, seed
 * and batch) on the CPU, layer by layer: every top after forward, every
 * parameter and bottom gradient after backward.
 *
 * Error measure per blob: max |gpu - cpu| / max |cpu| (the largest error
 * relative to the blob's scale; 0 when both are 0). It does not blow up
 * on values near zero, as an elementwise relative error would, and still
 * catches a single wrong element. */
#ifndef DLTRAIN_TESTS_GPU_COMPARE_H
#define DLTRAIN_TESTS_GPU_COMPARE_H

#include <string.h>

#include "dltrain/device.h"
#include "dltrain/error.h"
#include "dltrain/net.h"
#include "test.h"

static double gc_blob_err(const float *gpu, const float *cpu, size_t n)
{
    double dmax = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)gpu[i] - cpu[i]);
        if (!(d <= dmax)) /* NaN counts as the worst */
            dmax = isnan(d) ? INFINITY : d;
        scale = fabs(cpu[i]) > scale ? fabs(cpu[i]) : scale;
    }
    return dmax == 0 ? 0 : scale == 0 ? INFINITY : dmax / scale;
}

/* Bind this process's GPU (device 0) or skip the whole test program. */
static void gc_require_gpu(int deterministic)
{
    char why[256], msg[320];
    if (!dlt_device_built_with_cuda())
        TEST_SKIP_ALL("built without CUDA (configure --with-cuda)");
    if (dlt_device_gpu_count(why, sizeof why) == 0) {
        snprintf(msg, sizeof msg, "no CUDA device (%s)", why);
        TEST_SKIP_ALL(msg);
    }
    dlt_device_kind got;
    dlt_device_set_cudnn_options(deterministic, (size_t)256 << 20);
    if (dlt_device_select(DLT_DEVICE_GPU, 0, 1, &got) < 0 || got != DLT_DEVICE_GPU)
        TEST_SKIP_ALL("a GPU is visible but could not be bound");
}

/* The same random batch (values in [-1, 1), labels below CLASSES) in both nets. */
static void gc_fill_batch(dlt_net *cpu, dlt_net *gpu, int classes, uint64_t seed)
{
    dlt_layer *dc = dlt_net_data_layer(cpu), *dg = dlt_net_data_layer(gpu);
    dlt_rng rng;
    dlt_rng_seed(&rng, seed);
    for (size_t i = 0; i < dc->top[0]->count; i++)
        dc->top[0]->data[i] = dg->top[0]->data[i] = (float)(dlt_rng_uniform(&rng) * 2 - 1);
    for (size_t i = 0; i < dc->top[1]->count; i++)
        dc->top[1]->data[i] = dg->top[1]->data[i] = (float)dlt_rng_below(&rng, (uint64_t)classes);
}

/* Per-layer tolerances: forward TOL_FWD(type), gradients TOL_GRAD. A NULL
 * function means FWD_DEFAULT for every type. */
typedef double (*gc_tolerance_fn)(const char *type);

/* Build ROOT twice (TRAIN), move one to the GPU, run forward twice and
 * backward once on both, and compare. VERBOSE: one TAP line per blob;
 * else one line per net for the forward tops and one for the gradients
 * (the worst blob named). Returns the number of failed checks. */
static int gc_compare_net(const char *what, const dlt_pnode *root, int c, int h, int w, int classes,
                          gc_tolerance_fn tol_fwd, double fwd_default, double tol_grad, int verbose)
{
    dlt_net *cpu = NULL, *gpu = NULL;
    int st = dlt_net_create(root, DLT_PHASE_TRAIN, c, h, w, 7, &cpu);
    if (st == 0)
        st = dlt_net_create(root, DLT_PHASE_TRAIN, c, h, w, 7, &gpu);
    TEST_OK(st == 0, "%s: both nets build (status %d)", what, st);
    if (st == 0)
        st = dlt_net_to_device(gpu, DLT_DEVICE_GPU);
    TEST_OK(st == 0, "%s: the net moves to the GPU (status %d)", what, st);
    if (st) {
        dlt_net_free(cpu);
        dlt_net_free(gpu);
        return 1;
    }
    int failed = 0;
    gc_fill_batch(cpu, gpu, classes, 11);
    float lc = dlt_net_forward(cpu), lg = dlt_net_forward(gpu);
    double lerr = fabs((double)lg - lc) / (fabs(lc) > 1 ? fabs(lc) : 1);
    TEST_OK(lerr <= fwd_default * 10, "%s: loss on the GPU %.7g, CPU %.7g (rel err %.2g <= %.0g)", what, lg, lc,
            lerr, fwd_default * 10);
    failed += !(lerr <= fwd_default * 10);

    double worst = 0;
    char worst_name[160] = "-";
    int fwd_bad = 0;
    for (int i = 0; i < dlt_net_num_layers(cpu); i++) {
        dlt_layer *a = dlt_net_layer(gpu, i), *b = dlt_net_layer(cpu, i);
        double tol = tol_fwd ? tol_fwd(b->ops->type) : fwd_default;
        for (int t = 0; t < a->ntop; t++) {
            dlt_tensor_download(a->top[t]);
            double e = gc_blob_err(a->top[t]->data, b->top[t]->data, b->top[t]->count);
            if (verbose)
                TEST_OK(e <= tol, "%s: %s '%s' top %d forward (%zu values): err %.2g <= %.0g", what,
                        b->ops->type, b->name, t, b->top[t]->count, e, tol);
            if (!(e <= tol)) {
                fwd_bad++;
                if (!verbose)
                    printf("#   %s: %s '%s' top %d forward err %.3g > %.0g\n", what, b->ops->type, b->name, t, e,
                           tol);
            }
            if (!(e <= worst)) {
                worst = e;
                snprintf(worst_name, sizeof worst_name, "%s '%s'", b->ops->type, b->name);
            }
        }
    }
    if (!verbose)
        TEST_OK(fwd_bad == 0, "%s: every layer's forward matches (worst %.2g in %s)", what, worst, worst_name);
    failed += fwd_bad != 0;

    /* Second forward (Dropout draws its next mask in both), then backward. */
    dlt_net_zero_grads(cpu);
    dlt_net_zero_grads(gpu);
    dlt_net_forward(cpu);
    dlt_net_forward(gpu);
    dlt_net_backward(cpu);
    dlt_net_backward(gpu);
    dlt_net_grads_to_host(gpu);
    worst = 0, snprintf(worst_name, sizeof worst_name, "-");
    int grad_bad = 0;
    for (int i = 0; i < dlt_net_num_layers(cpu); i++) {
        dlt_layer *a = dlt_net_layer(gpu, i), *b = dlt_net_layer(cpu, i);
        for (int k = 0; k < b->nparam + b->nbottom; k++) {
            int is_param = k < b->nparam, bi = k - b->nparam;
            if (!is_param && !b->propagate_down[bi])
                continue;
            if (!is_param)
                dlt_tensor_download_diff(a->bottom[bi]);
            const dlt_tensor *ta = is_param ? &a->param[k] : a->bottom[bi];
            const dlt_tensor *tb = is_param ? &b->param[k] : b->bottom[bi];
            double e = gc_blob_err(ta->diff, tb->diff, tb->count);
            if (verbose)
                TEST_OK(e <= tol_grad, "%s: %s '%s' %s %d gradient (%zu values): err %.2g <= %.0g", what,
                        b->ops->type, b->name, is_param ? "param" : "bottom", is_param ? k : bi, tb->count, e,
                        tol_grad);
            if (!(e <= tol_grad)) {
                grad_bad++;
                if (!verbose)
                    printf("#   %s: %s '%s' %s %d gradient err %.3g > %.0g\n", what, b->ops->type, b->name,
                           is_param ? "param" : "bottom", is_param ? k : bi, e, tol_grad);
            }
            if (!(e <= worst)) {
                worst = e;
                snprintf(worst_name, sizeof worst_name, "%s '%s'", b->ops->type, b->name);
            }
        }
    }
    if (!verbose)
        TEST_OK(grad_bad == 0, "%s: every gradient matches (worst %.2g in %s)", what, worst, worst_name);
    failed += grad_bad != 0;
    /* Statistics the layers update themselves (BatchNorm) after two forwards. */
    dlt_net_params_to_host(gpu);
    double pe = gc_blob_err(dlt_net_params(gpu), dlt_net_params(cpu), dlt_net_param_count(cpu));
    TEST_OK(pe <= fwd_default, "%s: parameter values after two forward passes match (err %.2g <= %.0g)", what, pe,
            fwd_default);
    failed += !(pe <= fwd_default);
    dlt_net_free(gpu);
    dlt_net_free(cpu);
    return failed;
}

#endif
