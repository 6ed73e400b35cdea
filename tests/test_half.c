/* test_half.c - the FP16 and bfloat16 conversions against known bit
 * patterns (IEEE 754 binary16 tables), ties to even at every boundary kind
 * (normal, subnormal, overflow), and a round trip of all 65,536 codes. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dltrain/half.h"
#include "test.h"

static float from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static int is_fp16_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }

int main(void)
{
    /* value, expected FP16 bits */
    static const struct { float x; uint16_t h; const char *what; } f16[] = {
        {0.0f, 0x0000, "+0"},
        {-0.0f, 0x8000, "-0"},
        {1.0f, 0x3c00, "1"},
        {-2.0f, 0xc000, "-2"},
        {0.1f, 0x2e66, "0.1 (rounds down)"},
        {1.0f / 3, 0x3555, "1/3"},
        {65504.0f, 0x7bff, "65504, the largest finite"},
        {65519.0f, 0x7bff, "65519 rounds down to 65504"},
        {65520.0f, 0x7c00, "65520 ties to even: Inf"},
        {1e6f, 0x7c00, "1e6 overflows to Inf"},
        {-1e6f, 0xfc00, "-1e6 overflows to -Inf"},
        {6.103515625e-05f, 0x0400, "2^-14, the smallest normal"},
        {5.9604645e-08f, 0x0001, "2^-24, the smallest subnormal"},
        {2.98023224e-08f, 0x0000, "2^-25 ties to even: 0"},
        {4.4703484e-08f, 0x0001, "1.5 x 2^-25 rounds up to 2^-24"},
        {8.940697e-08f, 0x0002, "1.5 x 2^-24 ties to even: 2 x 2^-24"},
        {1e-10f, 0x0000, "1e-10 underflows to 0"},
        {1.00048828125f, 0x3c00, "1 + 2^-11 ties to even: 1"},
        {1.00146484375f, 0x3c02, "1 + 3 x 2^-11 ties to even: 1 + 2^-9"},
        {2047.0f, 0x67ff, "2047"},
        {2049.0f, 0x6800, "2049 ties to even: 2048"},
        {INFINITY, 0x7c00, "+Inf"},
        {-INFINITY, 0xfc00, "-Inf"},
    };
    for (size_t i = 0; i < sizeof f16 / sizeof *f16; i++)
        ASSERT_EQ(dlt_fp16_from_float(f16[i].x), f16[i].h, "fp16: %s -> 0x%04x", f16[i].what, f16[i].h);
    TEST_OK(is_fp16_nan(dlt_fp16_from_float(NAN)), "fp16: NaN stays NaN");
    TEST_OK(is_fp16_nan(dlt_fp16_from_float(from_bits(0x7f800001))), "fp16: a NaN with a low payload stays NaN");
    TEST_OK(dlt_fp16_from_float(from_bits(0x00000001)) == 0, "fp16: an FP32 subnormal is 0");

    static const struct { float x; uint16_t h; const char *what; } b16[] = {
        {1.0f, 0x3f80, "1"},
        {-2.0f, 0xc000, "-2"},
        {0.1f, 0x3dcd, "0.1 (rounds up)"},
        {1.00390625f, 0x3f80, "1 + 2^-8 ties to even: 1"},
        {1.01171875f, 0x3f82, "1 + 3 x 2^-8 ties to even: 1 + 2^-6"},
        {FLT_MAX, 0x7f80, "FLT_MAX rounds to Inf"},
        {3.3895314e38f, 0x7f7f, "the largest bfloat16"},
        {1e-40f, 0x0001, "an FP32 subnormal keeps its top bits"},
        {65520.0f, 0x4780, "65520 (finite in bfloat16)"},
        {-INFINITY, 0xff80, "-Inf"},
    };
    for (size_t i = 0; i < sizeof b16 / sizeof *b16; i++)
        ASSERT_EQ(dlt_bf16_from_float(b16[i].x), b16[i].h, "bf16: %s -> 0x%04x", b16[i].what, b16[i].h);
    uint16_t bn = dlt_bf16_from_float(from_bits(0x7f800001));
    TEST_OK((bn & 0x7f80) == 0x7f80 && (bn & 0x7f), "bf16: a NaN with a low payload stays NaN (0x%04x)", bn);

    /* Every FP16 and bfloat16 code converts to FP32 and back unchanged. */
    int bad16 = 0, badb = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if (!is_fp16_nan((uint16_t)h) && dlt_fp16_from_float(dlt_fp16_to_float((uint16_t)h)) != h)
            bad16++;
        float b = dlt_bf16_to_float((uint16_t)h);
        if (!isnan(b) && dlt_bf16_from_float(b) != h)
            badb++;
    }
    ASSERT_EQ(bad16, 0, "fp16: all non-NaN codes round-trip through FP32");
    ASSERT_EQ(badb, 0, "bf16: all non-NaN codes round-trip through FP32");
    ASSERT_NEAR(dlt_fp16_to_float(0x0001), ldexp(1, -24), 0, "fp16 0x0001 is 2^-24");
    ASSERT_NEAR(dlt_fp16_to_float(0x7bff), 65504, 0, "fp16 0x7bff is 65504");
    TEST_OK(isinf(dlt_fp16_to_float(0xfc00)) && dlt_fp16_to_float(0xfc00) < 0, "fp16 0xfc00 is -Inf");

    /* Rounding in place: AMP to FP16, BF16 to bfloat16, FP32/TF32 unchanged. */
    float v[3] = {0.1f, 70000.0f, 1e-9f}, w[3];
    memcpy(w, v, sizeof v);
    dlt_round_half(w, 3, DLT_PRECISION_AMP);
    TEST_OK(w[0] == dlt_fp16_to_float(0x2e66) && isinf(w[1]) && w[2] == 0,
            "round amp: 0.1 -> %.9g, 70000 -> Inf, 1e-9 -> 0", w[0]);
    memcpy(w, v, sizeof v);
    dlt_round_half(w, 3, DLT_PRECISION_BF16);
    TEST_OK(w[0] == dlt_bf16_to_float(0x3dcd) && w[1] == 70144.0f && w[2] != 0,
            "round bf16: 0.1 -> %.9g, 70000 -> %.9g, 1e-9 stays non-zero", w[0], w[1]);
    memcpy(w, v, sizeof v);
    dlt_round_half(w, 3, DLT_PRECISION_TF32);
    TEST_OK(memcmp(w, v, sizeof v) == 0, "round tf32 and fp32: values unchanged (TF32 rounds inside the GPU's products only)");
    dlt_precision p;
    TEST_OK(dlt_precision_parse("bf16", &p) == 0 && p == DLT_PRECISION_BF16, "parse bf16");
    TEST_OK(dlt_precision_parse("fp16", &p) < 0, "parse fp16 is an error (the name is amp)");
    TEST_DONE();
}
