/* Helpers for the runtime tests, which are compiled once and linked with
 * each runtime (test-rt-threads, test-rt-loop): they may use only the
 * runtime-neutral API. CUnit is not thread-safe, so assertions are made in
 * the main task (which the threads runtime runs on the calling thread),
 * never in spawned tasks: those record what they saw. */
#ifndef TVL_TESTS_RT_TEST_H
#define TVL_TESTS_RT_TEST_H

#include "test_util.h"
#include "tvl/rt.h"

#include <stdatomic.h>

/* Starts the runtime with opts (NULL: defaults), runs fn as the main task,
 * stops the runtime, and returns the main task's result. */
static inline int rt_test_run(const tvl_rt_options *opts, tvl_task_fn fn, void *arg)
{
    tvl_rt_options defaults = {0};
    char err[256] = "";
    int rc = tvl_rt_init(opts ? opts : &defaults, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "tvl_rt_init: %s (%s)\n", tvl_strerror(rc), err);
        CU_FAIL_FATAL("tvl_rt_init failed");
    }
    rc = tvl_rt_run(fn, arg, NULL);
    tvl_rt_shutdown();
    return rc;
}

/* Milliseconds scaled for slow environments (sanitizers, valgrind). */
static inline double rt_test_slack_ms(double ms)
{
    return tvl_test_slow_env() ? ms * 4 + 200 : ms;
}

/* A task that sleeps arg milliseconds (an intptr_t) and then returns
 * arg as its result; a negative arg fails with -EIO after |arg| ms. */
static inline int rt_test_sleeper(tvl_future *self, void *arg, void **result)
{
    intptr_t ms = (intptr_t)arg;
    int rc = tvl_sleep(TVL_MS(ms < 0 ? -ms : ms));
    if (rc != 0)
        return rc;
    if (ms < 0)
        return tvl_future_fail(self, -EIO, "failed after %ld ms", (long)-ms);
    *result = arg;
    return 0;
}

#endif
