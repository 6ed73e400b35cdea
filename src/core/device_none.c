/* device_none.c - the device primitives of a CPU-only build: there is no
 * GPU to count or bind, and nothing ever holds device memory, so the
 * memory functions are unreachable and fail loudly if that changes. */
#include <stdio.h>

#include "core/device_impl.h"
#include "dltrain/error.h"

int dlt__dev_count(char *why, size_t n)
{
    snprintf(why, n, "built without CUDA (configure --with-cuda)");
    return 0;
}

int dlt__dev_bind(int device, char *why, size_t n)
{
    snprintf(why, n, "built without CUDA; cannot use GPU %d", device);
    return DLT_ERR_ARG;
}

int dlt__dev_current(void) { return -1; }
void dlt__dev_set_deterministic(int deterministic) { (void)deterministic; }
void dlt__dev_set_tf32(int on) { (void)on; }

#define NO_DEVICE(what) dlt_fatal("internal: %s called in a build without CUDA", what)
void *dlt__dev_alloc(size_t bytes) { (void)bytes; NO_DEVICE("dlt__dev_alloc"); }
void dlt__dev_free(void *p)
{
    if (p)
        NO_DEVICE("dlt__dev_free");
}
void dlt__dev_upload(void *d, const void *s, size_t b) { (void)d, (void)s, (void)b; NO_DEVICE("dlt__dev_upload"); }
void dlt__dev_download(void *d, const void *s, size_t b) { (void)d, (void)s, (void)b; NO_DEVICE("dlt__dev_download"); }
void dlt__dev_zero(void *p, size_t b) { (void)p, (void)b; NO_DEVICE("dlt__dev_zero"); }
void dlt__dev_copy(float *d, const float *s, size_t n) { (void)d, (void)s, (void)n; NO_DEVICE("dlt__dev_copy"); }
void dlt__dev_add(float *d, const float *s, size_t n) { (void)d, (void)s, (void)n; NO_DEVICE("dlt__dev_add"); }
void dlt__dev_synchronize(void) {}
void dlt__dev_round_half(float *x, size_t n, int bf16) { (void)x, (void)n, (void)bf16; NO_DEVICE("dlt__dev_round_half"); }
size_t dlt__dev_last_nonfinite(const float *x, size_t n) { (void)x, (void)n; NO_DEVICE("dlt__dev_last_nonfinite"); }

