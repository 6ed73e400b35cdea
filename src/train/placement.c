/* placement.c - the rank -> host, local rank, cores table. Each rank
 * describes itself in a fixed-size record, rank 0 gathers and prints them
 * and checks every host for oversubscription (more threads than cores,
 * or ranks whose affinity masks overlap while each is bound). */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dltrain/device.h"
#include "dltrain/error.h"
#include "train/placement.h"

typedef struct placement {
    char host[64];
    char cores[96];     /* affinity list, e.g. "0-3,8" */
    unsigned char mask[128]; /* CPU bitmap (1024 CPUs) */
    int local_rank;
    int threads;
    int ncores;         /* CPUs in the affinity mask */
    int online;         /* CPUs online on the host */
    int gpu;            /* the GPU it computes on, -1: the CPU */
} placement;

/* "0-3,8,10-11" from a cpu set; truncated with "..." if long. */
static void format_cpus(const cpu_set_t *set, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (int c = 0; c < CPU_SETSIZE && len + 16 < size; c++) {
        if (!CPU_ISSET(c, set))
            continue;
        int e = c;
        while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
            e++;
        len += (size_t)snprintf(out + len, size - len, len ? ",%d" : "%d", c);
        if (e > c)
            len += (size_t)snprintf(out + len, size - len, "-%d", e);
        c = e;
    }
    if (len + 16 >= size)
        snprintf(out + size - 4, 4, "...");
}

static void describe_self(dlt_comm *c, int threads, placement *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->host, sizeof p->host, "%s", dlt_comm_host(c));
    p->local_rank = dlt_comm_local_rank(c);
    p->threads = threads;
    p->gpu = dlt_device_current();
    p->online = (int)sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        for (int i = 0; i < p->online; i++)
            CPU_SET(i, &set);
    p->ncores = CPU_COUNT(&set);
    format_cpus(&set, p->cores, sizeof p->cores);
    for (int i = 0; i < (int)sizeof p->mask * 8 && i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set))
            p->mask[i / 8] |= (unsigned char)(1u << (i % 8));
}

static int masks_overlap(const placement *a, const placement *b)
{
    for (size_t i = 0; i < sizeof a->mask; i++)
        if (a->mask[i] & b->mask[i])
            return 1;
    return 0;
}

/* Rank 0: for each host, threads summed over its ranks vs its cores. */
static void check_hosts(const placement *all, int world)
{
    for (int i = 0; i < world; i++) {
        int first = 1, threads = 0, ranks = 0, overlap = 0;
        for (int j = 0; j < world; j++) {
            if (strcmp(all[j].host, all[i].host) != 0)
                continue;
            if (j < i)
                first = 0;
            threads += all[j].threads;
            ranks++;
            for (int k = j + 1; k < world; k++)
                if (strcmp(all[k].host, all[i].host) == 0 && all[j].ncores < all[j].online &&
                    masks_overlap(&all[j], &all[k]))
                    overlap = 1;
        }
        if (!first)
            continue;
        if (threads > all[i].online)
            dlt_warn("host %s is oversubscribed: %d ranks x threads = %d threads on %d cores; "
                     "expect slow steps (fewer ranks, or OMP_NUM_THREADS / --cpus-per-task)",
                     all[i].host, ranks, threads, all[i].online);
        else if (overlap)
            dlt_warn("host %s: ranks are bound to overlapping cores; check mpirun --bind-to / --map-by",
                     all[i].host);
    }
}

void dlt__placement_report(dlt_comm *c, int threads, dlt_monitor *monitor, long iter)
{
    int world = dlt_comm_size(c), rank = dlt_comm_rank(c);
    placement mine;
    describe_self(c, threads, &mine);
    placement *all = rank == 0 ? dlt_calloc((size_t)world, sizeof *all) : NULL;
    dlt_comm_gather_bytes(c, &mine, (int)sizeof mine, all, 0);
    if (rank != 0)
        return;
    dlt_info("placement: rank  host                  local  device  threads  cores");
    for (int i = 0; i < world; i++) {
        char dev[16] = "cpu";
        if (all[i].gpu >= 0)
            snprintf(dev, sizeof dev, "gpu %d", all[i].gpu);
        dlt_info("placement: %4d  %-20s  %5d  %-6s  %7d  %s (%d of %d)", i, all[i].host, all[i].local_rank,
                 dev, all[i].threads, all[i].cores, all[i].ncores, all[i].online);
        dlt_monitor_device(monitor, iter, i, all[i].host, all[i].gpu);
    }
    check_hosts(all, world);
    free(all);
}
