/* prep_classes.c - class-name lists of dltrain-prep, shared by the image,
 * CIFAR and IDX paths. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/prep_classes.h"
#include "core/readfile.h"
#include "dltrain/error.h"

void dlt__prep_class_add(char ***names, int *n, const char *name)
{
    *names = dlt_realloc(*names, (size_t)(*n + 1) * sizeof **names);
    (*names)[(*n)++] = dlt_strdup(name);
}

int dlt__prep_classes_read(const char *path, char ***names, int *n)
{
    DLT_TRY(dlt__regular_file(path, "class-name file"));
    FILE *f = fopen(path, "r");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "%s: cannot open class-name file: %s", path, strerror(errno));
    char line[1024];
    int lineno = 0, before = *n;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0]) {
            fclose(f);
            DLT_FAIL(DLT_ERR_FORMAT, "%s:%d: empty class name (one name per line)", path,
                     lineno);
        }
        dlt__prep_class_add(names, n, line);
    }
    fclose(f);
    if (*n == before)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: no class names in the file", path);
    return DLT_OK;
}

void dlt__prep_classes_free(char ***names, int *n)
{
    for (int i = 0; i < *n; i++)
        free((*names)[i]);
    free(*names);
    *names = NULL;
    *n = 0;
}
