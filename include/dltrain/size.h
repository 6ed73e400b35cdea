/* size.h - overflow-checked arithmetic on shapes and sizes: the one place
 * that says how large a dimension, a sample or a tensor may be. Layer
 * setup, tensors, the net and the readers compute every size that comes
 * from user input (prototxt fields, file headers) through it, so a huge
 * value is refused with a message naming it and the limit instead of
 * wrapping around into a small, wrong shape or a buffer overrun. */
#ifndef DLTRAIN_SIZE_H
#define DLTRAIN_SIZE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* One axis, a plane (H*W), a sample (C*H*W), a GEMM side: the layers
 * index these with int (and BLAS takes int). */
#define DLT_DIM_MAX ((int64_t)INT_MAX)
/* Elements of one tensor, or of all parameters of a net: 2^34 floats
 * (64 GiB), beyond any one activation or weight set a real net has
 * (ResNet-50's largest activation at batch 256 is 2^27.6), so only
 * nonsense is refused, before it is allocated. */
#define DLT_COUNT_MAX ((int64_t)1 << 34)

/* Who a size belongs to, for messages: WHO opens each one
 * ("nets/x.prototxt:12:3: layer 'conv1'", "train.h5: record 17"), and
 * STATUS is what the checks return on failure (DLT_ERR_PARSE for a
 * prototxt, DLT_ERR_FORMAT for a file). */
typedef struct dlt_size_ctx {
    const char *who;
    int status;
} dlt_size_ctx;

/* Each check returns 0, or prints "dltrain: error: WHO: WHAT ..." with the
 * values, the result (or "overflows") and the limit, and returns
 * ctx->status. Results are exact: no intermediate step wraps. */

/* LO <= V <= HI: "WHO: WHAT must be between LO and HI, got V". */
int dlt_size_range_at(const char *file, int line, const dlt_size_ctx *ctx, const char *what,
                      int64_t v, int64_t lo, int64_t hi);
/* *out = A * B, at most LIMIT (factors must be >= 0). */
int dlt_size_mul_at(const char *file, int line, const dlt_size_ctx *ctx, const char *what,
                    int64_t a, int64_t b, int64_t limit, int64_t *out);
/* *out = A + B, at most LIMIT. */
int dlt_size_add_at(const char *file, int line, const dlt_size_ctx *ctx, const char *what,
                    int64_t a, int64_t b, int64_t limit, int64_t *out);
/* *out = F[0] * ... * F[N-1], at most LIMIT (OUT may be NULL). */
int dlt_size_prod_at(const char *file, int line, const dlt_size_ctx *ctx, const char *what,
                     const int64_t *f, int n, int64_t limit, int64_t *out);
/* A tensor shape (N, C, H, W): every axis in [0, DLT_DIM_MAX], H*W and
 * C*H*W at most DLT_DIM_MAX, N*C*H*W at most DLT_COUNT_MAX. */
int dlt_size_shape_at(const char *file, int line, const dlt_size_ctx *ctx, const char *what,
                      int64_t n, int64_t c, int64_t h, int64_t w);
/* The caller's file:line goes into the message, as with dlt_error. */
#define dlt_size_range(...) dlt_size_range_at(__FILE__, __LINE__, __VA_ARGS__)
#define dlt_size_mul(...) dlt_size_mul_at(__FILE__, __LINE__, __VA_ARGS__)
#define dlt_size_add(...) dlt_size_add_at(__FILE__, __LINE__, __VA_ARGS__)
#define dlt_size_prod(...) dlt_size_prod_at(__FILE__, __LINE__, __VA_ARGS__)
#define dlt_size_shape(...) dlt_size_shape_at(__FILE__, __LINE__, __VA_ARGS__)

/* The same product without printing, for code that reports through its
 * own channel (a decoder's "why"): 0, or -1 with the reason in WHY
 * ("60000 x 60000 = 3600000000 is more than the limit 2147483647"). */
int dlt_size_prod_why(const int64_t *f, int n, int64_t limit, int64_t *out, char *why,
                      size_t why_size);

#endif
