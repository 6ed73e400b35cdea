/* stream.c - chunk-permuted, shuffle-buffered streaming of one rank's
 * epoch share (the rule is in stream.h). */
#include <stdlib.h>
#include <string.h>

#include "data/stream.h"
#include "dltrain/error.h"
#include "dltrain/tensor.h"

/* Streams of dlt_permutation/dlt_rng apart from the in-memory loader's. */
#define CHUNK_PERM_SALT 0x6368756e6b73ULL  /* "chunks" */
#define BUFFER_RNG_SALT 0x73687566666cULL  /* "shuffl" */

typedef struct segment {
    size_t first;      /* dataset index of its first sample */
    size_t count;
    size_t pos;        /* stream position of its first sample */
} segment;

typedef struct jpeg_slot {
    uint8_t *bytes;
    size_t n, cap;
} jpeg_slot;

struct dlt__stream {
    const dlt_dataset *ds;
    const dlt__dataset_layout *lay;
    int rank, world;
    uint64_t seed;
    size_t n, chunk, nchunks, share, buffer;
    uint32_t *chunk_perm;  /* (nchunks) */
    segment *seg;          /* this rank's segments of the epoch, in stream order */
    size_t nseg;
    long epoch;            /* -1: none planned */

    /* The shuffle buffer: pos[0..cnt) are slot ids; slot s holds stream
     * position slot_sp[s], dataset index slot_idx[s]. */
    int *pos;
    size_t cnt;
    size_t *slot_sp, *slot_idx;
    uint8_t *slot_data;    /* (buffer, sample_bytes), u8/f32 */
    jpeg_slot *slot_jpeg;  /* (buffer), JPEG */
    dlt_rng rng;
    size_t t;              /* samples served this epoch */
    size_t next_in;        /* next stream position to enter the buffer */
    int pending;           /* slot served last, to refill before the next draw; -1: none */

    dlt__range_reader *rr;
    dlt__records stage;    /* the segment read last: stream positions [stage_lo, stage_hi) */
    size_t stage_lo, stage_hi;
    size_t stage_idx;      /* dataset index of stream position stage_lo (the read may
                            * start before it: whole checksum blocks) */
    int failed;            /* a read's error status: the file is damaged or changed, so
                            * later calls return it without reading (or saying) it again */
};

int dlt__stream_open(const dlt_dataset *ds, int rank, int world, uint64_t seed, size_t share,
                     size_t buffer, dlt__stream **out)
{
    dlt__stream *s = dlt_calloc(1, sizeof *s);
    *out = NULL;
    s->ds = ds;
    s->lay = dlt__dataset_get_layout(ds);
    s->rank = rank, s->world = world, s->seed = seed;
    s->n = dlt_dataset_size(ds);
    if (share == 0 || (size_t)world * share > s->n)
        DLT_FAIL(DLT_ERR_ARG, "%s: %d ranks x %zu samples per epoch exceed the %zu samples",
                 dlt_dataset_path(ds), world, share, s->n);
    s->share = share;
    s->buffer = buffer < 1 ? 1 : buffer > share ? share : buffer;
    s->chunk = s->lay->chunk;
    if (!s->chunk) { /* contiguous /data (Caffe's files): read about 1 MiB at a time */
        size_t per = s->lay->sample_bytes ? s->lay->sample_bytes : 1;
        s->chunk = per >= (1u << 20) ? 1 : (1u << 20) / per;
    }
    s->nchunks = (s->n + s->chunk - 1) / s->chunk;
    s->chunk_perm = dlt_malloc(s->nchunks * sizeof *s->chunk_perm);
    s->seg = dlt_malloc((share / s->chunk + 3) * sizeof *s->seg);
    s->epoch = -1;
    s->pos = dlt_malloc(s->buffer * sizeof *s->pos);
    s->slot_sp = dlt_malloc(s->buffer * sizeof *s->slot_sp);
    s->slot_idx = dlt_malloc(s->buffer * sizeof *s->slot_idx);
    if (s->lay->kind == DLT__KIND_JPEG)
        s->slot_jpeg = dlt_calloc(s->buffer, sizeof *s->slot_jpeg);
    else
        s->slot_data = dlt_malloc(s->buffer * s->lay->sample_bytes);
    int st = dlt__range_reader_open(ds, &s->rr);
    if (st < 0) {
        dlt__stream_close(s);
        return st;
    }
    *out = s;
    return DLT_OK;
}

void dlt__stream_close(dlt__stream *s)
{
    if (!s)
        return;
    dlt__range_reader_close(s->rr);
    dlt__records_free(&s->stage);
    for (size_t i = 0; s->slot_jpeg && i < s->buffer; i++)
        free(s->slot_jpeg[i].bytes);
    free(s->slot_jpeg);
    free(s->slot_data);
    free(s->slot_idx);
    free(s->slot_sp);
    free(s->pos);
    free(s->seg);
    free(s->chunk_perm);
    free(s);
}

size_t dlt__stream_chunk(const dlt__stream *s) { return s->chunk; }

/* This rank's segments of epoch E: the chunks in the epoch's order, cut
 * to stream positions [rank*S, (rank+1)*S). */
static void plan_epoch(dlt__stream *s, long e)
{
    dlt_permutation(s->chunk_perm, s->nchunks, s->seed ^ CHUNK_PERM_SALT, (uint64_t)e);
    size_t lo = (size_t)s->rank * s->share, hi = lo + s->share, at = 0;
    s->nseg = 0;
    for (size_t i = 0; i < s->nchunks && at < hi; i++) {
        size_t first = (size_t)s->chunk_perm[i] * s->chunk;
        size_t len = s->n - first < s->chunk ? s->n - first : s->chunk;
        size_t a = at > lo ? at : lo, b = at + len < hi ? at + len : hi;
        if (a < b)
            s->seg[s->nseg++] = (segment){first + (a - at), b - a, a - lo};
        at += len;
    }
    s->epoch = e;
}

/* The segment holding stream position P. */
static const segment *segment_of(const dlt__stream *s, size_t p)
{
    size_t lo = 0, hi = s->nseg;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->seg[mid].pos <= p)
            lo = mid;
        else
            hi = mid;
    }
    return &s->seg[lo];
}

/* The epoch's start: the buffer holds stream positions [0, M). */
static void restart(dlt__stream *s)
{
    dlt_rng_seed(&s->rng, s->seed ^ BUFFER_RNG_SALT ^ ((uint64_t)s->epoch << 20) ^
                              ((uint64_t)s->rank * 0x9e3779b97f4a7c15ULL));
    s->cnt = s->buffer;
    for (size_t i = 0; i < s->buffer; i++) {
        s->pos[i] = (int)i;
        s->slot_sp[i] = i;
    }
    s->next_in = s->buffer;
    s->t = 0;
    s->pending = -1;
}

/* Put stream position P's sample into slot SL, reading P's segment from P
 * on (one contiguous read) unless the last read holds it. */
static int load_slot(dlt__stream *s, int sl, size_t p)
{
    if (p < s->stage_lo || p >= s->stage_hi) {
        const segment *g = segment_of(s, p);
        size_t count = g->pos + g->count - p;
        s->stage_lo = s->stage_hi = 0;
        s->stage_idx = g->first + (p - g->pos);
        DLT_TRY(dlt__range_read(s->rr, s->stage_idx, count, &s->stage));
        s->stage_lo = p, s->stage_hi = p + count;
    }
    size_t idx = s->stage_idx + (p - s->stage_lo);
    dlt__sample_ref ref;
    dlt__records_ref(s->ds, &s->stage, idx, &ref);
    s->slot_idx[sl] = idx;
    if (s->slot_jpeg) {
        jpeg_slot *j = &s->slot_jpeg[sl];
        if (ref.jpeg_n >= j->cap) { /* +1: never NULL, even for an empty record */
            j->cap = ref.jpeg_n + ref.jpeg_n / 4 + 1;
            j->bytes = dlt_realloc(j->bytes, j->cap);
        }
        if (ref.jpeg_n)
            memcpy(j->bytes, ref.jpeg, ref.jpeg_n);
        j->n = ref.jpeg_n;
    } else {
        size_t sb = s->lay->sample_bytes;
        memcpy(s->slot_data + (size_t)sl * sb, ref.u8 ? (const void *)ref.u8 : ref.f32, sb);
    }
    return DLT_OK;
}

/* The slot served last takes the next stream sample (LIVE: its data too). */
static int refill(dlt__stream *s, int live)
{
    if (s->pending < 0)
        return DLT_OK;
    int sl = s->pending;
    s->pending = -1;
    size_t p = s->next_in++;
    s->slot_sp[sl] = p;
    return live ? load_slot(s, sl, p) : DLT_OK;
}

/* Draw the next sample's slot; once the stream is drained the buffer
 * shrinks instead of being refilled. */
static int draw(dlt__stream *s)
{
    size_t i = (size_t)dlt_rng_below(&s->rng, s->cnt);
    int sl = s->pos[i];
    if (s->next_in < s->share)
        s->pending = sl;
    else
        s->pos[i] = s->pos[--s->cnt];
    s->t++;
    return sl;
}

static int by_stream_pos(const void *a, const void *b, void *arg)
{
    const size_t *sp = arg;
    size_t x = sp[*(const int *)a], y = sp[*(const int *)b];
    return x < y ? -1 : x > y;
}

int dlt__stream_seek(dlt__stream *s, long epoch, size_t t)
{
    if (s->failed)
        return s->failed;
    if (epoch == s->epoch && t == s->t)
        return DLT_OK;
    if (t >= s->share)
        DLT_FAIL(DLT_ERR_ARG, "%s: position %zu of an epoch of %zu samples per rank",
                 dlt_dataset_path(s->ds), t, s->share);
    if (epoch != s->epoch)
        plan_epoch(s, epoch);
    restart(s);
    while (s->t < t) { /* replay on indices only */
        refill(s, 0);
        draw(s);
    }
    /* Read what the buffer holds, in stream order (each segment once);
     * the pending slot is refilled by the next draw. */
    int *live = dlt_malloc(s->cnt * sizeof *live);
    size_t nl = 0;
    for (size_t i = 0; i < s->cnt; i++)
        if (s->pos[i] != s->pending)
            live[nl++] = s->pos[i];
    qsort_r(live, nl, sizeof *live, by_stream_pos, s->slot_sp);
    int st = DLT_OK;
    s->stage_lo = s->stage_hi = 0;
    for (size_t i = 0; i < nl && st >= 0; i++)
        st = load_slot(s, live[i], s->slot_sp[live[i]]);
    free(live);
    if (st < 0) {
        s->epoch = -1;
        s->failed = st;
    }
    return st;
}

int dlt__stream_next(dlt__stream *s, size_t *index, dlt__sample_ref *ref)
{
    if (s->epoch < 0 || s->t >= s->share)
        DLT_FAIL(DLT_ERR_INTERNAL, "%s: stream read past its epoch (seek first)",
                 dlt_dataset_path(s->ds));
    if (s->failed)
        return s->failed;
    int st = refill(s, 1);
    if (st < 0) {
        s->epoch = -1;
        s->failed = st;
        return st;
    }
    int sl = draw(s);
    memset(ref, 0, sizeof *ref);
    if (s->slot_jpeg) {
        ref->jpeg = s->slot_jpeg[sl].bytes;
        ref->jpeg_n = s->slot_jpeg[sl].n;
    } else if (s->lay->kind == DLT__KIND_U8) {
        ref->u8 = s->slot_data + (size_t)sl * s->lay->sample_bytes;
    } else {
        ref->f32 = (const float *)(s->slot_data + (size_t)sl * s->lay->sample_bytes);
    }
    *index = s->slot_idx[sl];
    ref->label = dlt__dataset_label(s->ds, *index);
    return DLT_OK;
}
