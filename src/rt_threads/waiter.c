/* Waiting in the threads runtime: a futex per waiter, timed on
 * CLOCK_MONOTONIC, woken by completion callbacks or by a cancel request;
 * sleeps are the same timed wait with nobody to wake it but a cancel. */
#include "rt/backend.h"
#include "tvl/pool.h"

#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef struct thread_waiter {
    /* 0: no wake pending; 1: a wake is pending. The futex word. */
    _Atomic uint32_t permit;
    tvl_future *owner; /* the task waiting, for its cancel request */
} thread_waiter;

_Static_assert(sizeof(thread_waiter) <= sizeof(tvl__waiter), "tvl__waiter too small");
_Static_assert(_Alignof(thread_waiter) <= _Alignof(tvl__waiter), "tvl__waiter misaligned");

static thread_waiter *tw(tvl__waiter *w)
{
    return (thread_waiter *)(void *)w->opaque;
}

void tvl__waiter_init(tvl__waiter *w)
{
    atomic_init(&tw(w)->permit, 0);
    tw(w)->owner = tvl_current();
}

void tvl__waiter_destroy(tvl__waiter *w)
{
    (void)w;
}

void tvl__waiter_wake(tvl__waiter *w)
{
    thread_waiter *t = tw(w);
    /* Release pairs with the acquire exchange in wait: what the waker did
     * before waking (a future's outcome, a granted flag) is visible to the
     * woken thread. */
    atomic_store_explicit(&t->permit, 1, memory_order_release);
    syscall(SYS_futex, &t->permit, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void wake_on_cancel(void *arg)
{
    tvl__waiter_wake(arg);
}

int tvl__waiter_wait(tvl__waiter *w, int64_t deadline_ns, bool cancellable)
{
    thread_waiter *t = tw(w);
    tvl_future *self = cancellable ? t->owner : NULL;
    for (;;) {
        if (atomic_exchange_explicit(&t->permit, 0, memory_order_acquire) == 1)
            return 0;
        if (self != NULL && tvl_future_cancel_requested(self))
            return -ECANCELED;
        int64_t now = tvl__now_ns();
        if (now >= deadline_ns)
            return -ETIMEDOUT;
        if (self != NULL && tvl_future_set_cancel_hook(self, wake_on_cancel, w) != 0)
            return -ECANCELED;
        struct timespec abs = {.tv_sec = deadline_ns / 1000000000,
                               .tv_nsec = deadline_ns % 1000000000};
        /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so
         * spurious returns do not stretch the total wait. It sleeps only
         * while permit is still 0, so a wake between the exchange above
         * and this call is never lost. */
        tvl_blocking_begin();
        syscall(SYS_futex, &t->permit, FUTEX_WAIT_BITSET_PRIVATE, 0,
                deadline_ns == INT64_MAX ? NULL : &abs, NULL, FUTEX_BITSET_MATCH_ANY);
        tvl_blocking_end();
        if (self != NULL)
            tvl_future_clear_cancel_hook(self);
    }
}

int tvl_sleep(int64_t ns)
{
    if (ns <= 0) {
        /* asyncio.sleep(0) yields to the loop so other tasks run; a thread
         * has nothing to yield to (the kernel runs the others), and a
         * sched_yield() on a busy machine costs milliseconds. */
        tvl_future *self = tvl_current();
        return self != NULL && tvl_future_cancel_requested(self) ? -ECANCELED : 0;
    }
    tvl__waiter w;
    tvl__waiter_init(&w);
    int64_t deadline = tvl__deadline(ns);
    int rc;
    /* Nobody wakes a sleep but a cancel request; a wake is re-checked. */
    while ((rc = tvl__waiter_wait(&w, deadline, true)) == 0)
        ;
    tvl__waiter_destroy(&w);
    return rc == -ETIMEDOUT ? 0 : rc;
}

static void wake_waiter(tvl_future *f, void *arg)
{
    (void)f;
    tvl__waiter_wake(arg);
}

int tvl__await_until(tvl_future *f, int64_t deadline_ns, bool cancellable)
{
    if (tvl_pool_current() != NULL) {
        /* On a worker: the helping wait runs other tasks meanwhile, which
         * is what keeps a fixed pool from deadlocking on nested awaits. */
        int64_t timeout = deadline_ns == INT64_MAX ? -1 : deadline_ns - tvl__now_ns();
        if (timeout < 0 && deadline_ns != INT64_MAX)
            timeout = 0;
        int rc = tvl_future_wait_timeout(f, timeout);
        return rc;
    }
    if (tvl_future_is_final(f))
        return tvl_future_error(f);
    tvl__waiter w;
    tvl__waiter_init(&w);
    tvl_future_callback cb = {.fn = wake_waiter, .arg = &w};
    int rc = 0;
    if (tvl_future_on_done(f, &cb) == 0) {
        while (!tvl_future_is_final(f)) {
            rc = tvl__waiter_wait(&w, deadline_ns, cancellable);
            if (rc != 0)
                break;
        }
        tvl_future_remove_callback(f, &cb);
    }
    tvl__waiter_destroy(&w);
    if (tvl_future_is_final(f))
        return tvl_future_error(f);
    return rc;
}
