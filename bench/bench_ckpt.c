/* bench_ckpt.c - checkpoint save and load time and size for a real net
 * (GoogLeNet, ResNet-50: weights + SGD momentum), against a plain write and
 * read of as many bytes to the same directory. Loads are cold: the file's
 * pages are dropped from the page cache (posix_fadvise DONTNEED) first.
 *   bench_ckpt [--input C,H,W] [--reps N] [--dir DIR] [--json] NET.prototxt
 * Exit status: 0 ok, 1 error, 2 usage. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dltrain/ckpt.h"
#include "dltrain/error.h"
#include "dltrain/layer.h"
#include "dltrain/net.h"
#include "dltrain/prototxt.h"

typedef struct bench_options {
    const char *net_path, *dir;
    int c, h, w, reps, json;
} bench_options;

/* Best (minimum) seconds of each operation over the repetitions. */
typedef struct timings {
    double save, load, plain_write, plain_read;
} timings;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
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

/* Copy of TEXT with every `batch_size:` set to 1: only the parameters
 * matter here, and activations of batch 32 at 224x224 would need GBs. */
static char *with_batch_one(const char *text)
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
        *o++ = '1';
        while (*hit >= '0' && *hit <= '9')
            hit++;
        p = hit;
    }
    strcpy(o, p);
    return out;
}

/* Drop PATH's pages from the page cache (they are clean after fsync), so
 * the next read comes from the disk. */
static void drop_cache(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
}

/* What `dd bs=1M conv=fsync` does: BYTES written in 1 MiB writes, fsync. */
static int plain_write(const char *path, size_t bytes, double *seconds)
{
    static char block[1 << 20];
    memset(block, 0x5a, sizeof block);
    double t0 = now();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        DLT_FAIL(DLT_ERR_IO, "cannot create '%s'", path);
    for (size_t done = 0; done < bytes;) {
        size_t n = bytes - done < sizeof block ? bytes - done : sizeof block;
        ssize_t w = write(fd, block, n);
        if (w <= 0) {
            close(fd);
            DLT_FAIL(DLT_ERR_IO, "cannot write '%s'", path);
        }
        done += (size_t)w;
    }
    int bad = fsync(fd) != 0;
    bad |= close(fd) != 0;
    if (bad)
        DLT_FAIL(DLT_ERR_IO, "cannot fsync '%s'", path);
    *seconds = now() - t0;
    return 0;
}

static int plain_read(const char *path, double *seconds)
{
    static char block[1 << 20];
    drop_cache(path);
    double t0 = now();
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        DLT_FAIL(DLT_ERR_IO, "cannot open '%s'", path);
    ssize_t r;
    while ((r = read(fd, block, sizeof block)) > 0)
        ;
    close(fd);
    if (r < 0)
        DLT_FAIL(DLT_ERR_IO, "cannot read '%s'", path);
    *seconds = now() - t0;
    return 0;
}

static double best(double a, double b) { return a < b ? a : b; }

static int run(const bench_options *o, dlt_net *net, const char *net_text, timings *t,
               long *file_bytes)
{
    size_t n = dlt_net_param_count(net);
    float *history = dlt_malloc(n * sizeof(float)), *loaded = dlt_malloc(n * sizeof(float));
    const float *params = dlt_net_params(net);
    for (size_t i = 0; i < n; i++)
        history[i] = params[i] * 0.5f;  /* nonzero momentum: no sparse shortcut */
    uint64_t rng[4] = {1, 2, 3, 4};
    dlt_ckpt_meta meta = {.iter = 1000, .epoch = 1, .world_size = 1, .lr = 0.01,
                          .net_text = net_text, .solver_text = "", .rng = rng};
    char ckpt[4096], plain[4096];
    snprintf(ckpt, sizeof ckpt, "%s/bench_ckpt.h5", o->dir);
    snprintf(plain, sizeof plain, "%s/bench_ckpt.plain", o->dir);
    int st = 0;
    *t = (timings){1e30, 1e30, 1e30, 1e30};
    for (int r = 0; r < o->reps && st == 0; r++) {
        double t0 = now(), s;
        if ((st = dlt_ckpt_save(ckpt, net, history, &meta)) < 0)
            break;
        t->save = best(t->save, now() - t0);
        struct stat sb;
        *file_bytes = stat(ckpt, &sb) == 0 ? (long)sb.st_size : 0;
        drop_cache(ckpt);
        dlt_ckpt_meta back;
        t0 = now();
        if ((st = dlt_ckpt_load(ckpt, net, loaded, &back)) < 0)
            break;
        t->load = best(t->load, now() - t0);
        free(back.rng);
        if (memcmp(loaded, history, n * sizeof(float)) != 0) {
            dlt_error("%s: the loaded history differs from the saved one", ckpt);
            st = DLT_ERR_INTERNAL;
            break;
        }
        if ((st = plain_write(plain, (size_t)*file_bytes, &s)) < 0)
            break;
        t->plain_write = best(t->plain_write, s);
        if ((st = plain_read(plain, &s)) < 0)
            break;
        t->plain_read = best(t->plain_read, s);
    }
    unlink(ckpt);
    unlink(plain);
    free(history);
    free(loaded);
    return st;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_ckpt [--input C,H,W] [--reps N] [--dir DIR] [--json] NET.prototxt\n"
               "  Saves and loads a checkpoint of NET (TRAIN phase, input CxHxW, default\n"
               "  3,224,224) REPS times (default 3) in DIR (default .), best times.\n");
}

int main(int argc, char **argv)
{
    bench_options o = {.dir = ".", .c = 3, .h = 224, .w = 224, .reps = 3};
    static const struct option longopts[] = {{"input", required_argument, NULL, 'i'},
                                             {"reps", required_argument, NULL, 'r'},
                                             {"dir", required_argument, NULL, 'd'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            if (sscanf(optarg, "%d,%d,%d", &o.c, &o.h, &o.w) != 3 || o.c < 1 || o.h < 1 || o.w < 1) {
                fprintf(stderr, "bench_ckpt: --input wants C,H,W, got '%s'\n", optarg);
                return DLT_EXIT_USAGE;
            }
            break;
        case 'r': o.reps = atoi(optarg); break;
        case 'd': o.dir = optarg; break;
        case 'j': o.json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return DLT_EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || o.reps < 1) {
        usage(stderr);
        return DLT_EXIT_USAGE;
    }
    o.net_path = argv[optind];

    char *text, *batched;
    dlt_cfg *tree = NULL;
    dlt_net *net = NULL;
    if (read_text(o.net_path, &text) < 0)
        return DLT_EXIT_FAILURE;
    batched = with_batch_one(text);
    int st = dlt_pt_parse_string(batched, o.net_path, &tree);
    if (st == 0)
        st = dlt_net_create(tree, DLT_PHASE_TRAIN, o.c, o.h, o.w, 1, NULL, &net);
    timings t;
    long bytes = 0;
    if (st == 0)
        st = run(&o, net, text, &t, &bytes);
    if (st == 0) {
        double mb = bytes / 1e6, params = (double)dlt_net_param_count(net);
        if (o.json)
            printf("{\"net\": \"%s\", \"params\": %.0f, \"file_mb\": %.1f, \"save_s\": %.3f, "
                   "\"load_s\": %.3f, \"plain_write_s\": %.3f, \"plain_read_s\": %.3f}\n",
                   o.net_path, params, mb, t.save, t.load, t.plain_write, t.plain_read);
        else
            printf("%s: %.1f M params, checkpoint %.1f MB\n"
                   "  save %.3f s (%.0f MB/s)   plain write+fsync %.3f s (%.0f MB/s)\n"
                   "  load %.3f s (%.0f MB/s)   plain cold read   %.3f s (%.0f MB/s)\n",
                   o.net_path, params / 1e6, mb, t.save, mb / t.save, t.plain_write,
                   mb / t.plain_write, t.load, mb / t.load, t.plain_read, mb / t.plain_read);
    }
    dlt_net_free(net);
    dlt_cfg_free(tree);
    free(batched);
    free(text);
    return st == 0 ? DLT_EXIT_OK : DLT_EXIT_FAILURE;
}
