/* loader.c - one rank's batches from an in-memory dataset, with the
 * sharding rule of data.h, Caffe's transform_param, and PREFETCH worker
 * threads that prepare (and JPEG-decode) the next steps' batches while the
 * caller trains on the current one. A TRAIN set not in memory is streamed
 * (stream.h) by one worker thread, steps in order; the others stay idle.
 * On a caption set a sample is a caption: its image, and its words laid
 * out for teacher forcing. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/captions.h"
#include "data/dataset_internal.h"
#include "data/image.h"
#include "data/stream.h"
#include "dltrain/data.h"
#include "dltrain/error.h"
#include "dltrain/tensor.h"

/* A pthread call that fails here means a corrupted mutex or exhausted
 * resources: nothing to recover, so stop with the call's error. */
#define PT_CHECK(call)                                                   \
    do {                                                                 \
        int pt_rc_ = (call);                                             \
        if (pt_rc_ != 0)                                                 \
            dlt_fatal("%s failed: %s", #call, strerror(pt_rc_));         \
    } while (0)

#define MAX_PREFETCH 64

enum { SLOT_FREE, SLOT_QUEUED, SLOT_BUSY, SLOT_READY };

typedef struct slot {
    long step;
    int state;
    int status;         /* prepare()'s result, for READY */
    float *data;        /* (B, c, oh, ow) */
    float *label;       /* (B) */
    uint32_t *index;    /* (B) dataset indices, for DLTRAIN_TRACE_SAMPLES */
    float *words;       /* caption sets: (3, T, B) input words, target words, cont */
    int nbad;           /* bad records in this batch, counted when it is handed out */
} slot;

/* What one worker thread owns: its permutation cache and JPEG codec. */
typedef struct worker {
    struct dlt_loader *ld;
    pthread_t thread;
    uint32_t *perm;     /* (n), TRAIN only */
    long perm_epoch;    /* -1: none cached */
    dlt__jpeg_codec *jc;
    uint8_t *pix;       /* (c, h, w) decode buffer */
    unsigned char *bad; /* (B) samples of the batch being prepared that are bad records */
    int nbad;           /* how many, for the slot */
} worker;

struct dlt_loader {
    const dlt_dataset *ds;
    dlt_loader_config cfg;
    size_t n;              /* samples: the dataset's images, or its captions */
    const dlt__caption_table *cap; /* caption set, or NULL */
    int T;                 /* caption sets: time steps of the word batches */
    int c, h, w;           /* dataset sample shape */
    int oh, ow;            /* output sample shape (crop) */
    size_t out_sample;     /* c*oh*ow */
    long steps_per_epoch;
    dlt_transform *tf;     /* crop, mirror, mean, scale */

    dlt__stream *stream;   /* streaming TRAIN, or NULL */
    size_t stream_buffer_bytes;
    int trace_fd;          /* DLTRAIN_TRACE_SAMPLES, or -1 */

    int nslots;
    slot slots[MAX_PREFETCH];
    worker workers[MAX_PREFETCH];
    int nworkers;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    long bad_records;      /* bad records in the batches handed out (atomic) */
    long bad_seen;         /* bad records decoded, prefetched batches too (atomic): warnings */
};

/* How many bad records get a warning line each; later ones only count. */
#define BAD_RECORD_WARNINGS 10

/* A record that does not decode (damaged, empty) is skipped as DESIGN.md
 * says: counted, warned about, and its place in the batch taken by the
 * next good sample of the same batch, so a batch depends only on the data
 * (the same on any number of ranks and after a resume). The warning comes
 * when a worker meets it; the count (dlt_loader_bad_records) when its batch
 * is handed out, so a batch prefetched beyond the last fetch is not in it. */
static void note_bad_record(dlt_loader *ld, size_t idx, const char *why)
{
    long n = __atomic_add_fetch(&ld->bad_seen, 1, __ATOMIC_RELAXED);
    if (n <= BAD_RECORD_WARNINGS)
        dlt_warn("%s: record %zu: %s; skipped (bad record %ld%s)", dlt_dataset_path(ld->ds), idx,
                 why, n, n == BAD_RECORD_WARNINGS ? "; further ones are only counted" : "");
}

static int replace_bad(dlt_loader *ld, worker *wk, long step, float *data, float *label,
                       uint32_t *index, float *words)
{
    const int B = ld->cfg.batch_size;
    for (int k = 0; k < B; k++) {
        if (!wk->bad[k])
            continue;
        int g = -1;
        for (int j = 1; j < B && g < 0; j++)
            if (!wk->bad[(k + j) % B])
                g = (k + j) % B;
        if (g < 0)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: every record of the batch at step %ld is bad (%d "
                     "records); HINT: rebuild the dataset with dltrain-prep",
                     dlt_dataset_path(ld->ds), step, B);
        memcpy(data + (size_t)k * ld->out_sample, data + (size_t)g * ld->out_sample,
               ld->out_sample * sizeof(float));
        label[k] = label[g];
        index[k] = index[g];
        for (size_t r = 0; words && r < 3 * (size_t)ld->T; r++)
            words[r * B + k] = words[r * B + g];
    }
    return DLT_OK;
}

/* The dataset index of sample K of this rank's batch at STEP. */
static size_t sample_index(dlt_loader *ld, worker *wk, long step, int k)
{
    uint64_t W = (uint64_t)ld->cfg.world, B = (uint64_t)ld->cfg.batch_size;
    uint64_t r = (uint64_t)ld->cfg.rank;
    if (!ld->cfg.shuffle)
        return (size_t)((((uint64_t)step * W + r) * B + (uint64_t)k) % ld->n);
    long epoch = step / ld->steps_per_epoch;
    uint64_t j = (uint64_t)(step % ld->steps_per_epoch);
    if (epoch != wk->perm_epoch) {
        dlt_permutation(wk->perm, ld->n, ld->cfg.seed, (uint64_t)epoch);
        wk->perm_epoch = epoch;
    }
    return wk->perm[(j * W + r) * B + (uint64_t)k];
}

/* splitmix64 finaliser: decorrelates nearby (seed, step, position). */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Crop offsets and flips of a sample come from an RNG seeded by (seed,
 * step, position in the global batch): the same on any number of ranks and
 * after a resume. The transform itself is transform.c's, shared with
 * classification. */
static void transform(dlt_loader *ld, long step, int k, const uint8_t *u8, const float *f32,
                      float *out)
{
    const dlt_loader_config *cf = &ld->cfg;
    if (!cf->shuffle) {
        dlt_transform_sample(ld->tf, u8, f32, NULL, out);
        return;
    }
    dlt_rng rng;
    uint64_t pos = (uint64_t)cf->rank * (uint64_t)cf->batch_size + (uint64_t)k;
    dlt_rng_seed(&rng, mix64(cf->seed ^ mix64(((uint64_t)step << 20) ^ pos ^ 0x7472616eULL)));
    dlt_transform_sample(ld->tf, u8, f32, &rng, out);
}

/* Caption CAPTION as column K of the (T, B) word batches, for teacher
 * forcing: the input at step t is the word before the target of step t. */
static void caption_columns(const dlt_loader *ld, size_t caption, int k, float *words)
{
    const dlt__caption_table *t = ld->cap;
    const size_t B = (size_t)ld->cfg.batch_size, T = (size_t)ld->T;
    const int32_t *w = t->tokens + caption * (size_t)t->t_max;
    const int len = t->length[caption];
    float *in = words, *target = words + T * B, *cont = words + 2 * T * B;
    for (int s = 0; s < (int)T; s++) {
        in[s * B + k] = (float)(s == 0 ? DLT_WORD_START : s - 1 < len ? w[s - 1] : DLT_WORD_PAD);
        target[s * B + k] = (float)(s < len ? w[s] : s == len ? DLT_WORD_END : DLT_WORD_PAD);
        cont[s * B + k] = s == 0 ? 0.0f : 1.0f;
    }
}

static int prepare(dlt_loader *ld, worker *wk, long step, float *data, float *label,
                   uint32_t *index, float *words)
{
    if (ld->stream) /* one thread, steps in order: a no-op seek but at epoch starts and resumes */
        DLT_TRY(dlt__stream_seek(ld->stream, step / ld->steps_per_epoch,
                                 (size_t)(step % ld->steps_per_epoch) * (size_t)ld->cfg.batch_size));
    int nbad = 0;
    for (int k = 0; k < ld->cfg.batch_size; k++) {
        size_t idx;
        dlt__sample_ref ref;
        if (ld->stream) {
            DLT_TRY(dlt__stream_next(ld->stream, &idx, &ref));
        } else {
            idx = sample_index(ld, wk, step, k);
            dlt__dataset_ref(ld->ds, ld->cap ? (size_t)ld->cap->image[idx] : idx, &ref);
        }
        if (ld->cap) { /* the label of a caption sample is its image's index */
            caption_columns(ld, idx, k, words);
            ref.label = ld->cap->image[idx];
        }
        index[k] = (uint32_t)idx;
        wk->bad[k] = 0;
        const uint8_t *u8 = ref.u8;
        if (ref.jpeg) {
            char why[256];
            if (ref.jpeg_n == 0)
                snprintf(why, sizeof why, "empty record (0 bytes)");
            if (ref.jpeg_n == 0 || dlt__jpeg_decode_chw(wk->jc, ref.jpeg, ref.jpeg_n, ld->c, ld->w,
                                                        ld->h, wk->pix, why, sizeof why) < 0) {
                note_bad_record(ld, idx, why);
                wk->bad[k] = 1, nbad++;
                continue;
            }
            u8 = wk->pix;
        }
        transform(ld, step, k, u8, ref.f32, data + (size_t)k * ld->out_sample);
        label[k] = (float)ref.label;
    }
    wk->nbad = nbad;
    return nbad ? replace_bad(ld, wk, step, data, label, index, words) : DLT_OK;
}

static slot *find_slot(dlt_loader *ld, long step)
{
    for (int i = 0; i < ld->nslots; i++)
        if (ld->slots[i].state != SLOT_FREE && ld->slots[i].step == step)
            return &ld->slots[i];
    return NULL;
}

static void *worker_main(void *arg)
{
    worker *wk = arg;
    dlt_loader *ld = wk->ld;
    PT_CHECK(pthread_mutex_lock(&ld->mu));
    for (;;) {
        slot *next_slot = NULL;
        for (int i = 0; i < ld->nslots; i++) /* the earliest queued step first */
            if (ld->slots[i].state == SLOT_QUEUED && (!next_slot || ld->slots[i].step < next_slot->step))
                next_slot = &ld->slots[i];
        if (ld->stop)
            break;
        if (!next_slot) {
            PT_CHECK(pthread_cond_wait(&ld->cv, &ld->mu));
            continue;
        }
        next_slot->state = SLOT_BUSY;
        long step = next_slot->step;
        PT_CHECK(pthread_mutex_unlock(&ld->mu));
        wk->nbad = 0;
        int st = prepare(ld, wk, step, next_slot->data, next_slot->label, next_slot->index,
                         next_slot->words);
        PT_CHECK(pthread_mutex_lock(&ld->mu));
        next_slot->status = st;
        next_slot->nbad = st >= 0 ? wk->nbad : 0;
        next_slot->state = SLOT_READY;
        PT_CHECK(pthread_cond_broadcast(&ld->cv));
    }
    PT_CHECK(pthread_mutex_unlock(&ld->mu));
    return NULL;
}

static int check_config(const dlt_dataset *ds, const dlt_loader_config *cfg, long *steps)
{
    const char *p = dlt_dataset_path(ds);
    size_t n = dlt_dataset_num_captions(ds) ? dlt_dataset_num_captions(ds) : dlt_dataset_size(ds);
    int c, h, w;
    dlt_dataset_shape(ds, &c, &h, &w);
    if (cfg->batch_size <= 0 || cfg->world <= 0 || cfg->rank < 0 || cfg->rank >= cfg->world)
        DLT_FAIL(DLT_ERR_ARG, "%s: bad loader settings: batch_size %d, rank %d of %d", p,
                 cfg->batch_size, cfg->rank, cfg->world);
    if (cfg->crop_size < 0 || cfg->crop_size > h || cfg->crop_size > w)
        DLT_FAIL(DLT_ERR_ARG, "%s: crop_size %d does not fit the dataset's %d x %d images", p,
                 cfg->crop_size, h, w);
    if (cfg->mean && cfg->mean_value)
        DLT_FAIL(DLT_ERR_ARG, "%s: give mean_file or mean_value, not both (as Caffe)", p);
    if (cfg->mean_value && cfg->n_mean_value != 1 && cfg->n_mean_value != c)
        DLT_FAIL(DLT_ERR_ARG, "%s: %d mean_value entries for %d channels; give one, or one per "
                 "channel", p, cfg->n_mean_value, c);
    if (cfg->mean_value && c > 4)
        DLT_FAIL(DLT_ERR_ARG, "%s: mean_value per channel supports at most 4 channels", p);
    if (cfg->prefetch < 0 || cfg->prefetch > MAX_PREFETCH)
        DLT_FAIL(DLT_ERR_ARG, "prefetch depth %d outside [1, %d]", cfg->prefetch, MAX_PREFETCH);
    if (n == 0)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: the dataset has no samples", p);
    if (dlt_dataset_num_captions(ds) && !dlt_dataset_in_memory(ds))
        DLT_FAIL(DLT_ERR_ARG, "%s: a caption set is read into memory (a caption's image may be "
                 "anywhere in the file); HINT: dlt_dataset_load, or store the images as JPEG "
                 "(dltrain-prep --encoding jpeg)", p);
    if (cfg->seq_len < 0 || cfg->seq_len > 65537)
        DLT_FAIL(DLT_ERR_ARG, "%s: sequence length %d outside [1, 65537]", p, cfg->seq_len);
    if (n > UINT32_MAX)
        DLT_FAIL(DLT_ERR_ARG, "%s: %zu samples; the loader handles at most %u", p, n,
                 UINT32_MAX);
    size_t global = (size_t)cfg->world * (size_t)cfg->batch_size;
    if (!dlt_dataset_in_memory(ds) && !cfg->shuffle)
        DLT_FAIL(DLT_ERR_ARG, "%s: a TEST loader needs the set in memory (dlt_dataset_load)", p);
    if (!cfg->shuffle) {
        /* TEST wraps around, so any batch works; this many steps cover the set once. */
        *steps = (long)((n + global - 1) / global);
        return DLT_OK;
    }
    if (n < global)
        DLT_FAIL(DLT_ERR_ARG, "%s: dataset has %zu samples, fewer than one global batch of "
                 "%zu (%d ranks x batch_size %d)", p, n, global, cfg->world, cfg->batch_size);
    *steps = (long)(n / global);
    return DLT_OK;
}

static void free_buffers(dlt_loader *ld)
{
    for (int i = 0; i < ld->nslots; i++) {
        free(ld->slots[i].data);
        free(ld->slots[i].label);
        free(ld->slots[i].index);
        free(ld->slots[i].words);
    }
    for (int i = 0; i < ld->nslots; i++) {
        free(ld->workers[i].perm);
        free(ld->workers[i].pix);
        free(ld->workers[i].bad);
        dlt__jpeg_codec_free(ld->workers[i].jc);
    }
    dlt_transform_free(ld->tf);
    dlt__stream_close(ld->stream);
    if (ld->trace_fd >= 0)
        close(ld->trace_fd);
}

/* Streaming: a quarter of the budget for the shuffle buffer; the rest is
 * for the chunk being read, the prefetched float batches and the JPEG
 * slots' slack. */
static int open_stream(dlt_loader *ld)
{
    const dlt_loader_config *cfg = &ld->cfg;
    size_t budget = cfg->memory_budget ? cfg->memory_budget : (size_t)256 << 20;
    size_t per = dlt__dataset_get_layout(ld->ds)->sample_bytes;
    if (!per) /* JPEG: the mean record size, from the file size */
        per = dlt_dataset_memory_bytes(ld->ds) / ld->n + 1;
    size_t samples = budget / 4 / per;
    size_t share = (size_t)ld->steps_per_epoch * (size_t)cfg->batch_size;
    if (samples < 1)
        samples = 1;
    if (samples > share)
        samples = share;
    ld->stream_buffer_bytes = samples * per;
    return dlt__stream_open(ld->ds, cfg->rank, cfg->world, cfg->seed, share, samples,
                            &ld->stream);
}

/* DLTRAIN_TRACE_SAMPLES=FILE: TRAIN loaders append what they serve. */
static int open_trace(dlt_loader *ld)
{
    const char *path = getenv("DLTRAIN_TRACE_SAMPLES");
    ld->trace_fd = -1;
    if (!ld->cfg.shuffle || !path || !*path)
        return DLT_OK;
    ld->trace_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (ld->trace_fd < 0)
        DLT_FAIL(DLT_ERR_IO, "DLTRAIN_TRACE_SAMPLES=%s: cannot open: %s", path, strerror(errno));
    return DLT_OK;
}

/* One write per batch (O_APPEND: the ranks' lines do not interleave). */
static void trace_batch(dlt_loader *ld, long step, const uint32_t *index)
{
    size_t B = (size_t)ld->cfg.batch_size, cap = B * 40, len = 0;
    char *buf = dlt_malloc(cap);
    long epoch = ld->cfg.shuffle ? step / ld->steps_per_epoch : 0;
    for (size_t k = 0; k < B; k++)
        len += (size_t)snprintf(buf + len, cap - len, "%d %ld %u\n", ld->cfg.rank, epoch,
                                (unsigned)index[k]);
    if (write(ld->trace_fd, buf, len) != (ssize_t)len)
        dlt_warn("DLTRAIN_TRACE_SAMPLES: short write: %s", strerror(errno));
    free(buf);
}

int dlt_loader_create(const dlt_dataset *ds, const dlt_loader_config *cfg, dlt_loader **out)
{
    long steps;
    *out = NULL;
    DLT_TRY(check_config(ds, cfg, &steps));
    dlt_loader *ld = dlt_calloc(1, sizeof *ld);
    ld->ds = ds;
    ld->cfg = *cfg;
    ld->n = dlt_dataset_size(ds);
    ld->cap = dlt__dataset_captions(ds);
    if (ld->cap) {
        ld->n = ld->cap->n;
        ld->T = cfg->seq_len > 0 ? cfg->seq_len : ld->cap->t_max + 1; /* + <start>/<end> */
    }
    dlt_dataset_shape(ds, &ld->c, &ld->h, &ld->w);
    ld->oh = cfg->crop_size ? cfg->crop_size : ld->h;
    ld->ow = cfg->crop_size ? cfg->crop_size : ld->w;
    ld->out_sample = (size_t)ld->c * ld->oh * ld->ow;
    ld->steps_per_epoch = steps;
    size_t sample = (size_t)ld->c * ld->h * ld->w;
    dlt_transform_config tc = {.scale = cfg->scale, .crop_size = cfg->crop_size,
                               .mirror = cfg->mirror, .mean = cfg->mean,
                               .mean_value = cfg->mean_value, .n_mean_value = cfg->n_mean_value};
    dlt_dataset_input_spec(ds, &tc.in);
    ld->cfg.mean = NULL; /* the transform keeps its own copies */
    ld->cfg.mean_value = NULL;
    ld->nslots = cfg->prefetch > 0 ? cfg->prefetch : 2;
    ld->trace_fd = -1;
    int st = dlt_transform_create(&tc, &ld->tf);
    if (st >= 0 && !dlt_dataset_in_memory(ds))
        st = open_stream(ld);
    if (st >= 0)
        st = open_trace(ld);
    if (st < 0) {
        free_buffers(ld);
        free(ld);
        return st;
    }
    for (int i = 0; i < ld->nslots; i++) {
        ld->slots[i].data = dlt_malloc((size_t)cfg->batch_size * ld->out_sample * sizeof(float));
        ld->slots[i].label = dlt_malloc((size_t)cfg->batch_size * sizeof(float));
        ld->slots[i].index = dlt_malloc((size_t)cfg->batch_size * sizeof(uint32_t));
        if (ld->cap)
            ld->slots[i].words = dlt_malloc(3 * (size_t)ld->T * cfg->batch_size * sizeof(float));
        worker *wk = &ld->workers[i];
        wk->ld = ld;
        wk->perm_epoch = -1;
        if (cfg->shuffle && !ld->stream)
            wk->perm = dlt_malloc(ld->n * sizeof *wk->perm);
        wk->jc = dlt__jpeg_codec_new();
        wk->pix = dlt_malloc(sample);
        wk->bad = dlt_calloc((size_t)cfg->batch_size, 1);
    }
    int rc;
    if ((rc = pthread_mutex_init(&ld->mu, NULL)) != 0)
        goto fail_mu;
    if ((rc = pthread_cond_init(&ld->cv, NULL)) != 0)
        goto fail_cv;
    int nthreads = ld->stream ? 1 : ld->nslots;
    for (; ld->nworkers < nthreads; ld->nworkers++)
        if ((rc = pthread_create(&ld->workers[ld->nworkers].thread, NULL, worker_main,
                                 &ld->workers[ld->nworkers])) != 0)
            goto fail_thread;
    *out = ld;
    return DLT_OK;
fail_thread:
    dlt_loader_free(ld);
    dlt_error("%s: cannot start a loader thread: %s", dlt_dataset_path(ds), strerror(rc));
    return DLT_ERR_INTERNAL;
fail_cv:
    pthread_mutex_destroy(&ld->mu);
fail_mu:
    dlt_error("%s: cannot start the loader: %s", dlt_dataset_path(ds), strerror(rc));
    free_buffers(ld);
    free(ld);
    return DLT_ERR_INTERNAL;
}

void dlt_loader_free(dlt_loader *ld)
{
    if (!ld)
        return;
    PT_CHECK(pthread_mutex_lock(&ld->mu));
    ld->stop = 1;
    PT_CHECK(pthread_cond_broadcast(&ld->cv));
    PT_CHECK(pthread_mutex_unlock(&ld->mu));
    for (int i = 0; i < ld->nworkers; i++)
        PT_CHECK(pthread_join(ld->workers[i].thread, NULL));
    PT_CHECK(pthread_cond_destroy(&ld->cv));
    PT_CHECK(pthread_mutex_destroy(&ld->mu));
    if (ld->bad_records)
        dlt_warn("%s: %ld bad records were skipped (each replaced by another sample of its "
                 "batch); HINT: rebuild the dataset with dltrain-prep",
                 dlt_dataset_path(ld->ds), ld->bad_records);
    free_buffers(ld);
    free(ld);
}

long dlt_loader_bad_records(const dlt_loader *ld)
{
    return __atomic_load_n(&ld->bad_records, __ATOMIC_RELAXED);
}

long dlt_loader_steps_per_epoch(const dlt_loader *ld) { return ld->steps_per_epoch; }

int dlt_loader_streaming(const dlt_loader *ld, size_t *buffer_bytes)
{
    if (buffer_bytes)
        *buffer_bytes = ld->stream_buffer_bytes;
    return ld->stream != NULL;
}

void dlt_loader_output_shape(const dlt_loader *ld, int *c, int *h, int *w)
{
    if (c) *c = ld->c;
    if (h) *h = ld->oh;
    if (w) *w = ld->ow;
}

int dlt_loader_seq_len(const dlt_loader *ld) { return ld->cap ? ld->T : 0; }

int dlt_loader_fetch(dlt_loader *ld, long step, float *data, float *label)
{
    return dlt_loader_fetch_seq(ld, step, data, label, NULL, NULL, NULL);
}

int dlt_loader_fetch_seq(dlt_loader *ld, long step, float *data, float *label,
                         float *input_words, float *target_words, float *cont)
{
    if (step < 0)
        DLT_FAIL(DLT_ERR_ARG, "%s: negative step %ld", dlt_dataset_path(ld->ds), step);
    size_t B = (size_t)ld->cfg.batch_size;
    long ahead = ld->nslots;
    slot *s;
    PT_CHECK(pthread_mutex_lock(&ld->mu));
    for (;;) {
        /* Slots holding steps outside [step, step+ahead) are stale (steps
         * were skipped or repeated): free them unless a worker has them. */
        for (int i = 0; i < ld->nslots; i++) {
            slot *o = &ld->slots[i];
            if (o->state != SLOT_FREE && o->state != SLOT_BUSY &&
                (o->step < step || o->step >= step + ahead))
                o->state = SLOT_FREE;
        }
        for (long t = step; t < step + ahead; t++) {
            if (find_slot(ld, t))
                continue;
            for (int i = 0; i < ld->nslots; i++)
                if (ld->slots[i].state == SLOT_FREE) {
                    ld->slots[i].state = SLOT_QUEUED;
                    ld->slots[i].step = t;
                    break;
                }
        }
        PT_CHECK(pthread_cond_broadcast(&ld->cv));
        s = find_slot(ld, step);
        if (s && s->state == SLOT_READY)
            break;
        PT_CHECK(pthread_cond_wait(&ld->cv, &ld->mu));
    }
    int st = s->status;
    if (st >= 0) {
        memcpy(data, s->data, B * ld->out_sample * sizeof(float));
        if (label)
            memcpy(label, s->label, B * sizeof(float));
        float *dst[3] = {input_words, target_words, cont};
        size_t tb = (size_t)ld->T * B;
        for (int r = 0; r < 3; r++)
            if (dst[r] && s->words)
                memcpy(dst[r], s->words + r * tb, tb * sizeof(float));
        if (ld->trace_fd >= 0)
            trace_batch(ld, step, s->index);
        __atomic_add_fetch(&ld->bad_records, s->nbad, __ATOMIC_RELAXED);
    }
    s->state = SLOT_FREE;
    /* Queue the step that keeps the pipeline `ahead` deep. */
    if (!find_slot(ld, step + ahead)) {
        s->state = SLOT_QUEUED;
        s->step = step + ahead;
        PT_CHECK(pthread_cond_broadcast(&ld->cv));
    }
    PT_CHECK(pthread_mutex_unlock(&ld->mu));
    return st;
}

int dlt_loader_fetch_batch(dlt_loader *ld, long step, const dlt_batch *dst)
{
    if (dst->n != ld->cfg.batch_size || dst->c != ld->c || dst->h != ld->oh || dst->w != ld->ow)
        DLT_FAIL(DLT_ERR_ARG, "%s: the loader makes batches of %d x %d x %d x %d; the input "
                 "takes %d x %d x %d x %d", dlt_dataset_path(ld->ds), ld->cfg.batch_size, ld->c,
                 ld->oh, ld->ow, dst->n, dst->c, dst->h, dst->w);
    int words = dst->input_words || dst->target_words || dst->cont;
    if (words && (!ld->cap || dst->t != ld->T))
        DLT_FAIL(DLT_ERR_ARG, "%s: the input takes word batches of %d time steps; the loader "
                 "makes %s%d", dlt_dataset_path(ld->ds), dst->t, ld->cap ? "" : "none (not a "
                 "caption set) ", ld->cap ? ld->T : 0);
    return dlt_loader_fetch_seq(ld, step, dst->data, dst->label, dst->input_words,
                                dst->target_words, dst->cont);
}
