/* crc32c.c - CRC-32C three ways: a slice-by-8 table (any CPU); SSE4.2's
 * crc32 instruction; and the "hybrid": three crc32 lanes (integer ports)
 * and a VPCLMULQDQ fold (vector ports, Intel's "Fast CRC Computation for
 * Generic Polynomials Using PCLMULQDQ") over four parts of the buffer in
 * one loop, joined by multiplying each part's CRC by x^(8 * bytes after it)
 * mod P (zlib's crc32_combine method). Fold constants are computed, not
 * copied in: x^(D+32) and x^(D-32) mod P, bit-reflected, shifted by one. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/crc32c.h"

#define POLY 0x82F63B78u      /* reflected 0x1EDC6F41 */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

enum { IMPL_TABLE, IMPL_SSE42, IMPL_HYBRID };
static int impl;
static uint32_t table[8][256];
static uint32_t x2n[32];      /* x^(2^k) mod P */
static uint64_t k128[2], k1024[2];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* a * b mod P, reflected. */
static uint32_t multmodp(uint32_t a, uint32_t b)
{
    uint32_t m = 1u << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
    }
    return p;
}

/* The register S followed by N zero bytes. */
static uint32_t shift(uint32_t s, size_t n)
{
    uint32_t p = 1u << 31; /* x^0 */
    for (unsigned k = 3; n; n >>= 1, k++)
        if (n & 1)
            p = multmodp(x2n[k & 31], p);
    return multmodp(p, s);
}

static uint64_t fold_constant(unsigned n)
{
    uint32_t v = 1, r = 0; /* x^n mod P, normal bit order */
    for (unsigned i = 0; i < n; i++)
        v = (v << 1) ^ (v & 0x80000000u ? 0x1EDC6F41u : 0);
    for (int i = 0; i < 32; i++)
        if (v & (1u << i))
            r |= 1u << (31 - i);
    return (uint64_t)r << 1;
}

static void init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int j = 0; j < 8; j++)
            c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        table[0][i] = c;
    }
    for (unsigned i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
    x2n[0] = 1u << 30; /* x^1 */
    for (int k = 1; k < 32; k++)
        x2n[k] = multmodp(x2n[k - 1], x2n[k - 1]);
    k128[0] = fold_constant(128 + 32), k128[1] = fold_constant(128 - 32);
    k1024[0] = fold_constant(1024 + 32), k1024[1] = fold_constant(1024 - 32);
    impl = IMPL_TABLE;
#ifdef HAVE_X86
    __builtin_cpu_init();
    int sse42 = __builtin_cpu_supports("sse4.2");
    int hybrid = sse42 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("pclmul") &&
                 __builtin_cpu_supports("vpclmulqdq");
    impl = hybrid ? IMPL_HYBRID : sse42 ? IMPL_SSE42 : IMPL_TABLE;
    const char *want = getenv("DLTRAIN_CRC32C");
    if (want && strcmp(want, "table") == 0)
        impl = IMPL_TABLE;
    else if (want && strcmp(want, "sse42") == 0 && sse42)
        impl = IMPL_SSE42;
#endif
}

/* Register updates ("raw": no inversion before or after). */
static uint32_t raw_table(uint32_t r, const uint8_t *p, size_t n)
{
    for (; n && ((uintptr_t)p & 7); n--)
        r = (r >> 8) ^ table[0][(r ^ *p++) & 0xff];
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        v ^= r; /* little-endian: the register meets the first 4 bytes */
        r = table[7][v & 0xff] ^ table[6][(v >> 8) & 0xff] ^ table[5][(v >> 16) & 0xff] ^
            table[4][(v >> 24) & 0xff] ^ table[3][(v >> 32) & 0xff] ^
            table[2][(v >> 40) & 0xff] ^ table[1][(v >> 48) & 0xff] ^ table[0][v >> 56];
    }
    while (n--)
        r = (r >> 8) ^ table[0][(r ^ *p++) & 0xff];
    return r;
}

#ifdef HAVE_X86
__attribute__((target("sse4.2")))
static uint32_t raw_sse42(uint32_t r, const uint8_t *p, size_t n)
{
    uint64_t x = r;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        x = _mm_crc32_u64(x, v);
    }
    r = (uint32_t)x;
    while (n--)
        r = _mm_crc32_u8(r, *p++);
    return r;
}

#define FOLD256(x, k, next) \
    _mm256_xor_si256(_mm256_xor_si256(_mm256_clmulepi64_epi128(x, k, 0x00), \
                                      _mm256_clmulepi64_epi128(x, k, 0x11)), next)
#define FOLD128(x, k, next) \
    _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), \
                                _mm_clmulepi64_si128(x, k, 0x11)), next)

/* Per step: LANE bytes in each of three crc32 lanes, VEC bytes folded
 * (about equal work for the two kinds of port on Zen 3). */
enum { LANE = 48, VEC = 128, STEP = 3 * LANE + VEC };
/* Joining the parts costs about 3000 cycles (three shifts in software):
 * below this size one crc32 lane is faster (JPEG records, labels). */
#define HYBRID_MIN (64u << 10)

/* Parts: [lane 0 | lane 1 | lane 2 | vector part and the tail]. The fold
 * starts from register 0 and ends in 16 bytes whose CRC (and the tail's)
 * the crc32 instruction finishes. */
__attribute__((target("sse4.2,avx2,pclmul,vpclmulqdq")))
static uint32_t raw_hybrid(uint32_t r, const uint8_t *p, size_t n)
{
    size_t it = n / STEP;
    if (n < HYBRID_MIN)
        return raw_sse42(r, p, n);
    const uint8_t *l0 = p, *l1 = p + LANE * it, *l2 = p + 2 * LANE * it, *v = p + 3 * LANE * it;
    size_t vn = n - 3 * LANE * it;
    const __m256i k8 = _mm256_set_epi64x((long long)k1024[1], (long long)k1024[0],
                                         (long long)k1024[1], (long long)k1024[0]);
    const __m128i k1 = _mm_set_epi64x((long long)k128[1], (long long)k128[0]);
    uint64_t c0 = r, c1 = 0, c2 = 0;
    __m256i a = _mm256_loadu_si256((const void *)v);
    __m256i b = _mm256_loadu_si256((const void *)(v + 32));
    __m256i c = _mm256_loadu_si256((const void *)(v + 64));
    __m256i d = _mm256_loadu_si256((const void *)(v + 96));
    const uint8_t *q = v + VEC;
    for (size_t i = 0; i < it; i++) {
        for (int j = 0; j < LANE; j += 8) {
            uint64_t x, y, z;
            memcpy(&x, l0 + j, 8), memcpy(&y, l1 + j, 8), memcpy(&z, l2 + j, 8);
            c0 = _mm_crc32_u64(c0, x), c1 = _mm_crc32_u64(c1, y), c2 = _mm_crc32_u64(c2, z);
        }
        l0 += LANE, l1 += LANE, l2 += LANE;
        if (i + 1 < it) {
            a = FOLD256(a, k8, _mm256_loadu_si256((const void *)q));
            b = FOLD256(b, k8, _mm256_loadu_si256((const void *)(q + 32)));
            c = FOLD256(c, k8, _mm256_loadu_si256((const void *)(q + 64)));
            d = FOLD256(d, k8, _mm256_loadu_si256((const void *)(q + 96)));
            q += VEC;
        }
    }
    size_t rest = vn - (size_t)(q - v);
    __m128i lane[8] = {_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1),
                       _mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1),
                       _mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1),
                       _mm256_castsi256_si128(d), _mm256_extracti128_si256(d, 1)};
    __m128i x = lane[0];
    for (int i = 1; i < 8; i++)
        x = FOLD128(x, k1, lane[i]);
    for (; rest >= 16; q += 16, rest -= 16)
        x = FOLD128(x, k1, _mm_loadu_si128((const void *)q));
    uint8_t t[16];
    _mm_storeu_si128((void *)t, x);
    uint32_t cv = raw_sse42(raw_sse42(0, t, 16), q, rest);
    uint32_t s = shift((uint32_t)c0, LANE * it) ^ (uint32_t)c1;
    s = shift(s, LANE * it) ^ (uint32_t)c2;
    return shift(s, vn) ^ cv;
}
#endif

uint32_t dlt__crc32c(uint32_t crc, const void *buf, size_t n)
{
    pthread_once(&once, init);
    uint32_t r = ~crc;
#ifdef HAVE_X86
    if (impl == IMPL_HYBRID)
        return ~raw_hybrid(r, buf, n);
    if (impl == IMPL_SSE42)
        return ~raw_sse42(r, buf, n);
#endif
    return ~raw_table(r, buf, n);
}

const char *dlt__crc32c_impl(void)
{
    pthread_once(&once, init);
    return impl == IMPL_HYBRID ? "hybrid" : impl == IMPL_SSE42 ? "sse42" : "table";
}
