/* The Chase-Lev work-stealing deque that each pool worker owns.
 *
 * One owner thread pushes and pops at the bottom (LIFO); any number of
 * thieves steal from the top (FIFO). Items are non-NULL pointers. The names
 * say who may call: tvl__deque_owner_*() only from the owning thread,
 * tvl__deque_thief_*() from any thread, tvl__deque_size_estimate() from any
 * thread (it is a racy hint). Ownership may pass to another thread only
 * through a happens-before edge (the pool hands a retired worker's deque to a
 * new thread under its mutex). */
#ifndef TVL_CORE_DEQUE_H
#define TVL_CORE_DEQUE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define TVL__CACHE_LINE 64

typedef struct tvl__deque_array {
    int64_t size; /* a power of two */
    struct tvl__deque_array *older; /* retired arrays, owner-only */
    _Atomic(void *) slot[];
} tvl__deque_array;

typedef struct tvl__deque {
    /* Thieves CAS top; the owner writes bottom on every push and pop. Each
     * on its own line so that a steal does not invalidate the owner's line. */
    _Alignas(TVL__CACHE_LINE) _Atomic int64_t top;
    _Alignas(TVL__CACHE_LINE) _Atomic int64_t bottom;
    _Atomic(tvl__deque_array *) array;
    char pad_[TVL__CACHE_LINE - sizeof(int64_t) - sizeof(void *)];
} tvl__deque;

/* Initialises an empty deque with room for 2^log2_size items before it
 * grows. Returns 0 or -ENOMEM. */
int tvl__deque_init(tvl__deque *q, unsigned log2_size);

/* Frees the array and every array retired by growth. No thread may use the
 * deque any more. Items still inside are not touched. */
void tvl__deque_destroy(tvl__deque *q);

/* Owner: pushes item at the bottom. Returns 0, or -ENOMEM if the deque was
 * full and could not grow (the item was not pushed). */
int tvl__deque_owner_push(tvl__deque *q, void *item);

/* Owner: pops the most recently pushed item, or returns NULL when empty. */
void *tvl__deque_owner_pop(tvl__deque *q);

/* Results of tvl__deque_thief_steal(). */
enum { TVL__STEAL_EMPTY = 0, TVL__STEAL_OK = 1, TVL__STEAL_LOST = 2 };

/* Thief: takes the oldest item into *out. Returns TVL__STEAL_OK,
 * TVL__STEAL_EMPTY, or TVL__STEAL_LOST when another thief or the owner won
 * the race for that item (the deque may still hold items: retry). */
int tvl__deque_thief_steal(tvl__deque *q, void **out);

/* Any thread: bottom - top as seen now, never negative. A hint: it may be
 * stale by the time it is used. */
int64_t tvl__deque_size_estimate(tvl__deque *q);

#endif
