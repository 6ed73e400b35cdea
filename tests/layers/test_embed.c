/* test_embed.c - Embed: the lookup against a direct loop, the weight and
 * bias gradients against finite differences (no gradient to the indices),
 * the top shapes, and an out-of-range index refused naming the layer. */
#include <sys/wait.h>
#include <unistd.h>

#include "fd_harness.h"

static void ref_embed(tcase *t, double *r, const void *arg)
{
    const int K = *(const int *)arg;
    for (size_t i = 0; i < t->bot[0].count; i++) {
        int v = (int)t->bot[0].data[i];
        for (int k = 0; k < K; k++)
            r[i * K + k] = (double)t->l.param[0].data[v * K + k] +
                           (t->l.nparam > 1 ? t->l.param[1].data[k] : 0.0);
    }
}

static void embed_case(const char *what, const char *text, int T, int N, int V, int K,
                       const int expect[4])
{
    tcase t;
    memset(&t, 0, sizeof t);
    dlt_tensor_reshape(&t.bot[0], T, N, 1, 1);
    for (size_t i = 0; i < t.bot[0].count; i++) /* index 1 twice: its row sums two gradients */
        t.bot[0].data[i] = i == 0 ? 1.0f : (float)dlt_rng_below(&rng, (uint64_t)V);
    t.bot[0].data[t.bot[0].count - 1] = 1.0f;
    int st = make(&t, "Embed", text, 1, 1, 0, NULL);
    const dlt_tensor *y = &t.top[0];
    int ok = st == 0 && y->n == expect[0] && y->c == expect[1] && y->h == expect[2] &&
             y->w == expect[3] && t.l.param[0].n == V && t.l.param[0].c == K;
    double e = INFINITY;
    if (ok) {
        double *r = dlt_malloc(y->count * sizeof(double));
        ref_embed(&t, r, &K);
        t.l.ops->forward(&t.l);
        e = max_rel_err_f(y->data, r, y->count);
        free(r);
    }
    TEST_OK(ok && e <= 1e-6, "embed %s: top %dx%dx%dx%d, weight V x K, forward is the lookup "
            "(status %d, max rel err %.2g)", what, y->n, y->c, y->h, y->w, st, e);
    if (ok) {
        grad_test(&t, 0, 1e-2, what);
        for (size_t i = 0; i < t.bot[0].count; i++)
            t.bot[0].diff[i] = 5.0f;
        t.l.propagate_down[0] = 1;
        t.l.ops->backward(&t.l);
        int zero = 1;
        for (size_t i = 0; i < t.bot[0].count; i++)
            zero &= t.bot[0].diff[i] == 0.0f;
        TEST_OK(zero, "embed %s: the indices get a zero gradient", what);
    }
    destroy(&t);
}

/* A bad index ends the run (as a bad label does) with a message naming the
 * layer and the value; run in a child so the test goes on. */
static void bad_index(float value)
{
    int fd[2];
    if (pipe(fd) != 0) {
        TEST_OK(0, "pipe");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        tcase t;
        memset(&t, 0, sizeof t);
        dlt_tensor_reshape(&t.bot[0], 3, 2, 1, 1);
        t.bot[0].data[4] = value;
        if (make(&t, "Embed", "embed_param { num_output: 3 input_dim: 5 }", 1, 1, 0, NULL) == 0)
            t.l.ops->forward(&t.l);
        _exit(0);
    }
    close(fd[1]);
    char buf[4096] = "";
    size_t len = 0;
    ssize_t got;
    while (len < sizeof buf - 1 && (got = read(fd[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)got;
    buf[len] = '\0';
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    char want[32];
    snprintf(want, sizeof want, "index %g", (double)value);
    TEST_OK(WIFEXITED(status) && WEXITSTATUS(status) != 0 && strstr(buf, "test_Embed") &&
            strstr(buf, want), "embed: index %g is refused naming the layer and the value "
            "(exit %d): %.120s", (double)value, WIFEXITED(status) ? WEXITSTATUS(status) : -1, buf);
}

int main(void)
{
    fd_init();
    const int e1[4] = {4, 3, 6, 1}, e2[4] = {5, 6, 1, 1};
    embed_case("words (T,N)=(4,3), bias", "embed_param { num_output: 6 input_dim: 7 "
               "weight_filler { type: \"uniform\" min: -0.1 max: 0.1 } }", 4, 3, 7, 6, e1);
    embed_case("labels (N)=(5), no bias", "embed_param { num_output: 6 input_dim: 4 "
               "bias_term: false }", 5, 1, 4, 6, e2);
    bad_index(5.0f);
    bad_index(-1.0f);
    bad_index(2.5f);
    TEST_DONE();
}
