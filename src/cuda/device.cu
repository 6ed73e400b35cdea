/* device.cu - the GPU this rank uses: counting devices without failing on
 * driverless nodes, binding one, its streams and cuBLAS/cuDNN handles,
 * and the fatal report of a failed CUDA-side call. */
#include <stdio.h>
#include <unistd.h>

#include "cuda/gpu.h"

/* The device module owns the one bound GPU of this process. Its handles
 * hold no net's settings: cuDNN choices are each net's (dlt_compute_ctx),
 * cuBLAS's atomics mode follows the net that runs (set_deterministic). */
static dlt__gpu gpu = {-1, 0, 0, 0, 0, 0, 0};
static int bound = 0;

void dlt__gpu_fail(const char *file, int line, const char *lib, const char *call, const char *msg)
{
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    dlt_fatal_at(file, line, "%s call %s failed on host %s, GPU %d: %s", lib, call, host,
                 gpu.device, msg ? msg : "(no message)");
}

dlt__gpu *dlt__gpu_get(void)
{
    if (!bound)
        dlt_fatal("internal: GPU code ran before a GPU was bound (dlt_device_select)");
    return &gpu;
}

extern "C" int dlt__dev_count(char *why, size_t n)
{
    int count = 0;
    /* No driver (libcuda.so.1 absent) gives cudaErrorInsufficientDriver or
     * cudaErrorNoDevice here: that is a CPU-only node, not a failure. */
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        snprintf(why, n, "cudaGetDeviceCount: %s", cudaGetErrorString(e));
        (void)cudaGetLastError(); /* clear the sticky-free error state */
        return 0;
    }
    if (count == 0)
        snprintf(why, n, "cudaGetDeviceCount: 0 devices");
    return count;
}

extern "C" int dlt__dev_bind(int device, char *why, size_t n)
{
    if (bound)
        return gpu.device == device ? 0 : (snprintf(why, n, "GPU %d is already bound", gpu.device), -1);
    cudaError_t e = cudaSetDevice(device);
    if (e == cudaSuccess)
        e = cudaFree(0); /* create the context now: errors surface here, not mid-run */
    if (e != cudaSuccess) {
        snprintf(why, n, "cudaSetDevice(%d): %s", device, cudaGetErrorString(e));
        return DLT_ERR_ARG;
    }
    gpu.device = device;
    CUDA_CHECK(cudaStreamCreateWithFlags(&gpu.stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaStreamCreateWithFlags(&gpu.copy_stream, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasCreate(&gpu.cublas));
    CUBLAS_CHECK(cublasSetStream(gpu.cublas, gpu.stream));
    gpu.no_atomics = 0; /* cuBLAS's default: atomics allowed */
    gpu.tf32 = 0;       /* and CUBLAS_DEFAULT_MATH: FP32 */
    CUDNN_CHECK(cudnnCreate(&gpu.cudnn));
    CUDNN_CHECK(cudnnSetStream(gpu.cudnn, gpu.stream));
    bound = 1;
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    dlt_info("GPU %d: %s, %.1f GiB, compute capability %d.%d; cuDNN %zu", device, prop.name,
             prop.totalGlobalMem / 1073741824.0, prop.major, prop.minor, cudnnGetVersion());
    return 0;
}

extern "C" int dlt__dev_current(void) { return bound ? gpu.device : -1; }

extern "C" void dlt__dev_set_deterministic(int deterministic)
{
    /* Reproducible sums: no atomics-based split-K in cuBLAS when asked. */
    deterministic = deterministic != 0;
    if (!bound || gpu.no_atomics == deterministic)
        return;
    CUBLAS_CHECK(cublasSetAtomicsMode(gpu.cublas, deterministic ? CUBLAS_ATOMICS_NOT_ALLOWED
                                                                : CUBLAS_ATOMICS_ALLOWED));
    gpu.no_atomics = deterministic;
}

extern "C" void dlt__dev_set_tf32(int on)
{
    /* CUBLAS_DEFAULT_MATH keeps FP32 GEMMs in FP32; TF32 needs asking for
     * (it is faster on Ampere and later, ignored before). */
    on = on != 0;
    if (!bound || gpu.tf32 == on)
        return;
    CUBLAS_CHECK(cublasSetMathMode(gpu.cublas, on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    gpu.tf32 = on;
}

extern "C" void dlt__dev_synchronize(void)
{
    if (bound)
        CUDA_CHECK(cudaStreamSynchronize(gpu.stream));
}
