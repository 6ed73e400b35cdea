/* prep.c - dltrain-prep's builder: shuffles and splits the inputs, decodes
 * and resizes them in worker threads a block at a time (bounded memory),
 * appends the good ones in order, and lists the bad ones in OUT.skipped.txt;
 * a caption set's captions follow their images into each file. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data/image.h"
#include "data/prep_captions.h"
#include "data/prep_idx.h"
#include "data/prep_inputs.h"
#include "data/prep_mpi.h"
#include "dltrain/data.h"
#include "dltrain/error.h"
#include "dltrain/prep.h"
#include "dltrain/tensor.h"

/* Samples decoded per block: the memory in flight is about this many
 * images (plus their JPEG bytes), whatever the dataset size. */
#define BLOCK_PER_THREAD 64

/* ---- interrupt: never leave a temporary file behind ---- */

#define MAX_TMP 2
static char tmp_paths[MAX_TMP][4096];
static volatile sig_atomic_t tmp_count;

static void say(const char *s)
{
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

/* Async-signal-safe: unlink, write, then die of the signal as before. */
static void on_signal(int sig)
{
    say(sig == SIGINT ? "\ndltrain-prep: interrupted (SIGINT)"
        : sig == SIGHUP ? "\ndltrain-prep: hung up (SIGHUP)" : "\ndltrain-prep: terminated (SIGTERM)");
    for (int i = 0; i < tmp_count; i++)
        if (tmp_paths[i][0] && unlink(tmp_paths[i]) == 0) {
            say("; removed ");
            say(tmp_paths[i]);
        }
    say("; no output written\n");
    signal(sig, SIG_DFL);
    raise(sig);
}

static void track_tmp(int slot, const char *path)
{
    snprintf(tmp_paths[slot], sizeof tmp_paths[slot], "%s", path ? path : "");
    if (slot + 1 > tmp_count)
        tmp_count = slot + 1;
}

/* ---- one output file ---- */

typedef struct output {
    const char *path;
    dlt_dataset_writer *wr;
    long written;
} output;

/* ---- work on a block of items ---- */

typedef dlt__prep_result result;

typedef struct block {
    const dlt_prep_options *o;
    const dlt__prep_inputs *in;
    const size_t *order;  /* item indices of this block */
    size_t n;
    result *res;
    size_t next;          /* next index to take, under mu */
    long *out_index;      /* (items) where each was written, -1: skipped; or NULL */
    pthread_mutex_t mu;
    dlt__resize_mode mode;
    int c, w, h;
} block;

static const char *file_kind(mode_t m)
{
    return S_ISDIR(m) ? "a folder" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket"
           : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" : "special";
}

/* Opened without blocking (a FIFO would wait for a writer forever) and
 * read only if it is a regular file. */
static int read_file(const char *path, uint8_t **buf, size_t *n, char *why, size_t ws)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    *buf = NULL;
    struct stat sb;
    if (fd < 0) {
        int e = errno;
        if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) /* sockets cannot be opened */
            snprintf(why, ws, "cannot read: not a regular file (%s)", file_kind(sb.st_mode));
        else
            snprintf(why, ws, "cannot read: %s", strerror(e));
        return -1;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(why, ws, "cannot read: not a regular file (%s)", file_kind(sb.st_mode));
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        snprintf(why, ws, "cannot read: %s", strerror(errno));
        close(fd);
        return -1;
    }
    *buf = dlt_malloc((size_t)sb.st_size + 1);
    *n = fread(*buf, 1, (size_t)sb.st_size, f);
    int err = ferror(f);
    fclose(f);
    if (err) {
        snprintf(why, ws, "cannot read: I/O error");
        free(*buf);
        *buf = NULL;
        return -1;
    }
    return 0;
}

/* CIFAR record (3, 32, 32) planes -> interleaved image of C channels. */
static void cifar_image(const uint8_t *rec, int c, dlt__image *im)
{
    size_t plane = DLT_CIFAR_SIDE * DLT_CIFAR_SIDE;
    im->w = im->h = DLT_CIFAR_SIDE, im->c = c;
    im->px = dlt_malloc(plane * c);
    for (size_t p = 0; p < plane; p++) {
        uint8_t r = rec[p], g = rec[plane + p], b = rec[2 * plane + p];
        if (c == 3)
            im->px[3 * p] = r, im->px[3 * p + 1] = g, im->px[3 * p + 2] = b;
        else /* ITU-R BT.601 luma, as libjpeg converts RGB to grey */
            im->px[p] = (uint8_t)(0.299f * r + 0.587f * g + 0.114f * b + 0.5f);
    }
}

static void process(block *b, dlt__jpeg_codec *jc, size_t k)
{
    const dlt_prep_options *o = b->o;
    const dlt__prep_item *it = &b->in->items[b->order[k]];
    result *r = &b->res[k];
    char *why = r->why;
    size_t ws = sizeof r->why;
    uint8_t *buf = NULL;
    size_t n = 0;
    int keep_bytes = 0;
    dlt__image src = {0}, out = {0};
    if (b->in->nclasses > 0 && (it->label < 0 || it->label >= b->in->nclasses)) {
        snprintf(why, ws, "label %d outside [0, %d)", (int)it->label, b->in->nclasses);
        return;
    }
    if (it->rec) { /* fill noise: a function of the bytes, so builds repeat */
        size_t rec_n = (size_t)3 * DLT_CIFAR_SIDE * DLT_CIFAR_SIDE;
        cifar_image(it->rec, b->c, &src);
        dlt__image_resize_mode(&src, b->w, b->h, b->mode,
                               dlt__resize_noise_seed(o->seed, it->rec, rec_n), &out);
    } else {
        if (read_file(it->path, &buf, &n, why, ws) < 0)
            return;
        if (n == 0) {
            snprintf(why, ws, "empty file (0 bytes)");
            goto done;
        }
        const char *kind = dlt__image_sniff(buf, n);
        if (!kind) {
            snprintf(why, ws, "not an image file");
            goto done;
        }
        if (strcmp(kind, "jpeg") != 0) {
            snprintf(why, ws, "unsupported image format %s (only JPEG is read)", kind);
            goto done;
        }
        if (dlt__image_prepare(jc, buf, n, b->c, b->w, b->h, b->mode, o->seed, &out,
                               &keep_bytes, why, ws) < 0)
            goto done;
    }
    r->chw = dlt_malloc((size_t)b->c * b->w * b->h);
    dlt__image_to_chw(&out, r->chw);
    if (o->jpeg) {
        if (keep_bytes) { /* already the stored size: no second lossy pass */
            r->jpeg = buf, r->jpeg_n = n;
            buf = NULL;
        } else if (dlt__jpeg_encode(jc, &out, o->quality, &r->jpeg, &r->jpeg_n, why, ws) < 0) {
            free(r->chw);
            r->chw = NULL;
            goto done;
        }
    }
    r->ok = 1;
done:
    free(buf);
    dlt__image_free(&src);
    dlt__image_free(&out);
}

static void *worker(void *arg)
{
    block *b = arg;
    dlt__jpeg_codec *jc = dlt__jpeg_codec_new();
    for (;;) {
        pthread_mutex_lock(&b->mu);
        size_t k = b->next++;
        pthread_mutex_unlock(&b->mu);
        if (k >= b->n)
            break;
        process(b, jc, k);
    }
    dlt__jpeg_codec_free(jc);
    return NULL;
}

static void run_block(block *b, int threads)
{
    pthread_t tid[256];
    int started = 0;
    b->next = 0;
    for (int t = 1; t < threads && t < 256; t++)
        if (pthread_create(&tid[started], NULL, worker, b) == 0)
            started++;
    worker(b); /* this thread works too; with no extra threads it does all */
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
}

/* ---- progress ---- */

typedef struct progress {
    int tty, quiet;
    size_t total;
    double t0, last;
} progress;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progress_show(progress *p, size_t done, long skipped, int final)
{
    double t = now_s();
    if (p->quiet || (!final && t - p->last < (p->tty ? 0.2 : 10.0)))
        return;
    p->last = t;
    double el = t - p->t0, rate = el > 0 ? (double)done / el : 0;
    double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
    double frac = p->total ? (double)done / (double)p->total : 1;
    if (p->tty) {
        char bar[31];
        int fill = (int)(frac * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r[%s] %5.1f%% %zu/%zu  %.0f images/s  ETA %.0f s  skipped %ld%s", bar,
                100 * frac, done, p->total, rate, eta, skipped, final ? "\n" : "");
    } else {
        fprintf(stderr, "dltrain-prep: %zu/%zu (%.1f%%)  %.0f images/s  ETA %.0f s  skipped %ld\n",
                done, p->total, 100 * frac, rate, eta, skipped);
    }
    fflush(stderr);
}

/* ---- the build ---- */

static int open_output(const dlt_prep_options *o, const dlt__prep_inputs *in, const char *path,
                       int slot, output *out)
{
    dlt_dataset_writer_options wo = {.jpeg = o->jpeg, .chunk = o->chunk > 0 ? (size_t)o->chunk : 0};
    wo.resize = o->resize;
    wo.resize_seed = o->seed;
    out->path = path;
    out->written = 0;
    DLT_TRY(dlt_dataset_writer_open_ex(path, o->channels, o->height, o->width,
                                       (const char *const *)in->classes, in->nclasses, &wo,
                                       &out->wr));
    track_tmp(slot, dlt_dataset_writer_tmp_path(out->wr));
    return DLT_OK;
}

/* Append the good results of B in order to OUT; bad ones to the report. */
static int flush_block(const dlt_prep_options *o, block *b, output *out, FILE *report,
                       long *skipped)
{
    size_t sample = (size_t)b->c * b->w * b->h, good = 0;
    uint8_t *px = dlt_malloc(b->n * sample);
    int32_t *labels = dlt_malloc(b->n * sizeof *labels);
    const uint8_t **jp = dlt_malloc(b->n * sizeof *jp);
    size_t *jn = dlt_malloc(b->n * sizeof *jn);
    for (size_t k = 0; k < b->n; k++) {
        const dlt__prep_item *it = &b->in->items[b->order[k]];
        result *r = &b->res[k];
        if (b->out_index)
            b->out_index[b->order[k]] = r->ok ? out->written + (long)good : -1;
        if (!r->ok) {
            (*skipped)++;
            if (it->rec)
                fprintf(report, "%s\trecord %ld\t%s\n", it->path, it->record, r->why);
            else
                fprintf(report, "%s\t%s\n", it->path, r->why);
            continue;
        }
        memcpy(px + good * sample, r->chw, sample);
        labels[good] = it->label;
        jp[good] = r->jpeg, jn[good] = r->jpeg_n;
        good++;
    }
    int st = o->jpeg ? dlt_dataset_writer_append_jpeg(out->wr, jp, jn, px, labels, good)
                     : dlt_dataset_writer_append(out->wr, px, labels, good);
    out->written += (long)good;
    free(px), free(labels), free(jp), free(jn);
    return st;
}

/* Under mpirun each rank decodes its contiguous share of the block and
 * rank 0 gathers the rest: one writer, the same appends as one process. */
static void run_share(block *b, int threads, const dlt__prep_par *par)
{
    if (par->size == 1) {
        run_block(b, threads);
        return;
    }
    size_t lo, hi;
    dlt__prep_par_share(par, b->n, &lo, &hi);
    block mine = *b;
    mine.order = b->order + lo, mine.res = b->res + lo, mine.n = hi - lo;
    pthread_mutex_init(&mine.mu, NULL);
    run_block(&mine, threads);
    pthread_mutex_destroy(&mine.mu);
    dlt__prep_par_gather(par, b->res, b->n, (size_t)b->c * b->w * b->h);
}

static int build(const dlt_prep_options *o, const dlt__prep_inputs *in, const size_t *order,
                 size_t n, output *out, FILE *report, progress *pg, size_t *done, long *skipped,
                 const dlt__prep_par *par, long *out_index)
{
    int threads = o->threads;
    /* Rank 0's block size for all: blocks must line up across ranks. */
    size_t per = (size_t)dlt__prep_par_bcast_long(
        par, (long)threads * BLOCK_PER_THREAD * par->size);
    block b = {.o = o, .in = in, .c = o->channels, .w = o->width, .h = o->height,
               .out_index = out_index};
    if (dlt_resize_mode_parse(o->resize ? o->resize : "squash", &b.mode) < 0)
        DLT_FAIL(DLT_ERR_ARG, "unknown resize mode '%s' (squash, crop, fill, half_crop)",
                 o->resize);
    pthread_mutex_init(&b.mu, NULL);
    b.res = dlt_malloc(per * sizeof *b.res);
    int st = DLT_OK;
    for (size_t s = 0; s < n && st >= 0; s += per) {
        b.order = order + s;
        b.n = n - s < per ? n - s : per;
        memset(b.res, 0, b.n * sizeof *b.res);
        run_share(&b, threads, par);
        if (par->rank == 0)
            st = flush_block(o, &b, out, report, skipped);
        st = dlt__prep_par_agree(par, st);
        for (size_t k = 0; k < b.n; k++) {
            free(b.res[k].chw);
            free(b.res[k].jpeg);
        }
        *done += b.n;
        progress_show(pg, *done, *skipped, 0);
    }
    free(b.res);
    pthread_mutex_destroy(&b.mu);
    return st;
}

static int default_threads(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    return 1;
}

static char *report_path(const char *out)
{
    size_t n = strlen(out) + 16;
    char *p = dlt_malloc(n);
    snprintf(p, n, "%s.skipped.txt", out);
    return p;
}

static char *default_val_path(const char *out)
{
    size_t n = strlen(out) + 8;
    char *p = dlt_malloc(n);
    const char *dot = strrchr(out, '.');
    const char *slash = strrchr(out, '/');
    if (dot && (!slash || dot > slash))
        snprintf(p, n, "%.*s_val%s", (int)(dot - out), out, dot);
    else
        snprintf(p, n, "%s_val", out);
    return p;
}

/* The captions of a caption set's split VAL into OUT's writer (rank 0):
 * the vocabulary is made (or read) before the training file's table. */
typedef struct caption_job {
    dlt__prep_captions pc;
    long *out_index;      /* (items) */
    const char *is_val;   /* (items) */
    dlt__vocab vocab;
    int have_vocab;
    long dropped;         /* captions of images that were skipped */
} caption_job;

static int add_captions(const dlt_prep_options *o, caption_job *cj, int val, output *out,
                        long *count)
{
    if (!out->wr)
        return DLT_OK;
    if (!cj->have_vocab) {
        DLT_TRY(dlt__prep_captions_vocab(o, &cj->pc, cj->out_index, cj->is_val, &cj->vocab));
        cj->have_vocab = 1;
        if (o->vocab_out)
            DLT_TRY(dlt__vocab_write_text(o->vocab_out, &cj->vocab));
    }
    dlt__caption_table t;
    dlt__prep_captions_table(o, &cj->pc, cj->out_index, cj->is_val, val, &cj->vocab,
                             (size_t)out->written, &t, &cj->dropped);
    int st = dlt__dataset_writer_add_captions(out->wr, &t);
    *count = (long)t.n;
    dlt__caption_table_free(&t);
    return st;
}

/* Closes OUT's writer if this rank has one (only rank 0 writes). */
static int close_output(output *out)
{
    int st = out->wr ? dlt_dataset_writer_close(out->wr) : DLT_OK;
    out->wr = NULL;
    return st;
}

static int prep_run(const dlt_prep_options *opt, dlt_prep_result *res, const dlt__prep_par *par)
{
    if (opt->format == DLT_PREP_IDX)
        return dlt__prep_idx_run(opt, res);
    dlt_prep_options o = *opt;
    int root = par->rank == 0;
    memset(res, 0, sizeof *res);
    double t0 = now_s();
    if (o.threads <= 0)
        o.threads = default_threads();
    if (o.quality <= 0)
        o.quality = 90;
    if (o.channels != 1 && o.channels != 3)
        DLT_FAIL(DLT_ERR_ARG, "channels must be 1 (gray) or 3 (color), got %d", o.channels);
    int cifar = o.format == DLT_PREP_CIFAR10 || o.format == DLT_PREP_CIFAR100;
    if (o.width <= 0 || o.height <= 0)
        o.width = o.height = cifar ? DLT_CIFAR_SIDE : 256;
    if (o.val_percent < 0 || o.val_percent >= 100)
        DLT_FAIL(DLT_ERR_ARG, "--val-percent must be in [0, 100), got %g", o.val_percent);

    dlt__prep_inputs in;
    caption_job cj = {0};
    int captions = o.format == DLT_PREP_CAPTIONS;
    int st = captions ? dlt__prep_captions_collect(&o, &in, &cj.pc)
                      : dlt__prep_inputs_collect(&o, &in);
    if (st >= 0 && captions && o.vocab) { /* a bad --vocab fails now, not after the images */
        st = dlt__vocab_read_text(o.vocab, &cj.vocab);
        dlt__vocab_free(&cj.vocab);
    }
    st = dlt__prep_par_agree(par, st);
    if (st < 0) {
        dlt__prep_captions_free(&cj.pc);
        dlt__prep_inputs_free(&in);
        return st;
    }
    size_t n = in.n;
    /* Validation share: the first round(n * pct / 100) of a seeded
     * permutation (independent of --shuffle); each split keeps input order
     * unless --shuffle, then takes the permutation's order. */
    uint32_t *perm = dlt_malloc((n ? n : 1) * sizeof *perm);
    dlt_permutation(perm, n, o.seed, 0x7661); /* stream "va" */
    size_t nval = (size_t)((double)n * o.val_percent / 100.0 + 0.5);
    char *is_val = dlt_calloc(n ? n : 1, 1);
    for (size_t i = 0; i < nval; i++)
        is_val[perm[i]] = 1;
    if (o.shuffle)
        dlt_permutation(perm, n, o.seed, 0x7368); /* stream "sh" */
    else
        for (size_t i = 0; i < n; i++)
            perm[i] = (uint32_t)i;
    size_t *order_train = dlt_malloc((n ? n : 1) * sizeof(size_t));
    size_t *order_val = dlt_malloc((nval ? nval : 1) * sizeof(size_t));
    size_t ntr = 0, nva = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_val[perm[i]])
            order_val[nva++] = perm[i];
        else
            order_train[ntr++] = perm[i];
    }
    free(perm);
    long *out_index = NULL;
    if (captions) {
        out_index = dlt_malloc((n ? n : 1) * sizeof *out_index);
        for (size_t i = 0; i < n; i++)
            out_index[i] = -1;
        cj.out_index = out_index, cj.is_val = is_val;
    }

    char *val_path = nva ? (o.val_out ? dlt_strdup(o.val_out) : default_val_path(o.out)) : NULL;
    char *rpath = report_path(o.out);
    char *rtmp = dlt_malloc(strlen(rpath) + 32);
    sprintf(rtmp, "%s.tmp-%ld", rpath, (long)getpid());
    FILE *report = root ? fopen(rtmp, "w") : NULL;
    output out = {0}, vout = {0};
    struct sigaction sa, old_int, old_term, old_hup;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    progress pg = {o.progress_tty < 0 ? isatty(2) : o.progress_tty, o.quiet, n, now_s(), 0};
    size_t done = 0;
    if (root && !report) {
        dlt_error("%s: cannot create the skip report: %s", rtmp, strerror(errno));
        st = DLT_ERR_IO;
    } else if (root) {
        track_tmp(0, rtmp);
        st = open_output(&o, &in, o.out, 1, &out);
        /* Bad caption records: in the report, and named on stderr. */
        for (size_t i = 0; i < cj.pc.nskips; i++) {
            fprintf(report, "%s\n", cj.pc.skips[i]);
            if (i < 10 && !o.quiet)
                fprintf(stderr, "dltrain-prep: skipped %s\n", cj.pc.skips[i]);
        }
        if (cj.pc.nskips > 10 && !o.quiet)
            fprintf(stderr, "dltrain-prep: ... and %zu more skipped records (see %s)\n",
                    cj.pc.nskips - 10, rpath);
    }
    res->skipped += (long)cj.pc.nskips;
    /* Collective from here on: every rank takes the same branches. */
    if ((st = dlt__prep_par_agree(par, st)) < 0)
        goto out;
    st = build(&o, &in, order_train, ntr, &out, report, &pg, &done, &res->skipped, par,
               out_index);
    if (st >= 0 && captions)
        st = dlt__prep_par_agree(par, add_captions(&o, &cj, 0, &out, &res->captions));
    if (st >= 0 && nva) {
        /* One writer at a time: close (rename) train, then build val. */
        st = dlt__prep_par_agree(par, close_output(&out));
        if (st >= 0 && root)
            st = open_output(&o, &in, val_path, 1, &vout);
        if (st >= 0 && (st = dlt__prep_par_agree(par, st)) >= 0)
            st = build(&o, &in, order_val, nva, &vout, report, &pg, &done, &res->skipped, par,
                       out_index);
        if (st >= 0 && captions)
            st = add_captions(&o, &cj, 1, &vout, &res->val_captions);
        if (st >= 0)
            st = close_output(&vout);
    } else if (st >= 0) {
        st = close_output(&out);
    }
    progress_show(&pg, done, res->skipped, 1);
out:
    track_tmp(1, NULL);
    if (out.wr) dlt_dataset_writer_abort(out.wr);
    if (vout.wr) dlt_dataset_writer_abort(vout.wr);
    if (report) {
        fclose(report);
        /* The report lands next to the output only with it, and only when
         * something was skipped; a stale one from an earlier run goes. */
        if (st >= 0 && res->skipped > 0)
            rename(rtmp, rpath);
        else
            unlink(rtmp);
        if (st >= 0 && res->skipped == 0)
            unlink(rpath);
    }
    track_tmp(0, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    res->written = out.written;
    res->val_written = vout.written;
    res->ignored = in.ignored;
    res->seconds = now_s() - t0;
    if (st >= 0 && !o.quiet) {
        printf("dltrain-prep: wrote %s (%ld samples)", o.out, res->written);
        if (val_path)
            printf(" and %s (%ld samples)", val_path, res->val_written);
        printf("\n  shape    %d x %d x %d (C x H x W), %s, resize %s\n", o.channels, o.height,
               o.width, o.jpeg ? "JPEG" : "uint8", o.resize);
        if (in.nclasses > 0)
            printf("  classes  %d (%s ... %s)\n", in.nclasses, in.classes[0],
                   in.classes[in.nclasses - 1]);
        if (captions) {
            printf("  captions %ld", res->captions);
            if (val_path)
                printf(" and %ld", res->val_captions);
            printf(", vocabulary %d words (with <pad> <start> <end> <unk>)%s%s\n", cj.vocab.n,
                   o.vocab_out ? ", written to " : "", o.vocab_out ? o.vocab_out : "");
            if (cj.dropped)
                printf("  dropped  %ld captions of skipped images\n", cj.dropped);
        }
        printf("  time     %.2f s, %.0f images/s, %d threads\n", res->seconds,
               res->seconds > 0 ? (double)n / res->seconds : 0, o.threads);
        if (in.ignored)
            printf("  ignored  %ld files without an image extension\n", in.ignored);
        if (res->skipped)
            printf("  skipped  %ld bad inputs, listed in %s\n", res->skipped, rpath);
    }
    free(rpath), free(rtmp), free(val_path), free(order_train), free(order_val);
    free(is_val), free(out_index);
    dlt__vocab_free(&cj.vocab);
    dlt__prep_captions_free(&cj.pc);
    dlt__prep_inputs_free(&in);
    return st;
}

int dlt_prep_run(const dlt_prep_options *opt, dlt_prep_result *res)
{
    dlt__prep_par par;
    dlt__prep_par_begin(&par); /* MPI only when started by mpirun */
    dlt_prep_options o = *opt;
    if (par.rank > 0)
        o.quiet = 1;
    int st = dlt__prep_par_agree(&par, prep_run(&o, res, &par));
    /* Every rank reports rank 0's outcome (the same exit status everywhere). */
    res->written = dlt__prep_par_bcast_long(&par, res->written);
    res->val_written = dlt__prep_par_bcast_long(&par, res->val_written);
    res->skipped = dlt__prep_par_bcast_long(&par, res->skipped);
    dlt__prep_par_end(&par);
    return st;
}
