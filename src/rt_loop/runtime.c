/* The event-loop runtime's life cycle: init, run (asyncio.run: the main task
 * on a fiber, the loop running until it ends), shutdown, and statistics.
 *
 * One OS thread: the thread that calls tvl_rt_init is the loop's, and
 * tvl_rt_run, the tasks and every other call of tvl/rt.h run on it.
 */
#include "rt_loop/loop.h"
#include "rt/prefault.h"

#include <stdio.h>

static bool initialised;

const char *tvl_rt_backend(void)
{
    return "loop";
}

int tvl_rt_init(const tvl_rt_options *opts, char *errbuf, size_t errlen)
{
    if (initialised) {
        snprintf(errbuf, errlen, "the loop runtime is already running");
        return -EBUSY;
    }
    if (opts->threads != 0 || opts->max_threads != 0) {
        snprintf(errbuf, errlen,
                 "--threads and --max-threads apply to the threads build; the loop build runs "
                 "one OS thread");
        return -EINVAL;
    }
    int rc = tvl__loop_open();
    if (rc != 0) {
        snprintf(errbuf, errlen, "cannot create the event loop: %s", tvl_strerror(rc));
        return rc;
    }
    tvl__sched_open();
    rc = tvl__http_multi_open(opts);
    if (rc != 0) {
        snprintf(errbuf, errlen, "cannot create the curl multi handle: %s", tvl_strerror(rc));
        goto fail_multi;
    }
    rc = tvl__rt_common_init(opts);
    if (rc != 0) {
        snprintf(errbuf, errlen, "cannot set up HTTP: %s", tvl_strerror(rc));
        goto fail_common;
    }
    /* Every allocation of the loop's tasks is on this thread, in the heap
     * that grows with brk: populate it ahead of a burst (rt/prefault.h). */
    tvl__prefault_enable(true);
    initialised = true;
    return 0;

fail_common:
    tvl__http_multi_close();
fail_multi:
    tvl__sched_close();
    tvl__loop_close();
    return rc;
}

void tvl_rt_shutdown(void)
{
    if (!initialised)
        return;
    /* Tasks still running finish first, as the threads runtime drains its
     * pool: run the loop until no worker has a body to run. */
    tvl__sched_drain();
    tvl__rt_common_shutdown();
    tvl__http_multi_close();
    tvl__sched_close();
    tvl__loop_close();
    tvl_fiber_thread_cleanup();
    tvl__prefault_enable(false);
    initialised = false;
}

static void main_done(tvl_future *f, void *arg)
{
    (void)f;
    tvl__sched_wake_any(arg, 0);
}

int tvl_rt_run(tvl_task_fn fn, void *arg, void **result)
{
    if (!initialised || !tvl__loop_on_thread())
        return -ESHUTDOWN;
    if (tvl__sched_current()->fiber != NULL)
        return -EDEADLK; /* asyncio.run() inside a running loop */
    tvl_future *main_task = tvl_future_create(fn, arg);
    if (main_task == NULL)
        return -ENOMEM;
    int rc = tvl__sched_start(tvl_future_ref(main_task));
    if (rc != 0) {
        tvl_future_unref(main_task); /* the reference start did not take */
        tvl_future_unref(main_task);
        return rc;
    }
    /* The main context waits like any await from outside a fiber: the loop
     * runs until the main task is final. */
    tvl_future_callback cb = {.fn = main_done, .arg = tvl__sched_current()};
    if (tvl_future_on_done(main_task, &cb) == 0) {
        while (!tvl_future_is_final(main_task))
            (void)tvl__sched_park(INT64_MAX, false);
        tvl_future_remove_callback(main_task, &cb);
    }
    rc = tvl_future_error(main_task);
    if (result != NULL)
        *result = tvl_future_result(main_task);
    tvl_future_unref(main_task);
    return rc;
}

void tvl_rt_get_stats(tvl_rt_stats *st)
{
    uint64_t spawned = 0, live = 0, peak = 0;
    if (initialised)
        tvl__sched_stats(&spawned, &live, &peak);
    /* No thread is ever started: the caller's thread is the loop. */
    st->threads_started = 0;
    st->peak_threads = 1;
    st->live_threads = 1;
    st->tasks_spawned = spawned;
}

void tvl_rt_reset_peak(void)
{
    if (initialised)
        tvl__sched_reset_peak();
}
