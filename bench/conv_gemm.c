/* conv_gemm.c - each convolution's GFLOP/s next to OpenBLAS sgemm's on the
 * same GEMM shapes: how much the layer loses to im2col, chunking and the
 * non-GEMM loops around its GEMMs. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_util.h"
#include "dltrain/error.h"

typedef struct gemm_shape {
    int groups, kg, rg, cols; /* per group: (kg x rg) weights, cols = N*Ho*Wo */
    int dx;                   /* the layer computes the input gradient */
} gemm_shape;

typedef struct gemm_bufs {
    float *w, *col, *y, *dw;
} gemm_bufs;

/* One call of FN(ARG), repeated ITERS times or until MIN_TIME; s per call. */
static double time_calls(void (*fn)(void *), void *arg, double min_time, int iters)
{
    fn(arg); /* warm: page faults, OpenBLAS buffers */
    long n = 0;
    double t0 = dlt_bench_now(), dt;
    do {
        fn(arg);
        n++;
        dt = dlt_bench_now() - t0;
    } while (iters ? n < iters : dt < min_time);
    return dt / n;
}

static void layer_forward(void *l) { ((dlt_layer *)l)->ops->forward(l); }
static void layer_backward(void *l) { ((dlt_layer *)l)->ops->backward(l); }

typedef struct gemm_job {
    const gemm_shape *s;
    gemm_bufs *b;
} gemm_job;

static void sgemm_forward(void *arg)
{
    const gemm_job *j = arg;
    const gemm_shape *s = j->s;
    for (int g = 0; g < s->groups; g++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->kg, s->cols, s->rg, 1.0f,
                    j->b->w + (size_t)g * s->kg * s->rg, s->rg,
                    j->b->col + (size_t)g * s->rg * s->cols, s->cols, 0.0f,
                    j->b->y + (size_t)g * s->kg * s->cols, s->cols);
}

static void sgemm_backward(void *arg)
{
    const gemm_job *j = arg;
    const gemm_shape *s = j->s;
    for (int g = 0; g < s->groups; g++) {
        const float *dy = j->b->y + (size_t)g * s->kg * s->cols;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->kg, s->rg, s->cols, 1.0f, dy,
                    s->cols, j->b->col + (size_t)g * s->rg * s->cols, s->cols, 0.0f,
                    j->b->dw + (size_t)g * s->kg * s->rg, s->rg);
        if (s->dx)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s->rg, s->cols, s->kg, 1.0f,
                        j->b->w + (size_t)g * s->kg * s->rg, s->rg, dy, s->cols, 0.0f,
                        j->b->col + (size_t)g * s->rg * s->cols, s->cols);
    }
}

static void fill(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
}

void dlt_bench_conv_gemm(dlt_net *net, double min_time, int iters)
{
    double t_conv_f = 0, t_gemm_f = 0, t_conv_b = 0, t_gemm_b = 0, fl_f = 0, fl_b = 0;
    printf("#%-26s %5s %7s %5s %3s %9s %9s %6s %9s %9s %6s\n", "conv layer", "M", "N", "K", "G",
           "fwd conv", "fwd gemm", "fwd", "bwd conv", "bwd gemm", "bwd");
    printf("#%-26s %5s %7s %5s %3s %9s %9s %6s %9s %9s %6s\n", "", "K/G", "B*Ho*Wo", "C/G*k*k",
           "", "(GF/s)", "(GF/s)", "(%)", "(GF/s)", "(GF/s)", "(%)");
    for (int i = 0; i < dlt_net_num_layers(net); i++) {
        dlt_layer *l = dlt_net_layer(net, i);
        if (strcmp(l->ops->type, "Convolution") != 0)
            continue;
        const dlt_tensor *w = &l->param[0], *x = l->bottom[0], *y = l->top[0];
        gemm_shape s = {x->c / w->c, w->n / (x->c / w->c), w->c * w->h * w->w,
                        y->n * y->h * y->w, l->propagate_down[0]};
        size_t wn = (size_t)w->count, cn = (size_t)s.groups * s.rg * s.cols;
        gemm_bufs b = {dlt_malloc(wn * 4), dlt_malloc(cn * 4),
                       dlt_malloc((size_t)w->n * s.cols * 4), dlt_malloc(wn * 4)};
        fill(b.w, wn), fill(b.col, cn), fill(b.y, (size_t)w->n * s.cols);
        gemm_job job = {&s, &b};
        double f = 2.0 * wn * s.cols, fb = f * (s.dx ? 2 : 1);
        double cf = time_calls(layer_forward, l, min_time, iters);
        double gf = time_calls(sgemm_forward, &job, min_time, iters);
        double cb = time_calls(layer_backward, l, min_time, iters);
        double gb = time_calls(sgemm_backward, &job, min_time, iters);
        free(b.w), free(b.col), free(b.y), free(b.dw);
        printf(" %-26.26s %5d %7d %5d %3d %9.1f %9.1f %6.0f %9.1f %9.1f %6.0f\n", l->name, s.kg,
               s.cols, s.rg, s.groups, f / cf * 1e-9, f / gf * 1e-9, 100 * gf / cf,
               fb / cb * 1e-9, fb / gb * 1e-9, 100 * gb / cb);
        t_conv_f += cf, t_gemm_f += gf, t_conv_b += cb, t_gemm_b += gb, fl_f += f, fl_b += fb;
    }
    printf(" %-26s %5s %7s %5s %3s %9.1f %9.1f %6.0f %9.1f %9.1f %6.0f\n", "all (time-weighted)", "",
           "", "", "", fl_f / t_conv_f * 1e-9, fl_f / t_gemm_f * 1e-9, 100 * t_gemm_f / t_conv_f,
           fl_b / t_conv_b * 1e-9, fl_b / t_gemm_b * 1e-9, 100 * t_gemm_b / t_conv_b);
    printf("# conv fwd+bwd reaches %.0f%% of sgemm's GFLOP/s on the same shapes\n",
           100 * (t_gemm_f + t_gemm_b) / (t_conv_f + t_conv_b));
}
