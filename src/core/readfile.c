/* readfile.c - bounded whole-file reads (readfile.h). Opened with
 * O_NONBLOCK so that opening a FIFO does not wait for a writer; only
 * regular files are read, and never more than the limit (files of /proc
 * say size 0 but have content: reading stops at the limit, not the size). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/readfile.h"
#include "dltrain/error.h"

static const char *kind(mode_t m)
{
    return S_ISDIR(m) ? "a folder" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket"
           : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device"
           : "a special file";
}

int dlt__read_file(const char *path, const char *what, size_t limit, char **out, size_t *n)
{
    struct stat sb;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
            DLT_FAIL(DLT_ERR_IO, "%s '%s' is %s, not a regular file: refused", what, path,
                     kind(sb.st_mode));
        DLT_FAIL(DLT_ERR_IO, "cannot open %s '%s': %s", what, path, strerror(e));
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        DLT_FAIL(DLT_ERR_IO, "%s '%s' is %s, not a regular file: refused (it could be read "
                 "without end)", what, path, kind(sb.st_mode));
    }
    if ((unsigned long long)sb.st_size > limit) {
        close(fd);
        DLT_FAIL(DLT_ERR_IO, "%s '%s' is %lld bytes, more than the limit of %zu MiB for a %s",
                 what, path, (long long)sb.st_size, limit >> 20, what);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    size_t cap = (size_t)sb.st_size + 1, len = 0;
    char *buf = dlt_malloc(cap + 1);
    for (;;) {
        if (len == cap) {
            if (cap > limit) {
                free(buf);
                close(fd);
                DLT_FAIL(DLT_ERR_IO, "%s '%s' holds more than the limit of %zu MiB for a %s",
                         what, path, limit >> 20, what);
            }
            cap = cap * 2 < limit + 1 ? cap * 2 : limit + 1;
            buf = dlt_realloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            DLT_FAIL(DLT_ERR_IO, "error reading %s '%s': %s", what, path, strerror(e));
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (len > limit) {
        free(buf);
        DLT_FAIL(DLT_ERR_IO, "%s '%s' holds more than the limit of %zu MiB for a %s", what,
                 path, limit >> 20, what);
    }
    buf[len] = '\0';
    *out = buf;
    if (n)
        *n = len;
    return DLT_OK;
}

int dlt__regular_file(const char *path, const char *what)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        DLT_FAIL(DLT_ERR_IO, "%s '%s' is %s, not a regular file: refused", what, path,
                 kind(sb.st_mode));
    return DLT_OK;
}
