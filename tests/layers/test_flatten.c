/* test_flatten.c - Flatten: a copy into (N, C*H*W, 1, 1), and its gradient. */
#include "fd_harness.h"

/* Flatten is a copy. */
static void ref_copy(tcase *t, double *r, const void *arg)
{
    (void)arg;
    for (size_t i = 0; i < t->bot[0].count; i++)
        r[i] = t->bot[0].data[i];
}

static void test_flatten(void)
{
    const int s[1][4] = {{2, 3, 2, 2}}, e[4] = {2, 12, 1, 1};
    layer_case("flatten", "Flatten", "", 1, s, 0, 0, e, ref_copy, NULL, 0, 1, NULL);
}

int main(void)
{
    fd_init();
    test_flatten();
    TEST_DONE();
}
