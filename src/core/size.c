/* size.c - overflow-checked shape arithmetic (size.h): exact 64-bit
 * products and sums, compared with the limit the caller names. */
#include <inttypes.h>
#include <stdio.h>

#include "dltrain/error.h"
#include "dltrain/size.h"

/* "LIMIT" or "LIMIT (INT_MAX)" so a reader sees where the number comes from. */
static const char *limit_text(int64_t limit, char *buf, size_t size)
{
    if (limit == DLT_DIM_MAX)
        snprintf(buf, size, "%" PRId64 " (INT_MAX: sizes dltrain indexes with int)", limit);
    else if (limit == DLT_COUNT_MAX)
        snprintf(buf, size, "%" PRId64 " (2^34 elements)", limit);
    else
        snprintf(buf, size, "%" PRId64, limit);
    return buf;
}

static const char *who(const dlt_size_ctx *ctx)
{
    return ctx && ctx->who ? ctx->who : "?";
}

static int status(const dlt_size_ctx *ctx)
{
    return ctx && ctx->status < 0 ? ctx->status : DLT_ERR_ARG;
}

int dlt_size_prod_why(const int64_t *f, int n, int64_t limit, int64_t *out, char *why,
                      size_t why_size)
{
    char expr[256], lb[96];
    size_t len = 0;
    int64_t p = 1;
    int overflow = 0, negative = 0;
    expr[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (len < sizeof expr)
            len += (size_t)snprintf(expr + len, sizeof expr - len, "%s%" PRId64, i ? " x " : "",
                                    f[i]);
        if (f[i] < 0)
            negative = 1;
        else if (!overflow && __builtin_mul_overflow(p, f[i], &p))
            overflow = 1;
    }
    if (negative) {
        snprintf(why, why_size, "%s has a negative factor", expr);
        return -1;
    }
    /* A zero factor makes the product 0 whatever overflowed before it. */
    for (int i = 0; i < n; i++)
        if (f[i] == 0)
            overflow = 0, p = 0;
    if (overflow || p > limit) {
        if (overflow)
            snprintf(why, why_size, "%s overflows 64 bits (the limit is %s)", expr,
                     limit_text(limit, lb, sizeof lb));
        else
            snprintf(why, why_size, "%s = %" PRId64 " is more than the limit %s", expr, p,
                     limit_text(limit, lb, sizeof lb));
        return -1;
    }
    if (out)
        *out = p;
    return 0;
}

int dlt_size_range_at(const char *file, int line, const dlt_size_ctx *ctx, const char *what,
                      int64_t v, int64_t lo, int64_t hi)
{
    char lb[96];
    if (v >= lo && v <= hi)
        return 0;
    dlt_error_at(file, line, "%s: %s must be between %" PRId64 " and %s, got %" PRId64,
                 who(ctx), what, lo, limit_text(hi, lb, sizeof lb), v);
    return status(ctx);
}

int dlt_size_prod_at(const char *file, int line, const dlt_size_ctx *ctx, const char *what,
                     const int64_t *f, int n, int64_t limit, int64_t *out)
{
    char why[512];
    if (dlt_size_prod_why(f, n, limit, out, why, sizeof why) == 0)
        return 0;
    dlt_error_at(file, line, "%s: %s: %s", who(ctx), what, why);
    return status(ctx);
}

int dlt_size_mul_at(const char *file, int line, const dlt_size_ctx *ctx, const char *what,
                    int64_t a, int64_t b, int64_t limit, int64_t *out)
{
    const int64_t f[2] = {a, b};
    return dlt_size_prod_at(file, line, ctx, what, f, 2, limit, out);
}

int dlt_size_add_at(const char *file, int line, const dlt_size_ctx *ctx, const char *what,
                    int64_t a, int64_t b, int64_t limit, int64_t *out)
{
    char lb[96];
    int64_t s;
    if (__builtin_add_overflow(a, b, &s) || s > limit) {
        dlt_error_at(file, line, "%s: %s: %" PRId64 " + %" PRId64 " is more than the limit %s",
                     who(ctx), what, a, b, limit_text(limit, lb, sizeof lb));
        return status(ctx);
    }
    *out = s;
    return 0;
}

int dlt_size_shape_at(const char *file, int line, const dlt_size_ctx *ctx, const char *what,
                      int64_t n, int64_t c, int64_t h, int64_t w)
{
    char wb[256];
    const int64_t d[4] = {n, c, h, w};
    static const char *const axis[4] = {"N", "C", "H", "W"};
    for (int i = 0; i < 4; i++) {
        snprintf(wb, sizeof wb, "%s axis %s", what, axis[i]);
        if (dlt_size_range_at(file, line, ctx, wb, d[i], 0, DLT_DIM_MAX) < 0)
            return status(ctx);
    }
    snprintf(wb, sizeof wb, "%s: one plane (H x W)", what);
    if (dlt_size_prod_at(file, line, ctx, wb, d + 2, 2, DLT_DIM_MAX, NULL) < 0)
        return status(ctx);
    snprintf(wb, sizeof wb, "%s: one sample (C x H x W)", what);
    if (dlt_size_prod_at(file, line, ctx, wb, d + 1, 3, DLT_DIM_MAX, NULL) < 0)
        return status(ctx);
    snprintf(wb, sizeof wb, "%s: elements (N x C x H x W)", what);
    if (dlt_size_prod_at(file, line, ctx, wb, d, 4, DLT_COUNT_MAX, NULL) < 0)
        return status(ctx);
    return 0;
}
