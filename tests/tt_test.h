/*
 * tt_test.h — the few macros the C tests share. A failed check prints file, line and the expression (with the
 * values for the comparison forms) and the test goes on; tt_test_exit() returns 1 if anything failed, so ctest
 * reports the test as failed. No framework: a test is a main() that calls checks.
 */
#ifndef TT_TEST_H
#define TT_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int tt_test_failures;

#define CHECK(cond)                                                                                         \
    do {                                                                                                    \
        if (!(cond)) {                                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                        \
            tt_test_failures++;                                                                             \
        }                                                                                                   \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                                  \
    do {                                                                                                    \
        long long tt_a_ = (long long)(a), tt_b_ = (long long)(b);                                           \
        if (tt_a_ != tt_b_) {                                                                               \
            fprintf(stderr, "%s:%d: CHECK_EQ_INT failed: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, #a, \
                    #b, tt_a_, tt_b_);                                                                      \
            tt_test_failures++;                                                                             \
        }                                                                                                   \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                                                  \
    do {                                                                                                    \
        uint64_t tt_a_ = (uint64_t)(a), tt_b_ = (uint64_t)(b);                                              \
        if (tt_a_ != tt_b_) {                                                                               \
            fprintf(stderr, "%s:%d: CHECK_EQ_U64 failed: %s == %s (%" PRIu64 " vs %" PRIu64 ")\n", __FILE__, \
                    __LINE__, #a, #b, tt_a_, tt_b_);                                                        \
            tt_test_failures++;                                                                             \
        }                                                                                                   \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                                  \
    do {                                                                                                    \
        const char *tt_a_ = (a), *tt_b_ = (b);                                                              \
        if (!tt_a_ || !tt_b_ || strcmp(tt_a_, tt_b_) != 0) {                                                \
            fprintf(stderr, "%s:%d: CHECK_EQ_STR failed: %s == %s (\"%s\" vs \"%s\")\n", __FILE__, __LINE__, \
                    #a, #b, tt_a_ ? tt_a_ : "(null)", tt_b_ ? tt_b_ : "(null)");                            \
            tt_test_failures++;                                                                             \
        }                                                                                                   \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                               \
    do {                                                                                                    \
        double tt_a_ = (double)(a), tt_b_ = (double)(b);                                                    \
        if (!(tt_a_ - tt_b_ <= (tol) && tt_b_ - tt_a_ <= (tol))) {                                          \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s ~ %s (%.17g vs %.17g, tol %g)\n", __FILE__,       \
                    __LINE__, #a, #b, tt_a_, tt_b_, (double)(tol));                                         \
            tt_test_failures++;                                                                             \
        }                                                                                                   \
    } while (0)

/* Checks that a call returned the status expected, printing both names on failure. */
#define CHECK_STATUS(call, expected)                                                                        \
    do {                                                                                                    \
        int tt_rc_ = (call);                                                                                \
        if (tt_rc_ != (expected)) {                                                                         \
            fprintf(stderr, "%s:%d: %s returned %d, expected %s (%d)\n", __FILE__, __LINE__, #call, tt_rc_, \
                    #expected, (int)(expected));                                                            \
            tt_test_failures++;                                                                             \
        }                                                                                                   \
    } while (0)

static inline int tt_test_exit(void)
{
    if (tt_test_failures)
        fprintf(stderr, "%d check(s) failed\n", tt_test_failures);
    return tt_test_failures ? 1 : 0;
}

#endif
