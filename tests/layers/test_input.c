/* test_input.c - Input (Caffe's input_param): tops shaped from one shape
 * or one per top, short shapes padded with 1s, bad shapes refused; no
 * forward or backward work. */
#include "fd_harness.h"

static int shaped(const dlt_tensor *t, int n, int c, int h, int w)
{
    return t->n == n && t->c == c && t->h == h && t->w == w;
}

int main(void)
{
    fd_init();
    tcase t;
    memset(&t, 0, sizeof t);
    int st = make(&t, "Input", "input_param { shape { dim: 2 dim: 1 dim: 5 dim: 5 } "
                  "shape { dim: 7 dim: 2 } shape { dim: 3 } }", 0, 3, 0, NULL);
    TEST_OK(st == 0 && shaped(&t.top[0], 2, 1, 5, 5) && shaped(&t.top[1], 7, 2, 1, 1) &&
            shaped(&t.top[2], 3, 1, 1, 1), "input: one shape per top, padded with 1s (status %d)",
            st);
    if (st == 0) {
        t.top[1].data[3] = 42.0f;
        t.l.ops->forward(&t.l);
        t.l.ops->backward(&t.l);
        TEST_OK(t.top[1].data[3] == 42.0f, "input: forward leaves the tops to the caller");
    }
    destroy(&t);
    memset(&t, 0, sizeof t);
    st = make(&t, "Input", "input_param { shape { dim: 4 dim: 3 } }", 0, 2, 0, NULL);
    TEST_OK(st == 0 && shaped(&t.top[0], 4, 3, 1, 1) && shaped(&t.top[1], 4, 3, 1, 1),
            "input: one shape for every top (status %d)", st);
    destroy(&t);
    static const char *const bad[] = {
        "input_param { shape { dim: 4 } shape { dim: 3 } }", /* 2 shapes, 3 tops */
        "input_param { shape { dim: 0 } }",
        "input_param { shape { dim: 1 dim: 1 dim: 1 dim: 1 dim: 1 } }",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&t, 0, sizeof t);
        st = make(&t, "Input", bad[i], 0, 3, 0, NULL);
        TEST_OK(st < 0 && st > -100, "input refuses { %s } (status %d)", bad[i], st);
        destroy(&t);
    }
    TEST_DONE();
}
