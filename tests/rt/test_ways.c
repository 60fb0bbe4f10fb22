/* The seven ways' shape on the sleep workload, at a small scale: the
 * sequential ways take about the sum of the delays, the concurrent ones
 * about the max; and what a CPU-bound task does to each runtime. Bounds
 * are generous; precise timing is the benchmark's. */
#include "bench/harness.h"
#include "rt_test.h"

#include <stdbool.h>
#include <string.h>

static const double delays[] = {0.0, 0.04, 0.08, 0.12}; /* sum .24, max .12 */

enum { N = 4 };
static const tvl_output quiet = {.quiet = true};

/* A job of N items of the given workload, work(t) taking t = d[i]. */
static void job_init(tvl_job *job, tvl_workload w, tvl_item *items, tvl_future **tasks,
                     const double *d)
{
    *job = (tvl_job){.workload = w, .n = N, .items = items, .tasks = tasks, .output = &quiet};
    memset(items, 0, N * sizeof *items);
    for (size_t i = 0; i < N; i++) {
        items[i].job = job;
        items[i].index = i;
        items[i].delay_s = d[i];
    }
}

static void run_all_ways(const tvl_rt_options *opts)
{
    char err[256];
    CU_ASSERT_EQUAL_FATAL(tvl_rt_init(opts, err, sizeof err), 0);
    tvl_item items[N];
    tvl_future *tasks[N];
    tvl_job job;
    job_init(&job, TVL_WORKLOAD_SLEEP, items, tasks, delays);
    double slack = rt_test_slack_ms(80) / 1000;
    for (size_t w = 0; w < TVL_WAY_COUNT; w++) {
        tvl_way_run run;
        tvl_harness_run(&tvl_ways[w], &job, 0, &run);
        CU_ASSERT_EQUAL(run.ok, N);
        CU_ASSERT_EQUAL(run.failed, 0);
        CU_ASSERT_EQUAL(run.way_error, 0);
        if (tvl_ways[w].concurrent) {
            CU_ASSERT(run.wall_s >= 0.12 - 0.002);
            CU_ASSERT(run.wall_s < 0.12 + slack);
        } else {
            CU_ASSERT(run.wall_s >= 0.24 - 0.002);
            CU_ASSERT(run.wall_s < 0.24 + slack);
        }
        for (size_t i = 0; i < N; i++) {
            CU_ASSERT(items[i].ran);
            CU_ASSERT(items[i].out.end_s >= items[i].out.start_s + delays[i] - 0.001);
        }
        if (tvl_ways[w].concurrent) {
            /* All started together: the last start is before the first
             * non-zero sleep could have ended. */
            double last_start = 0;
            for (size_t i = 0; i < N; i++)
                if (items[i].out.start_s > last_start)
                    last_start = items[i].out.start_s;
            CU_ASSERT(last_start < items[1].out.start_s + 0.04);
        } else {
            /* A staircase: each starts after the previous ended. */
            for (size_t i = 1; i < N; i++)
                CU_ASSERT(items[i].out.start_s >= items[i - 1].out.end_s - 1e-6);
        }
    }
    tvl_rt_shutdown();
}

static void sequential_ways_take_the_sum_concurrent_ways_the_max(void)
{
    tvl_rt_options opts = {0};
    run_all_ways(&opts);
}

static void the_ways_keep_their_shape_with_a_connection_limit(void)
{
    /* The limit bounds transfers, not sleeps: nothing changes. */
    tvl_rt_options opts = {.connections = 1};
    run_all_ways(&opts);
}

/* The cpu workload: work(t) computes for t seconds of its thread's CPU
 * time and never yields. Each item's wall time is at least its CPU time;
 * on the loop build, where every task shares one OS thread, the tasks of a
 * concurrent way cannot interleave (each runs to its end before the next
 * starts), so even gather takes at least the sum. How much the pool
 * overlaps them depends on the cores: the benchmark and make lab show it. */
static void cpu_bound_tasks_never_yield_their_thread(void)
{
    static const double cpu[] = {0.0, 0.02, 0.04, 0.06}; /* sum .12 */
    char err[256];
    tvl_rt_options opts = {0};
    CU_ASSERT_EQUAL_FATAL(tvl_rt_init(&opts, err, sizeof err), 0);
    tvl_item items[N];
    tvl_future *tasks[N];
    tvl_job job;
    job_init(&job, TVL_WORKLOAD_CPU, items, tasks, cpu);
    bool one_thread = strcmp(tvl_rt_backend(), "loop") == 0;
    for (size_t w = 0; w < TVL_WAY_COUNT; w++) {
        const tvl_way *way = &tvl_ways[w];
        tvl_way_run run;
        tvl_harness_run(way, &job, 0, &run);
        CU_ASSERT_EQUAL(run.ok, N);
        CU_ASSERT_EQUAL(run.failed, 0);
        for (size_t i = 0; i < N; i++) {
            CU_ASSERT(items[i].ran);
            CU_ASSERT(items[i].out.end_s >= items[i].out.start_s + cpu[i] - 0.001);
        }
        if (one_thread || !way->concurrent) {
            CU_ASSERT(run.wall_s >= 0.12 - 0.002);
            for (size_t i = 0; i < N; i++)
                for (size_t j = 0; j < N; j++)
                    if (i != j && items[i].out.start_s <= items[j].out.start_s)
                        CU_ASSERT(items[j].out.start_s >= items[i].out.end_s - 1e-6);
        }
    }
    tvl_rt_shutdown();
}

void test_ways_register(void)
{
    static CU_TestInfo tests[] = {
        {"cpu_bound_tasks_never_yield_their_thread", cpu_bound_tasks_never_yield_their_thread},
        {"sequential_ways_take_the_sum_concurrent_ways_the_max",
         sequential_ways_take_the_sum_concurrent_ways_the_max},
        {"the_ways_keep_their_shape_with_a_connection_limit",
         the_ways_keep_their_shape_with_a_connection_limit},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("ways", tests);
}
