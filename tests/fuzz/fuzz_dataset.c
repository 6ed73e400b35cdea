/* fuzz_dataset.c - libFuzzer harness: bytes -> an HDF5 file of the
 * objects, types, shapes and values they describe (h5gen.h), in a private
 * memory-backed directory -> the dataset reader: open (schema, layout, labels), every record read by
 * range as the streaming loader reads them (JPEG records decoded as the
 * loader does), then the whole set loaded and each sample converted, and,
 * for odd-sized inputs, two TRAIN batches from a streaming loader. Sets
 * beyond the bounds below are closed after opening, unread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/dataset_internal.h"
#include "data/image.h"
#include "dltrain/data.h"
#include "dltrain/error.h"
#include "fuzz_util.h"
#include "h5gen.h"

#define MAX_SAMPLES 4096
#define MAX_SAMPLE_ELEMENTS ((size_t)1 << 18) /* c*h*w */
#define MAX_BYTES ((size_t)32 << 20)           /* the set in memory */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

/* Every record by range reads of 3 samples (blocks that straddle the
 * file's chunks), each looked at as the loader does. */
static void read_ranges(dlt_dataset *ds, size_t m)
{
    dlt__range_reader *rr;
    if (dlt__range_reader_open(ds, &rr) != 0)
        return;
    dlt__records rec = {0};
    dlt__jpeg_codec *jc = dlt__jpeg_codec_new();
    uint8_t *chw = malloc(m);
    int c, h, w;
    char why[256];
    dlt_dataset_shape(ds, &c, &h, &w);
    volatile unsigned sum = 0;
    for (size_t first = 0; first < dlt_dataset_size(ds); first += 3) {
        size_t n = dlt_dataset_size(ds) - first < 3 ? dlt_dataset_size(ds) - first : 3;
        if (dlt__range_read(rr, first, n, &rec) != 0)
            break;
        for (size_t i = first; i < first + n; i++) {
            dlt__sample_ref ref;
            dlt__records_ref(ds, &rec, i, &ref);
            if (ref.jpeg)
                (void)dlt__jpeg_decode_chw(jc, ref.jpeg, ref.jpeg_n, c, w, h, chw, why,
                                           sizeof why);
            else if (ref.u8)
                for (size_t k = 0; k < m; k++)
                    sum += ref.u8[k];
            else
                for (size_t k = 0; k < m; k++)
                    sum += (unsigned)(ref.f32[k] != 0);
            sum += (unsigned)ref.label;
        }
    }
    free(chw);
    dlt__jpeg_codec_free(jc);
    dlt__records_free(&rec);
    dlt__range_reader_close(rr);
}

/* Two batches of one sample each from a TRAIN loader that streams. */
static void stream_batches(const dlt_dataset *ds, size_t m)
{
    dlt_loader_config cfg = {.batch_size = 1, .world = 1, .shuffle = 1, .seed = 7, .scale = 1,
                             .prefetch = 1, .memory_budget = 1};
    dlt_loader *ld;
    if (dlt_loader_create(ds, &cfg, &ld) != 0)
        return;
    float *data = malloc(m * sizeof *data), label;
    for (long step = 0; step < 2 && step < dlt_loader_steps_per_epoch(ld); step++)
        if (dlt_loader_fetch(ld, step, data, &label) != 0)
            break;
    free(data);
    dlt_loader_free(ld);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/fuzz.h5", fuzz_tmpdir());
    if (h5gen_write(data, size, path) != 0)
        return 0;
    dlt_dataset *ds;
    if (dlt_dataset_open_lazy(path, &ds) == 0) {
        int c, h, w;
        dlt_dataset_shape(ds, &c, &h, &w);
        size_t m = (size_t)c * h * w;
        dlt_input_spec spec;
        dlt_dataset_input_spec(ds, &spec);
        for (int k = 0; k < dlt_dataset_num_classes(ds); k++)
            (void)dlt_dataset_class_name(ds, k);
        if (dlt_dataset_size(ds) <= MAX_SAMPLES && m <= MAX_SAMPLE_ELEMENTS &&
            dlt_dataset_memory_bytes(ds) <= MAX_BYTES) {
            if (fuzz_verbose)
                fprintf(stderr, "# dataset of %zu samples %dx%dx%d: reading every record\n",
                        dlt_dataset_size(ds), c, h, w);
            read_ranges(ds, m);
            if (size & 1)
                stream_batches(ds, m);
            if (dlt_dataset_load(ds) == 0) {
                float *out = malloc(m * sizeof *out);
                for (size_t i = 0; i < dlt_dataset_size(ds); i++)
                    (void)dlt_dataset_sample(ds, i, 1.0f / 255, out);
                free(out);
            }
        }
        dlt_dataset_close(ds);
    }
    unlink(path);
    return 0;
}
