/* export_forward - the reference side of tests/test_export_onnx.sh: the TEST
 * net of a prototxt with random parameters (fillers, then random biases,
 * BatchNorm statistics and Scale factors, so every parameter matters),
 * saved as a checkpoint, and its forward on a random batch, softmaxed in
 * double: what an ONNX runtime must reproduce from the exported model.
 *
 * usage: export_forward NET.prototxt C H W SEED OUTDIR
 * writes OUTDIR/ckpt.h5, OUTDIR/input.f32 (B, c, h, w), OUTDIR/scores.f32
 * and OUTDIR/prob.f32 (B, K), and OUTDIR/shape.txt "B c h w K". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/ckpt.h"
#include "dltrain/error.h"
#include "dltrain/layer.h"
#include "dltrain/net.h"
#include "dltrain/prototxt.h"

static void uniform(dlt_rng *r, float *v, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        v[i] = lo + (hi - lo) * (float)dlt_rng_uniform(r);
}

static int write_f32(const char *dir, const char *name, const float *v, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(v, sizeof *v, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        return -1;
    }
    return 0;
}

/* The class scores: the first bottom of the last loss or Softmax layer. */
static const dlt_tensor *scores_of(dlt_net *net, int *softmax_axis)
{
    for (int i = dlt_net_num_layers(net) - 1; i >= 0; i--) {
        const dlt_layer *l = dlt_net_layer(net, i);
        if (strcmp(l->ops->type, "SoftmaxWithLoss") == 0 || strcmp(l->ops->type, "Softmax") == 0) {
            *softmax_axis = 1;
            return l->bottom[0];
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: export_forward NET.prototxt C H W SEED OUTDIR\n");
        return 2;
    }
    dlt_cfg *root;
    dlt_net *net;
    if (dlt_pt_parse_file(argv[1], &root) < 0 ||
        dlt_net_create(root, DLT_PHASE_TEST, atoi(argv[2]), atoi(argv[3]), atoi(argv[4]),
                       strtoull(argv[5], NULL, 10), NULL, &net) < 0)
        return 1;
    dlt_rng r;
    dlt_rng_seed(&r, strtoull(argv[5], NULL, 10) + 7);
    for (int i = 0; i < dlt_net_num_layers(net); i++) {
        dlt_layer *l = dlt_net_layer(net, i);
        if (strcmp(l->ops->type, "BatchNorm") == 0) {
            const size_t C = l->param[0].count;
            const float factor = 2.0f; /* stored sums are statistics times the factor */
            uniform(&r, l->param[0].data, C, -0.3f * factor, 0.3f * factor);
            uniform(&r, l->param[1].data, C, 0.5f * factor, 1.5f * factor);
            l->param[2].data[0] = factor;
        } else if (strcmp(l->ops->type, "Scale") == 0) {
            uniform(&r, l->param[0].data, l->param[0].count, 0.5f, 1.5f);
            if (l->nparam > 1)
                uniform(&r, l->param[1].data, l->param[1].count, -0.2f, 0.2f);
        } else if (l->nparam > 1) { /* biases: Caffe's nets start them at 0 */
            uniform(&r, l->param[1].data, l->param[1].count, -0.1f, 0.1f);
        }
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/ckpt.h5", argv[6]);
    dlt_ckpt_meta meta = {.iter = 0, .world_size = 1, .net_text = "", .solver_text = ""};
    if (dlt_ckpt_save(path, net, NULL, &meta) < 0)
        return 1;

    dlt_batch in;
    if (dlt_net_input(net, &in) < 0)
        return 1;
    const size_t n_in = (size_t)in.n * in.c * in.h * in.w;
    uniform(&r, in.data, n_in, -1.0f, 1.0f);
    for (int k = 0; in.label && k < in.n; k++)
        in.label[k] = 0;
    dlt_net_forward(net);
    int axis;
    const dlt_tensor *s = scores_of(net, &axis);
    if (!s) {
        fprintf(stderr, "%s: no loss or Softmax layer\n", argv[1]);
        return 1;
    }
    const int B = s->n;
    const size_t K = s->count / (size_t)B;
    float *prob = malloc(s->count * sizeof *prob);
    for (int b = 0; b < B; b++) { /* softmax over the class axis, in double */
        const float *x = s->data + (size_t)b * K;
        double mx = x[0], sum = 0;
        for (size_t k = 1; k < K; k++)
            mx = x[k] > mx ? x[k] : mx;
        for (size_t k = 0; k < K; k++)
            sum += exp((double)x[k] - mx);
        for (size_t k = 0; k < K; k++)
            prob[(size_t)b * K + k] = (float)(exp((double)x[k] - mx) / sum);
    }
    int st = write_f32(argv[6], "input.f32", in.data, n_in);
    st |= write_f32(argv[6], "prob.f32", prob, s->count);
    st |= write_f32(argv[6], "scores.f32", s->data, s->count);
    snprintf(path, sizeof path, "%s/shape.txt", argv[6]);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%d %d %d %d %zu\n", in.n, in.c, in.h, in.w, K);
        fclose(f);
    }
    free(prob);
    dlt_net_free(net);
    dlt_cfg_free(root);
    return st == 0 && f ? 0 : 1;
}
