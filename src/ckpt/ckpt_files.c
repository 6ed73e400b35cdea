/* ckpt_files.c - the checkpoint directory: keep the newest K checkpoints
 * and remove leftovers of interrupted writes. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dltrain/ckpt.h"
#include "dltrain/error.h"

static int by_iter_desc(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

int dlt_ckpt_prune(const char *dir, int keep, long newest)
{
    DIR *d = opendir(dir);
    if (!d)
        DLT_FAIL(DLT_ERR_IO, "cannot read checkpoint directory '%s': %s", dir, strerror(errno));
    long *iters = NULL;
    int n = 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        long it;
        int len = 0;
        if (sscanf(e->d_name, "iter_%ld.h5%n", &it, &len) != 1 || len == 0)
            continue;
        if (strcmp(e->d_name + len, ".tmp") == 0 && it < newest) {
            /* a write that was killed before its rename */
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (unlink(path) == 0)
                dlt_info("removed the unfinished checkpoint %s", path);
        } else if (e->d_name[len] == '\0') {
            iters = dlt_realloc(iters, (n + 1) * sizeof *iters);
            iters[n++] = it;
        }
    }
    closedir(d);
    qsort(iters, n, sizeof *iters, by_iter_desc);
    /* The newest written checkpoint is never removed, even when a newer
     * name exists (e.g. from another run in the same directory). */
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (iters[i] == newest || (keep <= 0 || kept < keep)) {
            kept++;
            continue;
        }
        snprintf(path, sizeof path, "%s/iter_%08ld.h5", dir, iters[i]);
        if (unlink(path) != 0)
            dlt_warn("cannot remove old checkpoint %s: %s", path, strerror(errno));
    }
    free(iters);
    return 0;
}
