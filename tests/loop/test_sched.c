/* The event-loop runtime's scheduler: one OS thread, many fibers, sleeps,
 * timers in deadline order, cancellation, and awaits from the main
 * context. */
#include "test_util.h"
#include "rt/backend.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static bool start(void)
{
    tvl_rt_options o = {0};
    char err[200] = "";
    int rc = tvl_rt_init(&o, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "tvl_rt_init: %s\n", err);
    return rc == 0;
}

/* ---- one OS thread ---------------------------------------------------------- */

enum { TID_TASKS = 1000 };

static int record_tid(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)result;
    tvl_sleep(0); /* switch at least once */
    *(pid_t *)arg = gettid();
    return 0;
}

static int spawn_record_tids(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)result;
    pid_t *tids = arg;
    tvl_future *fs[TID_TASKS];
    for (int i = 0; i < TID_TASKS; i++)
        if (tvl_spawn(record_tid, &tids[i], &fs[i]) != 0)
            return -ENOMEM;
    int rc = tvl_gather(fs, TID_TASKS, false, NULL, NULL);
    for (int i = 0; i < TID_TASKS; i++)
        tvl_future_unref(fs[i]);
    return rc;
}

static void every_task_runs_on_the_loop_thread(void)
{
    CU_ASSERT_FATAL(start());
    static pid_t tids[TID_TASKS];
    memset(tids, 0, sizeof tids);
    CU_ASSERT_EQUAL(tvl_rt_run(spawn_record_tids, tids, NULL), 0);
    pid_t me = gettid();
    int same = 0;
    for (int i = 0; i < TID_TASKS; i++)
        same += tids[i] == me;
    CU_ASSERT_EQUAL(same, TID_TASKS);
    tvl_rt_stats st;
    tvl_rt_get_stats(&st);
    CU_ASSERT_EQUAL(st.threads_started, 0);
    CU_ASSERT_EQUAL(st.peak_threads, 1);
    CU_ASSERT_EQUAL(st.tasks_spawned, TID_TASKS);
    tvl_rt_shutdown();
}

/* ---- many fibers sleeping at once -------------------------------------------- */

/* ThreadSanitizer gives every fiber a thread state of its own (a trace of
 * about 1 MiB and a slot in a bounded table): 10,000 live fibers exhaust it,
 * so under TSan the test proves the same with fewer. */
#if defined(__SANITIZE_THREAD__)
#define TVL_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TVL_TEST_TSAN 1
#endif
#endif
#ifdef TVL_TEST_TSAN
enum { SLEEPERS = 1000 };
#else
enum { SLEEPERS = 10000 };
#endif

typedef struct sleepers {
    int started, woke;
    double last_start, first_wake;
} sleepers;

static int sleep_50ms(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)result;
    sleepers *s = arg;
    s->started++;
    s->last_start = tvl_now();
    int rc = tvl_sleep(TVL_MS(50));
    if (rc == 0) {
        if (s->woke++ == 0)
            s->first_wake = tvl_now();
    }
    return rc;
}

static int spawn_sleepers(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)result;
    tvl_future **fs = calloc(SLEEPERS, sizeof *fs);
    if (fs == NULL)
        return -ENOMEM;
    int rc = 0, n = 0;
    for (; n < SLEEPERS && rc == 0; n++)
        rc = tvl_spawn(sleep_50ms, arg, &fs[n]);
    if (rc == 0)
        rc = tvl_gather(fs, SLEEPERS, false, NULL, NULL);
    else
        n--;
    for (int i = 0; i < n; i++)
        tvl_future_unref(fs[i]);
    free(fs);
    return rc;
}

static void ten_thousand_fibers_sleep_concurrently(void)
{
    CU_ASSERT_FATAL(start());
    sleepers s = {0};
    CU_ASSERT_EQUAL(tvl_rt_run(spawn_sleepers, &s, NULL), 0);
    CU_ASSERT_EQUAL(s.started, SLEEPERS);
    CU_ASSERT_EQUAL(s.woke, SLEEPERS);
    /* Concurrent, not one after another: the first sleeper woke only after
     * the last one had gone to sleep, so all were asleep at once (a clock
     * bound would not hold under the sanitizers). */
    CU_ASSERT(s.first_wake >= s.last_start);
    tvl_rt_stats st;
    tvl_rt_get_stats(&st);
    CU_ASSERT_EQUAL(st.tasks_spawned, SLEEPERS);
    tvl_rt_shutdown();
}

/* ---- cancelling a sleeper ------------------------------------------------------ */

typedef struct sleeper {
    int rc;
    double woke_at;
} sleeper;

static int sleep_long(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)result;
    sleeper *s = arg;
    s->rc = tvl_sleep(TVL_MS(10000));
    s->woke_at = tvl_now();
    return s->rc;
}

static int cancel_after_10ms(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)result;
    tvl_future *f;
    if (tvl_spawn(sleep_long, arg, &f) != 0)
        return -ENOMEM;
    tvl_sleep(TVL_MS(10));
    double t0 = tvl_now();
    CU_ASSERT_EQUAL(tvl_cancel(f), -EBUSY); /* running: suspended in its sleep */
    int rc = tvl_await(f);
    CU_ASSERT_EQUAL(rc, -ECANCELED);
    CU_ASSERT_EQUAL(tvl_future_state_get(f), TVL_FUTURE_CANCELLED);
    CU_ASSERT(((sleeper *)arg)->woke_at - t0 < 0.1);
    tvl_future_unref(f);
    return 0;
}

static void cancelling_a_sleeper_resumes_it_with_ecanceled(void)
{
    CU_ASSERT_FATAL(start());
    sleeper s = {1, 0};
    CU_ASSERT_EQUAL(tvl_rt_run(cancel_after_10ms, &s, NULL), 0);
    CU_ASSERT_EQUAL(s.rc, -ECANCELED);
    tvl_rt_shutdown();
}

static int must_not_run(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)result;
    (*(int *)arg)++;
    return 0;
}

static int cancel_before_start(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)result;
    tvl_future *f;
    if (tvl_spawn(must_not_run, arg, &f) != 0)
        return -ENOMEM;
    /* create_task schedules; the body has not started yet. */
    CU_ASSERT_EQUAL(tvl_future_state_get(f), TVL_FUTURE_PENDING);
    CU_ASSERT_EQUAL(tvl_cancel(f), 0);
    CU_ASSERT_EQUAL(tvl_await(f), -ECANCELED);
    tvl_sleep(TVL_MS(1));
    tvl_future_unref(f);
    return 0;
}

static void a_task_cancelled_before_it_starts_never_runs(void)
{
    CU_ASSERT_FATAL(start());
    int runs = 0;
    CU_ASSERT_EQUAL(tvl_rt_run(cancel_before_start, &runs, NULL), 0);
    CU_ASSERT_EQUAL(runs, 0);
    tvl_rt_shutdown();
}

/* ---- timers in deadline order --------------------------------------------------- */

enum { ORDERED = 8 };

typedef struct order_log {
    int next;
    int order[ORDERED];
} order_log;

typedef struct order_task {
    order_log *log;
    int index;
    int64_t delay_ns;
} order_task;

static int sleep_then_log(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)result;
    order_task *t = arg;
    tvl_sleep(t->delay_ns);
    t->log->order[t->log->next++] = t->index;
    return 0;
}

static int spawn_shuffled(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)result;
    order_log *log = arg;
    /* Spawned in a scrambled order; delays 1..8 ms by index. */
    static const int spawn_order[ORDERED] = {5, 2, 7, 0, 3, 6, 1, 4};
    order_task tasks[ORDERED];
    tvl_future *fs[ORDERED];
    for (int i = 0; i < ORDERED; i++) {
        int k = spawn_order[i];
        tasks[i] = (order_task){log, k, TVL_MS(k + 1) * 3};
        if (tvl_spawn(sleep_then_log, &tasks[i], &fs[i]) != 0)
            return -ENOMEM;
    }
    int rc = tvl_gather(fs, ORDERED, false, NULL, NULL);
    for (int i = 0; i < ORDERED; i++)
        tvl_future_unref(fs[i]);
    return rc;
}

static void timers_fire_in_deadline_order(void)
{
    CU_ASSERT_FATAL(start());
    order_log log = {0};
    CU_ASSERT_EQUAL(tvl_rt_run(spawn_shuffled, &log, NULL), 0);
    CU_ASSERT_EQUAL(log.next, ORDERED);
    for (int i = 0; i < ORDERED; i++)
        CU_ASSERT_EQUAL(log.order[i], i);
    tvl_rt_shutdown();
}

/* ---- the main context ------------------------------------------------------ */

static int sleep_20ms_then_42(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)arg;
    tvl_sleep(TVL_MS(20));
    *result = (void *)(intptr_t)42;
    return 0;
}

static void awaiting_from_the_main_context_runs_the_loop(void)
{
    CU_ASSERT_FATAL(start());
    CU_ASSERT_PTR_NULL(tvl_current());
    CU_ASSERT_EQUAL(tvl_rt_fiber_id(), -1);
    tvl_future *f;
    CU_ASSERT_EQUAL_FATAL(tvl_spawn(sleep_20ms_then_42, NULL, &f), 0);
    double t0 = tvl_test_now();
    CU_ASSERT_EQUAL(tvl_await(f), 0); /* no tvl_rt_run: the await drives the loop */
    CU_ASSERT(tvl_test_now() - t0 >= 0.019);
    CU_ASSERT_EQUAL((intptr_t)tvl_future_result(f), 42);
    tvl_future_unref(f);
    /* A sleep from the main context runs the loop too. */
    t0 = tvl_test_now();
    CU_ASSERT_EQUAL(tvl_sleep(TVL_MS(5)), 0);
    CU_ASSERT(tvl_test_now() - t0 >= 0.0049);
    tvl_rt_shutdown();
}

static int fiber_id_of_task(tvl_future *self, void *arg, void **result)
{
    (void)arg;
    CU_ASSERT_PTR_EQUAL(tvl_current(), self);
    *result = (void *)(intptr_t)tvl_rt_fiber_id();
    return 0;
}

static void a_task_knows_its_future_and_fiber(void)
{
    CU_ASSERT_FATAL(start());
    void *id = NULL;
    CU_ASSERT_EQUAL(tvl_rt_run(fiber_id_of_task, NULL, &id), 0);
    CU_ASSERT((intptr_t)id > 0);
    tvl_rt_shutdown();
}

/* ---- waiters ---------------------------------------------------------------- */

typedef struct remote_wake {
    tvl__waiter *w;
    int delay_ms;
} remote_wake;

static void *wake_later(void *arg)
{
    remote_wake *r = arg;
    usleep((useconds_t)r->delay_ms * 1000);
    tvl__waiter_wake(r->w);
    return NULL;
}

static int wait_for_remote_wake(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)arg, (void)result;
    tvl__waiter w;
    tvl__waiter_init(&w);
    remote_wake r = {&w, 10};
    pthread_t th;
    if (pthread_create(&th, NULL, wake_later, &r) != 0)
        return -EAGAIN;
    int rc = tvl__waiter_wait(&w, tvl__deadline(TVL_MS(5000)), true);
    pthread_join(th, NULL);
    tvl__waiter_destroy(&w);
    return rc;
}

static void a_waiter_is_woken_from_another_thread(void)
{
    CU_ASSERT_FATAL(start());
    CU_ASSERT_EQUAL(tvl_rt_run(wait_for_remote_wake, NULL, NULL), 0);
    tvl_rt_shutdown();
}

static int waiter_times_out(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)arg, (void)result;
    tvl__waiter w;
    tvl__waiter_init(&w);
    double t0 = tvl_now();
    int rc = tvl__waiter_wait(&w, tvl__deadline(TVL_MS(15)), true);
    CU_ASSERT(tvl_now() - t0 >= 0.0149);
    tvl__waiter_wake(&w); /* a wake before the wait is kept */
    CU_ASSERT_EQUAL(tvl__waiter_wait(&w, INT64_MAX, true), 0);
    tvl__waiter_destroy(&w);
    return rc == -ETIMEDOUT ? 0 : -EPROTO;
}

static void a_waiter_times_out_and_keeps_an_early_wake(void)
{
    CU_ASSERT_FATAL(start());
    CU_ASSERT_EQUAL(tvl_rt_run(waiter_times_out, NULL, NULL), 0);
    tvl_rt_shutdown();
}

/* ---- options ------------------------------------------------------------------ */

static void thread_options_are_refused(void)
{
    tvl_rt_options o = {.threads = 4};
    char err[200] = "";
    CU_ASSERT_EQUAL(tvl_rt_init(&o, err, sizeof err), -EINVAL);
    CU_ASSERT(strstr(err, "one OS thread") != NULL);
    o = (tvl_rt_options){.max_threads = 8};
    CU_ASSERT_EQUAL(tvl_rt_init(&o, err, sizeof err), -EINVAL);
    CU_ASSERT_STRING_EQUAL(tvl_rt_backend(), "loop");
}

void test_sched_register(void)
{
    static CU_TestInfo tests[] = {
        {"every_task_runs_on_the_loop_thread", every_task_runs_on_the_loop_thread},
        {"ten_thousand_fibers_sleep_concurrently", ten_thousand_fibers_sleep_concurrently},
        {"cancelling_a_sleeper_resumes_it_with_ecanceled",
         cancelling_a_sleeper_resumes_it_with_ecanceled},
        {"a_task_cancelled_before_it_starts_never_runs",
         a_task_cancelled_before_it_starts_never_runs},
        {"timers_fire_in_deadline_order", timers_fire_in_deadline_order},
        {"awaiting_from_the_main_context_runs_the_loop",
         awaiting_from_the_main_context_runs_the_loop},
        {"a_task_knows_its_future_and_fiber", a_task_knows_its_future_and_fiber},
        {"a_waiter_is_woken_from_another_thread", a_waiter_is_woken_from_another_thread},
        {"a_waiter_times_out_and_keeps_an_early_wake", a_waiter_times_out_and_keeps_an_early_wake},
        {"thread_options_are_refused", thread_options_are_refused},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("loop_sched", tests);
}
