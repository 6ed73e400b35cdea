/* caption.c - captions from a run's caption net (dltrain-caption): its TEST
 * net with the newest checkpoint; per batch of images the encoder runs once
 * and the decoder step by step, greedy or by beam search. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/captions.h"
#include "dltrain/bleu.h"
#include "dltrain/caption.h"
#include "dltrain/error.h"
#include "dltrain/eval.h"
#include "dltrain/net.h"
#include "dltrain/prototxt.h"
#include "dltrain/weights.h"
#include "train/caption_attention.h"
#include "train/caption_net.h"
#include "train/input.h"

struct dlt_captioner {
    dlt_cfg *cfg;
    dlt_net *net;
    dlt_layer *data;             /* the TEST caption Data layer */
    dlt_input_spec spec;         /* how the training set's samples were made */
    dlt__vocab vocab;
    int B, T, C;                 /* slots (TEST batch), steps, classes of the scores */
    int max_len, beam, length_norm;
    int first;                   /* first layer reading the words: the decoder */
    const dlt_tensor *scores;    /* (T, B, C, 1) */
    long iter;
    const dlt_tensor *att;       /* --attention: (T, B, L, 1) weights of the AttentionLSTM */
    int att_h, att_w;            /* its feature map: L = att_h * att_w locations */
    dlt__att_writer *aw;
    int att_st;                  /* the first --attention write error: no more maps, but
                                  * the captions still go out */
};

/* One caption being built in a batch slot. */
typedef struct hyp {
    int32_t *w;                  /* (max_len) words so far */
    int len, done;
    double score;                /* summed log-probabilities; -inf: unused slot */
} hyp;

/* The first layer that reads input_words or cont (directly or through
 * other layers): everything before it is the encoder. */
static int decoder_start(const dlt_net *net, const dlt_layer *data)
{
    int nl = dlt_net_num_layers(net), ntaint = 2;
    const dlt_tensor **taint = dlt_malloc(sizeof *taint * (size_t)(2 + nl * DLT_MAX_BLOBS));
    taint[0] = data->top[1], taint[1] = data->top[3];
    int first = -1;
    for (int i = 0; i < nl; i++) {
        const dlt_layer *l = dlt_net_layer(net, i);
        int reads = 0;
        for (int b = 0; b < l->nbottom && !reads; b++)
            for (int k = 0; k < ntaint && !reads; k++)
                reads = l->bottom[b] == taint[k];
        if (!reads)
            continue;
        if (first < 0)
            first = i;
        for (int t = 0; t < l->ntop; t++)
            taint[ntaint++] = l->top[t];
    }
    free(taint);
    return first < 0 ? 1 : first; /* not found (split views): all but the data layer */
}

static const dlt_layer *caption_loss(const dlt_net *net, const dlt_layer *data)
{
    for (int i = 0; i < dlt_net_num_layers(net); i++) {
        const dlt_layer *l = dlt_net_layer(net, i);
        if (strcmp(l->ops->type, "SoftmaxWithLoss") == 0 && l->nbottom == 2 &&
            l->bottom[1] == data->top[2])
            return l;
    }
    return NULL;
}

/* --attention: the AttentionLSTM's attention top (its second). */
static int find_attention(dlt_captioner *c, const char *net_path)
{
    for (int i = 0; i < dlt_net_num_layers(c->net); i++) {
        const dlt_layer *l = dlt_net_layer(c->net, i);
        if (strcmp(l->ops->type, "AttentionLSTM") != 0 || l->ntop < 2)
            continue;
        c->att = l->top[1];
        c->att_h = l->bottom[0]->h, c->att_w = l->bottom[0]->w;
        if (c->att->count != (size_t)c->T * c->B * c->att_h * c->att_w)
            DLT_FAIL(DLT_ERR_INTERNAL, "%s: layer '%s': attention top of %zu values, expected "
                     "T x N x H*W", net_path, l->name, c->att->count);
        return 0;
    }
    DLT_FAIL(DLT_ERR_ARG, "%s: --attention needs an AttentionLSTM layer with its attention "
             "top (its second top); this net has none", net_path);
}

static int load_vocab(const char *run_dir, const char *file, dlt__vocab *v)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config/vocab.txt", run_dir);
    if (!file && access(path, R_OK) != 0)
        DLT_FAIL(DLT_ERR_IO, "%s: no vocabulary (%s is written by dltrain-mpi for caption sets); "
                 "HINT: give the training set's with --vocab FILE (dltrain-prep --vocab-out)",
                 run_dir, path);
    dlt__vocab_init(v);
    return dlt__vocab_read_text(file ? file : path, v);
}

static int setup(dlt_captioner *c, const char *run_dir, const dlt_caption_options *opt)
{
    char net_path[4096], ckpt[4096];
    DLT_TRY(dlt_run_dir_latest(run_dir, net_path, sizeof net_path, ckpt, sizeof ckpt));
    if (dlt_run_dir_input_spec(run_dir, &c->spec) != 1)
        DLT_FAIL(DLT_ERR_IO, "%s: no readable config/input.txt (how the training set's images "
                 "were made); is this a dltrain-mpi run directory?", run_dir);
    DLT_TRY(dlt_pt_parse_file(net_path, &c->cfg));
    c->max_len = opt->max_len > 0 ? opt->max_len : 20;
    DLT_TRY(dlt_net_create_seq(c->cfg, DLT_PHASE_TEST, c->spec.c, c->spec.h, c->spec.w,
                               c->max_len + 1, 1, NULL, &c->net));
    c->data = dlt_net_data_layer(c->net);
    if (!dlt__is_caption_net(c->net))
        DLT_FAIL(DLT_ERR_ARG, "%s: not a caption net: its TEST phase has %s; dltrain-caption "
                 "needs a caption Data layer (tops data, input_words, target_words, cont)",
                 net_path, c->data ? "a Data layer without word tops" : "no Data layer");
    const dlt_layer *loss = caption_loss(c->net, c->data);
    if (!loss)
        DLT_FAIL(DLT_ERR_ARG, "%s: no SoftmaxWithLoss against target_words: the word scores "
                 "are its first bottom", net_path);
    const dlt_data_params *dp = dlt_layer_data_params(c->data);
    c->B = dp->batch_size, c->T = dp->seq_len;
    if (c->T - 1 < c->max_len) /* data_param sequence_length fixes T */
        c->max_len = c->T - 1;
    if (c->max_len < 1)
        DLT_FAIL(DLT_ERR_ARG, "%s: sequence_length %d leaves no word to generate", net_path, c->T);
    dlt_layer_desc d;
    dlt_layer_describe(loss, &d);
    c->scores = loss->bottom[0], c->C = d.num_output;
    if (c->scores->count != (size_t)c->T * c->B * c->C)
        DLT_FAIL(DLT_ERR_ARG, "%s: layer '%s': scores of %zu values, expected T x N x classes = "
                 "%d x %d x %d", net_path, loss->name, c->scores->count, c->T, c->B, c->C);
    c->beam = opt->beam, c->length_norm = opt->length_norm;
    if (c->beam > c->B)
        DLT_FAIL(DLT_ERR_ARG, "--beam %d: wider than the TEST batch_size %d of %s (the beams of "
                 "an image share one batch)", c->beam, c->B, net_path);
    if (opt->attention_dir)
        DLT_TRY(find_attention(c, net_path));
    DLT_TRY(dlt_weights_load(c->net, ckpt, DLT_WEIGHTS_COMPLETE, &c->iter));
    DLT_TRY(load_vocab(run_dir, opt->vocab, &c->vocab));
    DLT_TRY(dlt__caption_vocab_check(c->net, c->vocab.n, net_path,
                                     opt->vocab ? opt->vocab : "the run's config/vocab.txt"));
    c->first = decoder_start(c->net, c->data);
    if (opt->attention_dir)
        DLT_TRY(dlt__att_writer_open(opt->attention_dir, c->att_h, c->att_w, &c->aw));
    dlt_info("%s: iteration %ld; %s, at most %d words", ckpt, c->iter,
             c->beam ? "beam search" : "greedy", c->max_len);
    return 0;
}

int dlt_captioner_create(const char *run_dir, const dlt_caption_options *opt,
                         dlt_captioner **out)
{
    *out = NULL;
    dlt_captioner *c = dlt_calloc(1, sizeof *c);
    dlt__vocab_init(&c->vocab);
    int st = setup(c, run_dir, opt);
    if (st < 0) {
        dlt_captioner_free(c);
        return st;
    }
    *out = c;
    return 0;
}

void dlt_captioner_free(dlt_captioner *c)
{
    if (!c)
        return;
    dlt__att_writer_close(c->aw);
    dlt_net_free(c->net);
    dlt_cfg_free(c->cfg);
    dlt__vocab_free(&c->vocab);
    free(c);
}

long dlt_captioner_iter(const dlt_captioner *c) { return c->iter; }

/* Log-softmax of slot S's scores at step T into LP (C). */
static void log_probs(const dlt_captioner *c, int t, int s, double *lp)
{
    const float *x = c->scores->data + ((size_t)t * c->B + s) * c->C;
    float mx = -FLT_MAX;
    for (int k = 0; k < c->C; k++)
        mx = x[k] > mx ? x[k] : mx;
    double sum = 0;
    for (int k = 0; k < c->C; k++)
        sum += exp((double)x[k] - mx);
    double lse = mx + log(sum);
    for (int k = 0; k < c->C; k++)
        lp[k] = (double)x[k] - lse;
}

/* Words a caption may hold: not <pad> or <start>; inside the vocabulary
 * (the net may have more classes than it has words). */
static int word_ok(const dlt_captioner *c, int v) { return v >= DLT_WORD_END && v < c->vocab.n; }

/* Write the batch: slot s shows image s / PER (zero past N); every slot's
 * words are its hypothesis so far after <start>, then <pad>. */
static void fill_images(dlt_batch *in, const float *images, int n, int per)
{
    size_t sz = (size_t)in->c * in->h * in->w;
    for (int s = 0; s < in->n; s++) {
        if (s / per < n)
            memcpy(in->data + s * sz, images + (size_t)(s / per) * sz, sz * sizeof(float));
        else
            memset(in->data + s * sz, 0, sz * sizeof(float));
    }
    for (int t = 0; t < in->t; t++)
        for (int s = 0; s < in->n; s++) {
            in->input_words[t * in->n + s] = t == 0 ? DLT_WORD_START : DLT_WORD_PAD;
            in->target_words[t * in->n + s] = DLT_WORD_PAD;
            in->cont[t * in->n + s] = t > 0;
        }
}

static void fill_words(dlt_batch *in, const hyp *h, int t)
{
    for (int s = 0; s < in->n; s++)
        for (int k = 0; k < t && k < h[s].len; k++)
            in->input_words[(k + 1) * in->n + s] = (float)h[s].w[k];
}

/* Greedy: each of up to B images in its own slot, the most likely word each
 * step (ties: the lower id). */
static void greedy(dlt_captioner *c, dlt_batch *in, hyp *h, double *lp)
{
    for (int t = 0; t <= c->max_len; t++) {
        if (t > 0) {
            fill_words(in, h, t);
            dlt_net_forward_from(c->net, c->first);
        }
        int open = 0;
        for (int s = 0; s < c->B; s++) {
            if (h[s].done)
                continue;
            log_probs(c, t, s, lp);
            int best = DLT_WORD_END;
            if (t < c->max_len) /* at max_len words the caption ends */
                for (int v = DLT_WORD_END + 1; v < c->C; v++)
                    if (word_ok(c, v) && lp[v] > lp[best])
                        best = v;
            h[s].score += lp[best];
            if (best == DLT_WORD_END)
                h[s].done = 1;
            else
                h[s].w[h[s].len++] = best, open++;
        }
        if (!open)
            break;
    }
}

typedef struct cand {
    double score;
    int from, word;              /* parent beam; word -1: a finished beam kept as it is */
} cand;

/* Higher score first; ties by parent, then word, so the search is deterministic. */
static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->from != y->from)
        return x->from - y->from;
    return x->word - y->word;
}

/* Beam search, K beams per image in slots g*K .. g*K+K-1: each step every
 * open beam proposes each word, finished beams stand as they are, and the K
 * highest summed log-probabilities stay; it stops when all K are finished. */
static void beam_search(dlt_captioner *c, dlt_batch *in, hyp *h, hyp *nh, double *lp, int groups)
{
    const int K = c->beam;
    cand *cs = dlt_malloc(sizeof *cs * (size_t)K * (c->C + 1));
    for (int s = 0; s < c->B; s++)
        h[s].score = s % K == 0 ? 0 : -INFINITY; /* one live beam at first */
    for (int t = 0; t <= c->max_len; t++) {
        if (t > 0) {
            fill_words(in, h, t);
            dlt_net_forward_from(c->net, c->first);
        }
        int open = 0;
        for (int g = 0; g < groups; g++) {
            int n = 0;
            for (int b = 0; b < K; b++) {
                const hyp *p = &h[g * K + b];
                if (p->score == -INFINITY)
                    continue;
                if (p->done) {
                    cs[n++] = (cand){p->score, b, -1};
                    continue;
                }
                log_probs(c, t, g * K + b, lp);
                cs[n++] = (cand){p->score + lp[DLT_WORD_END], b, DLT_WORD_END};
                for (int v = DLT_WORD_END + 1; v < c->C && t < c->max_len; v++)
                    if (word_ok(c, v))
                        cs[n++] = (cand){p->score + lp[v], b, v};
            }
            qsort(cs, (size_t)n, sizeof *cs, cand_cmp);
            for (int b = 0; b < K; b++) {
                hyp *q = &nh[g * K + b];
                if (b >= n) {
                    q->score = -INFINITY, q->len = 0, q->done = 1;
                    continue;
                }
                const hyp *p = &h[g * K + cs[b].from];
                memcpy(q->w, p->w, sizeof *q->w * (size_t)p->len);
                q->len = p->len, q->score = cs[b].score;
                q->done = cs[b].word < 0 || cs[b].word == DLT_WORD_END;
                if (!q->done)
                    q->w[q->len++] = cs[b].word, open++;
            }
        }
        for (int s = 0; s < groups * K; s++) { /* swap the word buffers with the new beams */
            int32_t *w = h[s].w;
            h[s] = nh[s];
            nh[s].w = w;
        }
        if (!open)
            break;
    }
    free(cs);
}

/* Mean log-probability per token: the words and the <end>. */
static double rank_score(const dlt_captioner *c, const hyp *h)
{
    return c->length_norm ? h->score / (h->len + 1) : h->score;
}

/* The chosen captions of images START.. START+M again, teacher-forced in
 * slot g * PER each, to read the attention weights of the steps that chose
 * their words into MAPS (n x max_len x L); the decoder is causal, so these
 * are the weights the search saw. */
static void attention_of(dlt_captioner *c, dlt_batch *in, hyp *h, int per, int start, int m,
                         const int32_t *words, const int *len, float *maps)
{
    const int L = c->att_h * c->att_w;
    for (int g = 0; g < m; g++) {
        hyp *q = &h[g * per];
        memcpy(q->w, words + (size_t)(start + g) * c->max_len, sizeof *q->w * (size_t)len[start + g]);
        q->len = len[start + g];
    }
    fill_words(in, h, c->max_len);
    dlt_net_forward_from(c->net, c->first);
    for (int g = 0; g < m; g++)
        for (int k = 0; k < len[start + g]; k++)
            memcpy(maps + ((size_t)(start + g) * c->max_len + k) * L,
                   c->att->data + ((size_t)k * c->B + g * per) * L, sizeof *maps * (size_t)L);
}

static int caption_batch(dlt_captioner *c, const float *images, int n, int32_t *words, int *len,
                         double *logp, float *maps)
{
    dlt_batch in;
    DLT_TRY(dlt_net_input(c->net, &in));
    const size_t sz = (size_t)in.c * in.h * in.w;
    const int per = c->beam ? c->beam : 1, groups = c->B / per;
    hyp *h = dlt_calloc((size_t)c->B * 2, sizeof *h), *nh = h + c->B;
    int32_t *buf = dlt_calloc((size_t)c->B * 2 * c->max_len, sizeof *buf);
    double *lp = dlt_malloc(sizeof *lp * (size_t)c->C);
    for (int s = 0; s < 2 * c->B; s++)
        h[s].w = buf + (size_t)s * c->max_len;
    for (int start = 0; start < n; start += groups) {
        int m = n - start < groups ? n - start : groups;
        fill_images(&in, images + (size_t)start * sz, m, per);
        for (int s = 0; s < c->B; s++)
            h[s].len = 0, h[s].done = s / per >= m, h[s].score = 0;
        dlt_net_forward(c->net); /* the encoder, once for these images */
        if (c->beam)
            beam_search(c, &in, h, nh, lp, m);
        else
            greedy(c, &in, h, lp);
        for (int g = 0; g < m; g++) {
            const hyp *best = &h[g * per];
            for (int b = 1; b < per; b++)
                if (h[g * per + b].score > -INFINITY && rank_score(c, &h[g * per + b]) > rank_score(c, best))
                    best = &h[g * per + b];
            memcpy(words + (size_t)(start + g) * c->max_len, best->w, sizeof *words * (size_t)best->len);
            len[start + g] = best->len;
            if (logp)
                logp[start + g] = best->score;
        }
        if (maps)
            attention_of(c, &in, h, per, start, m, words, len, maps);
    }
    free(lp);
    free(buf);
    free(h);
    return 0;
}

int dlt_caption_batch(dlt_captioner *c, const float *images, int n, int32_t *words, int *len,
                      double *logp)
{
    return caption_batch(c, images, n, words, len, logp, NULL);
}

/* --attention: the strips of N images, named NAMES[i] (or by their index
 * FIRST + i when NAMES is NULL). */
static int write_attention(dlt_captioner *c, const float *images, int n, char *const *names,
                           size_t first, const int32_t *w, const int *len, const float *maps)
{
    dlt_batch in;
    DLT_TRY(dlt_net_input(c->net, &in));
    const size_t sz = (size_t)in.c * in.h * in.w, L = (size_t)c->att_h * c->att_w;
    const char **words = dlt_malloc(sizeof *words * (size_t)c->max_len);
    int st = 0;
    for (int i = 0; i < n && st == 0; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "%zu", first + (size_t)i);
        for (int k = 0; k < len[i]; k++)
            words[k] = c->vocab.words[w[(size_t)i * c->max_len + k]];
        st = dlt__att_writer_add(c->aw, names ? names[i] : idx, images + (size_t)i * sz, in.c, in.h,
                                 in.w, words, len[i], maps + (size_t)i * c->max_len * L);
    }
    free(words);
    return st;
}

/* Closes the --attention files: their errors are the command's, after the
 * captions have been printed. */
static int finish_attention(dlt_captioner *c, int st)
{
    int cst = dlt__att_writer_close(c->aw);
    c->aw = NULL;
    return st < 0 ? st : c->att_st < 0 ? c->att_st : cst;
}

static float *maps_for(const dlt_captioner *c, size_t n)
{
    return c->aw ? dlt_malloc(sizeof(float) * (n ? n : 1) * c->max_len * c->att_h * c->att_w) : NULL;
}

/* The maps of N captioned images to the writer, unless an earlier write
 * failed (a full disk must not cost the captions). */
static void attention_out(dlt_captioner *c, const float *images, int n, char *const *names,
                          size_t first, const int32_t *w, const int *len, const float *maps)
{
    if (maps && c->att_st == 0)
        c->att_st = write_attention(c, images, n, names, first, w, len, maps);
}

static void print_caption(const dlt_captioner *c, const char *name, const int32_t *w, int len,
                          double logp, int log_prob, FILE *out)
{
    fprintf(out, "%s\t", name);
    for (int k = 0; k < len; k++)
        fprintf(out, "%s%s", k ? " " : "", c->vocab.words[w[k]]);
    if (log_prob)
        fprintf(out, "\t%.6f", logp);
    fputc('\n', out);
}

/* Caption N images of IMAGES (n x sz), printing them under NAMES. */
static int caption_and_print(dlt_captioner *c, const float *images, int n, char *const *names,
                             int log_prob, FILE *out)
{
    int32_t *w = dlt_malloc(sizeof *w * (size_t)n * c->max_len);
    int *len = dlt_malloc(sizeof *len * (size_t)n);
    double *lp = dlt_malloc(sizeof *lp * (size_t)n);
    float *maps = maps_for(c, (size_t)n);
    int st = caption_batch(c, images, n, w, len, lp, maps);
    for (int i = 0; i < n && st == 0; i++)
        print_caption(c, names[i], w + (size_t)i * c->max_len, len[i], lp[i], log_prob, out);
    if (st == 0)
        attention_out(c, images, n, names, 0, w, len, maps);
    free(w), free(len), free(lp), free(maps);
    return finish_attention(c, st);
}

int dlt_caption_files(dlt_captioner *c, char *const *files, int n, int log_prob, FILE *out)
{
    dlt_transform *tf;
    DLT_TRY(dlt__transform_for_data_layer(dlt_layer_data_params(c->data), &c->spec, &tf));
    int oc, oh, ow;
    dlt_transform_output_shape(tf, &oc, &oh, &ow);
    size_t sz = (size_t)oc * oh * ow;
    float *images = dlt_malloc(sizeof *images * sz * (size_t)(n > 0 ? n : 1));
    int st = 0;
    for (int i = 0; i < n && st == 0; i++) /* every file first: a bad one stops before output */
        st = dlt_transform_image_file(tf, files[i], images + (size_t)i * sz);
    if (st == 0)
        st = caption_and_print(c, images, n, files, log_prob, out);
    free(images);
    dlt_transform_free(tf);
    return st;
}

/* Every image of DS captioned: WORDS (N x max_len), LEN and LOGP (N), malloc'd. */
static int caption_set(dlt_captioner *c, const dlt_dataset *ds, int32_t **words, int **len,
                       double **logp)
{
    *words = NULL, *len = NULL, *logp = NULL;
    dlt_input_spec spec;
    dlt_dataset_input_spec(ds, &spec);
    if (spec.c != c->spec.c || spec.h != c->spec.h || spec.w != c->spec.w)
        DLT_FAIL(DLT_ERR_ARG, "%s: samples of %dx%dx%d, but the run was trained on %dx%dx%d",
                 dlt_dataset_path(ds), spec.c, spec.h, spec.w, c->spec.c, c->spec.h, c->spec.w);
    dlt_transform *tf;
    DLT_TRY(dlt__transform_for_data_layer(dlt_layer_data_params(c->data), &spec, &tf));
    int oc, oh, ow;
    dlt_transform_output_shape(tf, &oc, &oh, &ow);
    const size_t sz = (size_t)oc * oh * ow, raw = (size_t)spec.c * spec.h * spec.w;
    const size_t n = dlt_dataset_size(ds);
    const int chunk = 1024;
    float *images = dlt_malloc(sizeof *images * sz * chunk), *px = dlt_malloc(sizeof *px * raw);
    float *maps = maps_for(c, (size_t)chunk);
    *words = dlt_calloc(n * (size_t)c->max_len + 1, sizeof **words);
    *len = dlt_calloc(n + 1, sizeof **len);
    *logp = dlt_calloc(n + 1, sizeof **logp);
    int st = 0;
    for (size_t i0 = 0; i0 < n && st == 0; i0 += chunk) {
        int m = n - i0 < (size_t)chunk ? (int)(n - i0) : chunk;
        for (int i = 0; i < m; i++) {
            dlt_dataset_sample(ds, i0 + (size_t)i, 1.0f, px); /* pixels 0..255, as stored */
            dlt_transform_sample(tf, NULL, px, NULL, images + (size_t)i * sz);
        }
        int32_t *w = *words + i0 * (size_t)c->max_len;
        st = caption_batch(c, images, m, w, *len + i0, *logp + i0, c->att_st == 0 ? maps : NULL);
        if (st == 0) /* maps of a chunk at a time: COCO's would not fit at once */
            attention_out(c, images, m, NULL, i0, w, *len + i0, maps);
    }
    free(images), free(px), free(maps);
    dlt_transform_free(tf);
    return st;
}

int dlt_caption_dataset(dlt_captioner *c, const dlt_dataset *ds, int log_prob, FILE *out)
{
    int32_t *w;
    int *len;
    double *lp;
    int st = caption_set(c, ds, &w, &len, &lp);
    for (size_t i = 0; i < dlt_dataset_size(ds) && st == 0; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "%zu", i);
        print_caption(c, idx, w + i * (size_t)c->max_len, len[i], lp[i], log_prob, out);
    }
    free(w), free(len), free(lp);
    return finish_attention(c, st);
}

int dlt_caption_bleu(dlt_captioner *c, const dlt_dataset *ds, dlt_bleu_score *out)
{
    const dlt__caption_table *t = dlt__dataset_captions(ds);
    if (!t)
        DLT_FAIL(DLT_ERR_ARG, "%s: not a caption set (no /captions); HINT: build it with "
                 "dltrain-prep --format captions", dlt_dataset_path(ds));
    int32_t *w;
    int *len;
    double *lp;
    int st = caption_set(c, ds, &w, &len, &lp);
    if (st == 0) {
        /* The run's ids to the set's (the same when val was built with train's
         * --vocab); a word the set lacks matches nothing. */
        const size_t n = dlt_dataset_size(ds);
        const int32_t **hyp = dlt_malloc(sizeof *hyp * (n + 1));
        for (size_t i = 0; i < n; i++) {
            int32_t *h = w + i * (size_t)c->max_len;
            for (int k = 0; k < len[i]; k++) {
                int id = dlt__vocab_find(&t->vocab, c->vocab.words[h[k]]);
                h[k] = id >= 0 ? id : -1;
            }
            hyp[i] = h;
        }
        st = dlt_bleu_dataset(ds, hyp, len, out);
        free(hyp);
    }
    free(w), free(len), free(lp);
    return st;
}
