/* Fiber stacks: ranges of a per-thread batch mapping, each with a guard
 * region below and its top page populated in advance, and a bounded
 * per-thread cache of freed stacks so that short-lived fibers cost no
 * system call at all (stack.c says why batches).
 *
 * Threads: the cache is thread-local; a stack may be taken on one thread
 * and put back on another (it is only memory). */
#ifndef TVL_FIBER_STACK_H
#define TVL_FIBER_STACK_H

#include <stddef.h>

struct tvl__stack {
    char *map;       /* start of the mapping, which is the guard */
    size_t map_size; /* guard + usable */
    char *lo;        /* lowest usable byte: the guard ends here */
    size_t size;     /* usable bytes; the stack grows down from lo + size */
    unsigned vg_id;  /* valgrind's id for the stack; 0 outside valgrind */
};

/* Stacks kept per thread for reuse; more are unmapped. */
#define TVL__STACK_CACHE_MAX 128

/* The usable size a request becomes: whole pages, at least
 * TVL_FIBER_MIN_STACK. Returns 0 when size is above TVL_FIBER_MAX_STACK. */
size_t tvl__stack_round(size_t size);

/* Fills *st with a stack of `size` usable bytes (already rounded), from the
 * cache, else from the thread's batch, making a new batch if it is used
 * up (or of another size). Returns 0 or -ENOMEM. */
int tvl__stack_get(struct tvl__stack *st, size_t size);

/* Gives st back: to the cache, or to the system when the cache is full. */
void tvl__stack_put(struct tvl__stack *st);

/* Unmaps every stack in this thread's cache and the unused rest of its
 * batch. */
void tvl__stack_cache_drain(void);

#endif
