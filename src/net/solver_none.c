/* solver_none.c - the solvers' device step in a build without CUDA: no
 * net is ever on a device there, so the solver never calls these; they
 * fail loudly if that changes. (With --with-cuda: src/cuda/solver.cu.) */
#include "dltrain/error.h"
#include "net/solver_rules.h"

#define NO_DEVICE(what) dlt_fatal("internal: %s called in a build without CUDA", what)

void dlt__dev_solver_update(int type, const dlt__update_args *a, float *w, float *g, float *h0, float *h1,
                            size_t n)
{
    (void)type, (void)a, (void)w, (void)g, (void)h0, (void)h1, (void)n;
    NO_DEVICE("dlt__dev_solver_update");
}
double dlt__dev_sumsq(const float *x, size_t n) { (void)x, (void)n; NO_DEVICE("dlt__dev_sumsq"); }
void dlt__dev_scale(float *x, size_t n, float f) { (void)x, (void)n, (void)f; NO_DEVICE("dlt__dev_scale"); }
