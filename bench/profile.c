/* profile.c - bench_net --profile: each layer's forward/backward time, then
 * where the step goes by layer type and how far each type is from its
 * roofline (FMA peak for the convolutions, triad bandwidth for the rest). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_util.h"
#include "bench/peak.h"
#include "dltrain/error.h"

#define MAX_TYPES 64

/* One row of the per-type table: time and work summed over its layers. */
typedef struct type_row {
    const char *type;
    double ms, flop, bytes;
} type_row;

/* Same work as bench_net's training step, layer by layer. */
static void profile_step(dlt_net *net, void (*update)(void *), void *ctx, double *fwd,
                         double *bwd)
{
    int n = dlt_net_num_layers(net);
    dlt_net_zero_grads(net);
    for (int i = 0; i < n; i++) {
        dlt_layer *l = dlt_net_layer(net, i);
        if (dlt_net_layer_fused(net, i)) /* done by an earlier layer's forward */
            continue;
        double t = dlt_bench_now();
        l->ops->forward(l);
        fwd[i] += dlt_bench_now() - t;
    }
    for (int i = n - 1; i >= 0; i--) {
        double t = dlt_bench_now();
        dlt_net_backward_layer(net, i);
        bwd[i] += dlt_bench_now() - t;
    }
    double t = dlt_bench_now();
    update(ctx);
    fwd[n] += dlt_bench_now() - t; /* the update, reported as its own row */
}

static type_row *row_of(type_row *rows, int *nrows, const char *type)
{
    for (int i = 0; i < *nrows; i++)
        if (!strcmp(rows[i].type, type))
            return &rows[i];
    if (*nrows == MAX_TYPES)
        return NULL;
    rows[*nrows] = (type_row){.type = type};
    return &rows[(*nrows)++];
}

static int by_time(const void *a, const void *b)
{
    double d = ((const type_row *)b)->ms - ((const type_row *)a)->ms;
    return (d > 0) - (d < 0);
}

/* The per-type table. The roofline time of a type is the larger of its
 * FLOPs at the FMA peak and its bytes at the triad bandwidth; "bound" says
 * which, "x roof" is measured / roofline (1.0 = on the roofline). */
static void print_types(type_row *rows, int nrows, double step_ms, int threads)
{
    const char *isa;
    clockid_t clk = dlt_bench_cpu_clock() ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC;
    double peak = dlt_bench_fma_peak(threads, clk, &isa), bw = dlt_bench_triad_gbs(threads, clk);
    double flop = 0;
    qsort(rows, (size_t)nrows, sizeof *rows, by_time);
    printf("\n#  %-16s %6s %10s %9s %9s %9s %8s %10s %7s %-7s\n", "type", "share", "time",
           "GFLOP", "GB", "GFLOP/s", "GB/s", "roofline", "x roof", "bound");
    printf("#  %-16s %6s %10s %9s %9s %9s %8s %10s %7s %-7s\n", "", "(%)", "(ms)", "", "", "",
           "", "(ms)", "", "");
    for (int i = 0; i < nrows; i++) {
        const type_row *r = &rows[i];
        double tc = r->flop / (peak * 1e9) * 1e3, tm = r->bytes / (bw * 1e9) * 1e3;
        double roof = tc > tm ? tc : tm, s = r->ms * 1e-3;
        flop += r->flop;
        printf("   %-16s %6.1f %10.3f %9.3f %9.3f %9.1f %8.1f %10.3f %7.2f %-7s\n", r->type,
               100 * r->ms / step_ms, r->ms, r->flop * 1e-9, r->bytes * 1e-9,
               s > 0 ? r->flop / s * 1e-9 : 0, s > 0 ? r->bytes / s * 1e-9 : 0, roof,
               roof > 0 ? r->ms / roof : 0, roof <= 0 ? "-" : tc > tm ? "compute" : "memory");
    }
    printf("# step %.3f ms: %.1f GFLOP/s = %.1f%% of the FP32 FMA peak (%s, %d thread%s: %.1f "
           "GFLOP/s); triad %.1f GB/s; %s time\n",
           step_ms, flop / (step_ms * 1e-3) * 1e-9, 100 * flop / (step_ms * 1e-3) * 1e-9 / peak,
           isa, threads, threads == 1 ? "" : "s", peak, bw,
           dlt_bench_cpu_clock() ? "process CPU" : "wall");
}

void dlt_bench_profile(dlt_net *net, void (*update)(void *), void *ctx, int reps, int threads,
                       int json)
{
    int n = dlt_net_num_layers(net);
    double *fwd = dlt_calloc((size_t)n + 1, sizeof(double));
    double *bwd = dlt_calloc((size_t)n + 1, sizeof(double));
    for (int r = 0; r < reps; r++)
        profile_step(net, update, ctx, fwd, bwd);
    double scale = 1e3 / reps, total = 0;
    type_row rows[MAX_TYPES];
    int nrows = 0;
    printf("%s#  %-28s %-16s %10s %10s %10s\n", json ? "" : "\n", "layer", "type", "fwd", "bwd",
           "total");
    printf("#  %-28s %-16s %10s %10s %10s\n", "", "", "(ms)", "(ms)", "(ms)");
    for (int i = 0; i <= n; i++) {
        const dlt_layer *l = i < n ? dlt_net_layer(net, i) : NULL;
        const char *name = l ? l->name : "sgd";
        const char *type = l ? l->ops->type : "update";
        double f = fwd[i] * scale, g = bwd[i] * scale;
        total += f + g;
        printf("   %-28s %-16s %10.3f %10.3f %10.3f\n", name, type, f, g, f + g);
        type_row *row = row_of(rows, &nrows, type);
        if (!row)
            continue;
        double ff = 0, fb = 0, bf = 0, bb = 0;
        if (l) {
            dlt_bench_layer_flops(l, &ff, &fb);
            dlt_bench_layer_bytes(l, &bf, &bb);
        } else { /* SGD with momentum: read w, dw, history; write history, w */
            bf = 5.0 * 4.0 * (double)dlt_net_param_count(net);
        }
        row->ms += f + g;
        row->flop += ff + fb;
        row->bytes += bf + bb;
    }
    printf("   %-28s %-16s %10s %10s %10.3f\n", "step", "", "", "", total);
    print_types(rows, nrows, total, threads);
    free(fwd);
    free(bwd);
}
