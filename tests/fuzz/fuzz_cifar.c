/* fuzz_cifar.c - libFuzzer harness: bytes as a CIFAR-10 or CIFAR-100
 * binary batch -> dltrain-prep (into a private temporary directory; the
 * last byte picks the format, the stored size and encoding, a validation
 * split and shuffling) -> the dataset it wrote, read back sample by sample. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dltrain/data.h"
#include "dltrain/prep.h"
#include "fuzz_util.h"

#define MAX_RECORDS 8

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

static void read_back(const char *path)
{
    dlt_dataset *ds;
    if (dlt_dataset_open(path, &ds) != 0)
        return;
    int c, h, w;
    dlt_dataset_shape(ds, &c, &h, &w);
    float *px = malloc((size_t)c * h * w * sizeof *px);
    for (size_t i = 0; i < dlt_dataset_size(ds); i++)
        (void)dlt_dataset_sample(ds, i, 1, px);
    free(px);
    dlt_dataset_close(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > MAX_RECORDS * 3074)
        return 0;
    uint8_t pick = data[size - 1];
    char batch[512], out[512], val[512];
    if (fuzz_write_file("batch.bin", data, size, batch, sizeof batch) != 0)
        return 0;
    snprintf(out, sizeof out, "%s/cifar.h5", fuzz_tmpdir());
    snprintf(val, sizeof val, "%s/cifar_val.h5", fuzz_tmpdir());
    const char *inputs[1] = {batch};
    dlt_prep_options o = {.format = pick & 1 ? DLT_PREP_CIFAR100 : DLT_PREP_CIFAR10,
                          .inputs = inputs, .ninputs = 1, .out = out, .val_out = val,
                          .val_percent = pick & 2 ? 30 : 0,
                          .width = pick & 4 ? 12 : 0, .height = pick & 4 ? 20 : 0,
                          .channels = pick & 8 ? 1 : 3, .resize = (const char *[]){
                              "squash", "crop", "fill", "half_crop"}[pick >> 4 & 3],
                          .shuffle = pick >> 6 & 1, .seed = pick, .jpeg = pick >> 7,
                          .quality = 80, .threads = 1, .quiet = 1, .progress_tty = 0};
    dlt_prep_result res;
    if (dlt_prep_run(&o, &res) == 0) {
        read_back(out);
        if (res.val_written)
            read_back(val);
    }
    unlink(out);
    unlink(val);
    snprintf(out, sizeof out, "%s/cifar.h5.skipped.txt", fuzz_tmpdir());
    unlink(out);
    unlink(batch);
    return 0;
}
