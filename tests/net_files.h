/* net_files.h - test helper: read a network from nets/ (found through
 * $top_srcdir) with every data layer's batch_size set to BATCH. */
#ifndef DLTRAIN_TESTS_NET_FILES_H
#define DLTRAIN_TESTS_NET_FILES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "dltrain/prototxt.h"

/* Set batch_size of every data layer of ROOT to BATCH. */
static void tn_set_batch(dlt_cfg *root, int batch)
{
    for (dlt_cfg *l = root->child; l; l = l->next) {
        if (strcmp(l->name, "layer") != 0)
            continue;
        for (dlt_cfg *f = l->child; f; f = f->next)
            if (strcmp(f->name, "data_param") == 0)
                for (dlt_cfg *b = f->child; b; b = b->next)
                    if (strcmp(b->name, "batch_size") == 0) {
                        free(b->text);
                        b->text = (char *)dlt_malloc(16); /* (a cast: C++ includes it too) */
                        snprintf(b->text, 16, "%d", batch);
                    }
    }
}

/* Parse nets/FILE into *ROOT with batch BATCH; 0 or the parser's status. */
static int tn_load(const char *file, int batch, dlt_cfg **root)
{
    char path[1024];
    const char *top = getenv("top_srcdir");
    snprintf(path, sizeof path, "%s/nets/%s", top ? top : ".", file);
    int st = dlt_pt_parse_file(path, root);
    if (st == 0)
        tn_set_batch(*root, batch);
    return st;
}

#endif
