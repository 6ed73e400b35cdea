/* device.c - choosing where a rank computes: parse --device, count GPUs
 * without failing on driverless nodes, bind one GPU per node-local rank. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/device_impl.h"
#include "dltrain/device.h"
#include "dltrain/error.h"

int dlt_device_parse(const char *s, dlt_device_kind *out)
{
    static const char *const names[] = {"cpu", "gpu", "auto"};
    for (int i = 0; i < 3; i++)
        if (s && strcmp(s, names[i]) == 0) {
            *out = (dlt_device_kind)i;
            return 0;
        }
    DLT_FAIL(DLT_ERR_ARG, "--device expects cpu, gpu or auto, got '%s'", s ? s : "");
}

const char *dlt_memory_name(dlt_memory m) { return m == DLT_DEVICE ? "device" : "host"; }

const char *dlt_device_name(dlt_device_kind k)
{
    return k == DLT_DEVICE_GPU ? "gpu" : k == DLT_DEVICE_AUTO ? "auto" : "cpu";
}

int dlt_device_built_with_cuda(void)
{
#ifdef HAVE_CUDA
    return 1;
#else
    return 0;
#endif
}

int dlt_device_gpu_count(char *why, size_t n) { return dlt__dev_count(why, n); }

int dlt_device_select(dlt_device_kind want, int local_rank, int local_size, dlt_device_kind *got)
{
    char why[256] = "";
    *got = DLT_DEVICE_CPU;
    if (want == DLT_DEVICE_CPU)
        return 0;
    int count = dlt__dev_count(why, sizeof why);
    if (count == 0) {
        if (want == DLT_DEVICE_GPU)
            DLT_FAIL(DLT_ERR_ARG, "--device gpu: no usable GPU (%s); use --device cpu", why);
        dlt_info("--device auto: no usable GPU (%s); running on the CPU", why);
        return 0;
    }
    /* One rank per GPU. With Slurm's --gpus-per-task binding or a per-rank
     * CUDA_VISIBLE_DEVICES each rank sees only its GPU (count 1): device 0.
     * Otherwise every rank sees all of the node's GPUs: take local_rank. */
    if (count > 1 && local_size > count)
        DLT_FAIL(DLT_ERR_ARG, "%d ranks on this node but %d visible GPUs; start one rank per GPU "
                 "(HINT: mpirun -np <GPUs> or srun --gpus-per-task=1)", local_size, count);
    int device = count == 1 ? 0 : local_rank % count;
    if (count == 1 && local_size > 1 && !getenv("CUDA_VISIBLE_DEVICES"))
        dlt_warn("%d ranks on this node share its only visible GPU", local_size);
    if (dlt__dev_bind(device, why, sizeof why) < 0)
        DLT_FAIL(DLT_ERR_ARG, "cannot use GPU %d: %s", device, why);
    *got = DLT_DEVICE_GPU;
    return 0;
}

void *dlt_device_alloc(size_t bytes) { return dlt__dev_alloc(bytes); }
void dlt_device_free(void *p) { dlt__dev_free(p); }
void dlt_device_upload(void *dst, const void *src, size_t bytes) { dlt__dev_upload(dst, src, bytes); }
void dlt_device_download(void *dst, const void *src, size_t bytes) { dlt__dev_download(dst, src, bytes); }
void dlt_device_zero(void *p, size_t bytes) { dlt__dev_zero(p, bytes); }
void dlt_device_synchronize(void) { dlt__dev_synchronize(); }
void dlt_device_set_deterministic(int deterministic) { dlt__dev_set_deterministic(deterministic); }
void dlt_device_set_precision(dlt_precision p) { dlt__dev_set_tf32(p != DLT_PRECISION_FP32); }
int dlt_device_current(void) { return dlt__dev_current(); }

void dlt_device_round_half(float *x, size_t n, dlt_precision p)
{
    if ((p == DLT_PRECISION_AMP || p == DLT_PRECISION_BF16) && n > 0)
        dlt__dev_round_half(x, n, p == DLT_PRECISION_BF16);
}
