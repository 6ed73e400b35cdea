/* fuzz_ckpt.c - libFuzzer harness: bytes -> an HDF5 file of the objects,
 * types, shapes and values they describe (h5gen.h), in a private
 * memory-backed directory -> the
 * checkpoint verifier (as --resume auto picks a file) and the loader
 * (parameters, both history buffers as Adam's, RNG state) into a small
 * fixed net: tests/fuzz/ckpt_net.prototxt, embedded at build time. A
 * checkpoint that makes the loader's allocation fail outright (dlt_fatal)
 * is trapped as a refusal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dltrain/ckpt.h"
#include "dltrain/error.h"
#include "dltrain/net.h"
#include "dltrain/prototxt.h"
#include "fuzz_util.h"
#include "h5gen.h"

static const char net_text[] =
#include "ckpt_net.inc"
    ;

static dlt_cfg *net_cfg;
static dlt_net *net;
static float *history[DLT_CKPT_MAX_HISTORY];

/* ASan: see fuzz_net.c. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=256";
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    if (dlt_pt_parse_string(net_text, "ckpt_net.prototxt", &net_cfg) != 0 ||
        dlt_net_create(net_cfg, DLT_PHASE_TRAIN, 1, 8, 8, 1, NULL, &net) != 0)
        abort();
    for (int k = 0; k < DLT_CKPT_MAX_HISTORY; k++)
        history[k] = calloc(dlt_net_param_count(net), sizeof(float));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!net)
        LLVMFuzzerInitialize(NULL, NULL);
    char path[512], why[512];
    snprintf(path, sizeof path, "%s/fuzz_ckpt.h5", fuzz_tmpdir());
    if (h5gen_write(data, size, path) != 0)
        return 0;
    int valid = dlt_ckpt_verify(path, why, sizeof why);
    dlt_ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    volatile int loaded = -1;
    if (setjmp(fuzz_fatal_point) == 0) {
        fuzz_fatal_arm(1);
        /* As SGD resumes (one history buffer), then as Adam (two). */
        loaded = dlt_ckpt_load_state(path, net, history, 1, &meta);
        if (loaded == 0) {
            free(meta.rng);
            loaded = dlt_ckpt_load_state(path, net, history, DLT_CKPT_MAX_HISTORY, &meta);
        }
    }
    fuzz_fatal_arm(0);
    if (fuzz_verbose)
        fprintf(stderr, "# checkpoint: verify %d (%s), load %d\n", valid, valid ? why : "ok",
                loaded);
    free(meta.rng);
    unlink(path);
    return 0;
}
