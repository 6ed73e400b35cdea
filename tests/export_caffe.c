/* export_caffe - test helper until dltrain-export calls it: build the TEST
 * net of NET.prototxt for CxHxW samples, load WEIGHTS (any kind weights.h
 * reads), and write OUTDIR/deploy.prototxt, weights.caffemodel and
 * weights.caffemodel.h5 with dlt_export_caffe. WEIGHTS "-" keeps the
 * fillers' values (to export nets that were never trained); SEED (default
 * 1) seeds the fillers.
 * usage: export_caffe NET.prototxt WEIGHTS|- CxHxW OUTDIR [SEED] */
#include <stdio.h>
#include <stdlib.h>

#include "dltrain/error.h"
#include "dltrain/export.h"
#include "dltrain/layer.h"
#include "dltrain/prototxt.h"
#include "dltrain/weights.h"

int main(int argc, char **argv)
{
    int c, h, w;
    unsigned long long seed = argc == 6 ? strtoull(argv[5], NULL, 10) : 1;
    if ((argc != 5 && argc != 6) || sscanf(argv[3], "%dx%dx%d", &c, &h, &w) != 3) {
        fprintf(stderr, "usage: export_caffe NET.prototxt WEIGHTS|- CxHxW OUTDIR [SEED]\n");
        return 2;
    }
    dlt_cfg *np = NULL;
    dlt_net *net = NULL;
    int st = dlt_pt_parse_file(argv[1], &np);
    if (st == 0)
        st = dlt_net_create(np, DLT_PHASE_TEST, c, h, w, seed, NULL, &net);
    if (st == 0 && argv[2][0] != '-')
        st = dlt_weights_load(net, argv[2], DLT_WEIGHTS_COMPLETE, NULL);
    if (st == 0)
        st = dlt_export_caffe(net, np, argv[4]);
    dlt_net_free(net);
    dlt_cfg_free(np);
    return st == 0 ? 0 : 1;
}
