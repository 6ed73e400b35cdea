/* net_flops.c - the GEMM work and the least memory traffic of a net's layers,
 * for GFLOP/s, %-of-peak and roofline figures. */
#include <string.h>
#include <time.h>

#include "bench/bench_util.h"

static clockid_t bench_clock = CLOCK_MONOTONIC;

void dlt_bench_use_cpu_clock(void) { bench_clock = CLOCK_PROCESS_CPUTIME_ID; }

int dlt_bench_cpu_clock(void) { return bench_clock == CLOCK_PROCESS_CPUTIME_ID; }

double dlt_bench_now(void)
{
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void dlt_bench_layer_flops(const dlt_layer *l, double *fwd, double *bwd)
{
    *fwd = *bwd = 0;
    const char *t = l->ops->type;
    if (strcmp(t, "Convolution") != 0 && strcmp(t, "InnerProduct") != 0)
        return;
    /* Each weight meets every output position of every sample once. */
    const dlt_tensor *y = l->top[0];
    *fwd = 2.0 * (double)l->param[0].count * (double)(y->count / (size_t)y->c);
    *bwd = *fwd * (l->propagate_down[0] ? 2 : 1);
}

/* Layers whose backward needs no activation, only the top gradient. */
static int backward_reads_data(const char *type)
{
    static const char *const none[] = {"Eltwise", "Concat", "Split", "Flatten", "Dropout",
                                       "InnerProduct", NULL};
    for (int i = 0; none[i]; i++)
        if (!strcmp(type, none[i]))
            return 0;
    return 1;
}

void dlt_bench_layer_bytes(const dlt_layer *l, double *fwd, double *bwd)
{
    double in = 0, out = 0, dx = 0;
    for (int i = 0; i < l->nbottom; i++) {
        in += (double)l->bottom[i]->count;
        if (l->propagate_down[i])
            dx += (double)l->bottom[i]->count;
    }
    for (int i = 0; i < l->ntop; i++)
        out += (double)l->top[i]->count;
    *fwd = 4.0 * (in + out);
    *bwd = dx > 0 ? 4.0 * (out + dx + (backward_reads_data(l->ops->type) ? in : 0)) : 0;
}

double dlt_bench_net_flops(const dlt_net *net, int train)
{
    double total = 0;
    for (int i = 0; i < dlt_net_num_layers(net); i++) {
        double f, b;
        dlt_bench_layer_flops(dlt_net_layer(net, i), &f, &b);
        total += f + (train ? b : 0);
    }
    return total;
}
