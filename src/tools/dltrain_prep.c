/* dltrain_prep.c - dltrain-prep: builds an HDF5 dataset (DESIGN.md schema)
 * from input files; this version converts IDX (MNIST, Fashion-MNIST).
 * Exit status: 0 ok, 1 bad input or I/O error, 2 bad command line. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dltrain/data.h"
#include "dltrain/error.h"

typedef struct prep_options {
    const char *format;       /* input format: "idx" */
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
            "usage: dltrain-prep --format idx IMAGES.idx[.gz] LABELS.idx[.gz] OUT.h5\n"
            "Builds an HDF5 dataset (uint8 /data [N,C,H,W], int32 /label [N], /mean)\n"
            "for dltrain-mpi --train/--val.\n"
            "\n"
            "options:\n"
            "  --format FMT     input format (default: idx; supported: idx)\n"
            "  --classes FILE   class names, one per line (default: the Fashion-MNIST\n"
            "                   names when the images path contains \"fashion\", else\n"
            "                   \"0\", \"1\", ... for max(10, largest label + 1) classes)\n"
            "  -q, --quiet      print nothing but errors\n"
            "  -h, --help       show this help\n"
            "\n"
            "exit status: 0 ok, 1 bad input or I/O error, 2 bad command line\n");
}

/* 0 to run, 1 after --help, -1 on a usage error (already reported). */
static int parse_options(int argc, char **argv, prep_options *o)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"classes", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->format = "idx";
    int ch;
    while ((ch = getopt_long(argc, argv, "f:c:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f': o->format = optarg; break;
        case 'c': o->classes_file = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return -1;
        }
    }
    if (strcmp(o->format, "idx") != 0) {
        fprintf(stderr, "dltrain-prep: format '%s' is not supported yet (supported: idx)\n",
                o->format);
        return -1;
    }
    if (argc - optind != 3) {
        fprintf(stderr, "dltrain-prep: expected IMAGES LABELS OUT, got %d argument%s\n",
                argc - optind, argc - optind == 1 ? "" : "s");
        usage(stderr);
        return -1;
    }
    o->images = argv[optind];
    o->labels = argv[optind + 1];
    o->out = argv[optind + 2];
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
    return run_idx(&o) < 0 ? DLT_EXIT_FAILURE : DLT_EXIT_OK;
}
