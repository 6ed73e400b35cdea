/* test_reshape_slice.c - Reshape (dim 0 copies, -1 inferred, axis and
 * num_axes, bad shapes refused) and Slice (slice_point, equal parts, any
 * axis) against direct loops and finite differences. */
#include "fd_harness.h"

/* Reshape keeps the values in order. */
static void ref_copy(tcase *t, double *r, const void *arg)
{
    (void)arg;
    for (size_t i = 0; i < t->bot[0].count; i++)
        r[i] = t->bot[0].data[i];
}

static void test_reshape(void)
{
    const int s[1][4] = {{2, 3, 4, 5}};
    const int e1[4] = {2, 15, 4, 1}, e2[4] = {6, 20, 1, 1}, e3[4] = {2, 3, 2, 10};
    layer_case("reshape 0,-1,0", "Reshape", "reshape_param { shape { dim: 0 dim: -1 dim: 0 } }",
               1, s, 0, 0, e1, ref_copy, NULL, 0, 1, NULL);
    layer_case("reshape 6,-1", "Reshape", "reshape_param { shape { dim: 6 dim: -1 } }", 1, s, 0,
               0, e2, ref_copy, NULL, 0, 1, NULL);
    layer_case("reshape axis 2 num_axes 2", "Reshape", "reshape_param { shape { dim: 2 dim: 10 } "
               "axis: 2 num_axes: 2 }", 1, s, 0, 0, e3, ref_copy, NULL, 0, 1, NULL);
    static const char *const bad[] = {
        "reshape_param { shape { dim: 7 dim: -1 } }",          /* 120 not a multiple of 7 */
        "reshape_param { shape { dim: -1 dim: -1 } }",         /* two inferred */
        "reshape_param { shape { dim: 2 dim: 3 dim: 4 dim: 5 dim: 1 } }", /* 5 axes */
        "reshape_param { shape { dim: 2 dim: 3 } }",           /* count 6 != 120 */
        "reshape_param { shape { dim: 2147483647 dim: 2147483647 dim: 2147483647 dim: 2 } }",
        "reshape_param { shape { dim: -2 } }",
        "reshape_param { }",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tcase t;
        memset(&t, 0, sizeof t);
        dlt_tensor_reshape(&t.bot[0], 2, 3, 4, 5);
        int st = make(&t, "Reshape", bad[i], 1, 1, 0, NULL);
        TEST_OK(st < 0 && st > -100, "reshape refuses { %s } "
                "(status %d)", bad[i], st);
        destroy(&t);
    }
}

typedef struct slice_arg {
    int axis, from, to; /* top 0 holds [from, to) of the axis */
} slice_arg;

static void ref_slice(tcase *t, double *r, const void *arg)
{
    const slice_arg *a = arg;
    const dlt_tensor *x = &t->bot[0];
    const int d[4] = {x->n, x->c, x->h, x->w};
    size_t k = 0;
    for (int i0 = 0; i0 < d[0]; i0++)
        for (int i1 = 0; i1 < d[1]; i1++)
            for (int i2 = 0; i2 < d[2]; i2++)
                for (int i3 = 0; i3 < d[3]; i3++) {
                    const int idx[4] = {i0, i1, i2, i3};
                    if (idx[a->axis] >= a->from && idx[a->axis] < a->to)
                        r[k++] = x->data[((i0 * d[1] + i1) * d[2] + i2) * d[3] + i3];
                }
}

/* All tops: forward against the loop for each, gradients through all. */
static void slice_case(const char *what, const char *text, int nt, int axis, const int *points)
{
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 3, 4, 6, 2);
    fill_uniform(t.bot[0].data, t.bot[0].count, -1, 1);
    int st = make(&t, "Slice", text, 1, nt, 0, NULL);
    double worst = st ? INFINITY : 0;
    for (int i = 0; st == 0 && i < nt; i++) {
        slice_arg a = {axis, points[i], points[i + 1]};
        double *r = dlt_malloc(t.bot[0].count * sizeof(double));
        if (i == 0)
            t.l.ops->forward(&t.l);
        ref_slice(&t, r, &a);
        double e = max_rel_err_f(t.top[i].data, r, t.top[i].count);
        worst = e > worst ? e : worst;
        free(r);
    }
    TEST_OK(st == 0 && worst == 0, "slice %s: %d tops match the loop (status %d, err %.2g)", what,
            nt, st, worst);
    if (st == 0)
        grad_test(&t, 1, 1e-2, what);
    destroy(&t);
}

int main(void)
{
    fd_init();
    test_reshape();
    const int p1[] = {0, 1, 4}, p2[] = {0, 2, 4, 6}, p3[] = {0, 1, 2, 3};
    slice_case("axis 1 slice_point 1", "slice_param { slice_point: 1 }", 2, 1, p1);
    slice_case("axis 2 equal thirds", "slice_param { axis: 2 }", 3, 2, p2);
    slice_case("axis 0 (time) slice_point 1, 2", "slice_param { axis: 0 slice_point: 1 "
               "slice_point: 2 }", 3, 0, p3);
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 3, 4, 6, 2);
    int st = make(&t, "Slice", "slice_param { slice_point: 3 slice_point: 2 }", 1, 3, 0, NULL);
    TEST_OK(st < 0 && st > -100, "slice refuses decreasing slice points (status %d)", st);
    destroy(&t);
    TEST_DONE();
}
