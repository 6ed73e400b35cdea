/* gpu_compare.h - shared by the GPU tests: skip without a usable GPU, and
 * compare one net run on the GPU with the same net (same prototxt, seed
 * and batch) on the CPU, layer by layer, each GPU layer fed the CPU
 * layer's inputs (bottoms before forward; bottoms, tops and top diffs
 * before backward), so each check measures that layer alone rather than
 * the rounding differences it inherits: every top after forward, every
 * parameter and bottom gradient after backward. Then end to end: the loss
 * and the whole parameter gradient of a plain forward + backward.
 *
 * Error measure per blob: max |gpu - cpu| / max |cpu| (blob_err.h). */
#ifndef DLTRAIN_TESTS_GPU_COMPARE_H
#define DLTRAIN_TESTS_GPU_COMPARE_H

#include <string.h>

#include "dltrain/device.h"
#include "dltrain/error.h"
#include "dltrain/net.h"
#include "blob_err.h"
#include "test.h"

/* How the nets of a test compute (gc_require_gpu sets the cuDNN part). */
static dlt_compute_ctx gc_compute;

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
    dlt_compute_ctx_init(&gc_compute);
    gc_compute.cudnn_deterministic = deterministic;
    gc_compute.cudnn_workspace_limit = (size_t)256 << 20;
    gc_compute.no_fusion = 1; /* layers are run and compared one at a time */
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

/* Nets of sequences (the caption Data layer's tops): gc_seq_steps > 0
 * builds them with T = gc_seq_steps steps (dlt_net_create_seq), and
 * gc_fill fills both nets' batches instead of gc_fill_batch. */
typedef void (*gc_fill_fn)(dlt_net *cpu, dlt_net *gpu, int classes, uint64_t seed);
static int gc_seq_steps;
static gc_fill_fn gc_fill = gc_fill_batch;

static int gc_create(const dlt_cfg *root, int c, int h, int w, dlt_net **net)
{
    if (gc_seq_steps > 0)
        return dlt_net_create_seq(root, DLT_PHASE_TRAIN, c, h, w, gc_seq_steps, 7, &gc_compute, net);
    return dlt_net_create(root, DLT_PHASE_TRAIN, c, h, w, 7, &gc_compute, net);
}

/* Per-layer forward tolerance by layer type; NULL: FWD_DEFAULT for all. */
typedef double (*gc_tolerance_fn)(const char *type);

/* ||a - b|| / ||b|| over N values (0 when both are 0). */
static double gc_l2_err(const float *a, const float *b, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        r += (double)b[i] * b[i];
    }
    return d == 0 ? 0 : r == 0 ? INFINITY : sqrt(d / r);
}

static void gc_upload_data(dlt_tensor *gpu, const dlt_tensor *cpu)
{
    dlt_device_upload(gpu->gdata, cpu->data, cpu->count * sizeof(float));
}

static void gc_upload_diff(dlt_tensor *gpu, const dlt_tensor *cpu)
{
    dlt_device_upload(gpu->gdiff, cpu->diff, cpu->count * sizeof(float));
}

/* One blob check: a TAP line when VERBOSE, else a diagnostic on failure;
 * tracks the worst error in *WORST / WORST_NAME. Returns 1 when bad. */
static int gc_check_blob(const char *what, const dlt_layer *b, const char *kind, int index, const float *gpu,
                         const float *cpu, size_t n, double tol, int verbose, double *worst, char *worst_name,
                         size_t wn)
{
    double e = blob_err(gpu, cpu, n);
    if (verbose)
        TEST_OK(e <= tol, "%s: %s '%s' %s %d (%zu values): err %.2g <= %.0g", what, b->ops->type, b->name, kind,
                index, n, e, tol);
    else if (!(e <= tol))
        printf("#   %s: %s '%s' %s %d err %.3g > %.0g\n", what, b->ops->type, b->name, kind, index, e, tol);
    if (!(e <= *worst)) {
        *worst = e;
        snprintf(worst_name, wn, "%s '%s' %s", b->ops->type, b->name, kind);
    }
    return !(e <= tol);
}

/* Build ROOT twice (TRAIN), move one to the GPU, and compare (see the top
 * of this file). VERBOSE: one TAP line per blob; else one line for all
 * forward tops and one for all gradients, naming the worst blob. Returns
 * the number of failed checks. */
static int gc_compare_net(const char *what, const dlt_cfg *root, int c, int h, int w, int classes,
                          gc_tolerance_fn tol_fwd, double fwd_default, double tol_grad, int verbose)
{
    dlt_net *cpu = NULL, *gpu = NULL;
    int st = gc_create(root, c, h, w, &cpu);
    if (st == 0)
        st = gc_create(root, c, h, w, &gpu);
    TEST_OK(st == 0, "%s: both nets build (status %d)", what, st);
    if (st == 0)
        st = dlt_net_to_device(gpu, DLT_DEVICE_GPU);
    TEST_OK(st == 0, "%s: the net moves to the GPU (status %d)", what, st);
    if (st) {
        dlt_net_free(cpu);
        dlt_net_free(gpu);
        return 1;
    }
    const int nl = dlt_net_num_layers(cpu);
    int failed = 0, bad = 0;
    double worst = 0;
    char worst_name[200] = "-";
    gc_fill(cpu, gpu, classes, 11);

    /* Forward, one layer at a time on the CPU's inputs. */
    for (int i = 0; i < nl; i++) {
        dlt_layer *a = dlt_net_layer(gpu, i), *b = dlt_net_layer(cpu, i);
        for (int k = 0; k < b->nbottom; k++)
            gc_upload_data(a->bottom[k], b->bottom[k]);
        dlt_layer_forward(b);
        dlt_layer_forward(a);
        double tol = tol_fwd ? tol_fwd(b->ops->type) : fwd_default;
        for (int t = 0; t < a->ntop; t++) {
            dlt_tensor_download(a->top[t]);
            bad += gc_check_blob(what, b, "top", t, a->top[t]->data, b->top[t]->data, b->top[t]->count, tol,
                                 verbose, &worst, worst_name, sizeof worst_name);
        }
    }
    if (!verbose)
        TEST_OK(bad == 0, "%s: each layer's forward on the CPU's inputs matches (worst %.2g in %s)", what, worst,
                worst_name);
    failed += bad != 0;

    /* Backward, one layer at a time on the CPU's inputs (values and top
     * diffs after the split sums); the layer state (masks, statistics)
     * comes from the forward above, which had the same inputs. */
    dlt_net_zero_grads(cpu);
    dlt_net_zero_grads(gpu);
    bad = 0, worst = 0, snprintf(worst_name, sizeof worst_name, "-");
    for (int i = nl - 1; i >= 0; i--) {
        dlt_layer *a = dlt_net_layer(gpu, i), *b = dlt_net_layer(cpu, i);
        if (!dlt_net_sum_split_diffs(cpu, i) || !dlt_net_sum_split_diffs(gpu, i))
            continue;
        for (int k = 0; k < b->nbottom; k++)
            gc_upload_data(a->bottom[k], b->bottom[k]);
        for (int t = 0; t < b->ntop; t++) {
            gc_upload_data(a->top[t], b->top[t]);
            if (!b->is_loss)
                gc_upload_diff(a->top[t], b->top[t]);
        }
        dlt_layer_backward(b);
        dlt_layer_backward(a);
        for (int p = 0; p < b->nparam; p++) {
            dlt_tensor *pa = &a->param[p];
            dlt_device_download(pa->diff, pa->gdiff, pa->count * sizeof(float));
            bad += gc_check_blob(what, b, "param gradient", p, pa->diff, b->param[p].diff, b->param[p].count,
                                 tol_grad, verbose, &worst, worst_name, sizeof worst_name);
        }
        for (int k = 0; k < b->nbottom; k++)
            if (b->propagate_down[k]) {
                dlt_tensor_download_diff(a->bottom[k]);
                bad += gc_check_blob(what, b, "bottom gradient", k, a->bottom[k]->diff, b->bottom[k]->diff,
                                     b->bottom[k]->count, tol_grad, verbose, &worst, worst_name,
                                     sizeof worst_name);
            }
    }
    if (!verbose)
        TEST_OK(bad == 0, "%s: each layer's backward on the CPU's inputs matches (worst %.2g in %s)", what, worst,
                worst_name);
    failed += bad != 0;

    /* Statistics the layers keep themselves (BatchNorm), after one forward. */
    dlt_net_params_to_host(gpu);
    double pe = blob_err(dlt_net_params(gpu), dlt_net_params(cpu), dlt_net_param_count(cpu));
    TEST_OK(pe <= fwd_default, "%s: parameter values after the forward match (err %.2g <= %.0g)", what, pe,
            fwd_default);
    failed += !(pe <= fwd_default);

    /* End to end: a plain forward and backward on each device (Dropout
     * draws its next mask in both). Rounding differences now compound over
     * the depth, and a ReLU whose input is near 0 may switch on one side
     * only, so the gradient is compared as a whole (L2), loosely. */
    gc_fill(cpu, gpu, classes, 12);
    dlt_net_zero_grads(cpu);
    dlt_net_zero_grads(gpu);
    float lc = dlt_net_forward(cpu), lg = dlt_net_forward(gpu);
    dlt_net_backward(cpu);
    dlt_net_backward(gpu);
    dlt_net_grads_to_host(gpu);
    double lerr = fabs((double)lg - lc) / (fabs(lc) > 1 ? fabs(lc) : 1);
    TEST_OK(lerr <= 1e-4, "%s: end to end, loss on the GPU %.7g, CPU %.7g (rel err %.2g <= 1e-4)", what, lg, lc,
            lerr);
    double ge = gc_l2_err(dlt_net_grads(gpu), dlt_net_grads(cpu), dlt_net_param_count(cpu));
    TEST_OK(ge <= 1e-2, "%s: end to end, parameter gradient |gpu - cpu| / |cpu| = %.2g <= 1e-2", what, ge);
    failed += !(lerr <= 1e-4) + !(ge <= 1e-2);
    dlt_net_free(gpu);
    dlt_net_free(cpu);
    return failed;
}

#endif
