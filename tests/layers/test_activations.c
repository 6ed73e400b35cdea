/* test_activations.c - Sigmoid and TanH, in place or not, against a direct loop
 * and finite differences. */
#include "fd_harness.h"

static void ref_sigmoid(tcase *t, double *r, const void *arg)
{
    (void)arg;
    for (size_t i = 0; i < t->bot[0].count; i++)
        r[i] = 1.0 / (1.0 + exp(-(double)t->bot[0].data[i]));
}

static void ref_tanh(tcase *t, double *r, const void *arg)
{
    (void)arg;
    for (size_t i = 0; i < t->bot[0].count; i++)
        r[i] = tanh((double)t->bot[0].data[i]);
}

static void test_activations(void)
{
    const int s[1][4] = {{2, 3, 4, 5}}, e[4] = {2, 3, 4, 5};
    layer_case("sigmoid", "Sigmoid", "", 1, s, 0, 0, e, ref_sigmoid, NULL, 1e-6, 1, NULL);
    layer_case("sigmoid in place", "Sigmoid", "", 1, s, 0, 1, e, ref_sigmoid, NULL, 1e-6, 1, NULL);
    layer_case("tanh", "TanH", "", 1, s, 0, 0, e, ref_tanh, NULL, 1e-6, 1, NULL);
    layer_case("tanh in place", "TanH", "", 1, s, 0, 1, e, ref_tanh, NULL, 1e-6, 1, NULL);
}

int main(void)
{
    fd_init();
    test_activations();
    TEST_DONE();
}
