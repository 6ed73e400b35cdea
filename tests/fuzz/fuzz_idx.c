/* fuzz_idx.c - libFuzzer harness: bytes as an IDX file (MNIST), plain or
 * gzip-compressed, through a memfd -> dlt_idx_read; then, when the bytes
 * read as an images file, dltrain-prep's IDX path with a labels file made
 * to match (out to a private temporary directory) and the dataset it
 * writes read back. A header whose sizes the allocator cannot meet ends in
 * dlt_fatal, trapped as a refusal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dltrain/data.h"
#include "dltrain/error.h"
#include "dltrain/prep.h"
#include "fuzz_util.h"

#define MAX_PREP_SAMPLES 64
#define MAX_PREP_PIXELS 4096

const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=256";
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

/* dltrain-prep --format idx IMAGES LABELS, labels 0..9 in turn. */
static void prep(const char *images, const dlt_idx *idx)
{
    char labels[512], out[512];
    uint8_t lab[8 + MAX_PREP_SAMPLES] = {0, 0, 8, 1, 0, 0, 0, (uint8_t)idx->dims[0]};
    for (int i = 0; i < idx->dims[0]; i++)
        lab[8 + i] = (uint8_t)(i % 10);
    if (fuzz_write_file("labels.idx", lab, 8 + (size_t)idx->dims[0], labels, sizeof labels) != 0)
        return;
    snprintf(out, sizeof out, "%s/idx.h5", fuzz_tmpdir());
    const char *inputs[2] = {images, labels};
    dlt_prep_options o = {.format = DLT_PREP_IDX, .inputs = inputs, .ninputs = 2, .out = out,
                          .channels = 1, .threads = 1, .quiet = 1, .progress_tty = 0};
    dlt_prep_result res;
    if (dlt_prep_run(&o, &res) == 0) {
        dlt_dataset *ds;
        if (dlt_dataset_open(out, &ds) == 0) {
            float px[MAX_PREP_PIXELS];
            for (size_t i = 0; i < dlt_dataset_size(ds); i++)
                (void)dlt_dataset_sample(ds, i, 1, px);
            dlt_dataset_close(ds);
        }
        unlink(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_memfd("fuzz.idx", data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    dlt_idx idx = {0};
    volatile int st = -1;
    if (setjmp(fuzz_fatal_point) == 0) {
        fuzz_fatal_arm(1);
        st = dlt_idx_read(path, &idx);
    }
    fuzz_fatal_arm(0);
    if (st == 0 && idx.ndim == 3 && idx.dims[0] > 0 && idx.dims[0] <= MAX_PREP_SAMPLES &&
        (size_t)idx.dims[1] * idx.dims[2] <= MAX_PREP_PIXELS)
        prep(path, &idx);
    dlt_idx_free(&idx);
    close(fd);
    return 0;
}
