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
    float *d = dst->diff;
    for (size_t k = 0; k < dst->count; k++)
        d[k] = srcs[0]->diff[k];
    for (int c = 1; c < n; c++) {
        const float *e = srcs[c]->diff;
        for (size_t k = 0; k < dst->count; k++)
            d[k] += e[k];
    }
}
