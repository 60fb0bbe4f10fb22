/* Semantics of each primitive of the runtime-neutral API: spawn and await,
 * gather, wait, as_completed, task groups, cancel, wait_for, the
 * semaphore, the asynchronous iterator. Sleeps are tens of milliseconds;
 * bounds are generous (precise timing belongs to the benchmark). */
#include "rt_test.h"

#include <string.h>

#define SLEEPER(ms) rt_test_sleeper, (void *)(intptr_t)(ms)

static int spawn_await_body(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)arg, (void)result;
    tvl_future *ok, *bad;
    CU_ASSERT_EQUAL_FATAL(tvl_spawn(SLEEPER(10), &ok), 0);
    CU_ASSERT_EQUAL_FATAL(tvl_spawn(SLEEPER(-10), &bad), 0);
    CU_ASSERT_EQUAL(tvl_await(ok), 0);
    CU_ASSERT_EQUAL(tvl_future_state_get(ok), TVL_FUTURE_DONE);
    CU_ASSERT_EQUAL((intptr_t)tvl_future_result(ok), 10);
    CU_ASSERT_EQUAL(tvl_await(bad), -EIO);
    CU_ASSERT_EQUAL(tvl_future_state_get(bad), TVL_FUTURE_FAILED);
    CU_ASSERT_STRING_EQUAL(tvl_future_message(bad), "failed after 10 ms");
    CU_ASSERT_PTR_NOT_NULL(tvl_current());
    tvl_future_unref(ok);
    tvl_future_unref(bad);
    return 0;
}

static void spawn_and_await_return_results_and_errors(void)
{
    CU_ASSERT_EQUAL(rt_test_run(NULL, spawn_await_body, NULL), 0);
}

static int main_fails(tvl_future *self, void *arg, void **result)
{
    (void)arg, (void)result;
    return tvl_future_fail(self, -EPROTO, "main failed");
}

static void run_returns_the_main_tasks_error(void)
{
    CU_ASSERT_EQUAL(rt_test_run(NULL, main_fails, NULL), -EPROTO);
}

static int gather_body(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)arg, (void)result;
    tvl_future *fs[3];
    intptr_t ms[3] = {60, 20, 40};
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL_FATAL(tvl_spawn(SLEEPER(ms[i]), &fs[i]), 0);
    void *results[3];
    double t0 = tvl_now();
    CU_ASSERT_EQUAL(tvl_gather(fs, 3, false, results, NULL), 0);
    double took = (tvl_now() - t0) * 1000;
    /* Input order, whatever the completion order was. */
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL((intptr_t)results[i], ms[i]);
    CU_ASSERT(took >= 55 && took < rt_test_slack_ms(130)); /* max, not sum (120) */
    for (int i = 0; i < 3; i++)
        tvl_future_unref(fs[i]);
    return 0;
}

static void gather_returns_results_in_input_order(void)
{
    CU_ASSERT_EQUAL(rt_test_run(NULL, gather_body, NULL), 0);
}

static int gather_error_body(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)arg, (void)result;
    tvl_future *fs[3];
    CU_ASSERT_EQUAL_FATAL(tvl_spawn(SLEEPER(150), &fs[0]), 0);
    CU_ASSERT_EQUAL_FATAL(tvl_spawn(SLEEPER(-20), &fs[1]), 0);
    CU_ASSERT_EQUAL_FATAL(tvl_spawn(SLEEPER(-60), &fs[2]), 0);
    size_t failed = 99;
    double t0 = tvl_now();
    CU_ASSERT_EQUAL(tvl_gather(fs, 3, false, NULL, &failed), -EIO);
    double took = (tvl_now() - t0) * 1000;
    CU_ASSERT_EQUAL(failed, 1); /* the earliest failure in time */
    CU_ASSERT(took < rt_test_slack_ms(120));
    /* The others were not cancelled: the slow one still succeeds. */
    CU_ASSERT_FALSE(tvl_future_is_final(fs[0]));
    CU_ASSERT_EQUAL(tvl_await(fs[0]), 0);
    CU_ASSERT_EQUAL(tvl_future_state_get(fs[0]), TVL_FUTURE_DONE);

    /* return_exceptions: everything waited for, outcomes read per future. */
    tvl_future *gs[2];
    CU_ASSERT_EQUAL_FATAL(tvl_spawn(SLEEPER(-10), &gs[0]), 0);
    CU_ASSERT_EQUAL_FATAL(tvl_spawn(SLEEPER(40), &gs[1]), 0);
    void *results[2] = {(void *)1, (void *)1};
    CU_ASSERT_EQUAL(tvl_gather(gs, 2, true, results, NULL), 0);
    CU_ASSERT_EQUAL(tvl_future_error(gs[0]), -EIO);
    CU_ASSERT_PTR_NULL(results[0]);
    CU_ASSERT_EQUAL((intptr_t)results[1], 40);
    for (int i = 0; i < 3; i++)
        tvl_future_unref(fs[i]);
    for (int i = 0; i < 2; i++)
        tvl_future_unref(gs[i]);
    return 0;
}

static void gather_raises_the_first_error_and_cancels_nothing(void)
{
    CU_ASSERT_EQUAL(rt_test_run(NULL, gather_error_body, NULL), 0);
}

static int wait_body(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)arg, (void)result;
    tvl_future *fs[3], *done[3], *pending[3];
    size_t nd, np;
    CU_ASSERT_EQUAL_FATAL(tvl_spawn(SLEEPER(20), &fs[0]), 0);
    CU_ASSERT_EQUAL_FATAL(tvl_spawn(SLEEPER(120), &fs[1]), 0);
    CU_ASSERT_EQUAL_FATAL(tvl_spawn(SLEEPER(-50), &fs[2]), 0);

    CU_ASSERT_EQUAL(tvl_wait(fs, 3, TVL_FIRST_COMPLETED, TVL_NO_TIMEOUT, done, &nd, pending, &np),
                    0);
    CU_ASSERT_EQUAL(nd, 1);
    CU_ASSERT_EQUAL(np, 2);
    CU_ASSERT_PTR_EQUAL(done[0], fs[0]);

    CU_ASSERT_EQUAL(tvl_wait(fs, 3, TVL_FIRST_EXCEPTION, TVL_NO_TIMEOUT, done, &nd, pending, &np),
                    0);
    CU_ASSERT_EQUAL(nd, 2);
    CU_ASSERT_EQUAL(np, 1);
    CU_ASSERT_PTR_EQUAL(pending[0], fs[1]);

    /* A timeout returns early and cancels nothing. */
    CU_ASSERT_EQUAL(tvl_wait(fs, 3, TVL_ALL_COMPLETED, TVL_MS(10), done, &nd, pending, &np), 0);
    CU_ASSERT_EQUAL(np, 1);
    CU_ASSERT_EQUAL(tvl_future_state_get(fs[1]), TVL_FUTURE_RUNNING);

    CU_ASSERT_EQUAL(tvl_wait(fs, 3, TVL_ALL_COMPLETED, TVL_NO_TIMEOUT, done, &nd, pending, &np),
                    0);
    CU_ASSERT_EQUAL(nd, 3);
    CU_ASSERT_EQUAL(np, 0);
    CU_ASSERT_EQUAL(tvl_future_state_get(fs[1]), TVL_FUTURE_DONE);
    CU_ASSERT_EQUAL(tvl_wait(fs, 0, TVL_ALL_COMPLETED, TVL_NO_TIMEOUT, done, &nd, pending, &np),
                    -EINVAL);
    for (int i = 0; i < 3; i++)
        tvl_future_unref(fs[i]);
    return 0;
}

static void wait_splits_done_and_pending_in_each_mode(void)
{
    CU_ASSERT_EQUAL(rt_test_run(NULL, wait_body, NULL), 0);
}

static int as_completed_body(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)arg, (void)result;
    tvl_future *fs[3];
    intptr_t ms[3] = {90, 10, 50};
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL_FATAL(tvl_spawn(SLEEPER(ms[i]), &fs[i]), 0);
    tvl_as_completed *it;
    CU_ASSERT_EQUAL_FATAL(tvl_as_completed_begin(fs, 3, TVL_NO_TIMEOUT, &it), 0);
    tvl_future *order[3] = {NULL, NULL, NULL}, *next;
    int k = 0;
    int rc;
    while ((rc = tvl_as_completed_next(it, &next)) == 0 && k < 3)
        order[k++] = next;
    CU_ASSERT_EQUAL(rc, 1);
    /* The original handles, in completion order. */
    CU_ASSERT_PTR_EQUAL(order[0], fs[1]);
    CU_ASSERT_PTR_EQUAL(order[1], fs[2]);
    CU_ASSERT_PTR_EQUAL(order[2], fs[0]);
    tvl_as_completed_end(it);

    /* A timeout ends the iteration and cancels nothing. */
    tvl_future *slow;
    CU_ASSERT_EQUAL_FATAL(tvl_spawn(SLEEPER(100), &slow), 0);
    CU_ASSERT_EQUAL_FATAL(tvl_as_completed_begin(&slow, 1, TVL_MS(10), &it), 0);
    CU_ASSERT_EQUAL(tvl_as_completed_next(it, &next), -ETIMEDOUT);
    CU_ASSERT_EQUAL(tvl_as_completed_next(it, &next), -ETIMEDOUT);
    tvl_as_completed_end(it);
    CU_ASSERT_EQUAL(tvl_await(slow), 0);
    for (int i = 0; i < 3; i++)
        tvl_future_unref(fs[i]);
    tvl_future_unref(slow);
    return 0;
}

static void as_completed_yields_original_futures_in_completion_order(void)
{
    CU_ASSERT_EQUAL(rt_test_run(NULL, as_completed_body, NULL), 0);
}

static int group_body(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)arg, (void)result;
    /* All succeed: leaving waits for every child. */
    tvl_group *g;
    CU_ASSERT_EQUAL_FATAL(tvl_group_create(&g), 0);
    tvl_future *a, *b;
    CU_ASSERT_EQUAL(tvl_group_spawn(g, SLEEPER(30), &a), 0);
    CU_ASSERT_EQUAL(tvl_group_spawn(g, SLEEPER(60), &b), 0);
    CU_ASSERT_EQUAL(tvl_group_wait(g), 0);
    CU_ASSERT_EQUAL(tvl_future_state_get(a), TVL_FUTURE_DONE);
    CU_ASSERT_EQUAL(tvl_future_state_get(b), TVL_FUTURE_DONE);
    CU_ASSERT_EQUAL(tvl_group_spawn(g, SLEEPER(1), NULL), -ESHUTDOWN);
    tvl_group_destroy(g);
    tvl_future_unref(a);
    tvl_future_unref(b);

    /* Two failures and a long sibling: the first failure cancels the
     * sibling, and both failures are reported. */
    CU_ASSERT_EQUAL_FATAL(tvl_group_create(&g), 0);
    tvl_future *slow, *f1, *f2;
    CU_ASSERT_EQUAL(tvl_group_spawn(g, SLEEPER(5000), &slow), 0);
    CU_ASSERT_EQUAL(tvl_group_spawn(g, SLEEPER(-20), &f1), 0);
    CU_ASSERT_EQUAL(tvl_group_spawn(g, SLEEPER(-20), &f2), 0);
    double t0 = tvl_now();
    CU_ASSERT_EQUAL(tvl_group_wait(g), TVL_E_GROUP);
    double took = (tvl_now() - t0) * 1000;
    CU_ASSERT(took < rt_test_slack_ms(1000));
    CU_ASSERT_EQUAL(tvl_future_state_get(slow), TVL_FUTURE_CANCELLED);
    size_t nfail = tvl_group_failure_count(g);
    CU_ASSERT(nfail >= 1 && nfail <= 2);
    for (size_t i = 0; i < nfail; i++)
        CU_ASSERT_EQUAL(tvl_future_error(tvl_group_failure(g, i)), -EIO);
    CU_ASSERT_PTR_NULL(tvl_group_failure(g, nfail));
    tvl_group_destroy(g);
    tvl_future_unref(slow);
    tvl_future_unref(f1);
    tvl_future_unref(f2);
    return 0;
}

static void task_group_cancels_siblings_on_first_failure_and_reports_all(void)
{
    CU_ASSERT_EQUAL(rt_test_run(NULL, group_body, NULL), 0);
}

static int cancel_body(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)arg, (void)result;
    tvl_future *f;
    CU_ASSERT_EQUAL_FATAL(tvl_spawn(SLEEPER(5000), &f), 0);
    tvl_sleep(TVL_MS(20)); /* let it start sleeping */
    double t0 = tvl_now();
    CU_ASSERT_EQUAL(tvl_cancel(f), -EBUSY); /* running: request delivered */
    CU_ASSERT_EQUAL(tvl_await(f), -ECANCELED);
    CU_ASSERT((tvl_now() - t0) * 1000 < rt_test_slack_ms(200)); /* the sleep was woken */
    CU_ASSERT_EQUAL(tvl_future_state_get(f), TVL_FUTURE_CANCELLED);
    CU_ASSERT_EQUAL(tvl_cancel(f), -EALREADY);
    tvl_future_unref(f);

    /* wait_for: a timeout cancels, waits, and says so. */
    CU_ASSERT_EQUAL_FATAL(tvl_spawn(SLEEPER(5000), &f), 0);
    t0 = tvl_now();
    CU_ASSERT_EQUAL(tvl_wait_for(f, TVL_MS(30)), -ETIMEDOUT);
    CU_ASSERT(tvl_future_is_final(f));
    CU_ASSERT_EQUAL(tvl_future_state_get(f), TVL_FUTURE_CANCELLED);
    CU_ASSERT((tvl_now() - t0) * 1000 < rt_test_slack_ms(300));
    tvl_future_unref(f);
    CU_ASSERT_EQUAL_FATAL(tvl_spawn(SLEEPER(10), &f), 0);
    CU_ASSERT_EQUAL(tvl_wait_for(f, TVL_MS(2000)), 0);
    tvl_future_unref(f);
    return 0;
}

static void cancel_wakes_a_sleep_and_wait_for_cancels_on_timeout(void)
{
    CU_ASSERT_EQUAL(rt_test_run(NULL, cancel_body, NULL), 0);
}

typedef struct sem_probe {
    tvl_sem *sem;
    _Atomic int active;
    _Atomic int peak;
    _Atomic int done;
} sem_probe;

static int sem_user(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)result;
    sem_probe *p = arg;
    int rc = tvl_sem_acquire(p->sem);
    if (rc != 0)
        return rc;
    int now = atomic_fetch_add_explicit(&p->active, 1, memory_order_relaxed) + 1;
    int peak = atomic_load_explicit(&p->peak, memory_order_relaxed);
    while (now > peak &&
           !atomic_compare_exchange_weak_explicit(&p->peak, &peak, now, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
    tvl_sleep(TVL_MS(15));
    atomic_fetch_sub_explicit(&p->active, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->done, 1, memory_order_relaxed);
    tvl_sem_release(p->sem);
    return 0;
}

static int sem_body(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)arg, (void)result;
    sem_probe p = {0};
    CU_ASSERT_EQUAL_FATAL(tvl_sem_create(3, &p.sem), 0);
    enum { N = 12 };
    tvl_future *fs[N];
    double t0 = tvl_now();
    for (int i = 0; i < N; i++)
        CU_ASSERT_EQUAL_FATAL(tvl_spawn(sem_user, &p, &fs[i]), 0);
    CU_ASSERT_EQUAL(tvl_gather(fs, N, false, NULL, NULL), 0);
    double took = (tvl_now() - t0) * 1000;
    CU_ASSERT_EQUAL(atomic_load(&p.done), N);
    CU_ASSERT_EQUAL(atomic_load(&p.peak), 3); /* the bound, reached */
    CU_ASSERT(took >= 4 * 15 - 5);            /* N / 3 waves of 15 ms */
    CU_ASSERT_EQUAL(tvl_sem_value(p.sem), 3);

    /* A waiter that is cancelled holds nothing afterwards. */
    CU_ASSERT_EQUAL(tvl_sem_acquire(p.sem), 0);
    CU_ASSERT_EQUAL(tvl_sem_acquire(p.sem), 0);
    CU_ASSERT_EQUAL(tvl_sem_acquire(p.sem), 0);
    tvl_future *blocked;
    CU_ASSERT_EQUAL_FATAL(tvl_spawn(sem_user, &p, &blocked), 0);
    tvl_sleep(TVL_MS(20));
    tvl_cancel(blocked);
    CU_ASSERT_EQUAL(tvl_await(blocked), -ECANCELED);
    for (int i = 0; i < 3; i++)
        tvl_sem_release(p.sem);
    CU_ASSERT_EQUAL(tvl_sem_value(p.sem), 3);
    for (int i = 0; i < N; i++)
        tvl_future_unref(fs[i]);
    tvl_future_unref(blocked);
    tvl_sem_destroy(p.sem);
    return 0;
}

static void semaphore_bounds_holders_and_survives_cancelled_waiters(void)
{
    CU_ASSERT_EQUAL(rt_test_run(NULL, sem_body, NULL), 0);
}

typedef struct countdown {
    int left;
} countdown;

static int countdown_next(tvl_aiter *it, void **item)
{
    countdown *c = it->state;
    if (c->left == 0)
        return 1;
    int rc = tvl_sleep(TVL_MS(5)); /* the step itself waits */
    if (rc != 0)
        return rc;
    *item = (void *)(intptr_t)c->left--;
    return 0;
}

static int aiter_body(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)arg, (void)result;
    countdown c = {.left = 4};
    tvl_aiter it = {.next = countdown_next, .state = &c};
    void *item;
    intptr_t expect = 4;
    double t0 = tvl_now();
    int rc;
    while ((rc = tvl_aiter_next(&it, &item)) == 0)
        CU_ASSERT_EQUAL((intptr_t)item, expect--);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_EQUAL(expect, 0);
    CU_ASSERT((tvl_now() - t0) * 1000 >= 19); /* sequential: the sum */
    return 0;
}

static void async_iterator_steps_wait_in_sequence(void)
{
    CU_ASSERT_EQUAL(rt_test_run(NULL, aiter_body, NULL), 0);
}

void test_primitives_register(void)
{
    static CU_TestInfo tests[] = {
        {"spawn_and_await_return_results_and_errors", spawn_and_await_return_results_and_errors},
        {"run_returns_the_main_tasks_error", run_returns_the_main_tasks_error},
        {"gather_returns_results_in_input_order", gather_returns_results_in_input_order},
        {"gather_raises_the_first_error_and_cancels_nothing",
         gather_raises_the_first_error_and_cancels_nothing},
        {"wait_splits_done_and_pending_in_each_mode", wait_splits_done_and_pending_in_each_mode},
        {"as_completed_yields_original_futures_in_completion_order",
         as_completed_yields_original_futures_in_completion_order},
        {"task_group_cancels_siblings_on_first_failure_and_reports_all",
         task_group_cancels_siblings_on_first_failure_and_reports_all},
        {"cancel_wakes_a_sleep_and_wait_for_cancels_on_timeout",
         cancel_wakes_a_sleep_and_wait_for_cancels_on_timeout},
        {"semaphore_bounds_holders_and_survives_cancelled_waiters",
         semaphore_bounds_holders_and_survives_cancelled_waiters},
        {"async_iterator_steps_wait_in_sequence", async_iterator_steps_wait_in_sequence},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("primitives", tests);
}
