/* test_fillers.c - Caffe's fillers (constant, uniform, gaussian, xavier, msra). */
#include "fd_harness.h"

static void test_fillers(void)
{
    dlt_cfg *root = NULL;
    dlt_filler f;
    dlt_tensor w;
    memset(&w, 0, sizeof w);
    dlt_tensor_reshape(&w, 50, 20, 5, 5); /* fan_in 500, fan_out 1250 */
    int st = dlt_pt_parse_string("weight_filler { type: \"xavier\" }", "f.prototxt", &root);
    if (st == 0)
        st = dlt_filler_parse(dlt_cfg_get(root, "weight_filler"), &f);
    double lim = sqrt(3.0 / 500), mn = 1e9, mx = -1e9, mean = 0, var = 0;
    if (st == 0) {
        dlt_filler_fill(&f, &w, &rng);
        for (size_t i = 0; i < w.count; i++) {
            mn = fmin(mn, w.data[i]), mx = fmax(mx, w.data[i]);
            mean += w.data[i];
            var += (double)w.data[i] * w.data[i];
        }
        mean /= w.count, var /= w.count;
    }
    TEST_OK(st == 0 && f.type == DLT_FILLER_XAVIER && mn >= -lim && mx <= lim &&
            mn < -0.95 * lim && mx > 0.95 * lim,
            "xavier: values within +-sqrt(3/fan_in) = %.4f and reach it (min %.4f max %.4f)",
            lim, mn, mx);
    TEST_OK(fabs(mean) < 0.05 * lim && fabs(var - lim * lim / 3) < 0.05 * lim * lim / 3,
            "xavier: mean %.2g ~ 0, variance %.3g ~ 1/fan_in = %.3g", mean, var, 1.0 / 500);
    dlt_cfg_free(root);

    root = NULL;
    st = dlt_pt_parse_string("f { type: \"msra\" variance_norm: FAN_OUT }", "f.prototxt", &root);
    if (st == 0)
        st = dlt_filler_parse(dlt_cfg_get(root, "f"), &f);
    var = 0;
    if (st == 0) {
        dlt_filler_fill(&f, &w, &rng);
        for (size_t i = 0; i < w.count; i++)
            var += (double)w.data[i] * w.data[i];
        var /= w.count;
    }
    TEST_OK(st == 0 && fabs(var - 2.0 / 1250) < 0.05 * 2.0 / 1250,
            "msra FAN_OUT: variance %.3g ~ 2/fan_out = %.3g", var, 2.0 / 1250);
    dlt_cfg_free(root);

    root = NULL;
    st = dlt_pt_parse_string("a { type: \"uniform\" min: -2 max: 3 } b { type: \"constant\" "
                             "value: 0.25 } c { type: \"gaussian\" mean: 1 std: 0.5 }",
                             "f.prototxt", &root);
    dlt_filler fa, fb, fc;
    if (st == 0)
        st = dlt_filler_parse(dlt_cfg_get(root, "a"), &fa) |
             dlt_filler_parse(dlt_cfg_get(root, "b"), &fb) |
             dlt_filler_parse(dlt_cfg_get(root, "c"), &fc);
    int ok = st == 0;
    if (ok) {
        dlt_filler_fill(&fa, &w, &rng);
        mn = 1e9, mx = -1e9;
        for (size_t i = 0; i < w.count; i++)
            mn = fmin(mn, w.data[i]), mx = fmax(mx, w.data[i]);
        ok &= mn >= -2 && mx < 3 && mn < -1.9 && mx > 2.9;
        dlt_filler_fill(&fb, &w, &rng);
        for (size_t i = 0; i < w.count; i++)
            ok &= w.data[i] == 0.25f;
        dlt_filler_fill(&fc, &w, &rng);
        mean = 0, var = 0;
        for (size_t i = 0; i < w.count; i++)
            mean += w.data[i];
        mean /= w.count;
        for (size_t i = 0; i < w.count; i++)
            var += (w.data[i] - mean) * (w.data[i] - mean);
        var /= w.count;
        ok &= fabs(mean - 1) < 0.02 && fabs(var - 0.25) < 0.0125;
    }
    TEST_OK(ok, "uniform [-2,3), constant 0.25, gaussian(1, 0.5) fill as configured");
    dlt_cfg_free(root);

    root = NULL;
    st = dlt_pt_parse_string("f { type: \"bilinear\" }", "f.prototxt", &root);
    if (st == 0)
        st = dlt_filler_parse(dlt_cfg_get(root, "f"), &f);
    ASSERT_EQ(st, DLT_ERR_PARSE, "unknown filler type 'bilinear' is an error");
    dlt_cfg_free(root);

    dlt_filler_parse(NULL, &f);
    TEST_OK(f.type == DLT_FILLER_CONSTANT && f.value == 0 && f.max == 1 && f.std == 1 &&
            f.variance_norm == DLT_NORM_FAN_IN, "filler defaults are Caffe's");
    dlt_tensor_release(&w);
}

int main(void)
{
    fd_init();
    test_fillers();
    TEST_DONE();
}
