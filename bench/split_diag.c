/* split_diag.c - where does splitting a batch change the arithmetic? One
 * net at batch B and one at batch B/S (same weights) see the same samples;
 * every step prints, per blob, the largest relative difference of the
 * activations and of their gradients (the split net's rows against the
 * matching rows of the whole batch) and, per parameter blob, of the
 * gradient averaged over the S parts (in float, as the allreduce does)
 * against the whole batch's. Both nets then take the same SGD step from
 * the whole batch's gradient, so each step shows one step's rounding.
 *   split_diag [net.prototxt] [B] [S] [steps]   (defaults: LeNet-Fashion, 48, 2, 3)
 * Built by `make bench` (or `make bench/split_diag`).
 * (tests/test_nets.c asserts the same property.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/net.h"
#include "dltrain/prototxt.h"
#include "dltrain/tensor.h"
#include "../tests/net_files.h"

/* Largest |a-b| / max(|a|,|b|, 1e-20 + scale) over N values; *nd counts a != b. */
static double maxrel(const float *a, const float *b, size_t n, size_t *nd)
{
    double amax = 0, m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i]) > amax)
            amax = fabs(a[i]);
    *nd = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] == b[i])
            continue;
        ++*nd;
        double d = fabs((double)a[i] - b[i]) / (fmax(fabs(a[i]), fabs(b[i])) + 1e-6 * amax + 1e-30);
        if (d > m)
            m = d;
    }
    return m;
}

int main(int argc, char **argv)
{
    const char *file = argc > 1 ? argv[1] : "nets/lenet_fashion_train_val.prototxt";
    int B = argc > 2 ? atoi(argv[2]) : 48, S = argc > 3 ? atoi(argv[3]) : 2;
    int steps = argc > 4 ? atoi(argv[4]) : 3, b = B / S;
    dlt_cfg *ra, *rb;
    dlt_net *A, *Bn;
    if (dlt_pt_parse_file(file, &ra) || dlt_pt_parse_file(file, &rb))
        return 1;
    tn_set_batch(ra, B), tn_set_batch(rb, b);
    if (dlt_net_create(ra, DLT_PHASE_TRAIN, 1, 28, 28, 7, NULL, &A) ||
        dlt_net_create(rb, DLT_PHASE_TRAIN, 1, 28, 28, 7, NULL, &Bn))
        return 1;
    size_t np = dlt_net_param_count(A);
    memcpy(dlt_net_params(Bn), dlt_net_params(A), np * sizeof(float));
    dlt_layer *da = dlt_net_data_layer(A), *db = dlt_net_data_layer(Bn);
    size_t in = da->top[0]->count / B;
    float *gsum = calloc(np, sizeof(float));
    static const char *blobs[] = {"conv1", "pool1", "conv2", "pool2", "ip1", "ip2", NULL};
    float *saved[16][2] = {{0}};
    dlt_rng r;
    dlt_rng_seed(&r, 11);
    for (int step = 0; step < steps; step++) {
        /* Fashion-MNIST-like: many exact zeros, the rest k/256. */
        for (size_t i = 0; i < da->top[0]->count; i++) {
            double u = dlt_rng_uniform(&r);
            da->top[0]->data[i] = u < 0.5 ? 0.0f : (float)(int)(256 * dlt_rng_uniform(&r)) / 256.0f;
        }
        for (int i = 0; i < B; i++)
            da->top[1]->data[i] = (float)dlt_rng_below(&r, 10);
        dlt_net_zero_grads(A);
        dlt_net_forward(A);
        dlt_net_backward(A);
        memset(gsum, 0, np * sizeof(float));
        double fw[16] = {0}, bw[16] = {0};
        size_t fwn[16] = {0}, bwn[16] = {0};
        for (int s = 0; s < S; s++) {
            memcpy(db->top[0]->data, da->top[0]->data + (size_t)s * b * in, (size_t)b * in * sizeof(float));
            memcpy(db->top[1]->data, da->top[1]->data + (size_t)s * b, (size_t)b * sizeof(float));
            dlt_net_zero_grads(Bn);
            dlt_net_forward(Bn);
            dlt_net_backward(Bn);
            const float *g = dlt_net_grads(Bn);
            for (size_t i = 0; i < np; i++)
                gsum[i] += g[i];
            for (int k = 0; blobs[k]; k++) {
                dlt_tensor *ta = dlt_net_blob(A, blobs[k]), *tb = dlt_net_blob(Bn, blobs[k]);
                size_t per = tb->count / b, nd;
                double m = maxrel(ta->data + (size_t)s * b * per, tb->data, tb->count, &nd);
                if (m > fw[k])
                    fw[k] = m;
                fwn[k] += nd;
                /* The loss scales by 1/batch: the split diff is S times the whole one's. */
                if (!saved[k][0])
                    saved[k][0] = malloc(tb->count * sizeof(float));
                for (size_t i = 0; i < tb->count; i++)
                    saved[k][0][i] = tb->diff[i] / (float)S;
                m = maxrel(ta->diff + (size_t)s * b * per, saved[k][0], tb->count, &nd);
                if (m > bw[k])
                    bw[k] = m;
                bwn[k] += nd;
            }
        }
        printf("step %d  (batch %d vs %d x %d)\n", step, B, S, b);
        for (int k = 0; blobs[k]; k++)
            printf("  blob %-6s data maxrel %.3g (%zu differ)   diff maxrel %.3g (%zu differ)\n", blobs[k],
                   fw[k], fwn[k], bw[k], bwn[k]);
        const float *ga = dlt_net_grads(A);
        for (int li = 0; li < dlt_net_num_layers(A); li++) {
            dlt_layer *l = dlt_net_layer(A, li);
            for (int p = 0; p < l->nparam; p++) {
                size_t off = (size_t)(l->param[p].diff - ga), n = l->param[p].count, nd;
                float *avg = malloc(n * sizeof(float));
                for (size_t i = 0; i < n; i++)
                    avg[i] = gsum[off + i] / (float)S;
                double m = maxrel(ga + off, avg, n, &nd);
                printf("  param %s/%d grad maxrel %.3g (%zu of %zu differ)\n", l->name, p, m, nd, n);
                free(avg);
            }
        }
        float *w = dlt_net_params(A);
        for (size_t i = 0; i < np; i++)
            w[i] -= 0.05f * ga[i];
        memcpy(dlt_net_params(Bn), w, np * sizeof(float));
    }
    return 0;
}
