/* step.c - one training iteration in Caffe's order (Solver::Step):
 * ForwardBackward iter_size times, then ApplyUpdate, with the gradient
 * allreduce between the two. */
#include <time.h>

#include "dltrain/error.h"
#include "train/step.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int dlt__train_step(dlt_net *net, dlt_loader *loader, dlt_comm *comm, dlt_solver *solver,
                    long iter, float *loss, dlt_step_times *times)
{
    const long iter_size = dlt_solver_get_config(solver)->iter_size;
    dlt_layer *dl = dlt_net_data_layer(net);
    dlt_step_times t = {0};
    double sum = 0;
    dlt_net_zero_grads(net);
    for (long k = 0; k < iter_size; k++) {
        double t0 = now_s();
        if (dlt_loader_fetch(loader, iter * iter_size + k, dl->top[0]->data, dl->top[1]->data) < 0)
            return DLT_ERR_IO;
        double t1 = now_s();
        sum += dlt_net_forward(net);
        double t2 = now_s();
        dlt_net_backward(net);
        double t3 = now_s();
        t.data += t1 - t0, t.forward += t2 - t1, t.backward += t3 - t2;
    }
    double t3 = now_s();
    dlt_comm_allreduce_mean(comm, dlt_net_grads(net), dlt_net_param_count(net));
    double t4 = now_s();
    dlt_solver_step(solver, net, iter);
    double t5 = now_s();
    t.allreduce = t4 - t3, t.update = t5 - t4;
    *loss = (float)(sum / (double)iter_size);
    if (times)
        *times = t;
    return 0;
}
