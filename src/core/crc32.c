/* crc32.c - zlib's CRC-32 by carry-less multiplication (folding, as in
 * Intel's "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ"):
 * 256 bits per register with VPCLMULQDQ (about 7x zlib on AVX2 Zen 3),
 * 128 with PCLMULQDQ, and zlib's crc32() for short inputs, the last bytes
 * and other CPUs. DLTRAIN_CRC32=zlib|pclmul|vpclmulqdq picks one (tests,
 * benchmarks). */
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <zlib.h>

#include "core/crc32.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_FOLD 1
#endif

static uint32_t zlib_crc(uint32_t crc, const uint8_t *p, size_t n)
{
    uLong c = crc;
    while (n > 0) { /* uInt lengths */
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k, n -= k;
    }
    return (uint32_t)c;
}

#ifdef HAVE_FOLD
/* Fold constants for a distance of D bits: x^(D+32) and x^(D-32) mod P,
 * bit-reflected over 32 bits and shifted left by one (the reflected
 * product is one bit short). Computed once instead of copied in. */
static uint64_t k128[2], k512[2], k1024[2];

static uint32_t xn_mod_p(unsigned n)
{
    uint32_t r = 1;
    for (unsigned i = 0; i < n; i++)
        r = (r << 1) ^ (r & 0x80000000u ? 0x04C11DB7u : 0);
    return r;
}

static uint64_t fold_constant(unsigned n)
{
    uint32_t v = xn_mod_p(n), r = 0;
    for (int i = 0; i < 32; i++)
        if (v & (1u << i))
            r |= 1u << (31 - i);
    return (uint64_t)r << 1;
}

enum { IMPL_ZLIB, IMPL_PCLMUL, IMPL_VPCLMUL };
static int impl;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    k128[0] = fold_constant(128 + 32), k128[1] = fold_constant(128 - 32);
    k512[0] = fold_constant(512 + 32), k512[1] = fold_constant(512 - 32);
    k1024[0] = fold_constant(1024 + 32), k1024[1] = fold_constant(1024 - 32);
    __builtin_cpu_init();
    int pcl = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
    int vpcl = pcl && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("vpclmulqdq");
    impl = vpcl ? IMPL_VPCLMUL : pcl ? IMPL_PCLMUL : IMPL_ZLIB;
    const char *want = getenv("DLTRAIN_CRC32");
    if (want && strcmp(want, "zlib") == 0)
        impl = IMPL_ZLIB;
    else if (want && strcmp(want, "pclmul") == 0 && pcl)
        impl = IMPL_PCLMUL;
}

/* The register's 128-bit halves folded D bits ahead onto the data there. */
#define FOLD256(x, k, next) \
    _mm256_xor_si256(_mm256_xor_si256(_mm256_clmulepi64_epi128(x, k, 0x00), \
                                      _mm256_clmulepi64_epi128(x, k, 0x11)), next)
#define FOLD128(x, k, next) \
    _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), \
                                _mm_clmulepi64_si128(x, k, 0x11)), next)

/* N >= 256. The running CRC is xored into the first 4 bytes (a CRC with
 * register R over M equals one with register 0 over M with R xored into
 * its start); four 256-bit accumulators fold 1024 bits at a time; their
 * eight 128-bit lanes fold into one, whose 16 bytes and the tail go
 * through zlib from register 0. */
__attribute__((target("avx2,pclmul,vpclmulqdq")))
static uint32_t fold_crc(uint32_t crc, const uint8_t *p, size_t n)
{
    const __m256i k8 = _mm256_set_epi64x((long long)k1024[1], (long long)k1024[0],
                                         (long long)k1024[1], (long long)k1024[0]);
    const __m128i k1 = _mm_set_epi64x((long long)k128[1], (long long)k128[0]);
    __m256i a = _mm256_loadu_si256((const void *)p);
    __m256i b = _mm256_loadu_si256((const void *)(p + 32));
    __m256i c = _mm256_loadu_si256((const void *)(p + 64));
    __m256i d = _mm256_loadu_si256((const void *)(p + 96));
    a = _mm256_xor_si256(a, _mm256_set_epi32(0, 0, 0, 0, 0, 0, 0, (int)~crc));
    p += 128, n -= 128;
    while (n >= 128) {
        a = FOLD256(a, k8, _mm256_loadu_si256((const void *)p));
        b = FOLD256(b, k8, _mm256_loadu_si256((const void *)(p + 32)));
        c = FOLD256(c, k8, _mm256_loadu_si256((const void *)(p + 64)));
        d = FOLD256(d, k8, _mm256_loadu_si256((const void *)(p + 96)));
        p += 128, n -= 128;
    }
    __m128i lane[8] = {_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1),
                       _mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1),
                       _mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1),
                       _mm256_castsi256_si128(d), _mm256_extracti128_si256(d, 1)};
    __m128i x = lane[0];
    for (int i = 1; i < 8; i++)
        x = FOLD128(x, k1, lane[i]);
    for (; n >= 16; p += 16, n -= 16)
        x = FOLD128(x, k1, _mm_loadu_si128((const void *)p));
    uint8_t v[16];
    _mm_storeu_si128((void *)v, x);
    return zlib_crc(zlib_crc(0xFFFFFFFFu, v, 16), p, n);
}

/* The same with 128-bit registers: four accumulators, 512 bits a step. */
__attribute__((target("sse4.1,pclmul")))
static uint32_t fold_crc_128(uint32_t crc, const uint8_t *p, size_t n)
{
    const __m128i k4 = _mm_set_epi64x((long long)k512[1], (long long)k512[0]);
    const __m128i k1 = _mm_set_epi64x((long long)k128[1], (long long)k128[0]);
    __m128i a = _mm_loadu_si128((const void *)p), b = _mm_loadu_si128((const void *)(p + 16));
    __m128i c = _mm_loadu_si128((const void *)(p + 32)), d = _mm_loadu_si128((const void *)(p + 48));
    a = _mm_xor_si128(a, _mm_cvtsi32_si128((int)~crc));
    p += 64, n -= 64;
    while (n >= 64) {
        a = FOLD128(a, k4, _mm_loadu_si128((const void *)p));
        b = FOLD128(b, k4, _mm_loadu_si128((const void *)(p + 16)));
        c = FOLD128(c, k4, _mm_loadu_si128((const void *)(p + 32)));
        d = FOLD128(d, k4, _mm_loadu_si128((const void *)(p + 48)));
        p += 64, n -= 64;
    }
    __m128i x = FOLD128(FOLD128(FOLD128(a, k1, b), k1, c), k1, d);
    for (; n >= 16; p += 16, n -= 16)
        x = FOLD128(x, k1, _mm_loadu_si128((const void *)p));
    uint8_t v[16];
    _mm_storeu_si128((void *)v, x);
    return zlib_crc(zlib_crc(0xFFFFFFFFu, v, 16), p, n);
}
#endif

uint32_t dlt__crc32(uint32_t crc, const void *buf, size_t n)
{
#ifdef HAVE_FOLD
    pthread_once(&once, init);
    if (impl == IMPL_VPCLMUL && n >= 256)
        return fold_crc(crc, buf, n);
    if (impl == IMPL_PCLMUL && n >= 256)
        return fold_crc_128(crc, buf, n);
#endif
    return zlib_crc(crc, buf, n);
}

const char *dlt__crc32_impl(void)
{
#ifdef HAVE_FOLD
    pthread_once(&once, init);
    if (impl == IMPL_VPCLMUL)
        return "vpclmulqdq";
    if (impl == IMPL_PCLMUL)
        return "pclmul";
#endif
    return "zlib";
}
