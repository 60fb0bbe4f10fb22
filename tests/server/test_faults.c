/* The fault endpoints, seen by libcurl over HTTPS: each one fails the
 * transfer the way it says, and the server is fine afterwards. */
#include "ds_util.h"
#include "test_util.h"

#include <string.h>
#include <unistd.h>

static void server_still_answers(tvl_delay_server *s)
{
    ds_fetch f;
    ds_get(NULL, s, "/health", NULL, 10000, false, &f);
    CU_ASSERT_EQUAL(f.code, CURLE_OK);
    CU_ASSERT_EQUAL(f.status, 200);
}

static void close_fault_closes_without_an_answer(void)
{
    tvl_delay_server *s = ds_spawn(false, 0);
    if (!s)
        return;
    ds_fetch f;
    ds_get(NULL, s, "/fault/close", NULL, 10000, false, &f);
    CU_ASSERT_EQUAL(f.code, CURLE_GOT_NOTHING);
    ds_get(NULL, s, "/delay/50/fault/close", NULL, 10000, false, &f);
    CU_ASSERT_EQUAL(f.code, CURLE_GOT_NOTHING);
    CU_ASSERT(f.total_s >= 0.05);
    server_still_answers(s);
    ds_stop(s);
}

static void reset_fault_resets_in_the_middle_of_the_body(void)
{
    tvl_delay_server *s = ds_spawn(false, 0);
    if (!s)
        return;
    ds_fetch f;
    ds_get(NULL, s, "/fault/reset", NULL, 10000, false, &f);
    CU_ASSERT_EQUAL(f.code, CURLE_RECV_ERROR);
    CU_ASSERT_EQUAL(f.status, 200);
    CU_ASSERT_EQUAL(f.content_length, 65536);
    CU_ASSERT(f.body_len < 65536);
    ds_get(NULL, s, "/fault/reset/bytes/1000000", NULL, 10000, false, &f);
    CU_ASSERT_EQUAL(f.code, CURLE_RECV_ERROR);
    CU_ASSERT(f.body_len <= 500000);
    server_still_answers(s);
    ds_stop(s);
}

static void short_fault_sends_less_than_its_content_length(void)
{
    tvl_delay_server *s = ds_spawn(false, 0);
    if (!s)
        return;
    ds_fetch f;
    ds_get(NULL, s, "/fault/short", NULL, 10000, false, &f);
    CU_ASSERT_EQUAL(f.code, CURLE_PARTIAL_FILE);
    CU_ASSERT_EQUAL(f.content_length, 4096);
    CU_ASSERT_EQUAL(f.body_len, 2048);
    CU_ASSERT(f.has_sum);
    CU_ASSERT_NOT_EQUAL(f.header_sum, f.body_sum);
    ds_get(NULL, s, "/fault/short?bytes=100", NULL, 10000, false, &f);
    CU_ASSERT_EQUAL(f.code, CURLE_PARTIAL_FILE);
    CU_ASSERT_EQUAL(f.body_len, 50);
    server_still_answers(s);
    ds_stop(s);
}

static void stall_fault_never_answers_and_is_dropped_when_the_client_leaves(void)
{
    tvl_delay_server *s = ds_spawn(false, 0);
    if (!s)
        return;
    ds_fetch f;
    ds_get(NULL, s, "/fault/stall", NULL, 300, false, &f);
    CU_ASSERT_EQUAL(f.code, CURLE_OPERATION_TIMEDOUT);
    CU_ASSERT_EQUAL(f.status, 0);
    CU_ASSERT(f.total_s >= 0.29);
    /* The stalled connection goes away once the client has: only the
     * connection asking remains active. */
    bool one = false;
    for (int i = 0; i < 100 && !one; i++) {
        ds_get(NULL, s, "/stats", NULL, 10000, false, &f);
        one = strstr(f.body, " active=1 ") != NULL;
        if (!one)
            usleep(20000);
    }
    CU_ASSERT(one);
    ds_stop(s);
}

static void trickle_fault_sends_the_body_slowly_and_whole(void)
{
    tvl_delay_server *s = ds_spawn(false, 0);
    if (!s)
        return;
    ds_fetch f;
    ds_get(NULL, s, "/fault/trickle?bytes=20&chunk=2&every_ms=20", NULL, 10000, false, &f);
    CU_ASSERT_EQUAL(f.code, CURLE_OK);
    CU_ASSERT_EQUAL(f.body_len, 20);
    CU_ASSERT_EQUAL(f.header_sum, f.body_sum);
    CU_ASSERT(f.total_s - f.ttfb_s >= 9 * 0.020 - 0.002); /* 10 bursts, 9 gaps */
    CU_ASSERT(f.total_s < 9 * 0.020 + 0.5 + ds_slack());
    /* A client with a low-speed limit gives up on a slower trickle. */
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 100L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 1L);
    ds_get(h, s, "/fault/trickle?bytes=1000&every_ms=200", NULL, 10000, false, &f);
    CU_ASSERT_EQUAL(f.code, CURLE_OPERATION_TIMEDOUT);
    CU_ASSERT(f.body_len < 1000);
    curl_easy_cleanup(h);
    server_still_answers(s);
    ds_stop(s);
}

void test_faults_register(void)
{
    static CU_TestInfo tests[] = {
        {"close_fault_closes_without_an_answer", close_fault_closes_without_an_answer},
        {"reset_fault_resets_in_the_middle_of_the_body", reset_fault_resets_in_the_middle_of_the_body},
        {"short_fault_sends_less_than_its_content_length", short_fault_sends_less_than_its_content_length},
        {"stall_fault_never_answers_and_is_dropped_when_the_client_leaves", stall_fault_never_answers_and_is_dropped_when_the_client_leaves},
        {"trickle_fault_sends_the_body_slowly_and_whole", trickle_fault_sends_the_body_slowly_and_whole},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("faults", tests);
}
