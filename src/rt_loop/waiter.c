/* Waiting in the event-loop runtime: a one-shot wake-up is a permit flag
 * plus a park of the owner's context (its fiber suspends; on the main
 * context the loop runs), so a wait costs no system call of its own. */
#include "rt_loop/loop.h"

#include <errno.h>
#include <stdatomic.h>

typedef struct loop_waiter {
    /* 1 while a wake is pending. Atomic because wake() may come from
     * another thread (the contract allows it); on the loop's thread it is
     * an uncontended exchange. */
    _Atomic uint32_t permit;
    tvl__task *owner; /* the context that waits */
} loop_waiter;

_Static_assert(sizeof(loop_waiter) <= sizeof(tvl__waiter), "tvl__waiter too small");
_Static_assert(_Alignof(loop_waiter) <= _Alignof(tvl__waiter), "tvl__waiter misaligned");

static loop_waiter *lw(tvl__waiter *w)
{
    return (loop_waiter *)(void *)w->opaque;
}

void tvl__waiter_init(tvl__waiter *w)
{
    atomic_init(&lw(w)->permit, 0);
    lw(w)->owner = tvl__sched_current();
}

void tvl__waiter_destroy(tvl__waiter *w)
{
    (void)w;
}

void tvl__waiter_wake(tvl__waiter *w)
{
    loop_waiter *l = lw(w);
    tvl__task *owner = l->owner; /* read first: after the store the owner may
                                    return and free w (same thread: not
                                    before we return; other thread: at once) */
    /* Release: pairs with the acquire exchange in wait, so what the waker
     * wrote before waking (a future's outcome, a granted flag) is seen by
     * the owner. */
    atomic_store_explicit(&l->permit, 1, memory_order_release);
    tvl__sched_wake_any(owner, 0);
}

static bool take_permit(loop_waiter *l)
{
    /* Acquire: pairs with the release store in wake. */
    return atomic_exchange_explicit(&l->permit, 0, memory_order_acquire) == 1;
}

int tvl__waiter_wait(tvl__waiter *w, int64_t deadline_ns, bool cancellable)
{
    loop_waiter *l = lw(w);
    for (;;) {
        if (take_permit(l))
            return 0;
        int rc = tvl__sched_park(deadline_ns, cancellable);
        if (take_permit(l))
            return 0; /* a wake that came with the timeout or cancel wins */
        if (rc != 0)
            return rc;
    }
}
