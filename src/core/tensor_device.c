/* tensor_device.c - device copies of a tensor's data and diff, and the
 * copies between host and device (no-ops for host-only tensors). */
#include "core/device_impl.h"
#include "dltrain/tensor.h"

void dlt_tensor_to_device(dlt_tensor *t)
{
    if (t->gdata)
        return;
    /* At least one element: a 0-sized blob still gets distinct pointers. */
    size_t bytes = (t->count ? t->count : 1) * sizeof(float);
    t->gdata = dlt__dev_alloc(bytes);
    t->gdiff = dlt__dev_alloc(bytes);
    t->gowned = 1;
    if (t->data && t->count)
        dlt__dev_upload(t->gdata, t->data, t->count * sizeof(float));
}

void dlt_tensor_device_view(dlt_tensor *t, float *gdata, float *gdiff)
{
    t->gdata = gdata;
    t->gdiff = gdiff;
    t->gowned = 0;
}

void dlt_tensor_upload(dlt_tensor *t)
{
    if (t->gdata && t->count)
        dlt__dev_upload(t->gdata, t->data, t->count * sizeof(float));
}

void dlt_tensor_download(dlt_tensor *t)
{
    if (t->gdata && t->count)
        dlt__dev_download(t->data, t->gdata, t->count * sizeof(float));
}

void dlt_tensor_download_diff(dlt_tensor *t)
{
    if (t->gdiff && t->count)
        dlt__dev_download(t->diff, t->gdiff, t->count * sizeof(float));
}

void dlt_tensor_sum_diffs(dlt_tensor *dst, dlt_tensor *const *srcs, int n)
{
    if (n <= 0)
        return;
    if (dst->gdiff) {
        dlt__dev_copy(dst->gdiff, srcs[0]->gdiff, dst->count);
        for (int c = 1; c < n; c++)
            dlt__dev_add(dst->gdiff, srcs[c]->gdiff, dst->count);
        return;
    }
    /* One pass on threads, each element summed in copy order (a ResNet
     * block's output: 25 MB read twice, written once, per step). */
    float *d = dst->diff;
    const size_t count = dst->count;
#pragma omp parallel for schedule(static) if (count >= 32768)
    for (size_t k0 = 0; k0 < count; k0 += 4096) {
        const size_t k1 = k0 + 4096 < count ? k0 + 4096 : count;
        const float *s0 = srcs[0]->diff;
#pragma omp simd
        for (size_t k = k0; k < k1; k++)
            d[k] = s0[k];
        for (int c = 1; c < n; c++) {
            const float *e = srcs[c]->diff;
#pragma omp simd
            for (size_t k = k0; k < k1; k++)
                d[k] += e[k];
        }
    }
}
