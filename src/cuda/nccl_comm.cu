/* nccl_comm.cu - NCCL gradient averaging: communicator bootstrap through
 * MPI, bucketed ncclAllReduce on a separate stream ordered after the
 * gradients with events, and ncclCommAbort on asynchronous errors (a
 * dead peer) instead of a hang. */
#include <nccl.h>
#include <sched.h>
#include <time.h>
#include <stdlib.h>

#include "cuda/gpu.h"
#include "cuda/nccl_comm.h"

#define NCCL_CHECK(call)                                                             \
    do {                                                                             \
        ncclResult_t nc_r_ = (call);                                                 \
        if (nc_r_ != ncclSuccess && nc_r_ != ncclInProgress)                         \
            dlt__gpu_fail(__FILE__, __LINE__, "NCCL", #call, ncclGetErrorString(nc_r_)); \
    } while (0)

struct dlt__nccl {
    ncclComm_t comm;
    cudaStream_t stream;       /* NCCL's stream, beside the compute stream */
    cudaEvent_t grads_ready;   /* compute stream: gradients written */
    cudaEvent_t reduced;       /* NCCL stream: last bucket reduced */
    int size;
    float *buf;                /* this step's buffer (begin) */
    size_t count, bucket;      /* its length; bucket length in floats */
    size_t end;                /* buckets at [end, count) are started */
};

extern "C" dlt__nccl *dlt__nccl_create(dlt_comm *comm)
{
    dlt__gpu *g = dlt__gpu_get();
    dlt__nccl *n = (dlt__nccl *)dlt_calloc(1, sizeof *n);
    n->size = dlt_comm_size(comm);
    ncclUniqueId id;
    if (dlt_comm_rank(comm) == 0)
        NCCL_CHECK(ncclGetUniqueId(&id));
    dlt_comm_bcast_bytes(comm, &id, sizeof id, 0);
    NCCL_CHECK(ncclCommInitRank(&n->comm, n->size, id, dlt_comm_rank(comm)));
    CUDA_CHECK(cudaStreamCreateWithFlags(&n->stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&n->grads_ready, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&n->reduced, cudaEventDisableTiming));
    (void)g;
    return n;
}

extern "C" void dlt__nccl_free(dlt__nccl *n)
{
    if (!n)
        return;
    NCCL_CHECK(ncclCommDestroy(n->comm));
    CUDA_CHECK(cudaStreamDestroy(n->stream));
    CUDA_CHECK(cudaEventDestroy(n->grads_ready));
    CUDA_CHECK(cudaEventDestroy(n->reduced));
    free(n);
}

/* Wait for EV while checking NCCL's asynchronous error: a failed peer
 * would otherwise leave this rank spinning in the collective forever. */
static void wait_or_abort(dlt__nccl *n, cudaEvent_t ev)
{
    for (;;) {
        cudaError_t e = cudaEventQuery(ev);
        if (e == cudaSuccess)
            return;
        if (e != cudaErrorNotReady)
            CUDA_CHECK(e);
        ncclResult_t async = ncclSuccess;
        NCCL_CHECK(ncclCommGetAsyncError(n->comm, &async));
        if (async != ncclSuccess && async != ncclInProgress) {
            ncclCommAbort(n->comm);
            dlt_fatal("NCCL asynchronous error: %s; communicator aborted", ncclGetErrorString(async));
        }
        sched_yield();
    }
}

static __global__ void scale(float *x, size_t n, float s)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] *= s;
}

extern "C" void dlt__nccl_begin(dlt__nccl *n, float *buf, size_t count, size_t bucket_bytes)
{
    n->buf = buf, n->count = count, n->end = count;
    n->bucket = bucket_bytes / sizeof(float) ? bucket_bytes / sizeof(float) : 1;
}

/* Start the buckets that lie wholly at offsets >= DONE_FROM, last first. */
static void start_buckets(dlt__nccl *n, size_t done_from)
{
    if (n->size == 1 || n->end == 0)
        return;
    size_t start = n->end > n->bucket ? n->end - n->bucket : 0;
    if (start < done_from)
        return;
    CUDA_CHECK(cudaEventRecord(n->grads_ready, dlt__gpu_get()->stream));
    CUDA_CHECK(cudaStreamWaitEvent(n->stream, n->grads_ready, 0));
    while (n->end > 0 && start >= done_from) {
        NCCL_CHECK(ncclAllReduce(n->buf + start, n->buf + start, n->end - start, ncclFloat, ncclSum, n->comm,
                                 n->stream));
        n->end = start;
        start = n->end > n->bucket ? n->end - n->bucket : 0;
    }
}

extern "C" void dlt__nccl_ready(dlt__nccl *n, size_t done_from) { start_buckets(n, done_from); }

extern "C" void dlt__nccl_hook(void *n, int layer, size_t done_from)
{
    (void)layer;
    start_buckets((dlt__nccl *)n, done_from);
}

extern "C" double dlt__nccl_finish(dlt__nccl *n)
{
    if (n->size == 1 || n->count == 0)
        return 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    start_buckets(n, 0);
    scale<<<dlt__grid(n->count), DLT_BLOCK, 0, n->stream>>>(n->buf, n->count, 1.0f / (float)n->size);
    CUDA_LAUNCH_CHECK();
    CUDA_CHECK(cudaEventRecord(n->reduced, n->stream));
    wait_or_abort(n, n->reduced);
    CUDA_CHECK(cudaStreamWaitEvent(dlt__gpu_get()->stream, n->reduced, 0));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
}

extern "C" void dlt__nccl_allreduce_mean(dlt__nccl *n, float *buf, size_t count, size_t bucket_bytes)
{
    dlt__nccl_begin(n, buf, count, bucket_bytes);
    dlt__nccl_finish(n);
}
