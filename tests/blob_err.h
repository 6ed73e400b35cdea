/* blob_err.h - test helper: how far one blob is from its reference, as
 * the GPU tests (gpu_compare.h) and the emulated GPU code
 * (gpu_emulate/test_gpu_emulated.cc) measure it: max |got - ref| / max |ref|,
 * the largest error relative to the blob's scale; 0 when both are 0, and
 * a NaN counts as the worst. It does not blow up on values near zero, as
 * an elementwise relative error would, and still catches a single wrong
 * element. */
#ifndef DLTRAIN_TESTS_BLOB_ERR_H
#define DLTRAIN_TESTS_BLOB_ERR_H

#include <math.h>
#include <stddef.h>

static inline double blob_err(const float *got, const float *ref, size_t n)
{
    double dmax = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= dmax))
            dmax = isnan(d) ? INFINITY : d;
        scale = fabs(ref[i]) > scale ? fabs(ref[i]) : scale;
    }
    return dmax == 0 ? 0 : scale == 0 ? INFINITY : dmax / scale;
}

#endif
