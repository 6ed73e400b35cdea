/* test_crc32.c - the dataset checksum (dlt__crc32) against zlib's crc32()
 * over lengths 0..70000 at every alignment and continued from any CRC, for
 * each implementation this CPU has (each in a child process: the choice is
 * made once per process, from DLTRAIN_CRC32). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "core/crc32.h"
#include "test.h"

/* Mismatches against zlib; the implementation's name into NAME. */
static int compare(char *name, size_t size)
{
    enum { N = 70000 };
    uint8_t *buf = malloc(N + 64);
    uint64_t s = 88172645463325252ULL;
    for (size_t i = 0; i < N + 64; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        buf[i] = (uint8_t)s;
    }
    int bad = 0;
    for (int t = 0; t < 4000; t++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        size_t off = s % 64, n = t < 600 ? (size_t)t : (size_t)(s >> 20) % N;
        uint32_t c0 = t % 3 ? (uint32_t)(s >> 32) : 0;
        if (dlt__crc32(c0, buf + off, n) != (uint32_t)crc32(c0, buf + off, (uInt)n))
            bad++;
    }
    /* The standard check value. */
    if (dlt__crc32(0, "123456789", 9) != 0xCBF43926u)
        bad++;
    snprintf(name, size, "%s", dlt__crc32_impl());
    free(buf);
    return bad;
}

int main(void)
{
    const char *impls[] = {"zlib", "pclmul", "vpclmulqdq"};
    for (int i = 0; i < 3; i++) {
        int fd[2];
        if (pipe(fd) != 0)
            return 1;
        pid_t pid = fork();
        if (pid == 0) {
            char name[32];
            close(fd[0]);
            setenv("DLTRAIN_CRC32", impls[i], 1);
            int bad = compare(name, sizeof name);
            if (write(fd[1], name, sizeof name) != (ssize_t)sizeof name)
                _exit(255);
            _exit(bad > 254 ? 254 : bad);
        }
        close(fd[1]);
        char name[32] = "";
        ssize_t r = read(fd[0], name, sizeof name);
        close(fd[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        if (r == (ssize_t)sizeof name && strcmp(name, impls[i]) != 0) {
            printf("ok %d - # SKIP %s: not on this CPU (%s used)\n", ++test_count_, impls[i], name);
            continue;
        }
        ASSERT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0,
                  "%s: 4000 lengths/offsets/start values equal zlib's crc32, and the check value",
                  impls[i]);
    }
    TEST_DONE();
}
