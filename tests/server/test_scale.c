/* Thousands of delayed requests at once over plain HTTP, all answered, in
 * about one delay rather than thousands. */
#include "ds_util.h"
#include "server/loadgen.h"
#include "test_util.h"

#include <stdio.h>
#include <string.h>

static void five_thousand_concurrent_delayed_requests_are_all_answered(void)
{
    tvl_delay_server *s = ds_spawn(true, 0);
    if (!s)
        return;
    bool slow = tvl_test_slow_env();
    unsigned delay_ms = slow ? 3000 : 1000;
    char path[64];
    snprintf(path, sizeof path, "/delay/%u/bytes/100", delay_ms);
    tvl__loadgen_options o = {.port = tvl_delay_server_port(s), .path = path,
                              .connections = 5000, .timeout_ms = slow ? 120000 : 30000};
    tvl__loadgen_result r;
    CU_ASSERT_EQUAL(tvl__loadgen_run(&o, &r), 0);
    CU_ASSERT_EQUAL(r.ok, 5000);
    CU_ASSERT_EQUAL(r.failed, 0);
    CU_ASSERT(r.lat_min >= delay_ms / 1000.0);
    /* Served one after the other, 5000 delays would take 5000 times longer. */
    CU_ASSERT(r.seconds < delay_ms / 1000.0 + (slow ? 60 : 10));
    ds_fetch f;
    ds_get(NULL, s, "/stats", NULL, 10000, false, &f);
    printf("\n  5000 x %s: ok=%u failed=%u in %.2f s, latency min %.3f mean %.3f max %.3f; %s",
           path, r.ok, r.failed, r.seconds, r.lat_min, r.lat_mean, r.lat_max, f.body);
    ds_stop(s);
}

void test_scale_register(void)
{
    static CU_TestInfo tests[] = {
        {"five_thousand_concurrent_delayed_requests_are_all_answered", five_thousand_concurrent_delayed_requests_are_all_answered},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("scale", tests);
}
