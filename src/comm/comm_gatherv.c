/* comm_gatherv.c - variable-size byte records from every rank to one root
 * (parallel dltrain-prep sends each rank's decoded share of a block). */
#include <limits.h>
#include <stdlib.h>

#include "comm/comm_internal.h"

void dlt_comm_gatherv_bytes(dlt_comm *c, const void *mine, size_t n, void **all,
                            size_t *counts, int root)
{
    MPI_Comm w = dlt__comm_world(c);
    int rank = dlt_comm_rank(c), size = dlt_comm_size(c);
    if (n > (size_t)1 << 30)
        dlt_fatal("gatherv: %zu bytes from one rank exceed the 1 GiB limit of one call", n);
    int mine_n = (int)n;
    int *cnt = NULL, *displ = NULL;
    char *buf = NULL;
    if (rank == root) {
        cnt = dlt_malloc((size_t)size * sizeof *cnt);
        displ = dlt_malloc((size_t)size * sizeof *displ);
    }
    DLT__MPI_CHECK(MPI_Gather(&mine_n, 1, MPI_INT, cnt, 1, MPI_INT, root, w));
    if (rank == root) {
        size_t total = 0;
        for (int r = 0; r < size; r++) {
            if (total + (size_t)cnt[r] > (size_t)INT_MAX)
                dlt_fatal("gatherv: more than 2 GiB in one call");
            displ[r] = (int)total;
            counts[r] = (size_t)cnt[r];
            total += (size_t)cnt[r];
        }
        buf = dlt_malloc(total ? total : 1);
    }
    DLT__MPI_CHECK(MPI_Gatherv(mine, mine_n, MPI_BYTE, buf, cnt, displ, MPI_BYTE, root, w));
    free(cnt), free(displ);
    if (rank == root)
        *all = buf;
}
