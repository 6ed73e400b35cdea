/* test_registry.c - every row of the table of layer types (layers.def):
 * its ops are what the registry finds by the exact type name, the name
 * is in the list error messages print, its GPU code is registered in a
 * CUDA build (and absent otherwise), a test in tests/layers/ instantiates
 * it, and, for a GPU row, a net in tests/test_gpu_*.[ch] runs it on the GPU
 * against the CPU (or a row sharing its GPU code). A new row is checked
 * without editing this file. */
#include <dirent.h>
#include <stdio.h>

#include "config.h"
#include "fd_harness.h"
#include "layers/layers.h"

typedef struct row {
    const char *type;
    const dlt_layer_ops *ops;
    int gpu;         /* a DLT_LAYER_GPU row */
    const char *run; /* its GPU code's name (RUN), "" for a CPU row */
} row;

static const row rows[] = {
#define DLT_LAYER(TYPE, NAME) {TYPE, &dlt__##NAME##_ops, 0, ""},
#define DLT_LAYER_GPU(TYPE, NAME, SETUP, RUN) {TYPE, &dlt__##NAME##_ops, 1, #RUN},
#include "layers/layers.def"
};
#define NROWS ((int)(sizeof rows / sizeof rows[0]))

/* The text of every C source and header in top_srcdir/SUB whose name
 * starts with PREFIX, concatenated (a test net may live in a header that
 * two tests share); NULL when the directory cannot be read. */
static char *read_sources(const char *sub, const char *prefix)
{
    const char *top = getenv("top_srcdir");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", top ? top : ".", sub);
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    size_t len = 0;
    char *all = dlt_calloc(1, 1);
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 3 || (strcmp(e->d_name + n - 2, ".c") != 0 && strcmp(e->d_name + n - 2, ".h") != 0) ||
            strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        char buf[65536];
        for (size_t got; (got = fread(buf, 1, sizeof buf, f)) > 0; len += got) {
            all = dlt_realloc(all, len + got + 1);
            memcpy(all + len, buf, got);
            all[len + got] = '\0';
        }
        fclose(f);
    }
    closedir(d);
    return all;
}

int main(void)
{
    fd_init();
    char *tests = read_sources("tests/layers", "");
    char *gpu_tests = read_sources("tests", "test_gpu_");
    for (int i = 0; i < NROWS; i++) {
        const row *r = &rows[i];
        const dlt_layer_gpu_ops *g = dlt_layer_find_gpu(r->ops);
#ifdef HAVE_CUDA
        int gpu_ok = r->gpu ? g && g->setup && g->forward && g->backward && g->destroy : !g;
#else
        int gpu_ok = !g;
#endif
        TEST_OK(dlt_layer_find(r->type) == r->ops && strcmp(r->ops->type, r->type) == 0 &&
                    r->ops->setup && r->ops->forward && r->ops->backward &&
                    strstr(dlt_layer_type_list(), r->type) && gpu_ok,
                "%s: registered, listed, GPU code %s", r->type,
                g ? "registered" : r->gpu ? "left out (no CUDA)" : "none");
        char quoted[64];
        snprintf(quoted, sizeof quoted, "\"%s\"", r->type);
        if (!tests)
            printf("ok %d - %s: has a test # SKIP tests/layers not found (top_srcdir unset)\n",
                   ++test_count_, r->type);
        else
            TEST_OK(strstr(tests, quoted) != NULL, "%s: a test in tests/layers/ instantiates it",
                    r->type);
        if (!r->gpu)
            continue;
        /* Rows sharing GPU code (Data, HDF5Data) are covered by either. */
        int compared = 0;
        for (int j = 0; gpu_tests && j < NROWS; j++) {
            char net_type[64];
            snprintf(net_type, sizeof net_type, "type: '%s'", rows[j].type);
            compared |= strcmp(rows[j].run, r->run) == 0 && strstr(gpu_tests, net_type);
        }
        if (!gpu_tests)
            printf("ok %d - %s: compared on the GPU # SKIP tests/ not found (top_srcdir unset)\n",
                   ++test_count_, r->type);
        else
            TEST_OK(compared, "%s: a net in tests/test_gpu_*.[ch] runs its GPU code against the CPU",
                    r->type);
    }
    free(tests);
    free(gpu_tests);
    TEST_OK(!dlt_layer_find("relu") && !dlt_layer_find("Deconvolution") && !dlt_layer_find(NULL),
            "registry: names match exactly, unknown types are not found (%s)",
            dlt_layer_type_list());
    TEST_DONE();
}
