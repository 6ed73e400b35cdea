/* test_concat.c - Concat along each axis against a direct copy and finite
 * differences; mismatched shapes fail at setup. */
#include "fd_harness.h"

/* Concat: output index -> (bottom, index) by walking the axis. */
static void ref_concat(tcase *t, double *r, const void *arg)
{
    int axis = *(const int *)arg;
    const dlt_tensor *y = t->l.top[0];
    int d[4] = {y->n, y->c, y->h, y->w};
    for (int n = 0; n < d[0]; n++)
        for (int c = 0; c < d[1]; c++)
            for (int h = 0; h < d[2]; h++)
                for (int w = 0; w < d[3]; w++) {
                    int idx[4] = {n, c, h, w}, b = 0;
                    while (idx[axis] >= (axis == 0 ? t->bot[b].n : axis == 1 ? t->bot[b].c
                                         : axis == 2 ? t->bot[b].h : t->bot[b].w)) {
                        idx[axis] -= axis == 0 ? t->bot[b].n : axis == 1 ? t->bot[b].c
                                     : axis == 2 ? t->bot[b].h : t->bot[b].w;
                        b++;
                    }
                    const dlt_tensor *x = &t->bot[b];
                    r[((n * d[1] + c) * d[2] + h) * d[3] + w] =
                        x->data[((idx[0] * x->c + idx[1]) * x->h + idx[2]) * x->w + idx[3]];
                }
}

static void test_concat(void)
{
    const int s1[3][4] = {{2, 3, 4, 5}, {2, 1, 4, 5}, {2, 2, 4, 5}}, e1[4] = {2, 6, 4, 5};
    int a1 = 1, a0 = 0, a2 = 2;
    layer_case("concat channels (3 bottoms)", "Concat", "", 3, s1, 0, 0, e1, ref_concat, &a1,
               0, 7, NULL);
    const int s0[2][4] = {{2, 3, 2, 2}, {1, 3, 2, 2}}, e0[4] = {3, 3, 2, 2};
    layer_case("concat axis 0", "Concat", "concat_param { axis: 0 }", 2, s0, 0, 0, e0,
               ref_concat, &a0, 0, 3, NULL);
    const int s2[2][4] = {{2, 3, 2, 2}, {2, 3, 3, 2}}, e2[4] = {2, 3, 5, 2};
    layer_case("concat axis 2 (concat_dim), only bottom 1 propagates", "Concat",
               "concat_param { concat_dim: 2 }", 2, s2, 0, 0, e2, ref_concat, &a2, 0, 2, NULL);
}

/* A shape that does not fit fails at setup naming the layer and the shapes. */
static void test_concat_bad_shape(void)
{
    tcase t;
    int st;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], 2, 3, 4, 4);
    dlt_tensor_reshape(&t.bot[1], 2, 3, 5, 4);
    st = make(&t, "Concat", "", 2, 1, 0, NULL);
    TEST_OK(st == DLT_ERR_PARSE, "concat of 4x4 and 5x4 maps is a setup error (status %d)", st);
    destroy(&t);
}

int main(void)
{
    fd_init();
    test_concat();
    test_concat_bad_shape();
    TEST_DONE();
}
