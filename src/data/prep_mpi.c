/* prep_mpi.c - dltrain-prep's ranks under mpirun: detects the launch, splits
 * each block into contiguous shares, and gathers the decoded results to
 * rank 0 (the single writer) through the comm module. */
#include <stdlib.h>
#include <string.h>

#include "data/prep_mpi.h"
#include "dltrain/comm.h"
#include "dltrain/error.h"

static int launched_by_mpirun(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE",
                                       "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

void dlt__prep_par_begin(dlt__prep_par *par)
{
    par->comm = NULL, par->rank = 0, par->size = 1;
    if (!launched_by_mpirun())
        return;
    par->comm = dlt_comm_init(NULL, NULL);
    par->rank = dlt_comm_rank(par->comm);
    par->size = dlt_comm_size(par->comm);
}

void dlt__prep_par_end(dlt__prep_par *par)
{
    dlt_comm_finalize(par->comm);
    par->comm = NULL;
}

void dlt__prep_par_share(const dlt__prep_par *par, size_t n, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)par->rank / (size_t)par->size;
    *hi = n * (size_t)(par->rank + 1) / (size_t)par->size;
}

int dlt__prep_par_agree(const dlt__prep_par *par, int st)
{
    if (!par->comm || par->size == 1)
        return st;
    long worst = dlt_comm_allreduce_max_long(par->comm, st < 0 ? -(long)st : 0);
    return worst ? -(int)worst : 0;
}

long dlt__prep_par_bcast_long(const dlt__prep_par *par, long v)
{
    if (par->comm && par->size > 1)
        dlt_comm_bcast_bytes(par->comm, &v, sizeof v, 0);
    return v;
}

/* Record: ok byte; if ok: c*h*w pixels, 8-byte JPEG size, JPEG bytes;
 * else the reason, NUL-terminated. */
static size_t pack(const dlt__prep_result *res, size_t n, size_t sample, uint8_t **out)
{
    size_t total = 0;
    for (size_t k = 0; k < n; k++)
        total += 1 + (res[k].ok ? sample + 8 + res[k].jpeg_n : strlen(res[k].why) + 1);
    uint8_t *p = dlt_malloc(total ? total : 1);
    *out = p;
    for (size_t k = 0; k < n; k++) {
        const dlt__prep_result *r = &res[k];
        *p++ = (uint8_t)(r->ok != 0);
        if (r->ok) {
            uint64_t jn = r->jpeg_n;
            memcpy(p, r->chw, sample), p += sample;
            memcpy(p, &jn, 8), p += 8;
            if (jn)
                memcpy(p, r->jpeg, jn), p += jn;
        } else {
            size_t wl = strlen(r->why) + 1;
            memcpy(p, r->why, wl), p += wl;
        }
    }
    return total;
}

static void unpack(const uint8_t *p, size_t bytes, dlt__prep_result *res, size_t n,
                   size_t sample)
{
    const uint8_t *end = p + bytes;
    for (size_t k = 0; k < n; k++) {
        dlt__prep_result *r = &res[k];
        if (p >= end)
            dlt_fatal("parallel prep: a rank sent %zu of %zu results", k, n);
        r->ok = *p++;
        if (r->ok) {
            uint64_t jn;
            r->chw = dlt_malloc(sample);
            memcpy(r->chw, p, sample), p += sample;
            memcpy(&jn, p, 8), p += 8;
            r->jpeg_n = (size_t)jn;
            r->jpeg = jn ? dlt_malloc(jn) : NULL;
            if (jn)
                memcpy(r->jpeg, p, jn), p += jn;
        } else {
            size_t wl = strlen((const char *)p) + 1;
            memcpy(r->why, p, wl < sizeof r->why ? wl : sizeof r->why);
            r->why[sizeof r->why - 1] = '\0';
            p += wl;
        }
    }
}

void dlt__prep_par_gather(const dlt__prep_par *par, dlt__prep_result *res, size_t n,
                          size_t sample)
{
    if (!par->comm || par->size == 1)
        return;
    size_t lo, hi;
    dlt__prep_par_share(par, n, &lo, &hi);
    uint8_t *mine;
    size_t bytes = pack(res + lo, hi - lo, sample, &mine);
    void *all = NULL;
    size_t *counts = dlt_malloc((size_t)par->size * sizeof *counts);
    dlt_comm_gatherv_bytes(par->comm, mine, bytes, &all, counts, 0);
    free(mine);
    if (par->rank == 0) {
        const uint8_t *p = all;
        for (int r = 0; r < par->size; r++) {
            dlt__prep_par share = {par->comm, r, par->size};
            size_t rlo, rhi;
            dlt__prep_par_share(&share, n, &rlo, &rhi);
            if (r != 0) /* rank 0's own results are in place */
                unpack(p, counts[r], res + rlo, rhi - rlo, sample);
            p += counts[r];
        }
    }
    free(all);
    free(counts);
}
