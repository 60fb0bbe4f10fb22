/* The one CUnit runner every test group links: it registers the group's
 * suites (a table generated from the file names) and exits with the number
 * of failures, so that 0 means all passed.
 *
 * Usage: test-<group> [SUITE [TEST]]  runs one suite, or one test of it. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>

void tvl_test_register_all(void);

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
        return 1;
    }
    tvl_test_register_all();
    if (CU_get_error() != CUE_SUCCESS) {
        fprintf(stderr, "CUnit registration: %s\n", CU_get_error_msg());
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(getenv("TVL_TEST_VERBOSE") ? CU_BRM_VERBOSE : CU_BRM_NORMAL);
    if (argc >= 2) {
        CU_pSuite suite = CU_get_suite(argv[1]);
        if (suite == NULL) {
            fprintf(stderr, "no suite named '%s'\n", argv[1]);
            CU_cleanup_registry();
            return 2;
        }
        if (argc >= 3) {
            CU_pTest test = CU_get_test(suite, argv[2]);
            if (test == NULL) {
                fprintf(stderr, "no test '%s' in suite '%s'\n", argv[2], argv[1]);
                CU_cleanup_registry();
                return 2;
            }
            CU_basic_run_test(suite, test);
        } else {
            CU_basic_run_suite(suite);
        }
    } else {
        CU_basic_run_tests();
    }
    /* Count failed tests, not failed assertions: one broken test is one. */
    unsigned failures = CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    printf("%u passed, %u failed\n", run - failures, failures);
    CU_cleanup_registry();
    return failures > 255 ? 255 : (int)failures;
}
