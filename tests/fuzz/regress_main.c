/* regress_main.c - the fuzz harnesses in the normal build: a main() that
 * feeds every file of tests/fuzz/corpus/NAME/ (the seeds) and
 * tests/fuzz/regressions/NAME/ (inputs that once crashed) to the harness's
 * LLVMFuzzerTestOneInput, one TAP point each, so every configuration of
 * make check (and the ASan+UBSan one) runs them. NAME is FUZZ_NAME, set
 * per program in Makefile.am; arguments replace the two directories. A
 * crash fails the test with the harness's own report. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_all(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0, k;
    uint8_t *buf = malloc(cap);
    while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    int err = ferror(f);
    fclose(f);
    *data = buf, *size = n;
    return err ? -1 : 0;
}

/* Every regular file of DIR, in name order; returns how many ran. */
static int run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char **names = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "README") == 0)
            continue;
        names = realloc(names, (n + 1) * sizeof *names);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (int i = 0; i < n; i++) {
        char path[4096];
        uint8_t *data = NULL;
        size_t size = 0;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        int st = read_all(path, &data, &size);
        if (st == 0) {
            fprintf(stderr, "# %s (%zu bytes)\n", path, size);
            LLVMFuzzerTestOneInput(data, size);
        }
        TEST_OK(st == 0, "%s %s: no crash", FUZZ_NAME, path);
        free(data);
        free(names[i]);
    }
    free(names);
    return n;
}

int main(int argc, char **argv)
{
    setenv("DLT_FUZZ_VERBOSE", "1", 0);
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    int ran = 0;
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            ran += run_dir(argv[i]);
    } else {
        const char *top = getenv("top_srcdir");
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", top ? top : ".", FUZZ_NAME);
        ran += run_dir(dir);
        snprintf(dir, sizeof dir, "%s/tests/fuzz/regressions/%s", top ? top : ".", FUZZ_NAME);
        ran += run_dir(dir);
    }
    TEST_OK(ran > 0, "%s: %d inputs ran (seed corpus and regressions)", FUZZ_NAME, ran);
    TEST_DONE();
}
