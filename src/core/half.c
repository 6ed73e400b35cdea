/* half.c - FP16/bfloat16 conversions with round-to-nearest-even on bits
 * (no dependence on the compiler's _Float16 or the CPU's F16C), and the
 * precision names of --precision. */
#include <math.h>
#include <string.h>

#include "dltrain/error.h"
#include "dltrain/half.h"

static const char *const precision_names[] = {"fp32", "tf32", "amp", "bf16"};

int dlt_precision_parse(const char *s, dlt_precision *out)
{
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, precision_names[i]) == 0) {
            *out = (dlt_precision)i;
            return 0;
        }
    DLT_FAIL(DLT_ERR_ARG, "--precision expects fp32, tf32, amp or bf16, got '%s'", s ? s : "");
}

const char *dlt_precision_name(dlt_precision p)
{
    return (unsigned)p < 4 ? precision_names[p] : "?";
}

static uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Q + 1 when the dropped bits REM are above half of ONE, or exactly half
 * with Q odd (ties to even). */
static uint32_t round_even(uint32_t q, uint32_t rem, uint32_t half)
{
    return rem > half || (rem == half && (q & 1)) ? q + 1 : q;
}

uint16_t dlt_fp16_from_float(float x)
{
    uint32_t u = bits_of(x), sign = (u >> 16) & 0x8000, a = u & 0x7fffffff;
    uint32_t e = a >> 23, mant = a & 0x7fffff;
    if (e == 0xff) /* Inf, or NaN with its top payload bits and the quiet bit */
        return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0));
    if (e >= 143) /* >= 2^16: beyond the largest finite (65504) after rounding */
        return (uint16_t)(sign | 0x7c00);
    if (e >= 113) /* normal in FP16; a carry out of the mantissa bumps the exponent (to Inf at the top) */
        return (uint16_t)(sign | round_even(((e - 112) << 10) | (mant >> 13), mant & 0x1fff, 0x1000));
    /* Subnormal in FP16: units of 2^-24. x = m * 2^(e-150), m with its
     * implicit bit (e == 0: FP32 subnormals, far below 2^-25: zero). */
    uint32_t shift = 126 - e;
    if (e == 0 || shift > 24)
        return (uint16_t)sign;
    uint32_t m = mant | 0x800000;
    return (uint16_t)(sign | round_even(m >> shift, m & ((1u << shift) - 1), 1u << (shift - 1)));
}

float dlt_fp16_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (e == 0) { /* zero or subnormal: mant x 2^-24, exact in FP32 */
        float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    }
    if (e == 31)
        return float_of(sign | 0x7f800000 | (mant << 13));
    return float_of(sign | ((e + 112) << 23) | (mant << 13));
}

uint16_t dlt_bf16_from_float(float x)
{
    uint32_t u = bits_of(x);
    if ((u & 0x7fffffff) > 0x7f800000) /* NaN: keep it one (quiet bit), never round to Inf */
        return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)(round_even(u >> 16, u & 0xffff, 0x8000)); /* carries into the exponent */
}

float dlt_bf16_to_float(uint16_t h) { return float_of((uint32_t)h << 16); }

void dlt_round_half(float *x, size_t n, dlt_precision p)
{
    if (p == DLT_PRECISION_AMP)
        for (size_t i = 0; i < n; i++)
            x[i] = dlt_fp16_to_float(dlt_fp16_from_float(x[i]));
    else if (p == DLT_PRECISION_BF16)
        for (size_t i = 0; i < n; i++)
            x[i] = dlt_bf16_to_float(dlt_bf16_from_float(x[i]));
}
