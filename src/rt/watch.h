/* A watch: one task waiting on a growing set of futures without polling.
 *
 * Each watched future gets a completion callback (a node the watch owns)
 * that calls on_end() under the watch's lock and wakes the owner when
 * on_end() says so. gather, wait, as_completed and the task group are each a
 * few lines of on_end()/ready() on top of it.
 *
 * Threads: one owner task adds, waits and destroys; the callbacks run on
 * whatever thread ends a future. Lock rule: the watch's lock is never held
 * while calling into a future (on_done, remove_callback, cancel), because a
 * future may run our callback, which takes that lock, on the calling thread.
 */
#ifndef TVL_RT_WATCH_H
#define TVL_RT_WATCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "rt/backend.h"

typedef struct tvl__watch tvl__watch;

/* Called under the watch's lock when the future added as `index` ends;
 * returns true to wake the owner. */
typedef bool (*tvl__watch_end_fn)(tvl__watch *w, size_t index, tvl_future *f);

/* Called under the lock by tvl__watch_wait(): true when waiting is over. */
typedef bool (*tvl__watch_ready_fn)(tvl__watch *w);

struct tvl__watch {
    pthread_mutex_t mu;
    tvl__waiter waiter;
    tvl__watch_end_fn on_end;
    void *ctx;                       /* for on_end and ready */
    struct tvl__watch_chunk *chunks; /* nodes, in chunks so they never move */
    size_t count;                    /* futures added */
};

/* Prepares w for the calling task. */
void tvl__watch_init(tvl__watch *w, tvl__watch_end_fn on_end, void *ctx);

/* Watches f as index w->count (then incremented). If f has already ended,
 * on_end runs before this returns. The watch takes a reference to f.
 * Returns 0 or -ENOMEM. */
int tvl__watch_add(tvl__watch *w, tvl_future *f);

/* Waits until ready(w) holds (checked under the lock), the absolute
 * deadline passes (-ETIMEDOUT) or, if cancellable, the owner is cancelled
 * (-ECANCELED). */
int tvl__watch_wait(tvl__watch *w, tvl__watch_ready_fn ready, int64_t deadline_ns,
                    bool cancellable);

/* Calls fn(f, arg) for every watched future, outside the lock. */
void tvl__watch_each(tvl__watch *w, void (*fn)(tvl_future *f, void *arg), void *arg);

/* Unregisters every callback (waiting for any that is running), drops the
 * references and frees the nodes. */
void tvl__watch_destroy(tvl__watch *w);

static inline void tvl__watch_lock(tvl__watch *w) { pthread_mutex_lock(&w->mu); }
static inline void tvl__watch_unlock(tvl__watch *w) { pthread_mutex_unlock(&w->mu); }

#endif
