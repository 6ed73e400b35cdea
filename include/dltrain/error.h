/* error.h - status codes, error reporting and the logging every module uses. */
#ifndef DLTRAIN_ERROR_H
#define DLTRAIN_ERROR_H

#include <stdarg.h>

/* Library functions return 0 on success or one of these (negative). */
enum {
    DLT_OK = 0,
    DLT_ERR_ARG = -1,      /* bad option or argument */
    DLT_ERR_IO = -2,       /* a file could not be opened, read or written */
    DLT_ERR_FORMAT = -3,   /* a file was read but its content is wrong */
    DLT_ERR_PARSE = -4,    /* prototxt syntax or schema error */
    DLT_ERR_NOMEM = -5,
    DLT_ERR_INTERNAL = -6
};

/* Documented process exit statuses of the programs. */
enum {
    DLT_EXIT_OK = 0,
    DLT_EXIT_FAILURE = 1,  /* bad input, I/O error: message says which file */
    DLT_EXIT_USAGE = 2,    /* bad command line */
    DLT_EXIT_PREEMPTED = 75 /* EX_TEMPFAIL: stopped by a signal or the time limit
                               after a checkpoint; rerun with --resume auto */
};

const char *dlt_strerror(int status);

/* Report an error: "dltrain: error: MSG" on stderr (with rank/host when the
 * communicator has set them), plus "(file:line)" of the detecting code. */
void dlt_error_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds "  at file:line: expr" to stderr when DLT_TRACE=1 is set. */
void dlt_trace_at(const char *file, int line, const char *expr);

/* Fatal: print like dlt_error_at, then call the fatal handler (the
 * communicator installs one that calls MPI_Abort); never returns. */
void dlt_fatal_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
typedef void (*dlt_fatal_handler)(int exit_code);
void dlt_set_fatal_handler(dlt_fatal_handler handler);

#define dlt_error(...) dlt_error_at(__FILE__, __LINE__, __VA_ARGS__)
#define dlt_fatal(...) dlt_fatal_at(__FILE__, __LINE__, __VA_ARGS__)

/* Propagate a failing status, leaving a trace line. */
#define DLT_TRY(expr)                                   \
    do {                                                \
        int dlt_try_st_ = (expr);                       \
        if (dlt_try_st_ < 0) {                          \
            dlt_trace_at(__FILE__, __LINE__, #expr);    \
            return dlt_try_st_;                         \
        }                                               \
    } while (0)

/* Report an error and return a status from the current function. */
#define DLT_FAIL(status, ...)                           \
    do {                                                \
        dlt_error_at(__FILE__, __LINE__, __VA_ARGS__);  \
        return (status);                                \
    } while (0)

/* Allocation that cannot fail silently: fatal on out-of-memory. */
void *dlt_malloc(unsigned long bytes);
void *dlt_calloc(unsigned long n, unsigned long size);
void *dlt_realloc(void *p, unsigned long bytes);
/* BYTES at a multiple of ALIGN (a power of two, at least sizeof(void *));
 * free() releases it. Like the three above, blocks of 8 MiB and more ask
 * for transparent huge pages (madvise; untouched pages stay unallocated). */
void *dlt_aligned_alloc(unsigned long align, unsigned long bytes);
char *dlt_strdup(const char *s);

/* Logging. Info/notes are printed by the log owner only (rank 0);
 * warnings and errors by every rank, prefixed with rank and host. */
void dlt_log_set_identity(int rank, int world, const char *host);
int dlt_log_rank(void);
/* Mirror rank 0's info lines into an open file (the run's log.txt). */
void dlt_log_set_file(void *file /* FILE * */);
/* Where info lines go (default stdout; stderr for a program whose stdout
 * is its result, e.g. dltrain-caption's captions). */
void dlt_log_set_info_stream(void *stream /* FILE * */);
/* A progress line of at most DLT_PROGRESS_WIDTH columns, ended by \r, is
 * on stdout (OPEN=1): the next message blanks it first. */
#define DLT_PROGRESS_WIDTH 110
void dlt_log_set_stdout_line(int open);
void dlt_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void dlt_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print NOTE once per distinct key (e.g. "ignored field solver_mode"). */
void dlt_note_once(const char *key, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
