/* nvml.h - GPU utilization, memory and temperature through NVML, loaded
 * at run time with dlopen so that builds and hosts without it still work. */
#ifndef DLTRAIN_MONITOR_NVML_H
#define DLTRAIN_MONITOR_NVML_H

#include "dltrain/sysmon.h"

typedef struct dlt__nvml dlt__nvml;

/* NULL when libnvidia-ml.so.1 is absent or nvmlInit fails. */
dlt__nvml *dlt__nvml_open(void);
/* Fill up to MAX devices; returns the number filled. */
int dlt__nvml_sample(dlt__nvml *n, dlt_gpu_sample *out, int max);
/* Driver version string, or "" (for the doctor). */
void dlt__nvml_driver_version(dlt__nvml *n, char *buf, int size);
void dlt__nvml_close(dlt__nvml *n);

#endif
