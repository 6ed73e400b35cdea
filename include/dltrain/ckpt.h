/* ckpt.h - HDF5 checkpoints: Caffe's /data/LAYER/I snapshot layout plus
 * solver history, per-rank RNG state and run attributes. */
#ifndef DLTRAIN_CKPT_H
#define DLTRAIN_CKPT_H

#include <stddef.h>
#include <stdint.h>
#include "dltrain/net.h"

#define DLT_CKPT_FORMAT "dltrain-checkpoint"
#define DLT_CKPT_VERSION 2 /* 2: per-dataset crc32 and num_datasets */

typedef struct dlt_ckpt_meta {
    long iter;            /* iterations completed */
    long epoch;
    int world_size;
    double lr;
    const char *net_text;    /* prototxt text, stored as attributes */
    const char *solver_text;
    uint64_t *rng;           /* world_size * 4 words: each rank's dlt_rng */
    /* --precision amp's dynamic loss scale (optional root attributes
     * loss_scale, loss_scale_good_steps, loss_scale_skipped; version 2
     * files without them load with loss_scale 0: none saved). */
    double loss_scale;       /* 0: none */
    long loss_scale_good_steps, loss_scale_skipped;
} dlt_ckpt_meta;

/* Write PATH.tmp, flush, fsync, rename to PATH. HISTORY may be NULL. */
int dlt_ckpt_save(const char *path, const dlt_net *net, const float *history,
                  const dlt_ckpt_meta *meta);
/* Load parameters (and history when non-NULL) into NET; fills META
 * (rng is allocated, caller frees; texts are not loaded). Shapes are
 * checked against the net; a mismatch names the layer and blob. */
int dlt_ckpt_load(const char *path, dlt_net *net, float *history, dlt_ckpt_meta *meta);
/* The same with NHISTORY solver-state buffers (Adam has two): buffer 0
 * is /history/LAYER/I, buffer k > 0 is /historyK+1/LAYER/I (/history2). */
#define DLT_CKPT_MAX_HISTORY 2
int dlt_ckpt_save_state(const char *path, const dlt_net *net, const float *const *history,
                        int nhistory, const dlt_ckpt_meta *meta);
int dlt_ckpt_load_state(const char *path, dlt_net *net, float *const *history, int nhistory,
                        dlt_ckpt_meta *meta);
/* Check that PATH is a complete, intact checkpoint without knowing its net:
 * format and version, every dataset's crc32, the number of datasets. 0 if
 * valid; else <0 with the reason in WHY (nothing is printed). */
int dlt_ckpt_verify(const char *path, char *why, size_t why_size);
/* In DIR keep the KEEP newest iter_*.h5 (KEEP <= 0: all) and always the one
 * of iteration NEWEST; remove unfinished *.tmp files older than NEWEST. */
int dlt_ckpt_prune(const char *dir, int keep, long newest);
/* Newest valid checkpoint (by iteration) in DIR: 1 found, 0 none, <0 error. */
int dlt_ckpt_find_latest(const char *dir, char *path, size_t size);

#endif
