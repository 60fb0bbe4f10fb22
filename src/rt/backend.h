/* What each runtime backend (src/rt_threads, src/rt_loop) provides to the
 * runtime-neutral code in src/rt.
 *
 * A backend implements, with these exact names, the public functions of
 * tvl/rt.h listed under "backend" below, plus the tvl__ primitives here.
 * Everything else in tvl/rt.h (the combinators, HTTP checks, wait_for, the
 * semaphore) is written once, in src/rt, on top of these primitives.
 *
 * Backend (public, in tvl/rt.h): tvl_rt_init, tvl_rt_shutdown,
 * tvl_rt_backend, tvl_rt_run, tvl_rt_get_stats, tvl_rt_reset_peak,
 * tvl_rt_fiber_id,
 * tvl_spawn, tvl_current, tvl_sleep.
 */
#ifndef TVL_RT_BACKEND_H
#define TVL_RT_BACKEND_H

#include <curl/curl.h>
#include <stdint.h>

#include "tvl/rt.h"

/* ---- time ---------------------------------------------------------------- */

/* Nanoseconds on CLOCK_MONOTONIC. */
int64_t tvl__now_ns(void);

/* The absolute deadline for a relative timeout (negative: none, returned
 * as INT64_MAX). */
int64_t tvl__deadline(int64_t timeout_ns);

/* ---- waiting ------------------------------------------------------------- */

/* A one-shot wake-up for the task (or main code) that owns it: wake() may be
 * called from any thread, before or during wait(); a wake that comes first
 * makes the next wait() return at once. The combinators pair it with
 * tvl_future_on_done() callbacks to wait for many futures without polling.
 * Storage is the caller's (usually its stack); the size fits both backends
 * (each checks with a static assertion). */
typedef struct tvl__waiter {
    _Alignas(16) unsigned char opaque[96];
} tvl__waiter;

/* Prepares w for the calling task; only that task may wait on it. */
void tvl__waiter_init(tvl__waiter *w);

/* Suspends the caller until woken or until the absolute deadline_ns
 * (INT64_MAX: none). Returns 0 when woken (the wake is consumed) or
 * -ETIMEDOUT. If `cancellable`, also returns -ECANCELED when the calling
 * task has a cancel request (checked before sleeping too, so a cancelled
 * task never blocks here); a task that must wait for children after being
 * cancelled waits with cancellable false. */
int tvl__waiter_wait(tvl__waiter *w, int64_t deadline_ns, bool cancellable);

/* Wakes the owner (or records the wake for its next wait). Never blocks;
 * callable from completion callbacks on any thread. */
void tvl__waiter_wake(tvl__waiter *w);

/* Releases what init took; no wake may be in flight. */
void tvl__waiter_destroy(tvl__waiter *w);

/* Waits until f ends or the absolute deadline passes. Returns f's error,
 * -ETIMEDOUT (f untouched), or, if `cancellable`, -ECANCELED when the
 * waiting task is cancelled (f untouched here; the caller decides what
 * follows). */
int tvl__await_until(tvl_future *f, int64_t deadline_ns, bool cancellable);

/* ---- HTTP transfers ------------------------------------------------------ */

/* An easy handle for one transfer on the calling task. The backend may hand
 * out a handle it reuses (keep-alive, DNS and TLS caches); the caller
 * resets its options before use and returns it with release. NULL when out
 * of memory. */
CURL *tvl__easy_acquire(void);
void tvl__easy_release(CURL *easy);

/* Runs the prepared transfer in blocking style and returns its result.
 * When the calling task is cancelled, the transfer is aborted and
 * CURLE_ABORTED_BY_CALLBACK is returned. */
CURLcode tvl__easy_perform(CURL *easy);

/* Closes (or has closed before their next use) every idle kept-alive
 * connection the backend keeps: tvl_http_new_session(). Returns 0 or
 * -EBUSY (a transfer in flight). */
int tvl__easy_forget_connections(void);

/* tvl_sem_acquire() with an absolute deadline: 0, -ECANCELED, or
 * -ETIMEDOUT (no permit taken). */
int tvl__sem_acquire_until(tvl_sem *s, int64_t deadline_ns);

/* Called by the HTTP layer when a task has waited SLOT_PATIENCE for a
 * connection slot: the transfers holding the slots may never end (a
 * stalled server, no timeout), so whatever the backend holds back because
 * tasks wait for slots (the loop's admission, the threads build's pool
 * limit) must be let go, or a task that is not a fetch could wait behind
 * them forever. Idempotent; any task. */
void tvl__slots_stalled(void);

/* ---- shared state set up by tvl_rt_init ------------------------------------ */

/* Called by each backend's tvl_rt_init once its own primitives work, and
 * by tvl_rt_shutdown before it tears them down. Keeps the options the
 * runtime-neutral code needs (HTTP settings, the connection limit). */
int tvl__rt_common_init(const tvl_rt_options *opts);
void tvl__rt_common_shutdown(void);
const tvl_rt_options *tvl__rt_options(void);

#endif
