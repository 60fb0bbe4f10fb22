/* What pool.c provides to future.c: helping waits and the cancel-hook registry. */
#ifndef TVL_CORE_POOL_IMPL_H
#define TVL_CORE_POOL_IMPL_H

#include "core/future_impl.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct tvl__worker tvl__worker;

/* The pool worker that is the calling thread, or NULL. */
tvl__worker *tvl__worker_self(void);

/* A helping wait on a worker: runs other tasks until w is ready or the
 * absolute CLOCK_MONOTONIC deadline (negative: none) passes. Returns 0 or
 * -ETIMEDOUT. */
int tvl__pool_help_wait(tvl__worker *self, tvl__wait *w, int64_t deadline_ns);

/* True once the pool is being destroyed in TVL_SHUTDOWN_CANCEL mode. */
bool tvl__pool_cancelling(const tvl_pool *pool);

/* Adds f (running, with a cancel hook about to be installed) to the pool's
 * registry of hooks that a cancelling shutdown fires. Returns 0, or
 * -ECANCELED if the pool is already cancelling. */
int tvl__pool_hook_register(tvl_pool *pool, tvl_future *f);
void tvl__pool_hook_unregister(tvl_pool *pool, tvl_future *f);

#endif
