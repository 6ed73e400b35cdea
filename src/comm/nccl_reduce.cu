/* nccl_reduce.cu - the NCCL gradient transport, for gradients in device
 * memory: communicator bootstrap through MPI (rank 0's ncclUniqueId is
 * broadcast with dlt_comm_bcast_bytes), one ncclAllReduce per bucket on
 * NCCL's own stream ordered after the gradients with an event, and
 * ncclCommAbort on asynchronous errors (a dead peer) instead of a hang.
 * Its memory operations (average, NaN/Inf scan) run on the compute stream. */
#include <nccl.h>
#include <sched.h>
#include <stdlib.h>

#include "comm/transport.h"
#include "cuda/gpu.h"

#define NCCL_CHECK(call)                                                             \
    do {                                                                             \
        ncclResult_t nc_r_ = (call);                                                 \
        if (nc_r_ != ncclSuccess && nc_r_ != ncclInProgress)                         \
            dlt__gpu_fail(__FILE__, __LINE__, "NCCL", #call, ncclGetErrorString(nc_r_)); \
    } while (0)

typedef struct nccl_state {
    ncclComm_t comm;
    cudaStream_t stream;       /* NCCL's stream, beside the compute stream */
    cudaEvent_t grads_ready;   /* compute stream: gradients written */
    cudaEvent_t reduced;       /* NCCL stream: last bucket reduced */
} nccl_state;

/* ---- device memory ---- */

static __global__ void scale(float *x, size_t n, float s)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] *= s;
}

static size_t device_last_nonfinite(const float *x, size_t lo, size_t hi)
{
    size_t off = dlt__dev_last_nonfinite(x + lo, hi - lo);
    return off == DLT__NONE ? DLT__NONE : lo + off;
}

static int device_scale_finite(float *x, size_t n, float f)
{
    if (f != 1.0f) {
        scale<<<dlt__grid(n), DLT_BLOCK, 0, dlt__gpu_get()->stream>>>(x, n, f);
        CUDA_LAUNCH_CHECK();
    }
    return dlt__dev_last_nonfinite(x, n) == DLT__NONE;
}

/* Each bucket's sum would cost a sync to scan before it starts: the
 * averaged values are scanned instead (a NaN on any rank shows there). */
static const dlt__memory_ops device_memory = {DLT_DEVICE, 0, device_scale_finite, device_last_nonfinite};

/* ---- the transport ---- */

/* Every rank calls this with its GPU bound (collective). */
static void *nccl_create(dlt_comm *comm, size_t nbuckets, size_t bucket, char *why, size_t whylen)
{
    (void)nbuckets, (void)bucket, (void)why, (void)whylen;
    (void)dlt__gpu_get(); /* fatal when no GPU is bound */
    nccl_state *n = (nccl_state *)dlt_calloc(1, sizeof *n);
    ncclUniqueId id;
    if (dlt_comm_rank(comm) == 0)
        NCCL_CHECK(ncclGetUniqueId(&id));
    dlt_comm_bcast_bytes(comm, &id, sizeof id, 0);
    NCCL_CHECK(ncclCommInitRank(&n->comm, dlt_comm_size(comm), id, dlt_comm_rank(comm)));
    CUDA_CHECK(cudaStreamCreateWithFlags(&n->stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&n->grads_ready, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&n->reduced, cudaEventDisableTiming));
    return n;
}

static void nccl_free(void *t)
{
    nccl_state *n = (nccl_state *)t;
    NCCL_CHECK(ncclCommDestroy(n->comm));
    CUDA_CHECK(cudaStreamDestroy(n->stream));
    CUDA_CHECK(cudaEventDestroy(n->grads_ready));
    CUDA_CHECK(cudaEventDestroy(n->reduced));
    free(n);
}

/* Wait for EV while checking NCCL's asynchronous error: a failed peer
 * would otherwise leave this rank spinning in the collective forever. */
static void wait_or_abort(nccl_state *n, cudaEvent_t ev)
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

/* Always asynchronous: the sum runs on NCCL's stream after the gradients
 * queued so far on the compute stream; wait() joins the streams. */
static void nccl_start(void *t, size_t b, float *buf, size_t count, int async)
{
    nccl_state *n = (nccl_state *)t;
    (void)b, (void)async;
    CUDA_CHECK(cudaEventRecord(n->grads_ready, dlt__gpu_get()->stream));
    CUDA_CHECK(cudaStreamWaitEvent(n->stream, n->grads_ready, 0));
    NCCL_CHECK(ncclAllReduce(buf, buf, count, ncclFloat, ncclSum, n->comm, n->stream));
}

static void nccl_wait(void *t, size_t started)
{
    nccl_state *n = (nccl_state *)t;
    (void)started;
    CUDA_CHECK(cudaEventRecord(n->reduced, n->stream));
    wait_or_abort(n, n->reduced);
    CUDA_CHECK(cudaStreamWaitEvent(dlt__gpu_get()->stream, n->reduced, 0));
}

extern "C" const dlt__transport dlt__nccl_transport = {DLT_REDUCER_NCCL, "nccl", &device_memory, 0,
                                                       nccl_create, nccl_free, nccl_start, NULL, nccl_wait};
