/* Out of memory: every allocation our code makes on the calling thread is
 * failed in turn (the Nth, for N = 0, 1, 2, ... until a run completes
 * untouched), and each operation must then return -ENOMEM (or its usage
 * error) and leave nothing behind: no crash, no hang, no leak (the
 * sanitizer builds check the last). */
#include "alloc_fail.h"
#include "bench/cli.h"
#include "bench/urlfile.h"
#include "test_util.h"
#include "tvl/pool.h"
#include "tvl/rt.h"

#include <string.h>

enum { MAX_STEPS = 2000 };

/* Runs scenario with the Nth allocation failing, for every N it reaches.
 * ok(rc) says which results are acceptable when an allocation failed. */
static void each_failure(int (*scenario)(void), int (*ok)(int rc), const char *name)
{
    long n;
    for (n = 0; n < MAX_STEPS; n++) {
        alloc_fail_arm(n, 0);
        int rc = scenario();
        int fired = alloc_fail_fired();
        alloc_fail_arm(-1, 0);
        if (!fired) {
            CU_ASSERT_EQUAL(rc, 0); /* untouched: it must succeed */
            break;
        }
        if (!ok(rc)) {
            fprintf(stderr, "%s: allocation %ld failed, result %d (%s)\n", name, n, rc,
                    tvl_err_name(rc));
            CU_FAIL("unexpected result after a failed allocation");
        }
    }
    if (getenv("TVL_TEST_VERBOSE"))
        printf("  %s: %ld allocations, each failed in turn\n", name, n);
    CU_ASSERT(n > 0);          /* the scenario allocates at all */
    CU_ASSERT(n < MAX_STEPS);  /* and finished */
}

static int enomem_or_ok(int rc)
{
    return rc == 0 || rc == -ENOMEM;
}

static int usage_enomem_or_ok(int rc)
{
    return rc == 0 || rc == -ENOMEM || rc == TVL_E_USAGE;
}

static int cli_scenario(void)
{
    char *argv[] = {"bench", "--pattern", "gather,wait", "-n", "3", "https://a.test/",
                    "http://b.test/x", NULL};
    tvl_cli cli;
    char err[128];
    int rc = tvl_cli_parse(7, argv, &cli, err, sizeof err);
    if (rc == 0)
        tvl_cli_free(&cli);
    return rc;
}

static void the_cli_parser_survives_every_failed_allocation(void)
{
    each_failure(cli_scenario, usage_enomem_or_ok, "cli");
}

static int urls_scenario(void)
{
    const char text[] = "https://a.test/\n# c\nhttps://b.test/\nhttps://c.test/\n";
    tvl_url_list list = {0};
    char err[128];
    int rc = tvl_url_list_parse(text, sizeof text - 1, "f", &list, err, sizeof err);
    tvl_url_list_free(&list);
    return rc;
}

static void the_url_list_parser_survives_every_failed_allocation(void)
{
    each_failure(urls_scenario, enomem_or_ok, "urls");
}

static int nop(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)arg, (void)result;
    return 0;
}

static int pool_scenario(void)
{
    tvl_pool_options o;
    tvl_pool_options_init(&o);
    o.workers = 2;
    tvl_pool *p;
    int rc = tvl_pool_create(&o, &p);
    if (rc != 0)
        return rc;
    tvl_future *fs[8] = {0};
    for (int i = 0; i < 8 && rc == 0; i++)
        rc = tvl_pool_submit(p, nop, NULL, &fs[i]);
    for (int i = 0; i < 8; i++) {
        if (fs[i] != NULL) {
            tvl_future_wait(fs[i]);
            tvl_future_unref(fs[i]);
        }
    }
    tvl_pool_destroy(p, TVL_SHUTDOWN_DRAIN);
    return rc;
}

static void the_pool_survives_every_failed_allocation(void)
{
    each_failure(pool_scenario, enomem_or_ok, "pool");
}

static int sleeper(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)arg, (void)result;
    return tvl_sleep(TVL_MS(1));
}

/* Every combinator once, stopping at the first error. */
static int rt_main(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)arg, (void)result;
    enum { N = 3 };
    tvl_future *fs[N] = {0}, *done[N], *pending[N], *next;
    size_t nd, np;
    int rc = 0;
    for (int i = 0; i < N && rc == 0; i++)
        rc = tvl_spawn(sleeper, NULL, &fs[i]);
    if (rc == 0)
        rc = tvl_gather(fs, N, false, NULL, NULL);
    if (rc == 0)
        rc = tvl_wait(fs, N, TVL_ALL_COMPLETED, TVL_NO_TIMEOUT, done, &nd, pending, &np);
    tvl_as_completed *it = NULL;
    if (rc == 0)
        rc = tvl_as_completed_begin(fs, N, TVL_NO_TIMEOUT, &it);
    while (rc == 0 && (rc = tvl_as_completed_next(it, &next)) == 0)
        ;
    if (rc == 1)
        rc = 0;
    tvl_as_completed_end(it);
    tvl_group *g = NULL;
    if (rc == 0)
        rc = tvl_group_create(&g);
    for (int i = 0; i < N && rc == 0; i++)
        rc = tvl_group_spawn(g, sleeper, NULL, NULL);
    if (g != NULL) {
        int left = tvl_group_wait(g);
        if (rc == 0)
            rc = left;
        tvl_group_destroy(g);
    }
    tvl_sem *s = NULL;
    if (rc == 0 && (rc = tvl_sem_create(1, &s)) == 0) {
        rc = tvl_sem_acquire(s);
        tvl_sem_release(s);
        tvl_sem_destroy(s);
    }
    for (int i = 0; i < N; i++) {
        if (fs[i] != NULL) {
            tvl_await(fs[i]);
            tvl_future_unref(fs[i]);
        }
    }
    return rc;
}

static int rt_scenario(void)
{
    tvl_rt_options o = {0};
    char err[128];
    int rc = tvl_rt_init(&o, err, sizeof err);
    if (rc != 0)
        return rc;
    rc = tvl_rt_run(rt_main, NULL, NULL);
    tvl_rt_shutdown();
    return rc;
}

static void the_runtime_and_combinators_survive_every_failed_allocation(void)
{
    each_failure(rt_scenario, enomem_or_ok, "runtime");
}

void test_oom_register(void)
{
    static CU_TestInfo tests[] = {
        {"the_cli_parser_survives_every_failed_allocation",
         the_cli_parser_survives_every_failed_allocation},
        {"the_url_list_parser_survives_every_failed_allocation",
         the_url_list_parser_survives_every_failed_allocation},
        {"the_pool_survives_every_failed_allocation", the_pool_survives_every_failed_allocation},
        {"the_runtime_and_combinators_survive_every_failed_allocation",
         the_runtime_and_combinators_survive_every_failed_allocation},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("oom", tests);
}
