/* dltrain_prep.c - dltrain-prep: builds an HDF5 dataset (DESIGN.md schema)
 * from image folders, list files, CIFAR-10/100 binaries, IDX files or COCO
 * captions (JSON and images): parses
 * the options and hands them to dlt_prep_run (src/data/prep*.c).
 * Exit status: 0 ok, 1 bad input or I/O error, 2 bad command line,
 * 3 written but some inputs skipped (OUT.skipped.txt lists them). */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "dltrain/prep.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dltrain-prep --format folder [options] IMAGE_DIR OUT.h5\n"
            "       dltrain-prep --format list [--root DIR] [options] LIST.txt OUT.h5\n"
            "       dltrain-prep --format cifar10|cifar100 [options] BATCH.bin... OUT.h5\n"
            "       dltrain-prep --format idx IMAGES.idx[.gz] LABELS.idx[.gz] OUT.h5\n"
            "       dltrain-prep --format captions --annotations CAPTIONS.json --images DIR\n"
            "                    [--vocab FILE | --min-count N] [options] OUT.h5\n"
            "Builds an HDF5 dataset (uint8 /data [N,C,H,W] or JPEG /jpeg [N], int32 /label [N],\n"
            "/mean; captions: int32 /captions [N_captions,T_max], /caption_length,\n"
            "/caption_image, /vocab) for dltrain-mpi --train/--val.\n"
            "\n"
            "options:\n"
            "  --format FMT       folder (one subfolder per class), list (lines 'PATH LABEL'),\n"
            "                     cifar10, cifar100 (binary batches), idx, captions (COCO\n"
            "                     captions JSON: images[id, file_name], annotations[image_id,\n"
            "                     caption]) (default: idx)\n"
            "  --annotations FILE captions: the COCO captions JSON\n"
            "  --images DIR       captions: folder the file_name entries are in (default: .)\n"
            "  --vocab FILE       captions: use this vocabulary (one word per line, first\n"
            "                     <pad> <start> <end> <unk>), e.g. the training set's\n"
            "  --vocab-out FILE   captions: write the vocabulary there too\n"
            "  --min-count N      captions: a built vocabulary keeps the words seen at least\n"
            "                     N times in the training captions, others are <unk> (default: 5)\n"
            "  --max-words N      captions: cut captions to N words (default: no limit)\n"
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
            "unreadable files, labels out of range; captions: malformed or repeated records,\n"
            "captions without words or of unknown images, images without captions) are\n"
            "skipped and listed with the reason in\n"
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

/* WIDTHxHEIGHT, each 1..65535 (a JPEG's largest side); strtol, not sscanf's
 * %d, so a number past int is refused rather than undefined. */
static int parse_wxh(const char *s, int *w, int *h)
{
    char *e1, *e2;
    errno = 0;
    long a = strtol(s, &e1, 10);
    if (e1 == s || *e1 != 'x')
        return -1;
    long b = strtol(e1 + 1, &e2, 10);
    if (e2 == e1 + 1 || *e2 || errno || a < 1 || b < 1 || a > 65535 || b > 65535)
        return -1;
    *w = (int)a, *h = (int)b;
    return 0;
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

static const struct { const char *name; dlt_prep_format f; } formats[] = {
    {"folder", DLT_PREP_FOLDER}, {"list", DLT_PREP_LIST}, {"cifar10", DLT_PREP_CIFAR10},
    {"cifar100", DLT_PREP_CIFAR100}, {"idx", DLT_PREP_IDX}, {"captions", DLT_PREP_CAPTIONS}};

static int parse_format(const char *s, dlt_prep_options *o)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(s, formats[i].name) == 0) {
            o->format = formats[i].f;
            return 0;
        }
    return bad_value("--format", s, "folder, list, cifar10, cifar100, idx or captions");
}

static const char *format_name(dlt_prep_format f)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (formats[i].f == f)
            return formats[i].name;
    return "?";
}

/* 0 to run, 1 after --help, -1 on a usage error (already reported). */
static int parse_options(int argc, char **argv, dlt_prep_options *m)
{
    enum { O_ROOT = 256, O_SIZE, O_RESIZE, O_COLOR, O_GRAY, O_VALP, O_VALO, O_SHUF, O_SEED,
           O_ENC, O_QUAL, O_CHUNK, O_THR, O_PROG, O_ANN, O_IMG, O_VOC, O_VOCO, O_MINC, O_MAXW };
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'}, {"classes", required_argument, NULL, 'c'},
        {"root", required_argument, NULL, O_ROOT}, {"size", required_argument, NULL, O_SIZE},
        {"resize", required_argument, NULL, O_RESIZE}, {"color", no_argument, NULL, O_COLOR},
        {"gray", no_argument, NULL, O_GRAY}, {"val-percent", required_argument, NULL, O_VALP},
        {"val-out", required_argument, NULL, O_VALO}, {"shuffle", no_argument, NULL, O_SHUF},
        {"seed", required_argument, NULL, O_SEED}, {"encoding", required_argument, NULL, O_ENC},
        {"quality", required_argument, NULL, O_QUAL}, {"chunk", required_argument, NULL, O_CHUNK},
        {"threads", required_argument, NULL, O_THR}, {"progress", required_argument, NULL, O_PROG},
        {"annotations", required_argument, NULL, O_ANN}, {"images", required_argument, NULL, O_IMG},
        {"vocab", required_argument, NULL, O_VOC}, {"vocab-out", required_argument, NULL, O_VOCO},
        {"min-count", required_argument, NULL, O_MINC},
        {"max-words", required_argument, NULL, O_MAXW},
        {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    memset(m, 0, sizeof *m);
    m->format = DLT_PREP_IDX;
    m->channels = 3, m->resize = "squash", m->seed = 1, m->quality = 90;
    m->progress_tty = -1;
    m->min_count = 5;
    int ch;
    double d;
    while ((ch = getopt_long(argc, argv, "f:c:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f': if (parse_format(optarg, m) < 0) return -1; break;
        case 'c': m->classes_file = optarg; break;
        case O_ROOT: m->root = optarg; break;
        case O_SIZE:
            if (parse_wxh(optarg, &m->width, &m->height) < 0)
                return bad_value("--size", optarg, "WIDTHxHEIGHT, each 1..65535, e.g. 256x256");
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
        case O_ANN: m->annotations = optarg; break;
        case O_IMG: m->images = optarg; break;
        case O_VOC: m->vocab = optarg; break;
        case O_VOCO: m->vocab_out = optarg; break;
        case O_MINC:
            if (parse_num("--min-count", optarg, 1, 1e15, &d) < 0) return -1;
            m->min_count = (long)d;
            break;
        case O_MAXW:
            if (parse_num("--max-words", optarg, 1, 65536, &d) < 0) return -1;
            m->max_words = (int)d;
            break;
        case 'q': m->quiet = 1; break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return -1;
        }
    }
    int nargs = argc - optind;
    if (m->format == DLT_PREP_IDX) {
        if (nargs != 3) {
            fprintf(stderr, "dltrain-prep: expected IMAGES LABELS OUT, got %d argument%s\n",
                    nargs, nargs == 1 ? "" : "s");
            usage(stderr);
            return -1;
        }
        m->inputs = (const char *const *)argv + optind;
        m->ninputs = 2;
        m->out = argv[optind + 2];
        return 0;
    }
    if (m->format == DLT_PREP_CAPTIONS) {
        if (nargs != 1 || !m->annotations) {
            fprintf(stderr, "dltrain-prep: --format captions expects --annotations FILE and one "
                    "argument, OUT.h5; got %d argument%s%s\n", nargs, nargs == 1 ? "" : "s",
                    m->annotations ? "" : " and no --annotations");
            usage(stderr);
            return -1;
        }
        if (m->vocab && m->vocab_out)
            fprintf(stderr, "dltrain-prep: note: --vocab-out copies the --vocab file's words\n");
        m->inputs = (const char *const *)argv + optind;
        m->ninputs = 1;
        m->out = argv[optind];
        return 0;
    }
    if (m->annotations || m->images || m->vocab || m->vocab_out) {
        fprintf(stderr, "dltrain-prep: --annotations, --images, --vocab and --vocab-out belong "
                "to --format captions\n");
        return -1;
    }
    int cifar = m->format == DLT_PREP_CIFAR10 || m->format == DLT_PREP_CIFAR100;
    if (cifar ? nargs < 2 : nargs != 2) {
        fprintf(stderr, "dltrain-prep: --format %s expects %s OUT.h5, got %d argument%s\n",
                format_name(m->format), cifar ? "BATCH.bin..." : m->format == DLT_PREP_LIST ? "LIST.txt"
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

int main(int argc, char **argv)
{
    dlt_prep_options o;
    int st = parse_options(argc, argv, &o);
    if (st != 0)
        return st > 0 ? DLT_EXIT_OK : DLT_EXIT_USAGE;
    dlt_prep_result res;
    if (dlt_prep_run(&o, &res) < 0)
        return DLT_EXIT_FAILURE;
    return res.skipped > 0 ? DLT_EXIT_SKIPPED : DLT_EXIT_OK;
}
