/* bench_net.c - images/s of one training step (zero grads, forward,
 * backward, SGD update) and of inference (TEST net forward) of any net
 * prototxt on random data, single process, for bench/net_vs_pytorch.py.
 * --profile adds each layer's forward/backward time; --conv-gemm times each
 * convolution against a bare sgemm of the same shape (bench/conv_gemm.c).
 * Exit status: 0 ok, 1 error, 2 usage. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
#include <cblas.h>
#endif

#include "dltrain/cpu.h"
#include "dltrain/device.h"
#include "dltrain/error.h"
#include "dltrain/layer.h"
#include "dltrain/net.h"
#include "dltrain/prototxt.h"
#include "dltrain/solver.h"
#include "bench/bench_util.h"

#ifndef DLT_TOP_SRCDIR
#define DLT_TOP_SRCDIR "."
#endif

typedef struct bench_options {
    char net_path[4096], solver_path[4096];
    int batch, threads, warmup, iters, json, profile, conv_gemm;
    int gpu;          /* --device gpu: the nets and the solver on GPU 0 */
    int input_c, input_h, input_w; /* 0: from the net's header comment */
    double min_time;  /* seconds per measurement when iters == 0 */
    dlt_compute_ctx compute; /* the nets' settings: --conv-backend; cuDNN as below */
} bench_options;

typedef struct bench {
    dlt_cfg *net_tree, *solver_tree;
    dlt_solver_config cfg;
    dlt_net *train, *test;
    float *history;
    dlt_solver *solver; /* --device gpu: the device solver (SGD as dlt_sgd_update) */
    long iter;        /* SGD iterations done (for the lr policy) */
    float loss;
    int pool;         /* random batches in the pool */
    float *pool_x;    /* (pool, batch, C, H, W) random images */
    float *pool_y;    /* (pool, batch) random labels */
} bench;

/* Training cycles through random batches, as torch_net.py does: on one
 * fixed batch the loss collapses to ~0 within a few hundred steps and the
 * gradients turn denormal, which times something no real run does. Up to
 * 32 batches, at most POOL_BYTES of images (at least 2 batches): the same
 * rule as torch_net.py, so both processes hold the same data. */
#define POOL_MAX 32
#define POOL_BYTES (32u << 20)

typedef struct measure {
    long iters;
    double seconds;
} measure;

#define now dlt_bench_now

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_net [options] [NET.prototxt]\n"
            "Times a training step and inference of NET on random data.\n"
            "  NET.prototxt    default: nets/lenet_fashion_train_val.prototxt\n"
            "  --solver FILE   SGD settings (default: NET's name with _solver for _train_val)\n"
            "  --batch N       batch size of the TRAIN and TEST nets (default 64)\n"
            "  --input CxHxW   sample shape (default: the first CxHxW in NET's header\n"
            "                  comment, else 1x28x28)\n"
            "  --threads N     OpenBLAS and oneDNN (OpenMP) threads (default 2)\n"
            "  --conv-backend auto|im2col|dnnl  CPU convolutions (default: DLT_CONV_BACKEND,\n"
            "                  else auto = oneDNN if built in, else im2col)\n"
            "  --device gpu    run on GPU 0 (CUDA build): the nets, their update and the\n"
            "                  timing include every kernel (each step ends synchronized)\n"
            "  --precision P   fp32 (default), tf32, amp or bf16 as dltrain-mpi's option:\n"
            "                  amp/bf16 round activations and gradients to 16 bits around the\n"
            "                  FP32 kernels (no loss scale here: the step's arithmetic only)\n"
            "  --warmup N      untimed iterations first (default 10)\n"
            "  --iters N       timed iterations (default 0: as many as fit --min-time)\n"
            "  --min-time S    seconds per measurement (default 3)\n"
            "  --profile       also print per-layer forward/backward ms\n"
            "  --cpu-clock     time in process CPU seconds, not wall seconds (a loaded\n"
            "                  machine; use with --threads 1)\n"
            "  --conv-gemm     only time each Convolution vs cblas_sgemm of its shape\n"
            "  --json          print the results as one JSON line\n");
}

static int parse_int(const char *s, int min, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < min || v > 1 << 20)
        return DLT_ERR_ARG;
    *out = (int)v;
    return 0;
}

static void default_path(char *buf, size_t size, const char *file)
{
    const char *srcdir = getenv("srcdir");
    snprintf(buf, size, "%s/nets/%s", srcdir ? srcdir : DLT_TOP_SRCDIR, file);
}

/* nets/X_train_val.prototxt -> nets/X_solver.prototxt (Caffe's naming). */
static void solver_for(const char *net, char *buf, size_t size)
{
    const char *tv = strstr(net, "_train_val.prototxt");
    if (!tv) {
        snprintf(buf, size, "%s", net); /* the error then names the net file */
        return;
    }
    snprintf(buf, size, "%.*s_solver.prototxt", (int)(tv - net), net);
}

static int parse_options(int argc, char **argv, bench_options *o)
{
    static const struct option longopts[] = {
        {"solver", required_argument, 0, 's'}, {"batch", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 't'}, {"warmup", required_argument, 0, 'w'},
        {"iters", required_argument, 0, 'i'}, {"min-time", required_argument, 0, 'm'},
        {"profile", no_argument, 0, 'p'}, {"json", no_argument, 0, 'j'},
        {"input", required_argument, 0, 'I'}, {"conv-gemm", no_argument, 0, 'g'},
        {"device", required_argument, 0, 'd'}, {"conv-backend", required_argument, 0, 'c'},
        {"cpu-clock", no_argument, 0, 'C'}, {"help", no_argument, 0, 'h'},
        {"precision", required_argument, 0, 'P'}, {0, 0, 0, 0}};
    *o = (bench_options){.batch = 64, .threads = 2, .warmup = 10, .min_time = 3.0};
    default_path(o->net_path, sizeof o->net_path, "lenet_fashion_train_val.prototxt");
    dlt_compute_ctx_init(&o->compute);
    o->compute.cudnn_workspace_limit = (size_t)1 << 30; /* speed first */
    int c, st = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's': snprintf(o->solver_path, sizeof o->solver_path, "%s", optarg); break;
        case 'b': st |= parse_int(optarg, 1, &o->batch); break;
        case 't': st |= parse_int(optarg, 1, &o->threads); break;
        case 'w': st |= parse_int(optarg, 0, &o->warmup); break;
        case 'i': st |= parse_int(optarg, 0, &o->iters); break;
        case 'm': o->min_time = atof(optarg); break;
        case 'p': o->profile = 1; break;
        case 'C': dlt_bench_use_cpu_clock(); break;
        case 'g': o->conv_gemm = 1; break;
        case 'I':
            if (sscanf(optarg, "%dx%dx%d", &o->input_c, &o->input_h, &o->input_w) != 3 ||
                o->input_c < 1 || o->input_h < 1 || o->input_w < 1)
                st = DLT_ERR_ARG;
            break;
        case 'j': o->json = 1; break;
        case 'P': {
            dlt_precision p;
            if (dlt_precision_parse(optarg, &p) < 0)
                st = DLT_ERR_ARG;
            else
                o->compute.precision = p;
            break;
        }
        case 'c': {
            dlt_conv_backend cb;
            if (dlt_conv_backend_parse(optarg, &cb) < 0)
                st = DLT_ERR_ARG;
            else
                o->compute.conv_backend = cb;
            break;
        }
        case 'd':
            if (strcmp(optarg, "gpu") && strcmp(optarg, "cpu"))
                st = DLT_ERR_ARG;
            o->gpu = !strcmp(optarg, "gpu");
            break;
        case 'h': usage(stdout); exit(DLT_EXIT_OK);
        default: return DLT_ERR_ARG;
        }
    }
    if (optind < argc)
        snprintf(o->net_path, sizeof o->net_path, "%s", argv[optind++]);
    if (st || optind != argc || !(o->min_time >= 0))
        DLT_FAIL(DLT_ERR_ARG, "bad command line (see --help)");
    if (!o->solver_path[0])
        solver_for(o->net_path, o->solver_path, sizeof o->solver_path);
    return 0;
}

static void set_threads(int n)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%d", n);
    setenv("OPENBLAS_NUM_THREADS", buf, 1); /* read at load time: the runner sets it too */
    dlt_cpu_set_threads(n);
}

static int read_text(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "cannot open '%s'", path);
    size_t cap = 1 << 16, len = 0, got;
    char *text = dlt_malloc(cap);
    while ((got = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap)
            text = dlt_realloc(text, cap *= 2);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        DLT_FAIL(DLT_ERR_IO, "cannot read '%s'", path);
    }
    text[len] = '\0';
    *out = text;
    return 0;
}

/* The first "CxHxW" in the comment lines that open TEXT (nets/ headers
 * say e.g. "(3x32x32, 10 classes)"); 0 if there is none. */
static int header_shape(const char *text, int *c, int *h, int *w)
{
    const char *p = text;
    while (*p == '#') {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        for (size_t i = 0; i < len; i++)
            if (isdigit((unsigned char)p[i]) && (i == 0 || !isdigit((unsigned char)p[i - 1])) &&
                sscanf(p + i, "%dx%dx%d", c, h, w) == 3)
                return 1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

/* Copy of TEXT with the value of every `batch_size:` replaced by BATCH. */
static char *with_batch(const char *text, int batch)
{
    static const char key[] = "batch_size:";
    char *out = dlt_malloc(strlen(text) * 2 + 64), *o = out;
    const char *p = text, *hit;
    while ((hit = strstr(p, key)) != NULL) {
        hit += sizeof key - 1;
        while (*hit == ' ' || *hit == '\t')
            hit++;
        memcpy(o, p, (size_t)(hit - p));
        o += hit - p;
        o += sprintf(o, "%d", batch);
        while (*hit >= '0' && *hit <= '9')
            hit++;
        p = hit;
    }
    strcpy(o, p);
    return out;
}

/* The lines of a solver prototxt that set the step's work: base_lr,
 * momentum, weight_decay (and the required net, max_iter). The bench runs
 * at a fixed rate, so the lr policy (poly, multistep... in nets/) does not
 * matter to the timing. */
static char *sgd_lines(const char *text)
{
    static const char *const keep[] = {"net", "max_iter", "base_lr", "momentum", "weight_decay", NULL};
    char *out = dlt_malloc(strlen(text) + 1), *o = out;
    for (const char *p = text; *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p + 1) : strlen(p);
        const char *q = p + strspn(p, " \t");
        for (int k = 0; keep[k]; k++) {
            size_t kl = strlen(keep[k]);
            if (!strncmp(q, keep[k], kl) && (q[kl] == ':' || q[kl] == ' ')) {
                memcpy(o, p, len);
                o += len;
                if (!end)
                    *o++ = '\n';
                break;
            }
        }
        p += len;
    }
    *o = '\0';
    return out;
}

static void fill_random(float *x, size_t nx, float *y, size_t ny, uint64_t seed)
{
    dlt_rng rng;
    dlt_rng_seed(&rng, seed);
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)dlt_rng_uniform(&rng);
    for (size_t i = 0; i < ny; i++)
        y[i] = (float)dlt_rng_below(&rng, 10);
}

/* Copy random batch I of the pool into the TRAIN net's data tops. */
static void load_batch(bench *b, long i)
{
    dlt_layer *d = dlt_net_data_layer(b->train);
    size_t nx = d->top[0]->count, ny = d->top[1]->count;
    memcpy(d->top[0]->data, b->pool_x + (size_t)(i % b->pool) * nx, nx * sizeof(float));
    memcpy(d->top[1]->data, b->pool_y + (size_t)(i % b->pool) * ny, ny * sizeof(float));
}

static int bench_open(bench *b, bench_options *o)
{
    char *text, *batched;
    DLT_TRY(read_text(o->net_path, &text));
    if (!o->input_c && !header_shape(text, &o->input_c, &o->input_h, &o->input_w))
        o->input_c = 1, o->input_h = 28, o->input_w = 28;
    batched = with_batch(text, o->batch);
    free(text);
    int st = dlt_pt_parse_string(batched, o->net_path, &b->net_tree);
    free(batched);
    DLT_TRY(st);
    DLT_TRY(read_text(o->solver_path, &text));
    char *sgd = sgd_lines(text);
    free(text);
    st = dlt_pt_parse_string(sgd, o->solver_path, &b->solver_tree);
    free(sgd);
    DLT_TRY(st);
    DLT_TRY(dlt_solver_config_parse(b->solver_tree, &b->cfg));
    DLT_TRY(dlt_net_create(b->net_tree, DLT_PHASE_TRAIN, o->input_c, o->input_h, o->input_w, 1, &o->compute,
                           &b->train));
    DLT_TRY(dlt_net_create(b->net_tree, DLT_PHASE_TEST, o->input_c, o->input_h, o->input_w, 1, &o->compute,
                           &b->test));
    DLT_TRY(dlt_net_share_params(b->test, b->train));
    if (!o->gpu) /* as the trainer does */
        dlt_net_share_diffs(b->train);
    dlt_net_share_blobs(b->test, b->train); /* as the training loop does */
    if (!dlt_net_data_layer(b->train) || !dlt_net_data_layer(b->test))
        DLT_FAIL(DLT_ERR_FORMAT, "%s: the TRAIN and TEST nets need a data layer", o->net_path);
    dlt_layer *dt = dlt_net_data_layer(b->train), *dv = dlt_net_data_layer(b->test);
    size_t nx = dt->top[0]->count, ny = dt->top[1]->count;
    size_t fit = POOL_BYTES / (nx * sizeof(float));
    b->pool = fit > POOL_MAX ? POOL_MAX : fit < 2 ? 2 : (int)fit;
    b->pool_x = dlt_malloc(b->pool * nx * sizeof(float));
    b->pool_y = dlt_malloc(b->pool * ny * sizeof(float));
    fill_random(b->pool_x, b->pool * nx, b->pool_y, b->pool * ny, 2);
    load_batch(b, 0);
    fill_random(dv->top[0]->data, dv->top[0]->count, dv->top[1]->data, dv->top[1]->count, 3);
    b->history = dlt_calloc(dlt_net_param_count(b->train), sizeof(float));
    if (o->gpu) {
        dlt_device_kind got;
        DLT_TRY(dlt_device_select(DLT_DEVICE_GPU, 0, 1, &got));
        DLT_TRY(dlt_net_to_device(b->train, DLT_DEVICE_GPU));
        DLT_TRY(dlt_net_to_device(b->test, DLT_DEVICE_GPU));
        b->solver = dlt_solver_create(&b->cfg, dlt_net_param_count(b->train)); /* follows the net */
    }
    return 0;
}

static void bench_close(bench *b)
{
    dlt_net_free(b->test);
    dlt_net_free(b->train);
    dlt_cfg_free(b->solver_tree);
    dlt_cfg_free(b->net_tree);
    dlt_solver_free(b->solver);
    free(b->history);
    free(b->pool_x);
    free(b->pool_y);
}

static void train_step(bench *b)
{
    load_batch(b, b->iter);
    dlt_net_zero_grads(b->train);
    b->loss = dlt_net_forward(b->train);
    dlt_net_backward(b->train);
    if (b->solver) { /* GPU: the same SGD on the device, then wait for it */
        dlt_solver_step(b->solver, b->train, b->iter++);
        dlt_device_synchronize();
    } else {
        dlt_sgd_update(&b->cfg, b->train, b->history, dlt_solver_lr(&b->cfg, b->iter++));
    }
}

/* The forward ends with the loss read back, which waits for the GPU. */
static void infer_step(bench *b) { dlt_net_forward(b->test); }

/* Warm up, then run ITERS iterations, or whole iterations until MIN_TIME. */
static measure run_timed(bench *b, void (*step)(bench *), const bench_options *o)
{
    for (int i = 0; i < o->warmup; i++)
        step(b);
    measure m = {0, 0};
    double t0 = now();
    do {
        step(b);
        m.iters++;
        m.seconds = now() - t0;
    } while (o->iters ? m.iters < o->iters : m.seconds < o->min_time);
    return m;
}

/* The SGD update of train_step, for --profile's own row. */
static void sgd_update(void *ctx)
{
    bench *b = ctx;
    dlt_sgd_update(&b->cfg, b->train, b->history, dlt_solver_lr(&b->cfg, b->iter++));
}

/* VmHWM, the peak RSS since exec (ru_maxrss would include the pages of the
 * Python runner that forked this process). */
static long peak_rss_kb(void)
{
    long kb = -1;
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    if (kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = ru.ru_maxrss;
    }
    return kb;
}

static void print_results(const bench_options *o, const bench *b, measure tr, measure in)
{
    double tr_ips = tr.iters * o->batch / tr.seconds, in_ips = in.iters * o->batch / in.seconds;
    double tr_flop = dlt_bench_net_flops(b->train, 1) / o->batch;
    double in_flop = dlt_bench_net_flops(b->test, 0) / o->batch;
    long rss = peak_rss_kb();
    const char *config = "unknown", *core = "unknown";
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
    config = openblas_get_config();
    core = openblas_get_corename();
#endif
    if (o->json) {
        printf("{\"batch\": %d, \"threads\": %d, \"input\": \"%dx%dx%d\", \"train_img_s\": %.2f, "
               "\"train_iters\": %ld, \"train_s\": %.4f, \"infer_img_s\": %.2f, "
               "\"infer_iters\": %ld, \"infer_s\": %.4f, \"final_loss\": %.5f, "
               "\"train_gflop_per_img\": %.6f, \"infer_gflop_per_img\": %.6f, "
               "\"peak_rss_kb\": %ld, \"solver\": \"%s\", \"base_lr\": %g, \"momentum\": %g, "
               "\"weight_decay\": %g, \"openblas_config\": \"%s\", \"openblas_core\": \"%s\", "
               "\"conv_backend\": \"%s\", \"precision\": \"%s\"}\n",
               o->batch, o->threads, o->input_c, o->input_h, o->input_w, tr_ips, tr.iters,
               tr.seconds, in_ips, in.iters, in.seconds, b->loss, tr_flop * 1e-9, in_flop * 1e-9,
               rss, o->solver_path, b->cfg.base_lr, b->cfg.momentum,
               b->cfg.weight_decay, config, core,
               dlt_conv_backend_name(dlt_compute_conv_backend(&o->compute)),
               dlt_precision_name(o->compute.precision));
        return;
    }
    printf("# OpenBLAS %s (core %s), threads %d, batch %d, input %dx%dx%d, conv backend %s\n",
           config, core, o->threads, o->batch, o->input_c, o->input_h, o->input_w,
           dlt_conv_backend_name(dlt_compute_conv_backend(&o->compute)));
    printf("train: %8.1f img/s  (%ld iters in %.2f s, %.3f ms/iter, loss %.4f, %.1f GFLOP/s)\n",
           tr_ips, tr.iters, tr.seconds, 1e3 * tr.seconds / tr.iters, b->loss,
           tr_ips * tr_flop * 1e-9);
    printf("infer: %8.1f img/s  (%ld iters in %.2f s, %.3f ms/iter, %.1f GFLOP/s)\n", in_ips,
           in.iters, in.seconds, 1e3 * in.seconds / in.iters, in_ips * in_flop * 1e-9);
    printf("peak RSS: %.1f MiB\n", rss / 1024.0);
}

int main(int argc, char **argv)
{
    dlt_cpu_short_idle_spins(argv);
    bench_options o;
    if (parse_options(argc, argv, &o) < 0) {
        usage(stderr);
        return DLT_EXIT_USAGE;
    }
    set_threads(o.threads);
    bench b = {0};
    if (bench_open(&b, &o) < 0) {
        bench_close(&b);
        return DLT_EXIT_FAILURE;
    }
    if (o.gpu && (o.profile || o.conv_gemm)) {
        dlt_error("--profile and --conv-gemm time CPU code; run them without --device gpu");
        bench_close(&b);
        return DLT_EXIT_USAGE;
    }
    if (o.conv_gemm) {
        train_step(&b); /* sets every buffer once */
        dlt_bench_conv_gemm(b.train, o.iters ? 0 : o.min_time / 10, o.iters);
        bench_close(&b);
        return DLT_EXIT_OK;
    }
    measure tr = run_timed(&b, train_step, &o);
    measure in = run_timed(&b, infer_step, &o);
    int bad = !isfinite(b.loss);
    if (bad)
        dlt_error("training loss is %g after %ld steps", b.loss, b.iter);
    print_results(&o, &b, tr, in);
    if (o.profile)
        dlt_bench_profile(b.train, sgd_update, &b, o.iters ? o.iters : 50, o.threads, o.json);
    bench_close(&b);
    return bad ? DLT_EXIT_FAILURE : DLT_EXIT_OK;
}
