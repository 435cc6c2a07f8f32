/*
 * imd_test.h: a small test harness for CTest.
 *
 * Each test file defines cases with IMD_TEST(name) and ends with
 * IMD_TEST_MAIN(case, case, ...). The executable runs every case, or only the
 * one named by argv[1]; a failed check is reported with file and line and the
 * case goes on, so one run shows every failure. It ends with the line
 * "N passed, N failed" and exits 1 when a check failed. A case may call
 * IMD_SKIP("why"): when every case skipped, the exit code is 77 (CTest's
 * SKIP_RETURN_CODE), and the reason is printed, so nothing skips silently.
 */
#ifndef IMD_TEST_H
#define IMD_TEST_H

#include <imagedata/imagedata.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ImdTestCase {
    const char *name;
    void (*run)(void);
} ImdTestCase;

static int imd_test_failures;
static int imd_test_skipped;

#define IMD_TEST(name) static void name(void)

#define IMD_FAIL_AT(...)                                                                   \
    do {                                                                                   \
        fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);                              \
        fprintf(stderr, __VA_ARGS__);                                                      \
        fprintf(stderr, "\n");                                                             \
        imd_test_failures++;                                                               \
    } while (0)

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            IMD_FAIL_AT("%s", #cond);                                                      \
        }                                                                                  \
    } while (0)

/* Stop the case when a check it depends on fails. */
#define REQUIRE(cond)                                                                      \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            IMD_FAIL_AT("required: %s", #cond);                                            \
            return;                                                                        \
        }                                                                                  \
    } while (0)

#define CHECK_INT(a, b)                                                                    \
    do {                                                                                   \
        long long imd_a_ = (long long)(a), imd_b_ = (long long)(b);                        \
        if (imd_a_ != imd_b_) {                                                            \
            IMD_FAIL_AT("%s == %s (%lld != %lld)", #a, #b, imd_a_, imd_b_);                \
        }                                                                                  \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                              \
    do {                                                                                   \
        double imd_a_ = (double)(a), imd_b_ = (double)(b);                                 \
        if (!(fabs(imd_a_ - imd_b_) <= (tol))) {                                           \
            IMD_FAIL_AT("%s ~ %s (%.17g vs %.17g, tol %g)", #a, #b, imd_a_, imd_b_,        \
                        (double)(tol));                                                    \
        }                                                                                  \
    } while (0)

#define CHECK_STR(a, b)                                                                    \
    do {                                                                                   \
        const char *imd_a_ = (a), *imd_b_ = (b);                                           \
        if (imd_a_ == NULL || imd_b_ == NULL || strcmp(imd_a_, imd_b_) != 0) {             \
            IMD_FAIL_AT("%s == %s (\"%s\" vs \"%s\")", #a, #b, imd_a_ ? imd_a_ : "(null)", \
                        imd_b_ ? imd_b_ : "(null)");                                       \
        }                                                                                  \
    } while (0)

/* The call succeeds; on failure its error is printed and cleared. */
#define CHECK_OK(error, call)                                                              \
    do {                                                                                   \
        if (!(call)) {                                                                     \
            IMD_FAIL_AT("%s failed: %s", #call, imd_error_message(error));                 \
        }                                                                                  \
        imd_error_clear(&(error));                                                         \
    } while (0)

/* The call fails with `code`, and the result/error invariant holds. */
#define CHECK_FAILS(error, call, code)                                                     \
    do {                                                                                   \
        if (call) {                                                                        \
            IMD_FAIL_AT("%s succeeded, expected %s", #call, imd_error_code_name(code));    \
        } else if (imd_error_code(error) != (code)) {                                      \
            IMD_FAIL_AT("%s: got %s (%s), expected %s", #call,                             \
                        imd_error_code_name(imd_error_code(error)),                        \
                        imd_error_message(error), imd_error_code_name(code));              \
        }                                                                                  \
        imd_error_clear(&(error));                                                         \
    } while (0)

#define IMD_SKIP(...)                                                                      \
    do {                                                                                   \
        fprintf(stderr, "SKIP: ");                                                         \
        fprintf(stderr, __VA_ARGS__);                                                      \
        fprintf(stderr, "\n");                                                             \
        imd_test_skipped++;                                                                \
        return;                                                                            \
    } while (0)

static inline int imd_test_run(int argc, char **argv, const ImdTestCase *cases, size_t count)
{
    int passed = 0, failed = 0, skipped = 0;
    for (size_t i = 0; i < count; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0) {
            continue;
        }
        int failures_before = imd_test_failures;
        int skipped_before = imd_test_skipped;
        cases[i].run();
        if (imd_test_failures != failures_before) {
            fprintf(stderr, "[FAILED] %s\n", cases[i].name);
            failed++;
        } else if (imd_test_skipped != skipped_before) {
            fprintf(stderr, "[SKIPPED] %s\n", cases[i].name);
            skipped++;
        } else {
            fprintf(stderr, "[ok] %s\n", cases[i].name);
            passed++;
        }
    }
    if (passed + failed + skipped == 0) {
        fprintf(stderr, "no test case named \"%s\"\n", argc > 1 ? argv[1] : "");
        return 2;
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    if (failed > 0) {
        return 1;
    }
    return passed == 0 ? 77 : 0;
}

#define IMD_CASE(fn) {#fn, fn}
#define IMD_TEST_MAIN(...)                                                                 \
    int main(int argc, char **argv)                                                        \
    {                                                                                      \
        static const ImdTestCase cases[] = {__VA_ARGS__};                                  \
        return imd_test_run(argc, argv, cases, sizeof cases / sizeof cases[0]);            \
    }

#endif
