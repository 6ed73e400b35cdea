/* tensor.c - allocation and views of NCHW float tensors. */
#include <stdlib.h>
#include <string.h>

#include "core/device_impl.h"
#include "dltrain/error.h"
#include "dltrain/size.h"
#include "dltrain/tensor.h"

/* Layers check their shapes (dlt__top_shape) with a message naming the
 * prototxt; reaching here with a bad one is a bug, not bad input. */
static size_t checked_count(int n, int c, int h, int w)
{
    const dlt_size_ctx sc = {"internal", DLT_ERR_INTERNAL};
    if (dlt_size_shape(&sc, "tensor shape", n, c, h, w) < 0)
        dlt_fatal("internal: tensor shape (%d,%d,%d,%d) is past the size limits", n, c, h, w);
    return (size_t)n * c * h * w;
}

void dlt_tensor_reshape(dlt_tensor *t, int n, int c, int h, int w)
{
    size_t count = checked_count(n, c, h, w);
    if ((!t->owned || t->diff_shared) && (t->data || t->diff) && count > t->count)
        dlt_fatal("internal: growing a tensor view (%zu -> %zu)", t->count, count);
    if (!t->data && !t->diff)
        t->owned = 1;
    if (t->owned && t->capacity == 0 && count > 0) {
        /* calloc: untouched zero pages until used, so a diff buffer that
         * dlt_net_share_diffs replaces never counts in the peak RSS. */
        free(t->data);
        free(t->diff);
        t->data = dlt_calloc(count, sizeof(float));
        t->diff = dlt_calloc(count, sizeof(float));
        t->capacity = count;
    } else if (t->owned && count > t->capacity) {
        t->data = dlt_realloc(t->data, count * sizeof(float));
        t->diff = dlt_realloc(t->diff, count * sizeof(float));
        memset(t->data + t->capacity, 0, (count - t->capacity) * sizeof(float));
        memset(t->diff + t->capacity, 0, (count - t->capacity) * sizeof(float));
        t->capacity = count;
    }
    t->n = n, t->c = c, t->h = h, t->w = w;
    t->count = count;
}

void dlt_tensor_view(dlt_tensor *t, int n, int c, int h, int w, float *data, float *diff)
{
    t->n = n, t->c = c, t->h = h, t->w = w;
    t->count = checked_count(n, c, h, w);
    t->capacity = t->count;
    t->data = data;
    t->diff = diff;
    t->owned = 0;
}

void dlt_tensor_release(dlt_tensor *t)
{
    if (t->owned) {
        free(t->data);
        if (!t->diff_shared)
            free(t->diff);
    }
    if (t->gowned) {
        dlt__dev_free(t->gdata);
        dlt__dev_free(t->gdiff);
    }
    memset(t, 0, sizeof *t);
}
