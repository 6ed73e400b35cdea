/* fuzz_jpeg.c - libFuzzer harness: bytes as a JPEG file -> the three ways
 * dltrain decodes one: dltrain-prep's and --classify's (dlt_transform_decode:
 * header, scaled decode, resize to a small stored shape in one of the four
 * resize modes), and the loader's exact-shape decode of a /jpeg record
 * (dlt__jpeg_decode_chw). The last byte picks channels, shape and mode.
 * Images over MAX_PIXELS (by their header) are refused before decoding:
 * the harness bounds its memory, not the library. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"
#include "dltrain/data.h"
#include "fuzz_util.h"

#define MAX_PIXELS ((size_t)4096 * 4096)

static dlt__jpeg_codec *jc;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    jc = dlt__jpeg_codec_new();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!jc)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size < 2)
        return 0;
    uint8_t pick = data[size - 1];
    char why[256];
    /* No JPEG is 65537 wide: a header call that succeeds and leaves these
     * set it nowhere (TurboJPEG does so for a tables-only stream), and the
     * callers would go on with whatever their stack held. */
    int w = 65537, h = 65537, gray;
    if (dlt__jpeg_header(jc, data, size, &w, &h, &gray, why, sizeof why) != 0)
        return 0;
    if (w == 65537 || h == 65537) {
        fprintf(stderr, "dlt__jpeg_header succeeded without setting the size\n");
        abort();
    }
    if ((size_t)w * (size_t)h > MAX_PIXELS)
        return 0;
    dlt_transform_config cfg = {.scale = 1};
    cfg.in.c = pick & 1 ? 1 : 3;
    cfg.in.h = 4 + (pick >> 1 & 7) * 4;
    cfg.in.w = 4 + (pick >> 4 & 3) * 8;
    cfg.in.order = cfg.in.c == 1 ? DLT_CHANNELS_GRAY : pick & 0x40 ? DLT_CHANNELS_BGR : DLT_CHANNELS_RGB;
    cfg.in.resize = (dlt_resize_mode)((pick >> 6) & 3);
    cfg.in.resize_seed = pick;
    dlt_transform *tf;
    if (dlt_transform_create(&cfg, &tf) == 0) {
        uint8_t *chw = malloc((size_t)cfg.in.c * cfg.in.h * cfg.in.w);
        (void)dlt_transform_decode(tf, data, size, chw, why, sizeof why);
        free(chw);
        dlt_transform_free(tf);
    }
    int c = gray ? 1 : 3;
    uint8_t *full = malloc((size_t)c * w * h);
    (void)dlt__jpeg_decode_chw(jc, data, size, c, w, h, full, why, sizeof why);
    free(full);
    return 0;
}
