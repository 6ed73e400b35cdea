/* test_crc32c.c - the dataset checksum (dlt__crc32c) against a bit-at-a-
 * time CRC-32C written here, over lengths 0..300000 at every alignment and
 * continued from any CRC, and against RFC 3720's check values, for each
 * implementation this CPU has (each in a child process: the choice is made
 * once per process, from DLTRAIN_CRC32C). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/crc32c.h"
#include "test.h"

static uint32_t reference(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

/* Mismatches; the implementation's name into NAME. */
static int compare(char *name, size_t size)
{
    enum { N = 300000 };
    uint8_t *buf = malloc(N + 64), zeros[32] = {0}, ones[32], inc[32];
    uint64_t s = 88172645463325252ULL;
    for (size_t i = 0; i < N + 64; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        buf[i] = (uint8_t)s;
    }
    int bad = 0;
    for (int t = 0; t < 1000; t++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        size_t off = s % 64, n = t < 700 ? (size_t)t : (size_t)(s >> 20) % N;
        uint32_t c0 = t % 3 ? (uint32_t)(s >> 32) : 0;
        if (dlt__crc32c(c0, buf + off, n) != reference(c0, buf + off, n))
            bad++;
    }
    /* RFC 3720, B.4; and the usual check value. */
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++)
        inc[i] = (uint8_t)i;
    bad += dlt__crc32c(0, zeros, 32) != 0x8A9136AAu;
    bad += dlt__crc32c(0, ones, 32) != 0x62A8AB43u;
    bad += dlt__crc32c(0, inc, 32) != 0x46DD794Eu;
    bad += dlt__crc32c(0, "123456789", 9) != 0xE3069283u;
    snprintf(name, size, "%s", dlt__crc32c_impl());
    free(buf);
    return bad;
}

int main(void)
{
    const char *impls[] = {"table", "sse42", "hybrid"};
    for (int i = 0; i < 3; i++) {
        int fd[2];
        if (pipe(fd) != 0)
            return 1;
        pid_t pid = fork();
        if (pid == 0) {
            char name[32];
            close(fd[0]);
            setenv("DLTRAIN_CRC32C", impls[i], 1);
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
                  "%s: 1000 lengths (0..300000)/offsets/start values equal a bitwise CRC-32C, and RFC 3720's "
                  "check values", impls[i]);
    }
    TEST_DONE();
}
