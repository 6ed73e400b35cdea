/* dltrain-export - a checkpoint written as a deployable model: each format
 * is a row of a table (name, writer, files), and preprocess.json says how
 * to feed the model as training did. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "dltrain/ckpt.h"
#include "dltrain/cpu.h"
#include "dltrain/data.h"
#include "dltrain/error.h"
#include "dltrain/eval.h"
#include "dltrain/export.h"
#include "dltrain/prototxt.h"

static const struct {
    const char *name;
    dlt_export_fn write;
    const char *files;
} formats[] = {
    {"onnx", dlt_export_onnx, "model.onnx"},
    {"caffe", dlt_export_caffe, "deploy.prototxt, weights.caffemodel[.h5]"},
};
#define NFORMATS (int)(sizeof formats / sizeof formats[0])

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dltrain-export RUN|CKPT.h5 [--net NET.prototxt] [--format FORMAT] -o DIR\n"
            "\n"
            "Writes the checkpoint (RUN: the newest in RUN/checkpoints) as a model other tools\n"
            "read, with DIR/preprocess.json: how to feed it as training did (input shape,\n"
            "channel order, resize, crop, mean, scale, class names).\n"
            "\n"
            "  --net FILE        train_val prototxt; its TEST phase is exported without data,\n"
            "                    accuracy and loss layers (default: RUN/config/net.prototxt)\n"
            "  --format F        onnx (model.onnx, opset 13), caffe (deploy.prototxt and\n"
            "                    weights.caffemodel[.h5]), or all (default: all)\n"
            "  -o, --output DIR  directory for the files (created)\n"
            "  --data SET.h5     the training set: sample shape, channel order, resize, classes\n"
            "                    (default: RUN/config/input.txt and RUN/config/labels.txt)\n"
            "  --shape CxHxW     the stored sample shape when nothing else records it\n"
            "  --channel-order O RGB, BGR or GRAY (default: as recorded; else RGB for 3 channels)\n"
            "  --labels FILE     class names, one per line\n"
            "  --help, --version\n"
            "\n"
            "Exit status: 0 success, 1 error (the message names the file or layer), 2 bad\n"
            "command line.\n");
}

static int mkdir_p(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            DLT_FAIL(DLT_ERR_IO, "cannot create directory '%s': %s", buf, strerror(errno));
        if (!(*p = c))
            break;
    }
    return 0;
}

typedef struct names {
    char **v;
    int n;
} names;

static int read_lines(const char *path, names *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "cannot open labels file '%s': %s", path, strerror(errno));
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        out->v = dlt_realloc(out->v, (size_t)(out->n + 1) * sizeof *out->v);
        out->v[out->n++] = dlt_strdup(line);
    }
    fclose(f);
    return 0;
}

/* The stored sample shape and how images became samples: --data's
 * attributes, else the run directory's record, else --shape; class names
 * from --labels, --data or the run directory. */
static int input_and_classes(const char *data, const char *run_dir, const char *shape,
                             const char *order, const char *labels, dlt_input_spec *spec,
                             names *classes)
{
    int found = 0;
    memset(spec, 0, sizeof *spec);
    dlt_dataset *ds = NULL;
    if (labels)
        DLT_TRY(read_lines(labels, classes));
    if (data) {
        DLT_TRY(dlt_dataset_open_lazy(data, &ds));
        dlt_dataset_input_spec(ds, spec);
        for (int i = 0; !labels && i < dlt_dataset_num_classes(ds); i++) {
            const char *s = dlt_dataset_class_name(ds, i);
            classes->v = dlt_realloc(classes->v, (size_t)(classes->n + 1) * sizeof *classes->v);
            classes->v[classes->n++] = dlt_strdup(s ? s : "");
        }
        dlt_dataset_close(ds);
        found = 1;
    }
    if (!found && run_dir) {
        found = dlt_run_dir_input_spec(run_dir, spec);
        DLT_TRY(found);
    }
    if (run_dir && classes->n == 0) {
        int n = dlt_run_dir_labels(run_dir, &classes->v);
        DLT_TRY(n);
        classes->n = n;
    }
    if (!found && shape) {
        sscanf(shape, "%dx%dx%d", &spec->c, &spec->h, &spec->w); /* checked by main */
        spec->order = spec->c == 1 ? DLT_CHANNELS_GRAY : DLT_CHANNELS_RGB;
        spec->resize = DLT_RESIZE_SQUASH;
        spec->resize_seed = 1;
        if (spec->c == 3 && !order)
            dlt_warn("nothing records the training set's channel order; preprocess.json says "
                     "RGB (dltrain-prep's). HINT: give --data TRAIN.h5 or --channel-order");
        found = 1;
    }
    if (!found)
        DLT_FAIL(DLT_ERR_ARG, "the input shape is unknown (no --data, no config/input.txt in a "
                 "run directory); give --shape CxHxW");
    if (order && dlt_channel_order_parse(order, &spec->order) < 0)
        DLT_FAIL(DLT_ERR_ARG, "--channel-order %s: expected RGB, BGR or GRAY", order);
    if (spec->c == 1)
        spec->order = DLT_CHANNELS_GRAY;
    return 0;
}

/* The TEST net of NET_PATH for samples of SPEC with CKPT's parameters. */
static int load_net(const char *net_path, const char *ckpt, const dlt_input_spec *spec,
                    dlt_cfg **root, dlt_net **net, long *iter)
{
    DLT_TRY(dlt_pt_parse_file(net_path, root));
    DLT_TRY(dlt_net_create(*root, DLT_PHASE_TEST, spec->c, spec->h, spec->w, 1, NULL, net));
    dlt_ckpt_meta meta;
    int st = dlt_ckpt_load(ckpt, *net, NULL, &meta);
    if (st == 0) {
        free(meta.rng);
        *iter = meta.iter;
    }
    return st;
}

int main(int argc, char **argv)
{
    dlt_cpu_short_idle_spins(argv);
    static const struct option longopts[] = {
        {"net", required_argument, 0, 'n'},    {"format", required_argument, 0, 'f'},
        {"output", required_argument, 0, 'o'}, {"data", required_argument, 0, 'd'},
        {"shape", required_argument, 0, 's'},  {"channel-order", required_argument, 0, 'c'},
        {"labels", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},      {0, 0, 0, 0}};
    const char *net_path = NULL, *format = "all", *outdir = NULL, *data = NULL, *shape = NULL,
               *order = NULL, *labels = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'n': net_path = optarg; break;
        case 'f': format = optarg; break;
        case 'o': outdir = optarg; break;
        case 'd': data = optarg; break;
        case 's': shape = optarg; break;
        case 'c': order = optarg; break;
        case 'l': labels = optarg; break;
        case 'h': usage(stdout); return DLT_EXIT_OK;
        case 'V': printf("dltrain-export %s\n", PACKAGE_VERSION); return DLT_EXIT_OK;
        default: usage(stderr); return DLT_EXIT_USAGE;
        }
    }
    int want = -1, c, h, w; /* want: a row of formats, NFORMATS for all */
    for (int i = 0; i < NFORMATS; i++)
        if (strcmp(format, formats[i].name) == 0)
            want = i;
    if (strcmp(format, "all") == 0)
        want = NFORMATS;
    const char *why = NULL;
    if (optind != argc - 1)
        why = "give one run directory or checkpoint file";
    else if (!outdir)
        why = "-o DIR is required";
    else if (want < 0)
        why = "--format takes onnx, caffe or all";
    else if (shape && (sscanf(shape, "%dx%dx%d", &c, &h, &w) != 3 || c < 1 || h < 1 || w < 1))
        why = "--shape takes CxHxW (e.g. 1x28x28)";
    if (why) {
        fprintf(stderr, "dltrain-export: %s\n", why);
        usage(stderr);
        return DLT_EXIT_USAGE;
    }
    const char *src = argv[optind];
    char run_dir[4096] = "", run_net[4096], ckpt[4096];
    struct stat sb;
    int st = 0, have_run = 0;
    if (stat(src, &sb) != 0) {
        dlt_error("cannot open '%s': %s", src, strerror(errno));
        st = DLT_ERR_IO;
    } else if (S_ISDIR(sb.st_mode)) {
        snprintf(run_dir, sizeof run_dir, "%s", src);
        have_run = 1;
        st = dlt_run_dir_latest(run_dir, run_net, sizeof run_net, ckpt, sizeof ckpt);
    } else {
        snprintf(ckpt, sizeof ckpt, "%s", src);
        have_run = dlt_run_dir_of(ckpt, run_dir, sizeof run_dir);
        snprintf(run_net, sizeof run_net, "%s/config/net.prototxt", run_dir);
    }
    if (st == 0 && !net_path) {
        if (have_run && stat(run_net, &sb) == 0)
            net_path = run_net;
        else {
            dlt_error("%s is not in a run directory with config/net.prototxt; give --net "
                      "NET.prototxt", src);
            st = DLT_ERR_ARG;
        }
    }
    dlt_input_spec spec;
    names classes = {0};
    dlt_cfg *root = NULL;
    dlt_net *net = NULL;
    long iter = 0;
    if (st == 0)
        st = input_and_classes(data, have_run ? run_dir : NULL, shape, order, labels, &spec,
                               &classes);
    if (st == 0)
        st = load_net(net_path, ckpt, &spec, &root, &net, &iter);
    if (st == 0)
        st = mkdir_p(outdir);
    if (st == 0)
        printf("net %s; weights %s (iteration %ld); input %dx%dx%d %s\n", net_path, ckpt, iter,
               spec.c, spec.h, spec.w, dlt_channel_order_name(spec.order));
    for (int i = 0; i < NFORMATS && st == 0; i++)
        if (want == i || want == NFORMATS) {
            st = formats[i].write(net, root, outdir);
            if (st == 0)
                printf("%s: %s/%s\n", formats[i].name, outdir, formats[i].files);
        }
    if (st == 0) {
        st = dlt_export_preprocess(net, &spec, (const char *const *)classes.v, classes.n, outdir);
        if (st == 0)
            printf("preprocess: %s/preprocess.json (%d class names)\n", outdir, classes.n);
    }
    for (int i = 0; i < classes.n; i++)
        free(classes.v[i]);
    free(classes.v);
    dlt_net_free(net);
    dlt_cfg_free(root);
    return st == 0 ? DLT_EXIT_OK : DLT_EXIT_FAILURE;
}
