/* nvml.c - NVML through dlopen("libnvidia-ml.so.1"): the few entry points
 * the sampler needs, declared here with NVML's documented ABI (nvml.h is
 * not needed to build). Every call's status is checked; a device that
 * fails is skipped. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "monitor/nvml.h"

typedef int nvml_return;            /* nvmlReturn_t; 0 = NVML_SUCCESS */
typedef void *nvml_device;          /* nvmlDevice_t */
typedef struct { unsigned int gpu, memory; } nvml_utilization;                 /* nvmlUtilization_t */
typedef struct { unsigned long long total, free, used; } nvml_memory;          /* nvmlMemory_t (v1) */
#define NVML_TEMPERATURE_GPU 0

struct dlt__nvml {
    void *lib;
    nvml_return (*init)(void);
    nvml_return (*shutdown)(void);
    nvml_return (*count)(unsigned int *);
    nvml_return (*handle)(unsigned int, nvml_device *);
    nvml_return (*util)(nvml_device, nvml_utilization *);
    nvml_return (*memory)(nvml_device, nvml_memory *);
    nvml_return (*temperature)(nvml_device, int, unsigned int *);
    nvml_return (*driver)(char *, unsigned int);
};

static void *sym(void *lib, const char *a, const char *b)
{
    void *p = dlsym(lib, a);
    return p || !b ? p : dlsym(lib, b);
}

dlt__nvml *dlt__nvml_open(void)
{
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return NULL;
    dlt__nvml *n = dlt_calloc(1, sizeof *n);
    n->lib = lib;
    /* The _v2 names are the current ABI; the plain names exist on old drivers. */
    *(void **)&n->init = sym(lib, "nvmlInit_v2", "nvmlInit");
    *(void **)&n->shutdown = sym(lib, "nvmlShutdown", NULL);
    *(void **)&n->count = sym(lib, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
    *(void **)&n->handle = sym(lib, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    *(void **)&n->util = sym(lib, "nvmlDeviceGetUtilizationRates", NULL);
    *(void **)&n->memory = sym(lib, "nvmlDeviceGetMemoryInfo", NULL);
    *(void **)&n->temperature = sym(lib, "nvmlDeviceGetTemperature", NULL);
    *(void **)&n->driver = sym(lib, "nvmlSystemGetDriverVersion", NULL);
    if (!n->init || !n->shutdown || !n->count || !n->handle || n->init() != 0) {
        dlclose(lib);
        free(n);
        return NULL;
    }
    return n;
}

int dlt__nvml_sample(dlt__nvml *n, dlt_gpu_sample *out, int max)
{
    unsigned int count = 0;
    if (!n || n->count(&count) != 0)
        return 0;
    int k = 0;
    for (unsigned int i = 0; i < count && k < max; i++) {
        nvml_device d;
        if (n->handle(i, &d) != 0)
            continue;
        dlt_gpu_sample *g = &out[k++];
        g->index = (int)i;
        g->util_pct = g->mem_used_bytes = g->mem_total_bytes = g->temp_c = -1;
        nvml_utilization u;
        if (n->util && n->util(d, &u) == 0)
            g->util_pct = u.gpu;
        nvml_memory m;
        if (n->memory && n->memory(d, &m) == 0) {
            g->mem_used_bytes = (double)m.used;
            g->mem_total_bytes = (double)m.total;
        }
        unsigned int t;
        if (n->temperature && n->temperature(d, NVML_TEMPERATURE_GPU, &t) == 0)
            g->temp_c = t;
    }
    return k;
}

void dlt__nvml_driver_version(dlt__nvml *n, char *buf, int size)
{
    buf[0] = '\0';
    if (n && n->driver && n->driver(buf, (unsigned int)size) != 0)
        buf[0] = '\0';
}

void dlt__nvml_close(dlt__nvml *n)
{
    if (!n)
        return;
    n->shutdown();
    dlclose(n->lib);
    free(n);
}

/* sysmon.h: the doctor's GPU line, without the sampler. */
int dlt_sys_gpu_driver(char *driver, int size)
{
    dlt__nvml *n = dlt__nvml_open();
    dlt_gpu_sample g[DLT_SYS_MAX_GPUS];
    int count = n ? dlt__nvml_sample(n, g, DLT_SYS_MAX_GPUS) : 0;
    dlt__nvml_driver_version(n, driver, size);
    dlt__nvml_close(n);
    return count;
}
