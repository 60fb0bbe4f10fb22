/* Futures: the result of a task that runs (or ran, or will never run).
 *
 * A future is the C counterpart of an asyncio Task. It is created pending,
 * becomes running when its body starts, and ends in exactly one final state:
 * done (with a result), failed (with a negative error code and a message) or
 * cancelled. Every state change goes through one internal function, so that
 * "exactly one final state" holds under any race between completion and
 * cancellation.
 *
 * The same futures serve both runtimes: the pool (src/core/pool.c) runs the
 * bodies on worker threads; the event-loop runtime creates futures with
 * tvl_future_create() and runs each body on a fiber with tvl_future_run().
 *
 * Ownership: a future is reference-counted. Whoever receives a future from a
 * function in this library owns one reference and must drop it with
 * tvl_future_unref(). The executor (pool or loop) holds its own reference
 * until the body has finished, so dropping yours early never frees a future
 * that is still queued or running. tvl_future_unref(NULL) does nothing.
 *
 * Results: a future stores the body's `void *` result and never frees it.
 * Bodies that produce data should write it into memory their caller owns
 * (through the argument), which is what the tvl runtime's tasks do.
 *
 * Threads: every function may be called from any thread unless it says it is
 * for the body ("self") only.
 */
#ifndef TVL_FUTURE_H
#define TVL_FUTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tvl_future tvl_future;

typedef enum tvl_future_state {
    TVL_FUTURE_PENDING = 0, /* created or queued, body not started */
    TVL_FUTURE_RUNNING,     /* body executing */
    TVL_FUTURE_DONE,        /* final: body returned 0 */
    TVL_FUTURE_FAILED,      /* final: body returned a negative error */
    TVL_FUTURE_CANCELLED,   /* final: cancelled before it started, or the
                               body returned -ECANCELED */
} tvl_future_state;

/* A task body. `self` is the future the body completes (for the cancellation
 * token, the cancel hook and the failure message). The body returns 0 and may
 * set *result, or returns a negative error code; -ECANCELED makes the future
 * cancelled rather than failed. A positive return is a bug in the body and is
 * recorded as -EINVAL. */
typedef int (*tvl_task_fn)(tvl_future *self, void *arg, void **result);

/* Returns true when `s` is done, failed or cancelled. */
static inline bool tvl_future_state_is_final(tvl_future_state s)
{
    return s >= TVL_FUTURE_DONE;
}

/* ---- for executors (the pool, the event loop) -------------------------- */

/* Creates a pending future that will run fn(self, arg, &result). Returns NULL
 * when out of memory. The caller owns the one reference. */
tvl_future *tvl_future_create(tvl_task_fn fn, void *arg);

/* Runs the body on the calling thread: pending -> running -> final. If the
 * future was cancelled before it started, the body is not called and
 * -ECANCELED is returned. Otherwise returns what the body returned. Must be
 * called at most once per future. Completion callbacks run on this thread
 * before it returns. */
int tvl_future_run(tvl_future *f);

/* Completes a pending future as cancelled without running it (a shutdown
 * that cancels, a task group that is torn down). Returns 0, or -EALREADY if
 * the future had already started or ended. */
int tvl_future_abandon(tvl_future *f);

/* ---- references ---------------------------------------------------------- */

tvl_future *tvl_future_ref(tvl_future *f); /* returns f */
void tvl_future_unref(tvl_future *f);      /* NULL does nothing */

/* ---- state and outcome --------------------------------------------------- */

tvl_future_state tvl_future_state_get(const tvl_future *f);
static inline bool tvl_future_is_final(const tvl_future *f)
{
    return tvl_future_state_is_final(tvl_future_state_get(f));
}

/* The body's result. Meaningful only once the state is DONE. */
void *tvl_future_result(const tvl_future *f);

/* 0 if DONE, the negative error if FAILED, -ECANCELED if CANCELLED,
 * -EINPROGRESS if not final yet. */
int tvl_future_error(const tvl_future *f);

/* A human-readable failure reason: the body's message if it set one,
 * otherwise tvl_strerror() of the error. "" while not final or when DONE.
 * Valid while the caller holds a reference. */
const char *tvl_future_message(const tvl_future *f);

/* ---- inside a body (self only) ------------------------------------------ */

/* The future whose body tvl_future_run() is running on the calling thread
 * (the innermost, when a helping wait runs one body inside another), or
 * NULL. Borrowed. A runtime that switches bodies on one thread (fibers)
 * keeps its own notion of the current task instead. */
tvl_future *tvl_future_current(void);

/* Records a failure message for `self` (printf-style) and returns err, so a
 * body can write `return tvl_future_fail(self, -ECONNREFUSED, "...", ...);`.
 * Only the body of `self` may call it, before returning. Out of memory
 * keeps the default message. */
int tvl_future_fail(tvl_future *self, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The cooperative cancellation token: true once tvl_future_cancel() was
 * called on the running future. Cheap (one relaxed-acquire load). */
bool tvl_future_cancel_requested(const tvl_future *self);

/* A hook that lets a blocked operation be interrupted: when cancel is
 * requested while the hook is installed, hook(arg) runs once, on the
 * cancelling thread (it should wake the blocked call: signal a condition,
 * write to a pipe...). If cancel was already requested when the hook is
 * installed, the hook is not installed and -ECANCELED is returned, so the
 * body must not block. Otherwise returns 0 (-EINVAL for a NULL hook, -EBUSY if
 * a hook is already installed). A hook the body leaves installed is cleared
 * when the body returns.
 *
 * tvl_future_clear_cancel_hook() uninstalls it and returns only once the
 * hook is not running on any thread, so `arg` may then be freed. Both are
 * for the body of `self` only; one hook at a time. */
int tvl_future_set_cancel_hook(tvl_future *self, void (*hook)(void *arg), void *arg);
void tvl_future_clear_cancel_hook(tvl_future *self);

/* ---- cancellation -------------------------------------------------------- */

/* Requests cancellation.
 *   0         the future was pending: it is now CANCELLED and will not run;
 *   -EBUSY    it is running: the token is set and the hook (if any) was run;
 *             the body decides how it ends (usually -ECANCELED, soon);
 *   -EALREADY it had already ended; nothing changed.
 * Safe to call any number of times, from any thread. */
int tvl_future_cancel(tvl_future *f);

/* ---- completion callbacks ----------------------------------------------- */

/* A completion callback. The node's memory belongs to the caller, so adding
 * one never allocates; it must stay valid until the callback has run or was
 * removed. `fn` runs once, on the thread that completes the future (or on the
 * adding thread if the future is already final), and must not block. */
typedef struct tvl_future_callback {
    void (*fn)(tvl_future *f, void *arg);
    void *arg;
    struct tvl_future_callback *next_; /* private */
} tvl_future_callback;

/* Registers cb. Returns 0 if it will run later, or 1 if the future was
 * already final and cb->fn has run before this call returned. */
int tvl_future_on_done(tvl_future *f, tvl_future_callback *cb);

/* Unregisters cb. Returns 0 if it was removed before running, or -ENOENT if
 * it has run or is running; in that case this call first waits until the
 * callback has returned, so the node may be freed as soon as it returns. */
int tvl_future_remove_callback(tvl_future *f, tvl_future_callback *cb);

/* ---- blocking waits (threads) ------------------------------------------ */

/* Waits until f is final. On a pool worker the wait helps: it runs other
 * queued tasks meanwhile, and parks (counted as blocked, so the pool may
 * compensate) only when there is nothing to run. Elsewhere it parks on a
 * futex. Returns tvl_future_error(f).
 * The event-loop runtime never calls this from a fiber: it awaits through
 * tvl_future_on_done() and a fiber switch. */
int tvl_future_wait(tvl_future *f);

/* As tvl_future_wait(), giving up after timeout_ns nanoseconds (negative:
 * forever). Returns -ETIMEDOUT if f is not final by then (f is untouched:
 * a timeout cancels nothing), otherwise tvl_future_error(f). On a worker, a
 * wait with a timeout (timeout_ns >= 0) does not help run other tasks (one
 * could overrun the deadline by its whole length); it parks, counted as
 * blocked so that the pool compensates. */
int tvl_future_wait_timeout(tvl_future *f, int64_t timeout_ns);

/* Waits until at least one of set[0..n) is final, sleeping (not polling)
 * in between. On success stores the lowest index of a final future in
 * *index and returns 0; returns -ETIMEDOUT after timeout_ns (negative:
 * forever), -EINVAL if n is 0, -ENOMEM if it cannot allocate its n
 * callback nodes (only when n > 8). Costs O(n) per sleep: an as_completed
 * loop over many futures is better written with tvl_future_on_done(). */
int tvl_future_wait_any(tvl_future *const *set, size_t n, int64_t timeout_ns, size_t *index);

#ifdef __cplusplus
}
#endif
#endif
