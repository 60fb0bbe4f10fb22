/* Small helpers shared by the CUnit suites: registration and clocks. */
#ifndef TVL_TEST_UTIL_H
#define TVL_TEST_UTIL_H

#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Adds a suite named NAME with the NULL-terminated CU_TestInfo array TESTS;
 * aborts the runner if CUnit cannot register it. */
static inline void tvl_test_add_suite(const char *name, CU_TestInfo *tests)
{
    CU_SuiteInfo suites[] = {{name, NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
    if (CU_register_suites(suites) != CUE_SUCCESS) {
        fprintf(stderr, "cannot register suite %s: %s\n", name, CU_get_error_msg());
        exit(1);
    }
}

static inline double tvl_test_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* True when the suite runs under a sanitizer or valgrind, where timing
 * bounds must be looser. */
static inline int tvl_test_slow_env(void)
{
    return getenv("TVL_TEST_SLOW") != NULL;
}

#endif
