/* The error table: every code has a distinct name and a message. */
#include "test_util.h"
#include "tvl/error.h"

#include <string.h>

static const int all_codes[] = {
#define CODE(name, code, msg) code,
    TVL_ERR_MAP(CODE)
#undef CODE
};

static void codes_have_distinct_names_and_messages(void)
{
    size_t n = sizeof all_codes / sizeof all_codes[0];
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT(all_codes[i] < 0);
        CU_ASSERT_STRING_NOT_EQUAL(tvl_err_name(all_codes[i]), "UNKNOWN");
        CU_ASSERT_STRING_NOT_EQUAL(tvl_strerror(all_codes[i]), "unknown error");
        for (size_t j = i + 1; j < n; j++) {
            CU_ASSERT(all_codes[i] != all_codes[j]);
            CU_ASSERT(strcmp(tvl_err_name(all_codes[i]), tvl_err_name(all_codes[j])) != 0);
        }
    }
}

static void errno_codes_match_the_c_library(void)
{
    CU_ASSERT_EQUAL(TVL_ETIMEDOUT, -ETIMEDOUT);
    CU_ASSERT_STRING_EQUAL(tvl_err_name(-ETIMEDOUT), "ETIMEDOUT");
    CU_ASSERT_STRING_EQUAL(tvl_err_name(-EXDEV), "EXDEV"); /* not in the table */
    CU_ASSERT_STRING_EQUAL(tvl_strerror(0), "success");
    CU_ASSERT_EQUAL(tvl_from_errno(ENOMEM), -ENOMEM);
    CU_ASSERT_EQUAL(tvl_from_errno(0), -EIO);
}

static void unknown_codes_are_named_unknown(void)
{
    CU_ASSERT_STRING_EQUAL(tvl_err_name(TVL__ERR_BASE - 999), "UNKNOWN");
    CU_ASSERT_STRING_EQUAL(tvl_strerror(TVL__ERR_BASE - 999), "unknown error");
    CU_ASSERT_STRING_EQUAL(tvl_err_name(42), "UNKNOWN");
}

void test_error_register(void)
{
    static CU_TestInfo tests[] = {
        {"codes_have_distinct_names_and_messages", codes_have_distinct_names_and_messages},
        {"errno_codes_match_the_c_library", errno_codes_match_the_c_library},
        {"unknown_codes_are_named_unknown", unknown_codes_are_named_unknown},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("error", tests);
}
