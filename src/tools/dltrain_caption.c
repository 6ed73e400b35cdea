/* dltrain-caption - captions of images, or of a caption set's images, by a
 * run's caption net (newest checkpoint): greedy or beam search. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "dltrain/caption.h"
#include "dltrain/data.h"
#include "dltrain/error.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dltrain-caption --run-dir RUN [--beam K] [--max-len T] [--attention DIR] IMAGE.jpg ...\n"
            "       dltrain-caption --run-dir RUN [--beam K] [--max-len T] [--attention DIR] --data SET.h5\n"
            "\n"
            "Prints one line per image: NAME<TAB>caption (the file's path, or with --data the\n"
            "image's index, the key dltrain-eval --bleu --hyp FILE --data SET.h5 reads).\n"
            "\n"
            "  --run-dir DIR     a dltrain-mpi run of a caption net: DIR/config/net.prototxt (its TEST\n"
            "                    phase), the newest DIR/checkpoints/*.h5, DIR/config/input.txt (how\n"
            "                    images become samples), DIR/config/vocab.txt\n"
            "  --data FILE       caption every image (sample) of this dataset, in order\n"
            "  --beam K          beam search keeping K captions per image (default: greedy, the most\n"
            "                    likely word each step; --beam 1 gives the same captions); K <= the\n"
            "                    TEST batch_size\n"
            "  --length-norm     with --beam: print the beam of the highest mean log-probability per\n"
            "                    token (words and <end>) instead of the highest sum\n"
            "  --max-len T       at most T words (default 20, or fewer if the Data layer's\n"
            "                    sequence_length says so); a caption reaching T words ends there\n"
            "  --log-prob        a third column: the caption's log-probability (its words and <end>)\n"
            "  --vocab FILE      the vocabulary (dltrain-prep --vocab-out) instead of the run's\n"
            "  --attention DIR   where the decoder looked for each word (a net with an AttentionLSTM):\n"
            "                    per image a JPEG strip in DIR (the image, then one panel per word,\n"
            "                    attended locations red and bright), DIR/index.html to view them\n"
            "                    with their words, DIR/index.tsv with the weights as numbers\n"
            "  --help, --version\n"
            "\n"
            "Images are JPEG files, decoded and resized as the training set's were. Exit status:\n"
            "0 success, 1 error (the message names the file), 2 bad command line.\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"run-dir", required_argument, 0, 'r'}, {"data", required_argument, 0, 'd'},
        {"beam", required_argument, 0, 'b'},    {"max-len", required_argument, 0, 't'},
        {"length-norm", no_argument, 0, 'L'},   {"log-prob", no_argument, 0, 'p'},
        {"vocab", required_argument, 0, 'v'},   {"attention", required_argument, 0, 'a'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},       {0, 0, 0, 0}};
    const char *run_dir = NULL, *data = NULL, *why = NULL;
    dlt_caption_options o = {0, 0, 0, NULL, NULL};
    int log_prob = 0, opt;
    char *end;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'r': run_dir = optarg; break;
        case 'd': data = optarg; break;
        case 'b':
            o.beam = (int)strtol(optarg, &end, 10);
            if (*end || o.beam < 1 || o.beam > 1000)
                why = "--beam takes a width from 1 to 1000";
            break;
        case 't':
            o.max_len = (int)strtol(optarg, &end, 10);
            if (*end || o.max_len < 1 || o.max_len > 10000)
                why = "--max-len takes a number of words from 1 to 10000";
            break;
        case 'L': o.length_norm = 1; break;
        case 'p': log_prob = 1; break;
        case 'v': o.vocab = optarg; break;
        case 'a': o.attention_dir = optarg; break;
        case 'h': usage(stdout); return DLT_EXIT_OK;
        case 'V': printf("dltrain-caption %s\n", PACKAGE_VERSION); return DLT_EXIT_OK;
        default: usage(stderr); return DLT_EXIT_USAGE;
        }
    }
    if (!why && !run_dir)
        why = "--run-dir is required";
    else if (!why && !data == !(optind < argc))
        why = "give image files or --data SET.h5 (one of them)";
    else if (!why && o.length_norm && !o.beam)
        why = "--length-norm is for --beam";
    if (why) {
        fprintf(stderr, "dltrain-caption: %s\n", why);
        usage(stderr);
        return DLT_EXIT_USAGE;
    }
    dlt_log_set_info_stream(stderr); /* stdout holds the captions only */
    dlt_captioner *c = NULL;
    dlt_dataset *ds = NULL;
    int st = dlt_captioner_create(run_dir, &o, &c);
    if (st == 0 && data)
        st = dlt_dataset_open(data, &ds);
    if (st == 0)
        st = ds ? dlt_caption_dataset(c, ds, log_prob, stdout)
                : dlt_caption_files(c, argv + optind, argc - optind, log_prob, stdout);
    if (fflush(stdout) != 0 && st == 0) {
        dlt_error("writing the captions failed");
        st = DLT_ERR_IO;
    }
    dlt_dataset_close(ds);
    dlt_captioner_free(c);
    return st == 0 ? DLT_EXIT_OK : DLT_EXIT_FAILURE;
}
