/* test.h - a tiny TAP test runner: one "ok"/"not ok" line per check,
 * values printed on failure, plan printed by TEST_DONE. */
#ifndef DLTRAIN_TEST_H
#define DLTRAIN_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* One count per program: weak, so that a test program of several files
 * (tests/layers/: a shared harness and the layer's tests) has one plan. */
__attribute__((weak)) int test_count_, test_failed_;

#define TEST_OK(cond, ...)                                                 \
    do {                                                                   \
        int ok_ = (cond) ? 1 : 0;                                          \
        printf("%s %d - ", ok_ ? "ok" : "not ok", ++test_count_);          \
        printf(__VA_ARGS__);                                               \
        printf("\n");                                                      \
        if (!ok_) {                                                        \
            test_failed_++;                                                \
            printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                  \
        fflush(stdout);                                                    \
    } while (0)

#define ASSERT_EQ(a, b, ...)                                                   \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        TEST_OK(a_ == b_, __VA_ARGS__);                                        \
        if (a_ != b_) printf("#   %s = %lld, %s = %lld\n", #a, a_, #b, b_);    \
    } while (0)

/* |a - b| <= tol */
#define ASSERT_NEAR(a, b, tol, ...)                                            \
    do {                                                                       \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);         \
        int ok2_ = fabs(a_ - b_) <= t_;                                        \
        TEST_OK(ok2_, __VA_ARGS__);                                            \
        if (!ok2_) printf("#   %s = %.9g, %s = %.9g, |diff| = %.3g > %.3g\n",  \
                          #a, a_, #b, b_, fabs(a_ - b_), t_);                  \
    } while (0)

/* One test point skipped, with the reason (counted as SKIP by the TAP driver). */
#define TEST_SKIP(...)                                                     \
    do {                                                                   \
        printf("ok %d # SKIP ", ++test_count_);                            \
        printf(__VA_ARGS__);                                               \
        printf("\n");                                                      \
        fflush(stdout);                                                    \
    } while (0)

#define TEST_SKIP_ALL(reason)                                                  \
    do {                                                                       \
        printf("1..0 # SKIP %s\n", reason);                                    \
        exit(0);                                                               \
    } while (0)

#define TEST_DONE()                                                            \
    do {                                                                       \
        printf("1..%d\n", test_count_);                                        \
        return test_failed_ ? 1 : 0;                                           \
    } while (0)

#endif
