/* readfile.h - whole small files (prototxt, mean files, label lists) read
 * with a bound: a FIFO, a device such as /dev/zero or a folder is refused
 * instead of read without end, and so is a file over the limit. */
#ifndef DLTRAIN_CORE_READFILE_H
#define DLTRAIN_CORE_READFILE_H

#include <stddef.h>

/* Text files: prototxt (Caffe's nets are under 1 MB) and lists. */
#define DLT_TEXT_FILE_LIMIT ((size_t)64 << 20)

/* PATH's bytes into *OUT (NUL-terminated; *N bytes, N may be NULL), at
 * most LIMIT of them. Errors (DLT_ERR_IO) name WHAT ("prototxt",
 * "mean_file"), the file, and the limit or the kind of special file. */
int dlt__read_file(const char *path, const char *what, size_t limit, char **out, size_t *n);

/* DLT_OK if PATH is a regular file; else DLT_ERR_IO naming WHAT, the file
 * and what it is (for readers that open it themselves: fopen on a FIFO
 * would wait for a writer). A missing file passes: the opener says so. */
int dlt__regular_file(const char *path, const char *what);

#endif
