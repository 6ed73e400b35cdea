/* dltrain-eval - evaluate a checkpoint on a dataset (top-1, top-5,
 * per-class accuracy, confusion matrix), classify JPEG files, or score
 * captions with corpus BLEU-1..4 (--bleu). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dltrain/bleu.h"
#include "dltrain/caption.h"
#include "dltrain/cpu.h"
#include "dltrain/data.h"
#include "core/readfile.h"
#include "dltrain/error.h"
#include "dltrain/eval.h"
#include "dltrain/prototxt.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dltrain-eval --net NET.prototxt --weights CKPT.h5|W.caffemodel[.h5] --data SET.h5\n"
            "       dltrain-eval --run-dir RUN --data SET.h5\n"
            "       dltrain-eval (--net N --weights W | --run-dir RUN) [--data SET.h5 | --shape CxHxW]\n"
            "                    [--labels FILE] --classify a.jpg [b.jpg ...]\n"
            "       dltrain-eval --bleu --hyp HYP.txt (--refs REFS.txt | --data CAPTIONS.h5)\n"
            "       dltrain-eval --bleu --run-dir RUN --data CAPTIONS.h5 [--beam K]\n"
            "\n"
            "  --net FILE        train_val prototxt; its TEST phase is evaluated (batch size and\n"
            "                    transform_param from its Data layer)\n"
            "  --weights FILE[,FILE...]  a dltrain checkpoint (HDF5, /data/LAYER/I), a Caffe HDF5\n"
            "                    weights file (.caffemodel.h5) or a binary .caffemodel; blobs go to\n"
            "                    the layers of the same name, and every layer needs its blobs\n"
            "  --run-dir DIR     use DIR/config/net.prototxt and the newest DIR/checkpoints/*.h5\n"
            "  --data FILE       dataset: prints top-1, top-5, per-class accuracy and the confusion\n"
            "                    matrix; with --classify it says how images become samples (shape,\n"
            "                    channel order, resize) and names the classes\n"
            "  --predictions FILE  also write \"index label predicted\" per sample\n"
            "  --probabilities FILE  also write \"index p0 p1 ...\" (softmax) per sample or file\n"
            "  --classify        the remaining arguments are JPEG files: each is decoded and resized\n"
            "                    as dltrain-prep made the training set's samples, then given the TEST\n"
            "                    transform (crop, mean, scale); prints its top-5 classes\n"
            "  --labels FILE     class names, one per line (instead of the dataset's)\n"
            "  --shape CxHxW     the stored sample shape, when neither --data nor the run directory\n"
            "                    (config/input.txt, or the one holding --weights) says it\n"
            "  --channel-order O RGB, BGR or GRAY (default: --data's, else the run directory's,\n"
            "                    else GRAY for 1 channel and RGB, dltrain-prep's order, for 3)\n"
            "  --resize MODE     squash, crop, fill or half_crop (default: as --channel-order)\n"
            "  --bleu            corpus BLEU-1..4 (Papineni et al.; as NLTK's corpus_bleu) of the\n"
            "                    captions in --hyp, lines 'KEY word word ...' (one per key),\n"
            "                    against every reference of their key: the lines of --refs with\n"
            "                    that key, or the captions of image KEY (its index) of the\n"
            "                    caption set --data\n"
            "  --hyp FILE, --refs FILE  the token files of --bleu\n"
            "  --bleu --run-dir RUN --data SET  caption every image of the caption set with the\n"
            "                    run's caption net (dltrain-caption's decoding; --beam K: beam\n"
            "                    search, default greedy) and score them against its captions\n"
            "  --help, --version\n"
            "\n"
            "Exit status: 0 success, 1 error (the message names the file), 2 bad command line.\n");
}

typedef struct names {
    char **v;
    int n;
} names;

static int read_labels(const char *path, names *out)
{
    DLT_TRY(dlt__regular_file(path, "labels file"));
    FILE *f = fopen(path, "r");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "cannot open labels file '%s'", path);
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        out->v = dlt_realloc(out->v, (out->n + 1) * sizeof(char *));
        out->v[out->n++] = dlt_strdup(line);
    }
    fclose(f);
    return 0;
}

static const char *class_name(const names *labels, const dlt_dataset *ds, int c)
{
    if (labels->n > 0)
        return c < labels->n ? labels->v[c] : "?";
    const char *s = ds ? dlt_dataset_class_name(ds, c) : NULL;
    return s ? s : "";
}

static void print_report(const dlt_eval_result *r, const names *labels, const dlt_dataset *ds)
{
    const int K = r->nclasses;
    printf("top-1 accuracy: %.4f (%ld/%ld)\n", (double)r->top1 / r->count, r->top1, r->count);
    printf("top-5 accuracy: %.4f (%ld/%ld)\n", (double)r->top5 / r->count, r->top5, r->count);
    printf("\nper-class accuracy:\n%5s  %-20s %8s %8s %8s\n", "class", "name", "count", "correct",
           "accuracy");
    for (int c = 0; c < K; c++) {
        long count = 0;
        for (int p = 0; p < K; p++)
            count += r->confusion[(size_t)c * K + p];
        long right = r->confusion[(size_t)c * K + c];
        printf("%5d  %-20.20s %8ld %8ld %8.4f\n", c, class_name(labels, ds, c), count, right,
               count ? (double)right / count : 0.0);
    }
    printf("\nconfusion matrix (rows: true class, columns: predicted class):\n%5s", "");
    for (int p = 0; p < K; p++)
        printf(" %6d", p);
    printf("\n");
    for (int c = 0; c < K; c++) {
        printf("%5d", c);
        for (int p = 0; p < K; p++)
            printf(" %6ld", r->confusion[(size_t)c * K + p]);
        printf("\n");
    }
}

static int classify(dlt_evaluator *ev, const dlt_input_spec *spec, char **files, int nfiles,
                    const names *labels, const dlt_dataset *ds, FILE *probabilities)
{
    const int K = dlt_evaluator_num_classes(ev);
    float *probs = dlt_calloc((size_t)nfiles * K, sizeof(float));
    int st = dlt_evaluator_classify_files(ev, spec, files, nfiles, probs);
    for (int i = 0; i < nfiles && st == 0; i++) {
        const float *p = probs + (size_t)i * K;
        int used[4096] = {0};
        printf("%s\n", files[i]);
        for (int r = 0; r < 5 && r < K && K <= 4096; r++) {
            int best = -1;
            for (int k = 0; k < K; k++)
                if (!used[k] && (best < 0 || p[k] > p[best]))
                    best = k;
            used[best] = 1;
            printf("  %d. %.6f %4d  %s\n", r + 1, p[best], best, class_name(labels, ds, best));
        }
        if (probabilities) {
            fprintf(probabilities, "%d", i);
            for (int k = 0; k < K; k++)
                fprintf(probabilities, " %.9g", p[k]);
            fputc('\n', probabilities);
        }
    }
    free(probs);
    return st;
}

/* How images become samples for --classify: --data's attributes, else the
 * run directory's record, else --shape; --channel-order and --resize win.
 * FROM says where it came from. */
static int input_spec(const dlt_dataset *ds, const char *run_dir, const char *weights,
                      const char *shape, const char *order, const char *resize,
                      dlt_input_spec *spec, char *from, size_t from_size)
{
    int found = 0;
    char dir[4096];
    memset(spec, 0, sizeof *spec);
    if (run_dir)
        snprintf(dir, sizeof dir, "%s", run_dir);
    if (run_dir || dlt_run_dir_of(weights, dir, sizeof dir)) {
        found = dlt_run_dir_input_spec(dir, spec);
        DLT_TRY(found);
        snprintf(from, from_size, "%s/config/input.txt", dir);
    }
    if (ds) { /* the set the images are compared with says how it was built */
        dlt_input_spec trained = *spec;
        dlt_dataset_input_spec(ds, spec);
        if (found && trained.order != spec->order && !order)
            dlt_warn("--classify: %s holds %s samples but the net was trained on %s ones (%s); "
                     "using %s. HINT: --channel-order chooses", dlt_dataset_path(ds),
                     dlt_channel_order_name(spec->order), dlt_channel_order_name(trained.order),
                     from, dlt_channel_order_name(spec->order));
        snprintf(from, from_size, "%s", dlt_dataset_path(ds));
        found = 1;
    }
    if (shape) {
        sscanf(shape, "%dx%dx%d", &spec->c, &spec->h, &spec->w); /* checked by main */
        if (!found) {
            spec->order = spec->c == 1 ? DLT_CHANNELS_GRAY : DLT_CHANNELS_RGB;
            spec->resize = DLT_RESIZE_SQUASH;
            spec->resize_seed = 1;
            snprintf(from, from_size, "--shape and defaults");
            if (spec->c == 3 && !order)
                dlt_warn("--classify: nothing records the training set's channel order; "
                         "assuming RGB (dltrain-prep's). HINT: give --data TRAIN.h5 or "
                         "--channel-order");
        }
        found = 1;
    }
    if (!found)
        DLT_FAIL(DLT_ERR_ARG, "--classify: the input shape is unknown (no --data, no "
                 "config/input.txt in the run directory); give --shape CxHxW");
    if (order && dlt_channel_order_parse(order, &spec->order) < 0)
        DLT_FAIL(DLT_ERR_ARG, "--channel-order %s: expected RGB, BGR or GRAY", order);
    if (resize && dlt_resize_mode_parse(resize, &spec->resize) < 0)
        DLT_FAIL(DLT_ERR_ARG, "--resize %s: expected squash, crop, fill or half_crop", resize);
    if (spec->c == 1)
        spec->order = DLT_CHANNELS_GRAY;
    else if (spec->order == DLT_CHANNELS_GRAY)
        DLT_FAIL(DLT_ERR_ARG, "--channel-order GRAY for %d-channel samples", spec->c);
    return 0;
}

/* --bleu: token files, references from a file or a caption set. */
/* --bleu --run-dir: the run's captions of DATA's images, scored. */
static int bleu_run(const char *run_dir, const char *data, int beam)
{
    dlt_caption_options o = {beam, 0, 0, NULL, NULL};
    dlt_captioner *c = NULL;
    dlt_dataset *ds = NULL;
    dlt_bleu_score s;
    int st = dlt_captioner_create(run_dir, &o, &c);
    if (st == 0)
        st = dlt_dataset_open(data, &ds);
    if (st == 0)
        st = dlt_caption_bleu(c, ds, &s);
    if (st == 0) {
        printf("captions of %s by %s (iteration %ld, %s); references %s\n", data, run_dir,
               dlt_captioner_iter(c), beam ? "beam search" : "greedy", data);
        dlt_bleu_print(stdout, &s);
    }
    dlt_dataset_close(ds);
    dlt_captioner_free(c);
    return st == 0 ? DLT_EXIT_OK : DLT_EXIT_FAILURE;
}

static int bleu(const char *hyp, const char *refs, const char *data)
{
    dlt_dataset *ds = NULL;
    dlt_bleu_score s;
    int st = data ? dlt_dataset_open_lazy(data, &ds) : 0; /* the captions, not the images */
    if (st == 0)
        st = dlt_bleu_files(hyp, refs, ds, &s);
    if (st == 0) {
        printf("hypotheses %s; references %s\n", hyp, refs ? refs : data);
        dlt_bleu_print(stdout, &s);
    }
    dlt_dataset_close(ds);
    return st == 0 ? DLT_EXIT_OK : DLT_EXIT_FAILURE;
}

int main(int argc, char **argv)
{
    dlt_cpu_short_idle_spins(argv);
    static const struct option longopts[] = {
        {"net", required_argument, 0, 'n'},      {"weights", required_argument, 0, 'w'},
        {"run-dir", required_argument, 0, 'r'},  {"data", required_argument, 0, 'd'},
        {"predictions", required_argument, 0, 'p'}, {"classify", no_argument, 0, 'c'},
        {"labels", required_argument, 0, 'l'},   {"shape", required_argument, 0, 's'},
        {"probabilities", required_argument, 0, 'P'}, {"channel-order", required_argument, 0, 'o'},
        {"resize", required_argument, 0, 'z'},   {"bleu", no_argument, 0, 'B'},
        {"hyp", required_argument, 0, 'H'},      {"refs", required_argument, 0, 'R'},
        {"beam", required_argument, 0, 'K'},
        {"help", no_argument, 0, 'h'},           {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
    const char *net_path = NULL, *weights = NULL, *run_dir = NULL, *data = NULL, *pred_path = NULL,
               *labels_path = NULL, *shape = NULL, *prob_path = NULL, *order = NULL,
               *resize = NULL, *hyp_path = NULL, *refs_path = NULL;
    int do_classify = 0, do_bleu = 0, beam = -1, opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'n': net_path = optarg; break;
        case 'w': weights = optarg; break;
        case 'r': run_dir = optarg; break;
        case 'd': data = optarg; break;
        case 'p': pred_path = optarg; break;
        case 'c': do_classify = 1; break;
        case 'l': labels_path = optarg; break;
        case 's': shape = optarg; break;
        case 'P': prob_path = optarg; break;
        case 'o': order = optarg; break;
        case 'z': resize = optarg; break;
        case 'B': do_bleu = 1; break;
        case 'H': hyp_path = optarg; break;
        case 'R': refs_path = optarg; break;
        case 'K': beam = atoi(optarg) > 0 ? atoi(optarg) : 0; break;
        case 'h': usage(stdout); return DLT_EXIT_OK;
        case 'V': printf("dltrain-eval %s\n", PACKAGE_VERSION); return DLT_EXIT_OK;
        default: usage(stderr); return DLT_EXIT_USAGE;
        }
    }
    const char *why = NULL;
    int c = 0, h = 0, w = 0;
    if (do_bleu && run_dir && !hyp_path && !refs_path) {
        if (!data || optind < argc || net_path || weights || do_classify)
            why = "--bleu --run-dir RUN takes --data CAPTIONS.h5 (and --beam K)";
        else if (beam == 0)
            why = "--beam takes a width of 1 or more";
        if (!why)
            return bleu_run(run_dir, data, beam > 0 ? beam : 0);
    } else if (beam >= 0) {
        why = "--beam is for --bleu --run-dir RUN --data CAPTIONS.h5";
    } else if (do_bleu || hyp_path || refs_path) {
        if (!do_bleu || !hyp_path || !!refs_path == !!data || optind < argc)
            why = "--bleu takes --hyp FILE and one of --refs FILE, --data SET.h5";
        else if (net_path || weights || run_dir || do_classify)
            why = "--bleu scores token files; decoding captions with a net is dltrain-caption's";
        if (!why)
            return bleu(hyp_path, refs_path, data);
    } else if (!run_dir && (!net_path || !weights))
        why = "give --net and --weights, or --run-dir";
    else if (!do_classify && !data)
        why = "--data is required (or --classify FILES)";
    else if (do_classify && optind >= argc)
        why = "--classify needs one or more JPEG files";
    else if (!do_classify && optind < argc)
        why = "unexpected argument (JPEG files need --classify)";
    else if (shape && (sscanf(shape, "%dx%dx%d", &c, &h, &w) != 3 || c < 1 || h < 1 || w < 1))
        why = "--shape takes CxHxW (e.g. 1x28x28)";
    else if (shape && data)
        why = "--shape is for --classify without --data (the dataset gives the shape)";
    if (why) {
        fprintf(stderr, "dltrain-eval: %s\n", why);
        usage(stderr);
        return DLT_EXIT_USAGE;
    }
    char run_net[4096], run_ckpt[4096];
    dlt_dataset *ds = NULL;
    dlt_cfg *root = NULL;
    dlt_evaluator *ev = NULL;
    names labels = {0};
    int st = 0;
    if (run_dir) {
        st = dlt_run_dir_latest(run_dir, run_net, sizeof run_net, run_ckpt, sizeof run_ckpt);
        net_path = net_path ? net_path : run_net;
        weights = weights ? weights : run_ckpt;
    }
    if (st == 0 && labels_path)
        st = read_labels(labels_path, &labels);
    if (st == 0 && data) {
        st = dlt_dataset_open(data, &ds);
        if (st == 0)
            dlt_dataset_shape(ds, &c, &h, &w);
    }
    dlt_input_spec spec;
    char spec_from[4200] = "";
    if (st == 0 && do_classify) {
        st = input_spec(ds, run_dir, weights, shape, order, resize, &spec, spec_from,
                        sizeof spec_from);
        c = spec.c, h = spec.h, w = spec.w;
    }
    if (st == 0)
        st = dlt_pt_parse_file(net_path, &root);
    if (st == 0)
        st = dlt_evaluator_create(root, c, h, w, weights, &ev);
    if (st == 0 && dlt_evaluator_iter(ev) >= 0)
        printf("net %s; weights %s (iteration %ld); %d classes; batch %d\n", net_path, weights,
               dlt_evaluator_iter(ev), dlt_evaluator_num_classes(ev), dlt_evaluator_batch_size(ev));
    else if (st == 0)
        printf("net %s; weights %s; %d classes; batch %d\n", net_path, weights,
               dlt_evaluator_num_classes(ev), dlt_evaluator_batch_size(ev));
    FILE *pf = NULL, *qf = NULL;
    if (st == 0 && pred_path && !(pf = fopen(pred_path, "w"))) {
        dlt_error("cannot write '%s'", pred_path);
        st = DLT_ERR_IO;
    }
    if (st == 0 && prob_path && !(qf = fopen(prob_path, "w"))) {
        dlt_error("cannot write '%s'", prob_path);
        st = DLT_ERR_IO;
    }
    if (st == 0 && do_classify) {
        printf("input %dx%dx%d %s, resize %s (from %s)\n", spec.c, spec.h, spec.w,
               dlt_channel_order_name(spec.order), dlt_resize_mode_name(spec.resize), spec_from);
        st = classify(ev, &spec, argv + optind, argc - optind, &labels, ds, qf);
    } else if (st == 0) {
        dlt_eval_result res;
        st = dlt_evaluate_dataset(ev, ds, pf, qf, &res);
        if (st == 0) {
            printf("data %s: %zu samples\n", data, dlt_dataset_size(ds));
            print_report(&res, &labels, ds);
            dlt_eval_result_free(&res);
        }
    }
    if (pf && fclose(pf) != 0 && st == 0) {
        dlt_error("writing '%s' failed", pred_path);
        st = DLT_ERR_IO;
    }
    if (qf && fclose(qf) != 0 && st == 0) {
        dlt_error("writing '%s' failed", prob_path);
        st = DLT_ERR_IO;
    }
    for (int i = 0; i < labels.n; i++)
        free(labels.v[i]);
    free(labels.v);
    dlt_evaluator_free(ev);
    dlt_cfg_free(root);
    dlt_dataset_close(ds);
    return st == 0 ? DLT_EXIT_OK : DLT_EXIT_FAILURE;
}
