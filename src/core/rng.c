/* rng.c - xoshiro256** (Blackman & Vigna), seeded by splitmix64: fast,
 * reproducible on every platform, small state for checkpoints. */
#include <math.h>

#include "dltrain/tensor.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void dlt_rng_seed(dlt_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t dlt_rng_next(dlt_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double dlt_rng_uniform(dlt_rng *r) { return (dlt_rng_next(r) >> 11) * 0x1.0p-53; }

double dlt_rng_gaussian(dlt_rng *r)
{
    double u1 = dlt_rng_uniform(r), u2 = dlt_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t dlt_rng_below(dlt_rng *r, uint64_t n)
{
    /* Lemire-free rejection: reject the biased tail of the 64-bit range. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = dlt_rng_next(r);
    while (x >= limit);
    return x % n;
}

void dlt_permutation(uint32_t *perm, size_t n, uint64_t seed, uint64_t stream)
{
    dlt_rng r;
    dlt_rng_seed(&r, seed * 0x9e3779b97f4a7c15ULL ^ (stream + 0x632be59bd9b4e019ULL));
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)dlt_rng_below(&r, i);
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}
