/* The benchmark binary when things go wrong around it: a server that dies
 * in the middle of a run, a request that stalls, a fault endpoint per
 * request. It must report every request, exit 1, and never hang. */
#include "bench_proc.h"
#include "rt_test.h"
#include "tvl/delay_server.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static size_t count(const char *haystack, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(haystack, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void a_server_killed_mid_run_fails_every_request_without_a_hang(void)
{
    tvl_delay_server *s;
    CU_ASSERT_EQUAL_FATAL(tvl_delay_server_spawn(NULL, &s), 0);
    char urls[6][160];
    const char *args[16];
    int k = 0;
    args[k++] = "--cacert";
    args[k++] = tvl_delay_server_ca_file(s);
    args[k++] = "--pattern";
    args[k++] = "tasks";
    args[k++] = "--timeout-ms";
    args[k++] = "20000";
    for (int i = 0; i < 6; i++) {
        snprintf(urls[i], sizeof urls[i], "%s/delay/3000", tvl_delay_server_url(s));
        args[k++] = urls[i];
    }
    args[k] = NULL;
    int fd;
    pid_t pid = bench_start(args, &fd);
    CU_ASSERT_FATAL(pid > 0);
    usleep(tvl_test_slow_env() ? 1500000 : 400000); /* the requests are in flight */
    double t0 = tvl_now();
    kill(tvl_delay_server_pid(s), SIGKILL);
    char err[8192];
    int rc = bench_finish(pid, fd, err, sizeof err, 15.0);
    CU_ASSERT_EQUAL(rc, 1); /* some failed: exit 1, no hang */
    if (rc != 1)
        fprintf(stderr, "bench exited %d; its stderr:\n%s\n", rc, err);
    CU_ASSERT(tvl_now() - t0 < 10.0);       /* well before the 20 s timeout */
    CU_ASSERT_EQUAL(count(err, "failed: "), 6); /* each one, with its reason */
    tvl_delay_server_stop(s); /* killed: reaped here, temporary files removed */
}

static void each_fault_is_reported_and_a_stall_is_bounded_by_the_timeout(void)
{
    tvl_delay_server *s;
    CU_ASSERT_EQUAL_FATAL(tvl_delay_server_spawn(NULL, &s), 0);
    static const char *const paths[] = {"/fault/close", "/fault/reset", "/fault/short",
                                        "/fault/stall", "/status/500",  "/site/scotthelme"};
    char urls[6][160];
    const char *args[20];
    int k = 0;
    args[k++] = "--cacert";
    args[k++] = tvl_delay_server_ca_file(s);
    args[k++] = "--timeout-ms";
    args[k++] = "500";
    args[k++] = "--pattern";
    args[k++] = "gather,wait,taskgroup";
    for (int i = 0; i < 6; i++) {
        snprintf(urls[i], sizeof urls[i], "%s%s", tvl_delay_server_url(s), paths[i]);
        args[k++] = urls[i];
    }
    args[k] = NULL;
    char err[16384];
    double t0 = tvl_now();
    int rc = bench_run(args, err, sizeof err);
    CU_ASSERT_EQUAL(rc, 1);
    if (rc != 1)
        fprintf(stderr, "bench exited %d; its stderr:\n%s\n", rc, err);
    CU_ASSERT(tvl_now() - t0 < 20.0);
    /* gather and wait report the five failures each; the task group at
     * least the ones that ended before it cancelled the rest. */
    CU_ASSERT(count(err, "failed: ") >= 10);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "timed out"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "HTTP status 500"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "short body"));
    CU_ASSERT_EQUAL(tvl_delay_server_stop(s), 0);
}

void test_faults_register(void)
{
    static CU_TestInfo tests[] = {
        {"a_server_killed_mid_run_fails_every_request_without_a_hang",
         a_server_killed_mid_run_fails_every_request_without_a_hang},
        {"each_fault_is_reported_and_a_stall_is_bounded_by_the_timeout",
         each_fault_is_reported_and_a_stall_is_bounded_by_the_timeout},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("faults", tests);
}
