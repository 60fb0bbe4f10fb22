/* The layout of a future and the internal calls between future.c and pool.c.
 *
 * Lock order: pool hook registry mutex, then a future's spin lock. A future's
 * lock is held only for a few loads and stores, never across a callback, a
 * hook or a body. */
#ifndef TVL_CORE_FUTURE_IMPL_H
#define TVL_CORE_FUTURE_IMPL_H

#include "tvl/future.h"
#include "tvl/pool.h"

#include <stdatomic.h>
#include <stdbool.h>

/* hook_state values (under the future's lock). */
enum { TVL__HOOK_NONE, TVL__HOOK_INSTALLED, TVL__HOOK_RUNNING, TVL__HOOK_FIRED };

typedef struct tvl__fcache tvl__fcache;

/* 128 bytes, cache-line aligned: the first line holds everything that
 * submitting, running and joining touch; the second the rarely used rest. */
struct tvl_future {
    _Atomic int state; /* tvl_future_state; changed only by transition() */
    _Atomic int refs;
    int error;                  /* written by the runner before the final transition */
    _Atomic unsigned char lock; /* guards cbs (writes), hook*, dispatching (writes) */
    _Atomic bool cancel_req;    /* the cancellation token */
    unsigned char hook_state;   /* TVL__HOOK_* */
    bool hook_registered;       /* on the pool's hook registry (registry mutex) */
    _Atomic int dispatching;    /* threads running this future's callbacks now */
    bool hook_used;             /* a hook was set and not cleared; body thread only */
    bool has_message;           /* message is set (the second line is not initialised) */
    tvl_task_fn fn;
    void *arg;
    void *result;
    _Atomic(tvl_future_callback *) cbs; /* pending callbacks, newest first */
    tvl_pool *pool; /* the executor, NULL when run by tvl_future_run() directly */
    /* second line: not written when a future is created, so that creating
     * one moves a single line; each field is valid only as flagged above */
    _Alignas(64) char *message; /* heap, set by tvl_future_fail(); has_message */
    void (*hook)(void *);
    void *hook_arg;
    tvl_future *hook_next, *hook_prev; /* the pool's hook registry; hook_registered */
    tvl_future *link;                  /* the pool's overflow queue, while on it */
    tvl__fcache *home;                 /* set once at allocation: the cache it goes back to */
};

/* A pending future with `refs` references (1 or 2), run later by `pool` (may
 * be NULL). NULL when out of memory. */
tvl_future *tvl__future_new(tvl_task_fn fn, void *arg, int refs, tvl_pool *pool);

/* Hands back the futures this thread freed on behalf of other threads
 * caches (they travel in batches). Called by workers before they sleep. */
void tvl__future_cache_flush(void);

/* tvl_future_run() that also says whether the body ran (*ran). */
int tvl__future_execute(tvl_future *f, bool *ran);

/* What a wait is waiting for: any of set[0..n) final. cbs has n nodes that
 * are registered on the futures while the waiter sleeps. */
typedef struct tvl__wait {
    tvl_future *const *set;
    size_t n;
    tvl_future_callback *cbs;
    size_t index; /* out: the lowest final index once ready */
} tvl__wait;

/* True when one future of the set is final (and then sets w->index). */
bool tvl__wait_ready(tvl__wait *w);

/* Registers fn(arg) as a callback on every future of the set. Returns 0, or
 * 1 if a future was already final (then nothing stays registered). */
int tvl__wait_arm(tvl__wait *w, void (*fn)(tvl_future *, void *), void *arg);

/* Unregisters what tvl__wait_arm() registered; returns once none of those
 * callbacks is running. */
void tvl__wait_disarm(tvl__wait *w);

#endif
