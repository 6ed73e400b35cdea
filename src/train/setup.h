/* setup.h - what a run reads and writes before training: the solver and
 * net prototxt (with Caffe's path resolution) and the run directory. */
#ifndef DLTRAIN_TRAIN_SETUP_H
#define DLTRAIN_TRAIN_SETUP_H

#include <stddef.h>

#include "dltrain/data.h"
#include "dltrain/prototxt.h"

typedef struct dlt_run_files {
    dlt_cfg *solver;     /* parsed SolverParameter */
    dlt_cfg *net;        /* parsed NetParameter */
    char *solver_path;
    char *net_path;        /* as resolved */
    char *solver_text;     /* file contents, stored in checkpoints and config/ */
    char *net_text;
} dlt_run_files;

/* Parse SOLVER_PATH, resolve its `net:` as Caffe does (relative to the
 * current directory) and then relative to the solver file's directory,
 * and parse the net. Errors name the files and the paths tried. */
int dlt_run_files_load(const char *solver_path, dlt_run_files *f);
void dlt_run_files_free(dlt_run_files *f);
/* Report fields nothing consumed (after solver and nets are built). */
int dlt_run_files_check_unused(const dlt_run_files *f);

/* mkdir -p RUN, RUN/config, RUN/checkpoints; CKPT_DIR receives the last. */
int dlt_run_dir_create(const char *run_dir, char *ckpt_dir, size_t size);
/* Write RUN/config/{solver,net}.prototxt and command.txt. */
int dlt_run_dir_save_config(const char *run_dir, const dlt_run_files *f, const char *command_line);
/* Write RUN/config/input.txt: how TRAIN_SET's samples were made (shape,
 * channel order, resize), which dltrain-eval --classify repeats; and, when
 * the set names its classes, RUN/config/labels.txt (one per line). */
int dlt_run_dir_save_input(const char *run_dir, const dlt_dataset *train_set);

#endif
