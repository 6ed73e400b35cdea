/* sysmon.h - system sampling: a thread per rank that records CPU %, RSS,
 * network and disk rates and, when NVML can be loaded, GPU figures. */
#ifndef DLTRAIN_SYSMON_H
#define DLTRAIN_SYSMON_H

#define DLT_SYS_MAX_GPUS 8
#define DLT_SYS_RING 16      /* samples kept between two gathers */

typedef struct dlt_gpu_sample {
    int index;               /* NVML device index */
    double util_pct;         /* GPU busy % over NVML's last period */
    double mem_used_bytes, mem_total_bytes;
    double temp_c;
} dlt_gpu_sample;

/* A plain fixed-size record, so ranks can send it to rank 0 as bytes.
 * A negative figure means "could not be read" and is omitted in JSON. */
typedef struct dlt_sys_sample {
    long seq;                /* 1, 2, ... per rank */
    double time;             /* Unix seconds */
    int rank;
    char host[64];
    double cpu_pct;          /* process CPU time / wall time, 100 = one core */
    double rss_bytes;
    double net_rx_bytes_s, net_tx_bytes_s; /* all interfaces but lo */
    double disk_read_bytes_s;              /* /proc/self/io read_bytes */
    int ngpus;
    dlt_gpu_sample gpus[DLT_SYS_MAX_GPUS];
} dlt_sys_sample;

typedef struct dlt_sampler dlt_sampler;

/* Start sampling every INTERVAL_S seconds in a thread that never calls
 * MPI. WITH_GPUS: also sample the node's GPUs through NVML (one rank per
 * node should). */
int dlt_sampler_start(double interval_s, int rank, const char *host, int with_gpus,
                      dlt_sampler **out);
/* Copy the samples newer than AFTER_SEQ (oldest first, at most
 * DLT_SYS_RING) into OUT; returns how many. */
int dlt_sampler_since(dlt_sampler *s, long after_seq, dlt_sys_sample *out);
/* Take a sample now, covering the time since the last one, and return
 * once it is in the ring: the end of a run shorter than one interval
 * still reports its system use. */
void dlt_sampler_sample_now(dlt_sampler *s);
/* Sequence number of the newest sample (0: none yet). */
long dlt_sampler_newest(dlt_sampler *s);
void dlt_sampler_stop(dlt_sampler *s);

/* The node's GPUs as NVML sees them, for a one-off report (the doctor):
 * returns how many (at most DLT_SYS_MAX_GPUS; 0 when NVML cannot be
 * loaded or sees none) and writes the driver version to DRIVER ("" when
 * unknown). Opens and closes NVML itself. */
int dlt_sys_gpu_driver(char *driver, int size);

/* One JSON line {"kind":"system",...} for a sample (no newline). */
int dlt_sys_sample_json(const dlt_sys_sample *x, char *buf, int size);

#endif
