/* The threads runtime: tasks are futures on the work-stealing pool, and
 * the main task runs on the caller's thread, as asyncio.run's main
 * coroutine runs on the loop. */
#include "rt_threads/easy.h"
#include "rt/backend.h"
#include "tvl/pool.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

static tvl_pool *pool;
/* Counts are read by the harness between patterns; relaxed is enough,
 * nothing else is published through them. */
static _Atomic uint64_t tasks_spawned;

const char *tvl_rt_backend(void)
{
    return "threads";
}

int tvl_rt_init(const tvl_rt_options *opts, char *errbuf, size_t errlen)
{
    tvl_pool_options po;
    tvl_pool_options_init(&po);
    if (opts->threads > 0) {
        po.workers = opts->threads;
        po.fixed = true;
        if (opts->max_threads != 0 && opts->max_threads != opts->threads) {
            snprintf(errbuf, errlen, "--max-threads applies only to the compensating pool");
            return -EINVAL;
        }
        po.max_threads = opts->threads;
    } else if (opts->max_threads > 0) {
        po.max_threads = opts->max_threads;
        if (po.workers == 0 || po.workers > po.max_threads)
            po.workers = po.max_threads < 2 ? po.max_threads : 2;
    }
    /* With a connection limit, a spare thread beyond C + workers could only
     * block on the connection semaphore (and would make the pool start yet
     * another): the pool is held there (tvl_pool_set_thread_limit, below),
     * so extra tasks wait in the queue, not in threads. 10,000 requests
     * over 100 connections ran at 3,000 requests/s with 5,000 threads
     * parked on the semaphore. */
    unsigned held = 0;
    if (!po.fixed && opts->connections > 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned workers = po.workers ? po.workers : cpus > 0 ? (unsigned)cpus : 1;
        held = opts->connections + workers;
    }
    /* Each thread keeps its own easy handle, and so its own kept-alive
     * connection plus the socketpair libcurl's internal multi handle uses
     * for wake-ups: three descriptors a thread. More threads than the
     * open-file limit allows would fail with EMFILE; capped, the extra
     * tasks queue instead. */
    struct rlimit rl;
    if (!po.fixed && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur > 256) {
        unsigned budget = (unsigned)(rl.rlim_cur - 128) / 3;
        unsigned ceiling = po.max_threads ? po.max_threads : TVL_POOL_DEFAULT_MAX_THREADS;
        if (ceiling > budget)
            po.max_threads = budget;
        if (po.workers > po.max_threads && po.max_threads > 0)
            po.workers = po.max_threads;
    }
    int rc = tvl_pool_create(&po, &pool);
    if (rc != 0) {
        snprintf(errbuf, errlen, "cannot start the pool: %s", tvl_strerror(rc));
        return rc;
    }
    tvl_pool_options actual;
    tvl_pool_get_options(pool, &actual);
    if (held > 0 && held < actual.max_threads)
        (void)tvl_pool_set_thread_limit(pool, held < actual.workers ? actual.workers : held);
    rc = tvl__rt_common_init(opts);
    if (rc != 0) {
        snprintf(errbuf, errlen, "cannot set up HTTP: %s", tvl_strerror(rc));
        tvl_pool_destroy(pool, TVL_SHUTDOWN_CANCEL);
        pool = NULL;
        return rc;
    }
    tvl__threads_easy_open();
    atomic_store_explicit(&tasks_spawned, 0, memory_order_relaxed);
    return 0;
}


/* The connection slots have not moved for a while (rt/http.c): the
 * transfers holding them may never end, so the pool must not keep tasks
 * that are not fetches (a watchdog, say) queued behind the ones waiting
 * for a slot. Its full ceiling comes back; idempotent. */
void tvl__slots_stalled(void)
{
    tvl_pool_options o;
    if (pool == NULL)
        return;
    tvl_pool_get_options(pool, &o);
    if (!o.fixed)
        (void)tvl_pool_set_thread_limit(pool, o.max_threads);
}

void tvl_rt_shutdown(void)
{
    tvl_pool_destroy(pool, TVL_SHUTDOWN_DRAIN);
    pool = NULL;
    tvl__threads_easy_close();
    tvl__rt_common_shutdown();
}

int tvl_rt_run(tvl_task_fn fn, void *arg, void **result)
{
    tvl_future *main_task = tvl_future_create(fn, arg);
    if (main_task == NULL)
        return -ENOMEM;
    int rc = tvl_future_run(main_task);
    if (result != NULL)
        *result = tvl_future_result(main_task);
    tvl_future_unref(main_task);
    return rc;
}

int tvl_spawn(tvl_task_fn fn, void *arg, tvl_future **out)
{
    int rc = tvl_pool_submit(pool, fn, arg, out);
    if (rc == 0)
        atomic_fetch_add_explicit(&tasks_spawned, 1, memory_order_relaxed);
    return rc;
}

tvl_future *tvl_current(void)
{
    return tvl_future_current();
}

int64_t tvl_rt_fiber_id(void)
{
    return -1;
}

void tvl_rt_reset_peak(void)
{
    if (pool != NULL)
        tvl_pool_reset_peak(pool);
}

void tvl_rt_get_stats(tvl_rt_stats *st)
{
    tvl_pool_stats ps = {0};
    if (pool != NULL)
        tvl_pool_get_stats(pool, &ps);
    /* The caller's thread (the main task's) counts as alive, not started. */
    st->threads_started = ps.threads_started;
    st->peak_threads = ps.peak_threads + 1;
    st->live_threads = ps.live_threads + 1;
    st->tasks_spawned = atomic_load_explicit(&tasks_spawned, memory_order_relaxed);
}
