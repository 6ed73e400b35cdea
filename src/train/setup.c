/* setup.c - loading the solver/net prototxt pair and preparing the run
 * directory (config/, checkpoints/), before any training starts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/readfile.h"
#include "data/captions.h"
#include "dltrain/error.h"
#include "train/setup.h"

/* Fields of Caffe's messages that mean nothing here (GPU selection,
 * LMDB/LevelDB details, debugging): accepted and noted once. */
static const char *const ignorable_fields[] = {
    "solver_mode", "device_id", "debug_info", "snapshot_format", "snapshot_diff",
    "test_compute_loss", "layer_wise_reduce", "snapshot_after_train", "backend",
    "prefetch", "rand_skip", NULL};

static int read_text(const char *path, char **out)
{
    return dlt__read_file(path, "prototxt", DLT_TEXT_FILE_LIMIT, out, NULL);
}

static int resolve_net_path(const char *solver_path, const char *net, char **out)
{
    if (access(net, R_OK) == 0 || net[0] == '/') {
        *out = dlt_strdup(net);
        return 0;
    }
    char *dir = dlt_strdup(solver_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = '\0';
    else
        strcpy(dir, "./");
    size_t n = strlen(dir) + strlen(net) + 1;
    char *p = dlt_malloc(n);
    snprintf(p, n, "%s%s", dir, net);
    free(dir);
    if (access(p, R_OK) != 0) {
        dlt_error("%s: net file '%s' not found (tried '%s' from the current directory and '%s' "
                  "next to the solver)", solver_path, net, net, p);
        free(p);
        return DLT_ERR_IO;
    }
    *out = p;
    return 0;
}

int dlt_run_files_load(const char *solver_path, dlt_run_files *f)
{
    memset(f, 0, sizeof *f);
    f->solver_path = dlt_strdup(solver_path);
    DLT_TRY(read_text(solver_path, &f->solver_text));
    DLT_TRY(dlt_pt_parse_string(f->solver_text, solver_path, &f->solver));
    const char *net = NULL;
    DLT_TRY(dlt_cfg_string(f->solver, "net", NULL, &net));
    if (!net)
        DLT_FAIL(DLT_ERR_PARSE, "%s: the solver has no `net:` field naming the train_val prototxt",
                 solver_path);
    DLT_TRY(resolve_net_path(solver_path, net, &f->net_path));
    DLT_TRY(read_text(f->net_path, &f->net_text));
    DLT_TRY(dlt_pt_parse_string(f->net_text, f->net_path, &f->net));
    return 0;
}

void dlt_run_files_free(dlt_run_files *f)
{
    dlt_cfg_free(f->solver);
    dlt_cfg_free(f->net);
    free(f->solver_path);
    free(f->net_path);
    free(f->solver_text);
    free(f->net_text);
    memset(f, 0, sizeof *f);
}

int dlt_run_files_check_unused(const dlt_run_files *f)
{
    int errors = dlt_cfg_check_unused(f->solver, ignorable_fields);
    errors += dlt_cfg_check_unused(f->net, ignorable_fields);
    if (errors)
        DLT_FAIL(DLT_ERR_PARSE, "%d unknown field%s in %s / %s", errors, errors == 1 ? "" : "s",
                 f->solver_path, f->net_path);
    return 0;
}

static int mkdir_p(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            DLT_FAIL(DLT_ERR_IO, "cannot create directory '%s': %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        DLT_FAIL(DLT_ERR_IO, "cannot create directory '%s': %s", buf, strerror(errno));
    return 0;
}

int dlt_run_dir_create(const char *run_dir, char *ckpt_dir, size_t size)
{
    char config[4096];
    DLT_TRY(mkdir_p(run_dir));
    snprintf(config, sizeof config, "%s/config", run_dir);
    DLT_TRY(mkdir_p(config));
    snprintf(ckpt_dir, size, "%s/checkpoints", run_dir);
    DLT_TRY(mkdir_p(ckpt_dir));
    return 0;
}

static int write_text(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    if (bad)
        DLT_FAIL(DLT_ERR_IO, "error writing '%s': %s", path, strerror(errno));
    return 0;
}

int dlt_run_dir_save_config(const char *run_dir, const dlt_run_files *f, const char *command_line)
{
    DLT_TRY(write_text(run_dir, "solver.prototxt", f->solver_text));
    DLT_TRY(write_text(run_dir, "net.prototxt", f->net_text));
    if (command_line) {
        char *line = dlt_malloc(strlen(command_line) + 2);
        sprintf(line, "%s\n", command_line);
        int st = write_text(run_dir, "command.txt", line);
        free(line);
        DLT_TRY(st);
    }
    return 0;
}

int dlt_run_dir_save_input(const char *run_dir, const dlt_dataset *train_set)
{
    char path[4096];
    dlt_input_spec in;
    dlt_dataset_input_spec(train_set, &in);
    snprintf(path, sizeof path, "%s/config/input.txt", run_dir);
    DLT_TRY(dlt_input_spec_write(path, &in));
    /* A caption set's vocabulary, for dltrain-caption (the --vocab format). */
    const dlt__caption_table *ct = dlt__dataset_captions(train_set);
    if (ct) {
        snprintf(path, sizeof path, "%s/config/vocab.txt", run_dir);
        DLT_TRY(dlt__vocab_write_text(path, &ct->vocab));
    }
    /* The class names, one per line (dltrain-export's preprocess.json). */
    int n = dlt_dataset_num_classes(train_set);
    if (n == 0 || !dlt_dataset_class_name(train_set, 0))
        return 0;
    snprintf(path, sizeof path, "%s/config/labels.txt", run_dir);
    FILE *f = fopen(path, "w");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    for (int i = 0; i < n; i++) {
        const char *name = dlt_dataset_class_name(train_set, i);
        fprintf(f, "%s\n", name ? name : "");
    }
    if (fclose(f) != 0)
        DLT_FAIL(DLT_ERR_IO, "error writing '%s': %s", path, strerror(errno));
    return 0;
}
