/* prep_idx.c - dltrain-prep --format idx: reads an IDX images/labels pair,
 * checks shapes and labels, and writes them as one dataset. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/prep_classes.h"
#include "data/prep_idx.h"
#include "dltrain/data.h"
#include "dltrain/error.h"

/* A list of class names owned by the caller. */
typedef struct class_list {
    char **names;
    int n;
} class_list;

static const char *const fashion_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

static void default_classes(const char *images, int max_label, class_list *cl)
{
    if (strstr(images, "fashion") || strstr(images, "Fashion")) {
        for (int i = 0; i < 10; i++)
            dlt__prep_class_add(&cl->names, &cl->n, fashion_classes[i]);
        return;
    }
    int n = max_label + 1 > 10 ? max_label + 1 : 10;
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d", i);
        dlt__prep_class_add(&cl->names, &cl->n, name);
    }
}

/* Shapes and counts of the two IDX files, and every label in range. */
static int check_idx_pair(const dlt_prep_options *o, const dlt_idx *img, const dlt_idx *lab,
                          const class_list *cl)
{
    const char *images = o->inputs[0], *labels = o->inputs[1];
    if (img->ndim != 3)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: images must be a 3-D IDX file (N, H, W); this one has %d "
                 "dimension%s", images, img->ndim, img->ndim == 1 ? "" : "s");
    if (lab->ndim != 1)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: labels must be a 1-D IDX file (N); this one has %d "
                 "dimensions", labels, lab->ndim);
    if (img->dims[0] != lab->dims[0])
        DLT_FAIL(DLT_ERR_FORMAT, "%s has %d images but %s has %d labels", images,
                 img->dims[0], labels, lab->dims[0]);
    if (img->dims[0] == 0)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: no images", images);
    for (size_t i = 0; i < lab->count; i++)
        if (lab->data[i] >= cl->n)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: record %zu has label %d but there are only %d classes"
                     " %s%s", labels, i, lab->data[i], cl->n,
                     o->classes_file ? "in " : "(default names; HINT: pass --classes FILE)",
                     o->classes_file ? o->classes_file : "");
    return DLT_OK;
}

static int write_dataset(const char *out, const dlt_idx *img, const dlt_idx *lab,
                         const class_list *cl)
{
    dlt_dataset_writer *wr;
    size_t n = lab->count;
    DLT_TRY(dlt_dataset_writer_open(out, 1, img->dims[1], img->dims[2],
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

static void print_summary(const char *out, const dlt_idx *img, const class_list *cl,
                          double t_read, double t_total)
{
    printf("dltrain-prep: wrote %s\n", out);
    printf("  samples  %d\n", img->dims[0]);
    printf("  shape    1 x %d x %d (C x H x W), uint8\n", img->dims[1], img->dims[2]);
    printf("  classes  %d (%s ... %s)\n", cl->n, cl->names[0], cl->names[cl->n - 1]);
    printf("  time     %.2f s (reading IDX %.2f s)\n", t_total, t_read);
}

int dlt__prep_idx_run(const dlt_prep_options *o, dlt_prep_result *res)
{
    memset(res, 0, sizeof *res);
    if (o->ninputs != 2)
        DLT_FAIL(DLT_ERR_ARG, "--format idx expects IMAGES and LABELS, got %d input%s",
                 o->ninputs, o->ninputs == 1 ? "" : "s");
    double t0 = now_s();
    dlt_idx img, lab;
    class_list cl = {NULL, 0};
    DLT_TRY(dlt_idx_read(o->inputs[0], &img));
    int st = dlt_idx_read(o->inputs[1], &lab);
    if (st < 0) {
        dlt_idx_free(&img);
        return st;
    }
    double t_read = now_s() - t0;
    if (o->classes_file) {
        st = dlt__prep_classes_read(o->classes_file, &cl.names, &cl.n);
    } else {
        int max_label = 0;
        for (size_t i = 0; i < lab.count; i++)
            max_label = lab.data[i] > max_label ? lab.data[i] : max_label;
        default_classes(o->inputs[0], max_label, &cl);
    }
    if (st >= 0)
        st = check_idx_pair(o, &img, &lab, &cl);
    if (st >= 0)
        st = write_dataset(o->out, &img, &lab, &cl);
    res->seconds = now_s() - t0;
    if (st >= 0) {
        res->written = (long)lab.count;
        if (!o->quiet)
            print_summary(o->out, &img, &cl, t_read, res->seconds);
    }
    dlt__prep_classes_free(&cl.names, &cl.n);
    dlt_idx_free(&img);
    dlt_idx_free(&lab);
    return st;
}
