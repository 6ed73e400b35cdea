/* crc32.h - zlib's CRC-32 (the same values as zlib's crc32()), faster on
 * CPUs with VPCLMULQDQ: dataset chunks are checked on every streamed read. */
#ifndef DLTRAIN_CORE_CRC32_H
#define DLTRAIN_CORE_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* CRC of BUF[0..N) continued from CRC (0 to start), as zlib's crc32(). */
uint32_t dlt__crc32(uint32_t crc, const void *buf, size_t n);
/* The implementation in use: "vpclmulqdq", "pclmul" or "zlib"
 * (DLTRAIN_CRC32 set to one of them chooses, where the CPU has it). */
const char *dlt__crc32_impl(void);

#endif
