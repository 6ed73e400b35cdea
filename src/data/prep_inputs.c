/* prep_inputs.c - enumerates dltrain-prep inputs: class folders (DIGITS /
 * ImageNet layout), list files (Caffe convert_imageset / DIGITS text
 * format), CIFAR-10/100 binary batches. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/prep_classes.h"
#include "data/prep_inputs.h"
#include "core/readfile.h"
#include "dltrain/error.h"

static const char *const cifar10_names[10] = {"airplane", "automobile", "bird", "cat", "deer",
                                              "dog", "frog", "horse", "ship", "truck"};

static void add_item(dlt__prep_inputs *in, const char *path, const uint8_t *rec, long record,
                     int32_t label)
{
    if (in->n == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 1024;
        in->items = dlt_realloc(in->items, in->cap * sizeof *in->items);
    }
    dlt__prep_item *it = &in->items[in->n++];
    it->path = path ? dlt_strdup(path) : NULL;
    it->rec = rec;
    it->record = record;
    it->label = label;
}

static void add_class(dlt__prep_inputs *in, const char *name)
{
    dlt__prep_class_add(&in->classes, &in->nclasses, name);
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = dlt_malloc(n);
    snprintf(p, n, "%s%s%s", a, (a[0] && a[strlen(a) - 1] != '/') ? "/" : "", b);
    return p;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in DIR (no dot files); *n entries. */
static int list_dir(const char *dir, char ***names, int *n)
{
    DIR *d = opendir(dir);
    if (!d)
        DLT_FAIL(DLT_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    struct dirent *e;
    int cap = 0;
    *names = NULL, *n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            *names = dlt_realloc(*names, (size_t)cap * sizeof **names);
        }
        (*names)[(*n)++] = dlt_strdup(e->d_name);
    }
    closedir(d);
    qsort(*names, (size_t)*n, sizeof **names, cmp_str);
    return DLT_OK;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Extensions DIGITS accepts; PNG and the others are collected so that they
 * are reported as unsupported, not silently dropped. */
static int image_extension(const char *name)
{
    static const char *const ext[] = {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif",
                                      ".tif", ".tiff", ".ppm", ".pgm", ".webp", NULL};
    const char *dot = strrchr(name, '.');
    if (!dot)
        return 0;
    for (int i = 0; ext[i]; i++)
        if (strcasecmp(dot, ext[i]) == 0)
            return 1;
    return 0;
}

/* The folders walked so far (by device and inode): a folder reached twice,
 * through a symlink, would give its images two labels, or twice one. */
typedef struct seen_dirs {
    struct seen_dir { dev_t dev; ino_t ino; char *path; } *d;
    int n, cap;
} seen_dirs;

static int visit_dir(seen_dirs *seen, const char *path, const struct stat *sb)
{
    for (int i = 0; i < seen->n; i++)
        if (seen->d[i].dev == sb->st_dev && seen->d[i].ino == sb->st_ino) {
            char *real = realpath(path, NULL);
            dlt_error("%s and %s are the same folder%s%s: its images would be read twice, "
                      "under two classes if they are two class folders; HINT: remove the "
                      "symlink, or copy the images if they belong to both", seen->d[i].path,
                      path, real ? " " : "", real ? real : "");
            free(real);
            return DLT_ERR_FORMAT;
        }
    if (seen->n == seen->cap) {
        seen->cap = seen->cap ? 2 * seen->cap : 64;
        seen->d = dlt_realloc(seen->d, (size_t)seen->cap * sizeof *seen->d);
    }
    seen->d[seen->n++] = (struct seen_dir){sb->st_dev, sb->st_ino, dlt_strdup(path)};
    return DLT_OK;
}

static void seen_free(seen_dirs *seen)
{
    for (int i = 0; i < seen->n; i++)
        free(seen->d[i].path);
    free(seen->d);
}

/* Every image file under DIR (recursively, sorted) gets LABEL. */
static int walk_class(dlt__prep_inputs *in, seen_dirs *seen, const char *dir, int32_t label,
                      int depth)
{
    char **names;
    int n;
    if (depth > 32)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: folders nested more than 32 deep (a symlink loop?)", dir);
    DLT_TRY(list_dir(dir, &names, &n));
    int st = DLT_OK;
    for (int i = 0; i < n && st >= 0; i++) {
        char *p = join(dir, names[i]);
        struct stat sb;
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            st = visit_dir(seen, p, &sb);
            if (st >= 0)
                st = walk_class(in, seen, p, label, depth + 1);
        } else if (image_extension(names[i])) {
            add_item(in, p, NULL, 0, label); /* unreadable and special files are reported later */
        } else {
            in->ignored++;
        }
        free(p);
    }
    free_names(names, n);
    return st;
}

static int collect_folder(const dlt_prep_options *o, dlt__prep_inputs *in)
{
    const char *root = o->inputs[0];
    char **names;
    int n;
    seen_dirs seen = {0};
    struct stat rsb;
    DLT_TRY(list_dir(root, &names, &n));
    int st = stat(root, &rsb) == 0 ? visit_dir(&seen, root, &rsb) : DLT_OK;
    for (int i = 0; i < n && st >= 0; i++) {
        char *p = join(root, names[i]);
        struct stat sb;
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            add_class(in, names[i]);
            st = visit_dir(&seen, p, &sb);
            if (st >= 0)
                st = walk_class(in, &seen, p, in->nclasses - 1, 0);
        }
        free(p);
    }
    free_names(names, n);
    seen_free(&seen);
    DLT_TRY(st);
    if (in->nclasses == 0)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: no class subfolders (expected %s/CLASS/IMAGE.jpg, one "
                 "folder per class)", root, root);
    return DLT_OK;
}

static int collect_list(const dlt_prep_options *o, dlt__prep_inputs *in)
{
    const char *path = o->inputs[0];
    DLT_TRY(dlt__regular_file(path, "list file"));
    FILE *f = fopen(path, "r");
    if (!f)
        DLT_FAIL(DLT_ERR_IO, "%s: cannot open list file: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int st = DLT_OK;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#')
            continue;
        /* Like convert_imageset: the label follows the last space, so
         * paths may contain spaces. */
        char *sep = strrchr(s, ' ');
        char *tab = strrchr(s, '\t');
        if (tab > sep)
            sep = tab;
        char *end = NULL;
        long label = sep ? strtol(sep + 1, &end, 10) : 0;
        if (!sep || !end || end == sep + 1 || *end) {
            dlt_error("%s:%ld: expected 'PATH LABEL' (label a whole number), got '%s'", path,
                      lineno, s);
            st = DLT_ERR_FORMAT;
            break;
        }
        while (sep > s && (sep[-1] == ' ' || sep[-1] == '\t'))
            sep--;
        *sep = '\0';
        char *p = (o->root && s[0] != '/') ? join(o->root, s) : dlt_strdup(s);
        add_item(in, p, NULL, lineno, (int32_t)(label > INT32_MAX ? -1 : label));
        free(p);
    }
    free(line);
    fclose(f);
    DLT_TRY(st);
    if (in->n == 0)
        DLT_FAIL(DLT_ERR_FORMAT, "%s: no 'PATH LABEL' lines", path);
    return DLT_OK;
}

static int collect_cifar(const dlt_prep_options *o, dlt__prep_inputs *in)
{
    int c100 = o->format == DLT_PREP_CIFAR100;
    size_t head = c100 ? 2 : 1, rec = head + DLT_CIFAR_PIXELS;
    in->batches = dlt_calloc((size_t)o->ninputs, sizeof *in->batches);
    for (int i = 0; i < o->ninputs; i++) {
        const char *path = o->inputs[i];
        DLT_TRY(dlt__regular_file(path, "CIFAR batch"));
        FILE *f = fopen(path, "rb");
        if (!f)
            DLT_FAIL(DLT_ERR_IO, "%s: cannot open CIFAR batch: %s", path, strerror(errno));
        struct stat sb;
        if (fstat(fileno(f), &sb) != 0 || sb.st_size == 0 || (size_t)sb.st_size % rec) {
            fclose(f);
            DLT_FAIL(DLT_ERR_FORMAT, "%s: %lld bytes is not a whole number of %zu-byte %s "
                     "records (%zu label byte%s + 3072 pixels); HINT: use the binary version "
                     "of the dataset", path, (long long)sb.st_size, rec,
                     c100 ? "CIFAR-100" : "CIFAR-10", head, head == 1 ? "" : "s");
        }
        uint8_t *buf = dlt_malloc((size_t)sb.st_size);
        size_t got = fread(buf, 1, (size_t)sb.st_size, f);
        fclose(f);
        in->batches[in->nbatches++] = buf;
        if (got != (size_t)sb.st_size)
            DLT_FAIL(DLT_ERR_IO, "%s: short read (%zu of %lld bytes)", path, got,
                     (long long)sb.st_size);
        size_t nrec = got / rec;
        for (size_t r = 0; r < nrec; r++) {
            const uint8_t *p = buf + r * rec;
            /* CIFAR-100: coarse label, then fine label; we train on fine. */
            add_item(in, path, p + head, (long)r, c100 ? p[1] : p[0]);
        }
    }
    if (!o->classes_file) {
        for (int i = 0; i < (c100 ? 100 : 10); i++) {
            char name[16];
            snprintf(name, sizeof name, "%d", i);
            add_class(in, c100 ? name : cifar10_names[i]);
        }
    }
    return DLT_OK;
}

int dlt__prep_inputs_collect(const dlt_prep_options *o, dlt__prep_inputs *in)
{
    memset(in, 0, sizeof *in);
    if (o->ninputs < 1)
        DLT_FAIL(DLT_ERR_ARG, "no input given");
    if (o->classes_file && o->format != DLT_PREP_FOLDER)
        DLT_TRY(dlt__prep_classes_read(o->classes_file, &in->classes, &in->nclasses));
    switch (o->format) {
    case DLT_PREP_FOLDER: DLT_TRY(collect_folder(o, in)); break;
    case DLT_PREP_LIST: DLT_TRY(collect_list(o, in)); break;
    case DLT_PREP_CIFAR10:
    case DLT_PREP_CIFAR100: DLT_TRY(collect_cifar(o, in)); break;
    case DLT_PREP_IDX: DLT_FAIL(DLT_ERR_ARG, "IDX inputs are read by dlt__prep_idx_run");
    case DLT_PREP_CAPTIONS:
        DLT_FAIL(DLT_ERR_ARG, "caption inputs are read by dlt__prep_captions_collect");
    }
    if (o->format == DLT_PREP_LIST && !o->classes_file) {
        /* No names given: classes "0".."max label". */
        int32_t max = 0;
        for (size_t i = 0; i < in->n; i++)
            max = in->items[i].label > max ? in->items[i].label : max;
        if (max >= 100000)
            DLT_FAIL(DLT_ERR_FORMAT, "%s: largest label is %d; HINT: name the classes with "
                     "--classes FILE (labels beyond them are skipped)", o->inputs[0], (int)max);
        for (int32_t i = 0; i <= max; i++) {
            char name[16];
            snprintf(name, sizeof name, "%d", (int)i);
            add_class(in, name);
        }
    }
    if (o->format == DLT_PREP_FOLDER && o->classes_file)
        dlt_warn("--classes is ignored for --format folder: the subfolder names are the classes");
    return DLT_OK;
}

void dlt__prep_inputs_free(dlt__prep_inputs *in)
{
    for (size_t i = 0; i < in->n; i++)
        free(in->items[i].path);
    free(in->items);
    for (int i = 0; i < in->nclasses; i++)
        free(in->classes[i]);
    free(in->classes);
    for (int i = 0; i < in->nbatches; i++)
        free(in->batches[i]);
    free(in->batches);
    memset(in, 0, sizeof *in);
}
