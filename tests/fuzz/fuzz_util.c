/* fuzz_util.c - inputs as files and the dlt_fatal trap for the harnesses. */
#include "fuzz_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dltrain/error.h"

jmp_buf fuzz_fatal_point;
int fuzz_verbose;
static int fatal_armed;
static char tmpdir[256];

void fuzz_fatal_arm(int armed) { fatal_armed = armed; }

static void fatal_handler(int code)
{
    (void)code;
    if (fatal_armed) {
        fatal_armed = 0;
        longjmp(fuzz_fatal_point, 1);
    }
    abort(); /* a fatal error on input the harness let through: keep the input */
}

static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
    }
    closedir(d);
    rmdir(tmpdir);
}

const char *fuzz_tmpdir(void)
{
    if (!tmpdir[0]) {
        /* Memory-backed where there is one: every input is written here. */
        const char *base = getenv("TMPDIR");
        if (!base || !*base)
            base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(tmpdir, sizeof tmpdir, "%s/dltrain-fuzz-XXXXXX", base);
        if (!mkdtemp(tmpdir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(remove_tmpdir);
    }
    return tmpdir;
}

int fuzz_write_file(const char *name, const uint8_t *data, size_t size, char *path,
                    size_t path_size)
{
    snprintf(path, path_size, "%s/%s", fuzz_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t put = size ? fwrite(data, 1, size, f) : 0;
    return fclose(f) == 0 && put == size ? 0 : -1;
}

int fuzz_memfd(const char *name, const uint8_t *data, size_t size, char *path, size_t path_size)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t k = write(fd, data + done, size - done);
        if (k <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)k;
    }
    snprintf(path, path_size, "/proc/self/fd/%d", fd);
    return fd;
}

void fuzz_init(void)
{
    dlt_set_fatal_handler(fatal_handler);
    const char *v = getenv("DLT_FUZZ_VERBOSE");
    fuzz_verbose = v && *v == '1';
}
