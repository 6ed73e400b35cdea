/* filler.c - Caffe's FillerParameter: parsing and the initializers, with
 * Caffe's definitions of fan-in/fan-out (filler.hpp). */
#include <math.h>
#include <string.h>

#include "dltrain/error.h"
#include "dltrain/layer.h"

static const char *const filler_names[] = {"constant", "gaussian", "xavier", "uniform", "msra",
                                           NULL};
static const char *const norm_names[] = {"FAN_IN", "FAN_OUT", "AVERAGE", NULL};

int dlt_filler_parse(const dlt_cfg *msg, dlt_filler *f)
{
    char wb[256];
    memset(f, 0, sizeof *f);
    f->type = DLT_FILLER_CONSTANT;
    f->value = 0, f->min = 0, f->max = 1, f->mean = 0, f->std = 1;
    f->variance_norm = DLT_NORM_FAN_IN;
    if (!msg)
        return 0;

    const char *type;
    DLT_TRY(dlt_cfg_string(msg, "type", "constant", &type));
    int found = -1;
    for (int i = 0; filler_names[i]; i++)
        if (strcmp(type, filler_names[i]) == 0)
            found = i;
    if (found < 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: filler type '%s' is not supported (expected one of: "
                 "constant, gaussian, xavier, uniform, msra)",
                 dlt_cfg_where(dlt_cfg_get(msg, "type"), wb, sizeof wb), type);
    f->type = (dlt_filler_type)found;
    int norm;
    DLT_TRY(dlt_cfg_float(msg, "value", 0, &f->value));
    DLT_TRY(dlt_cfg_float(msg, "min", 0, &f->min));
    DLT_TRY(dlt_cfg_float(msg, "max", 1, &f->max));
    DLT_TRY(dlt_cfg_float(msg, "mean", 0, &f->mean));
    DLT_TRY(dlt_cfg_float(msg, "std", 1, &f->std));
    DLT_TRY(dlt_cfg_enum(msg, "variance_norm", norm_names, DLT_NORM_FAN_IN, &norm));
    f->variance_norm = (dlt_variance_norm)norm;
    long sparse;
    DLT_TRY(dlt_cfg_int(msg, "sparse", -1, &sparse));
    if (sparse != -1)
        DLT_FAIL(DLT_ERR_PARSE, "%s: filler field 'sparse' is not supported yet",
                 dlt_cfg_where(dlt_cfg_get(msg, "sparse"), wb, sizeof wb));
    if (f->type == DLT_FILLER_UNIFORM && f->min > f->max)
        DLT_FAIL(DLT_ERR_PARSE, "%s: uniform filler needs min <= max (got %g > %g)",
                 dlt_cfg_where(msg, wb, sizeof wb), f->min, f->max);
    if (f->type == DLT_FILLER_GAUSSIAN && f->std < 0)
        DLT_FAIL(DLT_ERR_PARSE, "%s: gaussian filler needs std >= 0 (got %g)",
                 dlt_cfg_where(msg, wb, sizeof wb), f->std);
    return 0;
}

/* Caffe: fan_in = count / num, fan_out = count / channels; the variance
 * is normalized by fan_in, fan_out or their average. */
static double fan(const dlt_filler *f, const dlt_tensor *t)
{
    double fan_in = (double)(t->count / (size_t)t->n);
    double fan_out = (double)(t->count / (size_t)t->c);
    switch (f->variance_norm) {
    case DLT_NORM_FAN_OUT: return fan_out;
    case DLT_NORM_AVERAGE: return (fan_in + fan_out) / 2;
    default: return fan_in;
    }
}

void dlt_filler_fill(const dlt_filler *f, dlt_tensor *t, dlt_rng *rng)
{
    if (!t->data || t->count == 0)
        return;
    float *x = t->data;
    size_t n = t->count;
    switch (f->type) {
    case DLT_FILLER_CONSTANT:
        for (size_t i = 0; i < n; i++)
            x[i] = (float)f->value;
        break;
    case DLT_FILLER_UNIFORM:
        for (size_t i = 0; i < n; i++)
            x[i] = (float)(f->min + (f->max - f->min) * dlt_rng_uniform(rng));
        break;
    case DLT_FILLER_GAUSSIAN:
        for (size_t i = 0; i < n; i++)
            x[i] = (float)(f->mean + f->std * dlt_rng_gaussian(rng));
        break;
    case DLT_FILLER_XAVIER: {
        /* Glorot & Bengio 2010, as Caffe's XavierFiller: U(-s, s), s = sqrt(3/n). */
        double s = sqrt(3.0 / fan(f, t));
        for (size_t i = 0; i < n; i++)
            x[i] = (float)(-s + 2 * s * dlt_rng_uniform(rng));
        break;
    }
    case DLT_FILLER_MSRA: {
        /* He et al. 2015, as Caffe's MSRAFiller: N(0, 2/n). */
        double sd = sqrt(2.0 / fan(f, t));
        for (size_t i = 0; i < n; i++)
            x[i] = (float)(sd * dlt_rng_gaussian(rng));
        break;
    }
    }
}
