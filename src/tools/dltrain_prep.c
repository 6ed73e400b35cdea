/* dltrain_prep.c - dltrain-prep: builds an HDF5 dataset (DESIGN.md schema)
 * from image folders, list files, CIFAR-10/100 binaries or IDX files.
 * Exit status: 0 ok, 1 bad input or I/O error, 2 bad command line,
 * 3 written but some inputs skipped (OUT.skipped.txt lists them). */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dltrain/data.h"
#include "dltrain/error.h"
#include "dltrain/prep.h"

typedef struct prep_options {
    const char *format;       /* input format */
    dlt_prep_options img;     /* everything but idx */
    const char *classes_file; /* one class name per line, or NULL for defaults */
    const char *images, *labels, *out;
    int quiet;
} prep_options;

/* A list of class names owned by the caller. */
typedef struct class_list {
    char **names;
    int n;
} class_list;

static const char *const fashion_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dltrain-prep --format folder [options] IMAGE_DIR OUT.h5\n"
            "       dltrain-prep --format list [--root DIR] [options] LIST.txt OUT.h5\n"
            "       dltrain-prep --format cifar10|cifar100 [options] BATCH.bin... OUT.h5\n"
            "       dltrain-prep --format idx IMAGES.idx[.gz] LABELS.idx[.gz] OUT.h5\n"
            "Builds an HDF5 dataset (uint8 /data [N,C,H,W] or JPEG /jpeg [N], int32 /label [N],\n"
            "/mean) for dltrain-mpi --train/--val.\n"
            "\n"
            "options:\n"
            "  --format FMT       folder (one subfolder per class), list (lines 'PATH LABEL'),\n"
            "                     cifar10, cifar100 (binary batches), idx (default: idx)\n"
            "  --root DIR         list: folder that relative paths start from\n"
            "  --size WxH         output size (default: 32x32 for CIFAR, else 256x256)\n"
            "  --resize MODE      squash, crop, fill, half_crop, as DIGITS (default: squash)\n"
            "  --color, --gray    3 channels RGB (default) or 1 channel\n"
            "  --val-percent P    put P%% of the inputs (seeded choice) into a second file\n"
            "  --val-out FILE     that file (default: OUT_val.h5)\n"
            "  --shuffle          store samples in a seeded random order (default: input order)\n"
            "  --seed N           seed for --shuffle, --val-percent and fill noise (default: 1)\n"
            "  --classes FILE     class names, one per line (list, cifar, idx)\n"
            "  --encoding ENC     raw (uint8 /data, default) or jpeg (/jpeg: JPEG bytes, kept\n"
            "                     as they are when already the output size, else re-encoded)\n"
            "  --quality Q        JPEG re-encoding quality 1..100 (default: 90)\n"
            "  --chunk N          samples per HDF5 chunk (default: about 1 MiB raw)\n"
            "  --threads N        decode threads (default: the cores this process may use)\n"
            "  --progress MODE    bar, lines or auto (default: bar on a terminal)\n"
            "  -q, --quiet        print nothing but errors\n"
            "  -h, --help         show this help\n"
            "\n"
            "Bad inputs (corrupt, truncated or empty files, PNG and other non-JPEG files,\n"
            "unreadable files, labels out of range) are skipped and listed with the reason in\n"
            "OUT.skipped.txt. An interrupted build leaves no file under OUT's name.\n"
            "\n"
            "exit status: 0 ok, 1 bad input or I/O error, 2 bad command line,\n"
            "             3 written, but some inputs were skipped\n");
}

static int bad_value(const char *opt, const char *v, const char *want)
{
    fprintf(stderr, "dltrain-prep: %s expects %s, got '%s'\n", opt, want, v);
    return -1;
}

static int parse_num(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (!*v || *end || d < lo || d > hi) {
        char want[64];
        snprintf(want, sizeof want, "a number in [%g, %g]", lo, hi);
        return bad_value(opt, v, want);
    }
    *out = d;
    return 0;
}

static int parse_format(const char *s, prep_options *o)
{
    static const struct { const char *name; dlt_prep_format f; } fmts[] = {
        {"folder", DLT_PREP_FOLDER}, {"list", DLT_PREP_LIST},
        {"cifar10", DLT_PREP_CIFAR10}, {"cifar100", DLT_PREP_CIFAR100}};
    o->format = s;
    if (strcmp(s, "idx") == 0)
        return 0;
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++)
        if (strcmp(s, fmts[i].name) == 0) {
            o->img.format = fmts[i].f;
            return 0;
        }
    return bad_value("--format", s, "folder, list, cifar10, cifar100 or idx");
}

/* 0 to run, 1 after --help, -1 on a usage error (already reported). */
static int parse_options(int argc, char **argv, prep_options *o)
{
    enum { O_ROOT = 256, O_SIZE, O_RESIZE, O_COLOR, O_GRAY, O_VALP, O_VALO, O_SHUF, O_SEED,
           O_ENC, O_QUAL, O_CHUNK, O_THR, O_PROG };
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'}, {"classes", required_argument, NULL, 'c'},
        {"root", required_argument, NULL, O_ROOT}, {"size", required_argument, NULL, O_SIZE},
        {"resize", required_argument, NULL, O_RESIZE}, {"color", no_argument, NULL, O_COLOR},
        {"gray", no_argument, NULL, O_GRAY}, {"val-percent", required_argument, NULL, O_VALP},
        {"val-out", required_argument, NULL, O_VALO}, {"shuffle", no_argument, NULL, O_SHUF},
        {"seed", required_argument, NULL, O_SEED}, {"encoding", required_argument, NULL, O_ENC},
        {"quality", required_argument, NULL, O_QUAL}, {"chunk", required_argument, NULL, O_CHUNK},
        {"threads", required_argument, NULL, O_THR}, {"progress", required_argument, NULL, O_PROG},
        {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->format = "idx";
    dlt_prep_options *m = &o->img;
    m->channels = 3, m->resize = "squash", m->seed = 1, m->quality = 90;
    m->progress_tty = -1;
    int ch;
    double d;
    while ((ch = getopt_long(argc, argv, "f:c:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f': if (parse_format(optarg, o) < 0) return -1; break;
        case 'c': o->classes_file = m->classes_file = optarg; break;
        case O_ROOT: m->root = optarg; break;
        case O_SIZE:
            if (sscanf(optarg, "%dx%d", &m->width, &m->height) != 2 || m->width <= 0 ||
                m->height <= 0 || m->width > 65535 || m->height > 65535)
                return bad_value("--size", optarg, "WIDTHxHEIGHT, e.g. 256x256");
            break;
        case O_RESIZE:
            if (strcmp(optarg, "squash") && strcmp(optarg, "crop") && strcmp(optarg, "fill") &&
                strcmp(optarg, "half_crop"))
                return bad_value("--resize", optarg, "squash, crop, fill or half_crop");
            m->resize = optarg;
            break;
        case O_COLOR: m->channels = 3; break;
        case O_GRAY: m->channels = 1; break;
        case O_VALP:
            if (parse_num("--val-percent", optarg, 0, 99.999, &m->val_percent) < 0) return -1;
            break;
        case O_VALO: m->val_out = optarg; break;
        case O_SHUF: m->shuffle = 1; break;
        case O_SEED:
            if (parse_num("--seed", optarg, 0, 9e15, &d) < 0) return -1;
            m->seed = (uint64_t)d;
            break;
        case O_ENC:
            if (strcmp(optarg, "raw") && strcmp(optarg, "jpeg"))
                return bad_value("--encoding", optarg, "raw or jpeg");
            m->jpeg = strcmp(optarg, "jpeg") == 0;
            break;
        case O_QUAL:
            if (parse_num("--quality", optarg, 1, 100, &d) < 0) return -1;
            m->quality = (int)d;
            break;
        case O_CHUNK:
            if (parse_num("--chunk", optarg, 1, 1e9, &d) < 0) return -1;
            m->chunk = (long)d;
            break;
        case O_THR:
            if (parse_num("--threads", optarg, 1, 256, &d) < 0) return -1;
            m->threads = (int)d;
            break;
        case O_PROG:
            if (strcmp(optarg, "bar") == 0) m->progress_tty = 1;
            else if (strcmp(optarg, "lines") == 0) m->progress_tty = 0;
            else if (strcmp(optarg, "auto") == 0) m->progress_tty = -1;
            else return bad_value("--progress", optarg, "bar, lines or auto");
            break;
        case 'q': o->quiet = m->quiet = 1; break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return -1;
        }
    }
    int nargs = argc - optind;
    if (strcmp(o->format, "idx") == 0) {
        if (nargs != 3) {
            fprintf(stderr, "dltrain-prep: expected IMAGES LABELS OUT, got %d argument%s\n",
                    nargs, nargs == 1 ? "" : "s");
            usage(stderr);
            return -1;
        }
        o->images = argv[optind];
        o->labels = argv[optind + 1];
        o->out = argv[optind + 2];
        return 0;
    }
    int cifar = m->format == DLT_PREP_CIFAR10 || m->format == DLT_PREP_CIFAR100;
    if (cifar ? nargs < 2 : nargs != 2) {
        fprintf(stderr, "dltrain-prep: --format %s expects %s OUT.h5, got %d argument%s\n",
                o->format, cifar ? "BATCH.bin..." : m->format == DLT_PREP_LIST ? "LIST.txt"
                : "IMAGE_DIR", nargs, nargs == 1 ? "" : "s");
        usage(stderr);
        return -1;
    }
    m->inputs = (const char *const *)argv + optind;
    m->ninputs = nargs - 1;
    m->out = argv[argc - 1];
    if (m->root && m->format != DLT_PREP_LIST)
        fprintf(stderr, "dltrain-prep: note: --root is only used by --format list\n");
    return 0;
}

static void free_classes(class_list *cl)
{
    for (int i = 0; i < cl->n; i++)
        free(cl->names[i]);
    free(cl->names);
    cl->names = NULL;
    cl->n = 0;
}

static void add_class(class_list *cl, const char *name)
{
    cl->names = dlt_realloc(cl->names, (unsigned long)(cl->n + 1) * sizeof *cl->names);
    cl->names[cl->n++] = dlt_strdup(name);
}

static int read_classes_file(const char *path, class_list *cl)
{
    FILE *f = fopen(path, "r");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char line[1024];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0]) {
            fclose(f);
            free_classes(cl);
            DLT_FAIL(DLT_ERR_FORMAT, "%s:%d: empty class name (one name per line)", path,
                     lineno);
        }
        add_class(cl, line);
    }
    fclose(f);
    if (cl->n == 0)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: no class names in the file", path);
    return DLT_OK;
}

static void default_classes(const prep_options *o, int max_label, class_list *cl)
{
    if (strstr(o->images, "fashion") || strstr(o->images, "Fashion")) {
        for (int i = 0; i < 10; i++)
            add_class(cl, fashion_classes[i]);
        return;
    }
    int n = max_label + 1 > 10 ? max_label + 1 : 10;
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d", i);
        add_class(cl, name);
    }
}

/* Shapes and counts of the two IDX files, and every label in range. */
static int check_idx_pair(const prep_options *o, const dlt_idx *img, const dlt_idx *lab,
                          const class_list *cl)
{
    if (img->ndim != 3)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: images must be a 3-D IDX file (N, H, W); this one has %d "
                 "dimension%s", o->images, img->ndim, img->ndim == 1 ? "" : "s");
    if (lab->ndim != 1)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: labels must be a 1-D IDX file (N); this one has %d "
                 "dimensions", o->labels, lab->ndim);
    if (img->dims[0] != lab->dims[0])
        DLT_FAIL(DLT_ERR_FORMAT, "%s has %d images but %s has %d labels", o->images,
                 img->dims[0], o->labels, lab->dims[0]);
    if (img->dims[0] == 0)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: no images", o->images);
    for (size_t i = 0; i < lab->count; i++)
        if (lab->data[i] >= cl->n)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: record %zu has label %d but there are only %d classes"
                     " %s%s", o->labels, i, lab->data[i], cl->n,
                     o->classes_file ? "in " : "(default names; HINT: pass --classes FILE)",
                     o->classes_file ? o->classes_file : "");
    return DLT_OK;
}

static int write_dataset(const prep_options *o, const dlt_idx *img, const dlt_idx *lab,
                         const class_list *cl)
{
    dlt_dataset_writer *wr;
    size_t n = lab->count;
    DLT_TRY(dlt_dataset_writer_open(o->out, 1, img->dims[1], img->dims[2],
                                    (const char *const *)cl->names, cl->n, &wr));
    int32_t *labels = dlt_malloc(n * sizeof *labels);
    for (size_t i = 0; i < n; i++)
        labels[i] = lab->data[i];
    int st = dlt_dataset_writer_append(wr, img->data, labels, n);
    free(labels);
    if (st < 0) {
        dlt_dataset_writer_abort(wr);
        return st;
    }
    return dlt_dataset_writer_close(wr);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void print_summary(const prep_options *o, const dlt_idx *img, const class_list *cl,
                          double t_read, double t_total)
{
    printf("dltrain-prep: wrote %s\n", o->out);
    printf("  samples  %d\n", img->dims[0]);
    printf("  shape    1 x %d x %d (C x H x W), uint8\n", img->dims[1], img->dims[2]);
    printf("  classes  %d (%s ... %s)\n", cl->n, cl->names[0], cl->names[cl->n - 1]);
    printf("  time     %.2f s (reading IDX %.2f s)\n", t_total, t_read);
}

static int run_idx(const prep_options *o)
{
    double t0 = now_s();
    dlt_idx img, lab;
    class_list cl = {NULL, 0};
    DLT_TRY(dlt_idx_read(o->images, &img));
    int st = dlt_idx_read(o->labels, &lab);
    if (st < 0) {
        dlt_idx_free(&img);
        return st;
    }
    double t_read = now_s() - t0;
    if (o->classes_file) {
        st = read_classes_file(o->classes_file, &cl);
    } else {
        int max_label = 0;
        for (size_t i = 0; i < lab.count; i++)
            max_label = lab.data[i] > max_label ? lab.data[i] : max_label;
        default_classes(o, max_label, &cl);
    }
    if (st >= 0)
        st = check_idx_pair(o, &img, &lab, &cl);
    if (st >= 0)
        st = write_dataset(o, &img, &lab, &cl);
    if (st >= 0 && !o->quiet)
        print_summary(o, &img, &cl, t_read, now_s() - t0);
    free_classes(&cl);
    dlt_idx_free(&img);
    dlt_idx_free(&lab);
    return st;
}

int main(int argc, char **argv)
{
    prep_options o;
    int st = parse_options(argc, argv, &o);
    if (st != 0)
        return st > 0 ? DLT_EXIT_OK : DLT_EXIT_USAGE;
    if (strcmp(o.format, "idx") == 0)
        return run_idx(&o) < 0 ? DLT_EXIT_FAILURE : DLT_EXIT_OK;
    dlt_prep_result res;
    if (dlt_prep_run(&o.img, &res) < 0)
        return DLT_EXIT_FAILURE;
    return res.skipped > 0 ? DLT_EXIT_SKIPPED : DLT_EXIT_OK;
}
