/* error.c - error reporting, fatal handling, allocation and logging.
 * The module owns the log identity (rank, host) and the log file. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dltrain/error.h"

static int log_rank = 0, log_world = 1;
static char log_host[64] = "";
static FILE *log_file = NULL;
static dlt_fatal_handler fatal_handler = NULL;
static int trace_enabled = -1;
static int stdout_line_open = 0; /* a progress line without newline is on the terminal */

#define NOTE_KEYS_MAX 64
static char *note_keys[NOTE_KEYS_MAX];
static int note_count = 0;

const char *dlt_strerror(int status)
{
    switch (status) {
    case DLT_OK: return "success";
    case DLT_ERR_ARG: return "invalid argument";
    case DLT_ERR_IO: return "I/O error";
    case DLT_ERR_FORMAT: return "bad file format";
    case DLT_ERR_PARSE: return "prototxt error";
    case DLT_ERR_NOMEM: return "out of memory";
    default: return "internal error";
    }
}

static void print_prefix(FILE *f, const char *kind)
{
    if (log_world > 1 || log_host[0])
        fprintf(f, "dltrain[rank %d/%d %s]: %s: ", log_rank, log_world, log_host, kind);
    else
        fprintf(f, "dltrain: %s: ", kind);
}

/* Blank an in-place progress line so a message starts on a clean line. */
static void clear_stdout_line(void)
{
    if (stdout_line_open) {
        fprintf(stdout, "\r%*s\r", DLT_PROGRESS_WIDTH, "");
        fflush(stdout);
        stdout_line_open = 0;
    }
}

void dlt_log_set_stdout_line(int open) { stdout_line_open = open; }

static void vreport(const char *kind, const char *file, int line, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    clear_stdout_line();
    print_prefix(stderr, kind);
    if (file)
        fprintf(stderr, "%s (%s:%d)\n", msg, file, line);
    else
        fprintf(stderr, "%s\n", msg);
    fflush(stderr);
    if (log_file) {
        print_prefix(log_file, kind);
        fprintf(log_file, "%s\n", msg);
        fflush(log_file);
    }
}

void dlt_error_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("error", file, line, fmt, ap);
    va_end(ap);
}

void dlt_trace_at(const char *file, int line, const char *expr)
{
    if (trace_enabled < 0) {
        const char *e = getenv("DLT_TRACE");
        trace_enabled = e && *e && strcmp(e, "0") != 0;
    }
    if (trace_enabled)
        fprintf(stderr, "  at %s:%d: %s\n", file, line, expr);
}

void dlt_set_fatal_handler(dlt_fatal_handler handler) { fatal_handler = handler; }

void dlt_fatal_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("fatal", file, line, fmt, ap);
    va_end(ap);
    if (fatal_handler)
        fatal_handler(DLT_EXIT_FAILURE);
    exit(DLT_EXIT_FAILURE);
}

/* Large buffers (activations, their gradients, saved inputs: tens of MB in
 * a ResNet) ask for transparent huge pages where the kernel gives them only
 * on request (THP "madvise", Debian's default): the layers stream through
 * them channel by channel, and 4 KiB pages cost TLB misses (ResNet-50
 * training 3-8% faster, bench/README.md). Only the whole 2 MiB pages inside
 * the block are advised; nothing is touched, so untouched memory stays
 * out of the resident set. A refusal (THP off, old kernel) changes nothing. */
#define HUGE_ADVISE_MIN (8ul << 20)
static void advise_huge(void *p, unsigned long bytes)
{
#ifdef MADV_HUGEPAGE
    if (bytes < HUGE_ADVISE_MIN)
        return;
    const uintptr_t huge = 2ul << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1), hi = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE); /* advice only: errors ignored */
#else
    (void)p, (void)bytes;
#endif
}

void *dlt_malloc(unsigned long bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        dlt_fatal("out of memory allocating %lu bytes", bytes);
    advise_huge(p, bytes);
    return p;
}

void *dlt_calloc(unsigned long n, unsigned long size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        dlt_fatal("out of memory allocating %lu x %lu bytes", n, size);
    if (size && n <= ~0ul / size)
        advise_huge(p, n * size);
    return p;
}

void *dlt_realloc(void *p, unsigned long bytes)
{
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q)
        dlt_fatal("out of memory reallocating %lu bytes", bytes);
    advise_huge(q, bytes);
    return q;
}

void *dlt_aligned_alloc(unsigned long align, unsigned long bytes)
{
    void *p;
    if (posix_memalign(&p, align, bytes ? bytes : 1) != 0)
        dlt_fatal("out of memory allocating %lu bytes aligned to %lu", bytes, align);
    advise_huge(p, bytes);
    return p;
}

char *dlt_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = dlt_malloc(n);
    memcpy(d, s, n);
    return d;
}

void dlt_log_set_identity(int rank, int world, const char *host)
{
    log_rank = rank;
    log_world = world;
    snprintf(log_host, sizeof log_host, "%s", host ? host : "");
}

int dlt_log_rank(void) { return log_rank; }

void dlt_log_set_file(void *file) { log_file = file; }

static FILE *info_stream; /* NULL: stdout */
void dlt_log_set_info_stream(void *stream) { info_stream = stream; }

static void vinfo(const char *prefix, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    FILE *out = info_stream ? info_stream : stdout;
    clear_stdout_line();
    fputs(prefix, out);
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    fflush(out);
    if (log_file) {
        fputs(prefix, log_file);
        vfprintf(log_file, fmt, ap2);
        fputc('\n', log_file);
        fflush(log_file);
    }
    va_end(ap2);
}

void dlt_info(const char *fmt, ...)
{
    if (log_rank != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vinfo("", fmt, ap);
    va_end(ap);
}

void dlt_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("warning", NULL, 0, fmt, ap);
    va_end(ap);
}

void dlt_note_once(const char *key, const char *fmt, ...)
{
    for (int i = 0; i < note_count; i++)
        if (strcmp(note_keys[i], key) == 0)
            return;
    if (note_count < NOTE_KEYS_MAX)
        note_keys[note_count++] = dlt_strdup(key);
    if (log_rank != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vinfo("note: ", fmt, ap);
    va_end(ap);
}
