/* Futures without a pool: states, outcome and messages, cancellation and
 * hooks, callbacks, and waits (plain, with a timeout, on any of a set). */
#include "test_util.h"
#include "tvl/error.h"
#include "tvl/future.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

static void sleep_ms(int ms) { usleep((useconds_t)ms * 1000); }

static int body_ok(tvl_future *self, void *arg, void **result)
{
    (void)self;
    if (arg != NULL)
        atomic_fetch_add((_Atomic int *)arg, 1);
    *result = (void *)(uintptr_t)42;
    return 0;
}

static int body_fail(tvl_future *self, void *arg, void **result)
{
    (void)arg;
    (void)result;
    return tvl_future_fail(self, -ECONNREFUSED, "connect to %s:%d refused", "127.0.0.1", 8443);
}

static int body_fail_plain(tvl_future *self, void *arg, void **result)
{
    (void)self;
    (void)arg;
    (void)result;
    return -ETIMEDOUT;
}

static int body_cancelled(tvl_future *self, void *arg, void **result)
{
    (void)self;
    (void)arg;
    (void)result;
    return -ECANCELED;
}

static void runs_pending_to_done_with_result(void)
{
    _Atomic int calls = 0;
    tvl_future *f = tvl_future_create(body_ok, &calls);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(tvl_future_state_get(f), TVL_FUTURE_PENDING);
    CU_ASSERT_FALSE(tvl_future_is_final(f));
    CU_ASSERT_EQUAL(tvl_future_error(f), -EINPROGRESS);
    CU_ASSERT_STRING_EQUAL(tvl_future_message(f), "");
    CU_ASSERT_EQUAL(tvl_future_run(f), 0);
    CU_ASSERT_EQUAL(tvl_future_state_get(f), TVL_FUTURE_DONE);
    CU_ASSERT_EQUAL(tvl_future_error(f), 0);
    CU_ASSERT_PTR_EQUAL(tvl_future_result(f), (void *)(uintptr_t)42);
    CU_ASSERT_STRING_EQUAL(tvl_future_message(f), "");
    CU_ASSERT_EQUAL(atomic_load(&calls), 1);
    CU_ASSERT_EQUAL(tvl_future_wait(f), 0); /* final: returns at once */
    tvl_future_unref(f);
    tvl_future_unref(NULL);
}

static void failure_keeps_code_and_message(void)
{
    tvl_future *f = tvl_future_create(body_fail, NULL);
    CU_ASSERT_EQUAL(tvl_future_run(f), -ECONNREFUSED);
    CU_ASSERT_EQUAL(tvl_future_state_get(f), TVL_FUTURE_FAILED);
    CU_ASSERT_EQUAL(tvl_future_error(f), -ECONNREFUSED);
    CU_ASSERT_STRING_EQUAL(tvl_future_message(f), "connect to 127.0.0.1:8443 refused");
    CU_ASSERT_PTR_NULL(tvl_future_result(f));
    tvl_future_unref(f);

    f = tvl_future_create(body_fail_plain, NULL);
    tvl_future_run(f);
    CU_ASSERT_EQUAL(tvl_future_error(f), -ETIMEDOUT);
    CU_ASSERT_STRING_EQUAL(tvl_future_message(f), tvl_strerror(-ETIMEDOUT));
    tvl_future_unref(f);

    f = tvl_future_create(body_cancelled, NULL);
    CU_ASSERT_EQUAL(tvl_future_run(f), -ECANCELED);
    CU_ASSERT_EQUAL(tvl_future_state_get(f), TVL_FUTURE_CANCELLED);
    CU_ASSERT_EQUAL(tvl_future_error(f), -ECANCELED);
    CU_ASSERT_STRING_EQUAL(tvl_future_message(f), "cancelled");
    tvl_future_unref(f);
}

static void cancel_pending_never_runs(void)
{
    _Atomic int calls = 0;
    tvl_future *f = tvl_future_create(body_ok, &calls);
    CU_ASSERT_EQUAL(tvl_future_cancel(f), 0);
    CU_ASSERT_EQUAL(tvl_future_state_get(f), TVL_FUTURE_CANCELLED);
    CU_ASSERT_EQUAL(tvl_future_cancel(f), -EALREADY);
    CU_ASSERT_EQUAL(tvl_future_run(f), -ECANCELED);
    CU_ASSERT_EQUAL(atomic_load(&calls), 0);
    CU_ASSERT_EQUAL(tvl_future_error(f), -ECANCELED);
    CU_ASSERT_EQUAL(tvl_future_abandon(f), -EALREADY);
    tvl_future_unref(f);

    f = tvl_future_create(body_ok, &calls);
    CU_ASSERT_EQUAL(tvl_future_abandon(f), 0);
    CU_ASSERT_EQUAL(tvl_future_state_get(f), TVL_FUTURE_CANCELLED);
    CU_ASSERT_EQUAL(tvl_future_run(f), -ECANCELED);
    CU_ASSERT_EQUAL(atomic_load(&calls), 0);
    tvl_future_unref(f);
}

static void cancel_final_is_ealready(void)
{
    tvl_future *f = tvl_future_create(body_ok, NULL);
    tvl_future_run(f);
    CU_ASSERT_EQUAL(tvl_future_cancel(f), -EALREADY);
    CU_ASSERT_EQUAL(tvl_future_state_get(f), TVL_FUTURE_DONE);
    tvl_future_unref(f);
}

/* ---- a running body blocked until cancelled ------------------------------- */

typedef struct blocker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool woken;
    _Atomic int hook_calls;
    _Atomic bool installed;
    _Atomic bool token_seen;
} blocker;

static void blocker_init(blocker *b)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
}

static void blocker_hook(void *arg)
{
    blocker *b = arg;
    atomic_fetch_add(&b->hook_calls, 1);
    pthread_mutex_lock(&b->mu);
    b->woken = true;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static int body_blocks_until_cancelled(tvl_future *self, void *arg, void **result)
{
    (void)result;
    blocker *b = arg;
    if (tvl_future_set_cancel_hook(self, blocker_hook, b) < 0)
        return -ECANCELED;
    atomic_store(&b->installed, true);
    pthread_mutex_lock(&b->mu);
    while (!b->woken)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
    tvl_future_clear_cancel_hook(self);
    atomic_store(&b->token_seen, tvl_future_cancel_requested(self));
    return -ECANCELED;
}

static void *run_thread(void *arg)
{
    tvl_future_run(arg);
    return NULL;
}

static void cancel_running_sets_token_and_fires_hook_once(void)
{
    blocker b;
    blocker_init(&b);
    tvl_future *f = tvl_future_create(body_blocks_until_cancelled, &b);
    pthread_t th;
    pthread_create(&th, NULL, run_thread, f);
    while (!atomic_load(&b.installed))
        sleep_ms(1);
    CU_ASSERT_EQUAL(tvl_future_state_get(f), TVL_FUTURE_RUNNING);
    CU_ASSERT_FALSE(tvl_future_cancel_requested(f));
    CU_ASSERT_EQUAL(tvl_future_cancel(f), -EBUSY);
    CU_ASSERT_EQUAL(tvl_future_cancel(f), tvl_future_is_final(f) ? -EALREADY : -EBUSY);
    CU_ASSERT_EQUAL(tvl_future_wait(f), -ECANCELED);
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(atomic_load(&b.hook_calls), 1);
    CU_ASSERT_TRUE(atomic_load(&b.token_seen));
    CU_ASSERT_EQUAL(tvl_future_state_get(f), TVL_FUTURE_CANCELLED);
    CU_ASSERT_EQUAL(tvl_future_cancel(f), -EALREADY);
    tvl_future_unref(f);
}

static _Atomic int late_hook_calls;
static void count_hook(void *arg)
{
    (void)arg;
    atomic_fetch_add(&late_hook_calls, 1);
}

static _Atomic bool gate_open;
static int body_hook_after_cancel(tvl_future *self, void *arg, void **result)
{
    (void)result;
    int *rc = arg;
    while (!atomic_load(&gate_open))
        sleep_ms(1);
    *rc = tvl_future_set_cancel_hook(self, count_hook, NULL);
    return tvl_future_cancel_requested(self) ? -ECANCELED : 0;
}

static void hook_after_cancel_is_refused(void)
{
    int rc = 1;
    atomic_store(&gate_open, false);
    atomic_store(&late_hook_calls, 0);
    tvl_future *f = tvl_future_create(body_hook_after_cancel, &rc);
    pthread_t th;
    pthread_create(&th, NULL, run_thread, f);
    while (tvl_future_state_get(f) != TVL_FUTURE_RUNNING)
        sleep_ms(1);
    CU_ASSERT_EQUAL(tvl_future_cancel(f), -EBUSY);
    atomic_store(&gate_open, true);
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(rc, -ECANCELED);
    CU_ASSERT_EQUAL(atomic_load(&late_hook_calls), 0);
    CU_ASSERT_EQUAL(tvl_future_state_get(f), TVL_FUTURE_CANCELLED);
    tvl_future_unref(f);
}

/* clear_cancel_hook() must wait for a hook that is running right now. */
typedef struct slow_hook {
    _Atomic bool entered, finished, cleared_before_finish;
} slow_hook;

static void slow_hook_fn(void *arg)
{
    slow_hook *s = arg;
    atomic_store(&s->entered, true);
    sleep_ms(60);
    atomic_store(&s->finished, true);
}

static int body_clears_during_hook(tvl_future *self, void *arg, void **result)
{
    (void)result;
    slow_hook *s = arg;
    tvl_future_set_cancel_hook(self, slow_hook_fn, s);
    while (!atomic_load(&s->entered))
        sleep_ms(1);
    tvl_future_clear_cancel_hook(self);
    atomic_store(&s->cleared_before_finish, !atomic_load(&s->finished));
    return 0;
}

static void *cancel_thread(void *arg)
{
    tvl_future_cancel(arg);
    return NULL;
}

static void clear_hook_waits_for_running_hook(void)
{
    slow_hook s = {0};
    tvl_future *f = tvl_future_create(body_clears_during_hook, &s);
    pthread_t runner, canceller;
    pthread_create(&runner, NULL, run_thread, f);
    while (tvl_future_state_get(f) != TVL_FUTURE_RUNNING)
        sleep_ms(1);
    sleep_ms(5); /* let the body install its hook */
    pthread_create(&canceller, NULL, cancel_thread, f);
    pthread_join(runner, NULL);
    pthread_join(canceller, NULL);
    CU_ASSERT_TRUE(atomic_load(&s.finished));
    CU_ASSERT_FALSE(atomic_load(&s.cleared_before_finish));
    tvl_future_unref(f);
}

/* ---- callbacks ---------------------------------------------------------------- */

typedef struct cb_log {
    _Atomic int calls;
    int order[4];
    _Atomic int n;
} cb_log;

static void log_cb(tvl_future *f, void *arg)
{
    (void)f;
    cb_log *l = arg;
    atomic_fetch_add(&l->calls, 1);
}

static cb_log order_log;
static void order_cb(tvl_future *f, void *arg)
{
    (void)f;
    int i = atomic_fetch_add(&order_log.n, 1);
    if (i < 4)
        order_log.order[i] = (int)(intptr_t)arg;
}

static void callbacks_run_once_in_order(void)
{
    cb_log l = {0};
    tvl_future *f = tvl_future_create(body_ok, NULL);
    tvl_future_callback a = {log_cb, &l, NULL}, b = {log_cb, &l, NULL};
    CU_ASSERT_EQUAL(tvl_future_on_done(f, &a), 0);
    CU_ASSERT_EQUAL(tvl_future_on_done(f, &b), 0);
    CU_ASSERT_EQUAL(atomic_load(&l.calls), 0);
    tvl_future_run(f);
    CU_ASSERT_EQUAL(atomic_load(&l.calls), 2);
    /* Already final: runs now, on this thread, and says so. */
    tvl_future_callback c = {log_cb, &l, NULL};
    CU_ASSERT_EQUAL(tvl_future_on_done(f, &c), 1);
    CU_ASSERT_EQUAL(atomic_load(&l.calls), 3);
    CU_ASSERT_EQUAL(tvl_future_remove_callback(f, &a), -ENOENT);
    CU_ASSERT_EQUAL(tvl_future_remove_callback(f, &c), -ENOENT);
    tvl_future_unref(f);

    memset(&order_log, 0, sizeof order_log);
    f = tvl_future_create(body_ok, NULL);
    tvl_future_callback o[3] = {
        {order_cb, (void *)1, NULL}, {order_cb, (void *)2, NULL}, {order_cb, (void *)3, NULL}};
    for (int i = 0; i < 3; i++)
        tvl_future_on_done(f, &o[i]);
    tvl_future_cancel(f); /* cancellation completes too */
    CU_ASSERT_EQUAL(atomic_load(&order_log.n), 3);
    CU_ASSERT_EQUAL(order_log.order[0], 1);
    CU_ASSERT_EQUAL(order_log.order[1], 2);
    CU_ASSERT_EQUAL(order_log.order[2], 3);
    tvl_future_unref(f);
}

static void removed_callback_never_runs(void)
{
    cb_log l = {0};
    tvl_future *f = tvl_future_create(body_ok, NULL);
    tvl_future_callback a = {log_cb, &l, NULL}, b = {log_cb, &l, NULL}, c = {log_cb, &l, NULL};
    tvl_future_on_done(f, &a);
    tvl_future_on_done(f, &b);
    tvl_future_on_done(f, &c);
    CU_ASSERT_EQUAL(tvl_future_remove_callback(f, &b), 0); /* from the middle */
    CU_ASSERT_EQUAL(tvl_future_remove_callback(f, &b), -ENOENT);
    CU_ASSERT_EQUAL(tvl_future_remove_callback(f, &c), 0); /* the head */
    tvl_future_run(f);
    CU_ASSERT_EQUAL(atomic_load(&l.calls), 1);
    tvl_future_unref(f);
}

typedef struct slow_cb {
    _Atomic bool entered, finished;
} slow_cb;

static void slow_cb_fn(tvl_future *f, void *arg)
{
    (void)f;
    slow_cb *s = arg;
    atomic_store(&s->entered, true);
    sleep_ms(60);
    atomic_store(&s->finished, true);
}

static void remove_waits_for_running_callback(void)
{
    slow_cb s = {0};
    tvl_future *f = tvl_future_create(body_ok, NULL);
    tvl_future_callback cb = {slow_cb_fn, &s, NULL};
    tvl_future_on_done(f, &cb);
    pthread_t th;
    pthread_create(&th, NULL, run_thread, f);
    while (!atomic_load(&s.entered))
        sleep_ms(1);
    CU_ASSERT_EQUAL(tvl_future_remove_callback(f, &cb), -ENOENT);
    CU_ASSERT_TRUE(atomic_load(&s.finished)); /* it waited for the callback */
    pthread_join(th, NULL);
    tvl_future_unref(f);
}

/* ---- waits ---------------------------------------------------------------------- */

typedef struct delayed {
    tvl_future *f;
    int ms;
} delayed;

static void *run_later(void *arg)
{
    delayed *d = arg;
    sleep_ms(d->ms);
    tvl_future_run(d->f);
    return NULL;
}

static void wait_sleeps_until_completion(void)
{
    tvl_future *f = tvl_future_create(body_fail, NULL);
    delayed d = {f, 40};
    pthread_t th;
    double t0 = tvl_test_now();
    pthread_create(&th, NULL, run_later, &d);
    CU_ASSERT_EQUAL(tvl_future_wait(f), -ECONNREFUSED);
    CU_ASSERT(tvl_test_now() - t0 >= 0.035);
    pthread_join(th, NULL);
    tvl_future_unref(f);
}

static void wait_timeout_times_out_and_cancels_nothing(void)
{
    tvl_future *f = tvl_future_create(body_ok, NULL);
    double t0 = tvl_test_now();
    CU_ASSERT_EQUAL(tvl_future_wait_timeout(f, 30 * 1000000LL), -ETIMEDOUT);
    double dt = tvl_test_now() - t0;
    CU_ASSERT(dt >= 0.029);
    CU_ASSERT(dt < (tvl_test_slow_env() ? 2.0 : 0.5));
    CU_ASSERT_EQUAL(tvl_future_state_get(f), TVL_FUTURE_PENDING);
    CU_ASSERT_EQUAL(tvl_future_wait_timeout(f, 0), -ETIMEDOUT);
    delayed d = {f, 20};
    pthread_t th;
    pthread_create(&th, NULL, run_later, &d);
    CU_ASSERT_EQUAL(tvl_future_wait_timeout(f, 10LL * 1000000000), 0);
    CU_ASSERT_EQUAL(tvl_future_state_get(f), TVL_FUTURE_DONE);
    pthread_join(th, NULL);
    tvl_future_unref(f);
}

static void wait_any_reports_lowest_final_index(void)
{
    tvl_future *set[3];
    for (int i = 0; i < 3; i++)
        set[i] = tvl_future_create(body_ok, NULL);
    size_t idx = 99;
    CU_ASSERT_EQUAL(tvl_future_wait_any(set, 0, -1, &idx), -EINVAL);
    CU_ASSERT_EQUAL(tvl_future_wait_any(set, 3, 20 * 1000000LL, &idx), -ETIMEDOUT);
    CU_ASSERT_EQUAL(idx, 99);
    delayed d = {set[2], 30};
    pthread_t th;
    pthread_create(&th, NULL, run_later, &d);
    CU_ASSERT_EQUAL(tvl_future_wait_any(set, 3, -1, &idx), 0);
    CU_ASSERT_EQUAL(idx, 2);
    pthread_join(th, NULL);
    tvl_future_run(set[1]);
    CU_ASSERT_EQUAL(tvl_future_wait_any(set, 3, -1, &idx), 0);
    CU_ASSERT_EQUAL(idx, 1);
    for (int i = 0; i < 3; i++) {
        tvl_future_cancel(set[i]);
        tvl_future_unref(set[i]);
    }
}

static void wait_any_on_many_futures(void)
{
    enum { N = 40 };
    tvl_future *set[N];
    for (int i = 0; i < N; i++)
        set[i] = tvl_future_create(body_ok, NULL);
    delayed d = {set[N - 1], 20};
    pthread_t th;
    pthread_create(&th, NULL, run_later, &d);
    size_t idx = 0;
    CU_ASSERT_EQUAL(tvl_future_wait_any(set, N, 10LL * 1000000000, &idx), 0);
    CU_ASSERT_EQUAL(idx, N - 1);
    pthread_join(th, NULL);
    for (int i = 0; i < N; i++)
        tvl_future_unref(set[i]);
}

static void references_keep_the_future(void)
{
    tvl_future *f = tvl_future_create(body_ok, NULL);
    CU_ASSERT_PTR_EQUAL(tvl_future_ref(f), f);
    tvl_future_unref(f);
    tvl_future_run(f); /* still alive */
    CU_ASSERT_EQUAL(tvl_future_error(f), 0);
    tvl_future_unref(f);
    CU_ASSERT_PTR_NULL(tvl_future_create(NULL, NULL));
}

void test_future_register(void)
{
    static CU_TestInfo tests[] = {
        {"runs_pending_to_done_with_result", runs_pending_to_done_with_result},
        {"failure_keeps_code_and_message", failure_keeps_code_and_message},
        {"cancel_pending_never_runs", cancel_pending_never_runs},
        {"cancel_final_is_ealready", cancel_final_is_ealready},
        {"cancel_running_sets_token_and_fires_hook_once",
         cancel_running_sets_token_and_fires_hook_once},
        {"hook_after_cancel_is_refused", hook_after_cancel_is_refused},
        {"clear_hook_waits_for_running_hook", clear_hook_waits_for_running_hook},
        {"callbacks_run_once_in_order", callbacks_run_once_in_order},
        {"removed_callback_never_runs", removed_callback_never_runs},
        {"remove_waits_for_running_callback", remove_waits_for_running_callback},
        {"wait_sleeps_until_completion", wait_sleeps_until_completion},
        {"wait_timeout_times_out_and_cancels_nothing", wait_timeout_times_out_and_cancels_nothing},
        {"wait_any_reports_lowest_final_index", wait_any_reports_lowest_final_index},
        {"wait_any_on_many_futures", wait_any_on_many_futures},
        {"references_keep_the_future", references_keep_the_future},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("future", tests);
}
