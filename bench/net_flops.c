/* net_flops.c - the GEMM work of a net, for GFLOP/s and %-of-peak figures. */
#include <string.h>
#include <time.h>

#include "bench/bench_util.h"

static clockid_t bench_clock = CLOCK_MONOTONIC;

void dlt_bench_use_cpu_clock(void) { bench_clock = CLOCK_PROCESS_CPUTIME_ID; }

double dlt_bench_now(void)
{
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double dlt_bench_net_flops(const dlt_net *net, int train)
{
    double total = 0;
    for (int i = 0; i < dlt_net_num_layers(net); i++) {
        const dlt_layer *l = dlt_net_layer(net, i);
        const char *t = l->ops->type;
        if (strcmp(t, "Convolution") != 0 && strcmp(t, "InnerProduct") != 0)
            continue;
        /* Each weight meets every output position of every sample once. */
        const dlt_tensor *y = l->top[0];
        double fwd = 2.0 * (double)l->param[0].count * (double)(y->count / (size_t)y->c);
        total += fwd;
        if (train)
            total += fwd * (l->propagate_down[0] ? 2 : 1);
    }
    return total;
}
