/* fuzz_util.h - what the libFuzzer harnesses share: the input as a file
 * (memfd, or a file in a private temporary directory) for readers that
 * take a path, and a trap for dlt_fatal while a harness lets the library
 * refuse an input too large for it. */
#ifndef DLTRAIN_TESTS_FUZZ_UTIL_H
#define DLTRAIN_TESTS_FUZZ_UTIL_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

/* The entry points every harness defines (libFuzzer's, and the
 * regression runner's main calls them the same way). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* DATA as an anonymous in-memory file: returns its descriptor (close it
 * when done) and its name "/proc/self/fd/N" in PATH, or -1. (HDF5 cannot
 * open such a name: it wants the file's real path; use fuzz_write_file.) */
int fuzz_memfd(const char *name, const uint8_t *data, size_t size, char *path, size_t path_size);

/* A private temporary directory (under $TMPDIR, else /dev/shm, else
 * /tmp), made on first use (mode 0700) and removed with its files at exit. */
const char *fuzz_tmpdir(void);
/* Write DATA to fuzz_tmpdir()/NAME; the full path in PATH. 0 or -1. */
int fuzz_write_file(const char *name, const uint8_t *data, size_t size, char *path,
                    size_t path_size);

/* dlt_fatal while the trap is armed jumps back to fuzz_fatal_point instead
 * of exiting: the library's answer to an allocation it cannot make (a net
 * or a tensor far beyond the harness's bounds) is a refusal, not a
 * finding. Outside the armed region dlt_fatal aborts, so libFuzzer keeps
 * the input. Use:
 *     if (setjmp(fuzz_fatal_point) == 0) { fuzz_fatal_arm(1); ...; }
 *     fuzz_fatal_arm(0);                                            */
extern jmp_buf fuzz_fatal_point;
void fuzz_fatal_arm(int armed);

/* One-time setup every harness needs: the fatal handler; reads
 * DLT_FUZZ_VERBOSE=1 (the regression runner sets it), under which the
 * harnesses say on stderr how far an input got. */
void fuzz_init(void);
extern int fuzz_verbose;

#endif
