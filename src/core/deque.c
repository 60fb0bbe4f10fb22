/* The Chase-Lev work-stealing deque with the C11 orderings of Le et al.
 *
 * References:
 *   D. Chase, Y. Lev, "Dynamic circular work-stealing deque", SPAA 2005.
 *   N. M. Le, A. Pop, A. Cohen, F. Zappa Nardelli, "Correct and efficient
 *   work-stealing for weak memory models", PPoPP 2013 (figure 1: the C11
 *   version this file follows operation by operation).
 *
 * Departures from the PPoPP 2013 code, each deliberate:
 *   1. Indices are signed 64-bit and never wrap in practice (2^63 pushes), so
 *      the comparisons `t <= b` are plain signed comparisons; slots are
 *      indexed with `i & (size - 1)` (size is a power of two).
 *   2. push publishes with a release *store* of bottom instead of a release
 *      fence followed by a relaxed store. Same guarantee for the thief's
 *      acquire load of bottom, same code on x86 (a plain mov), and it is an
 *      edge ThreadSanitizer understands (it does not model fences).
 *   3. For the same reason every other store of bottom (in pop) is a release
 *      store too, so that a thief that reads any value of bottom synchronises
 *      with everything the owner did before; the paper relies on C11's
 *      same-thread release sequences there. Free on x86.
 *   4. The array pointer is published with a release store and read with an
 *      acquire load (the paper: relaxed store after a fence, consume load);
 *      compilers implement consume as acquire anyway.
 *   5. pop returns early, without the seq_cst fence, when a relaxed look at
 *      top already shows the deque empty. Safe: top only grows and only the
 *      owner moves bottom, so a stale top can only make the deque look fuller
 *      than it is, never emptier.
 *   6. Growth never frees the old array: a thief may still be reading it.
 *      Retired arrays are chained from the current one and freed by
 *      tvl__deque_destroy(). The deque never shrinks.
 *   7. steal reports a lost race (TVL__STEAL_LOST, the paper's ABORT)
 *      separately from empty, so the pool can retry a busy victim. */
#include "core/deque.h"

#include <errno.h>
#include <stdlib.h>

static tvl__deque_array *array_new(int64_t size)
{
    tvl__deque_array *a = malloc(sizeof *a + (size_t)size * sizeof a->slot[0]);
    if (a == NULL)
        return NULL;
    a->size = size;
    a->older = NULL;
    for (int64_t i = 0; i < size; i++)
        atomic_init(&a->slot[i], NULL);
    return a;
}

int tvl__deque_init(tvl__deque *q, unsigned log2_size)
{
    tvl__deque_array *a = array_new((int64_t)1 << log2_size);
    if (a == NULL)
        return -ENOMEM;
    atomic_init(&q->top, 0);
    atomic_init(&q->bottom, 0);
    atomic_init(&q->array, a);
    return 0;
}

void tvl__deque_destroy(tvl__deque *q)
{
    if (q == NULL)
        return;
    /* Relaxed: the caller guarantees no thread uses the deque any more (the
     * pool joined every worker, which orders all their accesses before). */
    tvl__deque_array *a = atomic_load_explicit(&q->array, memory_order_relaxed);
    while (a != NULL) {
        tvl__deque_array *older = a->older;
        free(a);
        a = older;
    }
    atomic_store_explicit(&q->array, NULL, memory_order_relaxed);
}

/* Owner: doubles the array holding items [t, b). Returns the new array or
 * NULL when out of memory (the deque is unchanged). */
static tvl__deque_array *grow(tvl__deque *q, tvl__deque_array *a, int64_t t, int64_t b)
{
    tvl__deque_array *n = array_new(a->size * 2);
    if (n == NULL)
        return NULL;
    for (int64_t i = t; i < b; i++) {
        /* Relaxed: only the owner writes slots; thieves read the old array,
         * which stays intact. */
        void *x = atomic_load_explicit(&a->slot[i & (a->size - 1)], memory_order_relaxed);
        atomic_store_explicit(&n->slot[i & (n->size - 1)], x, memory_order_relaxed);
    }
    n->older = a;
    /* Release: pairs with the acquire load of array in steal, so a thief
     * that sees the new array also sees the copied slots. */
    atomic_store_explicit(&q->array, n, memory_order_release);
    return n;
}

int tvl__deque_owner_push(tvl__deque *q, void *item)
{
    /* Relaxed: bottom is written only by this thread. */
    int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
    /* Acquire: pairs with the seq_cst CAS of top in steal, so the thief's
     * read of the slot it took happens before we overwrite that slot. */
    int64_t t = atomic_load_explicit(&q->top, memory_order_acquire);
    /* Relaxed: only this thread stores array. */
    tvl__deque_array *a = atomic_load_explicit(&q->array, memory_order_relaxed);
    if (b - t > a->size - 1) {
        a = grow(q, a, t, b);
        if (a == NULL)
            return -ENOMEM;
    }
    /* Relaxed: published by the release store of bottom just below. */
    atomic_store_explicit(&a->slot[b & (a->size - 1)], item, memory_order_relaxed);
    /* Release (departure 2): pairs with the acquire load of bottom in
     * steal; the item and everything written to it before are visible to a
     * thief that sees the new bottom. */
    atomic_store_explicit(&q->bottom, b + 1, memory_order_release);
    return 0;
}

void *tvl__deque_owner_pop(tvl__deque *q)
{
    /* Relaxed: bottom is ours; top is only a hint here (departure 5). */
    int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed) - 1;
    if (atomic_load_explicit(&q->top, memory_order_relaxed) > b)
        return NULL;
    tvl__deque_array *a = atomic_load_explicit(&q->array, memory_order_relaxed);
    /* Release (departure 3); the ordering against top comes from the fence. */
    atomic_store_explicit(&q->bottom, b, memory_order_release);
    /* Seq_cst fence: pairs with the seq_cst fence in steal (between its load
     * of top and its load of bottom). Either the thief sees our decremented
     * bottom and backs off the last item, or we see its incremented top. */
    atomic_thread_fence(memory_order_seq_cst);
    int64_t t = atomic_load_explicit(&q->top, memory_order_relaxed);
    void *x = NULL;
    if (t <= b) {
        /* Relaxed: our own earlier store. */
        x = atomic_load_explicit(&a->slot[b & (a->size - 1)], memory_order_relaxed);
        if (t == b) {
            /* The last item: race the thieves for it with the CAS they use.
             * Seq_cst as in the paper; pairs with the CAS in steal. */
            if (!atomic_compare_exchange_strong_explicit(&q->top, &t, t + 1, memory_order_seq_cst,
                                                         memory_order_relaxed))
                x = NULL;
            atomic_store_explicit(&q->bottom, b + 1, memory_order_release);
        }
    } else {
        atomic_store_explicit(&q->bottom, b + 1, memory_order_release);
    }
    return x;
}

int tvl__deque_thief_steal(tvl__deque *q, void **out)
{
    /* Acquire: pairs with the CAS of top by other thieves and the owner, so
     * that our CAS below starts from an up-to-date view. */
    int64_t t = atomic_load_explicit(&q->top, memory_order_acquire);
    /* Seq_cst fence: pairs with the fence in pop (see there). */
    atomic_thread_fence(memory_order_seq_cst);
    /* Acquire: pairs with the release stores of bottom in push and pop; it
     * makes the item in slot t, and what was written to it, visible. */
    int64_t b = atomic_load_explicit(&q->bottom, memory_order_acquire);
    if (t >= b)
        return TVL__STEAL_EMPTY;
    /* Acquire: pairs with the release store in grow (departure 4). */
    tvl__deque_array *a = atomic_load_explicit(&q->array, memory_order_acquire);
    /* Relaxed: the value is only used if the CAS below proves that slot t
     * was not taken (and so not overwritten) in between. */
    void *x = atomic_load_explicit(&a->slot[t & (a->size - 1)], memory_order_relaxed);
    /* Seq_cst: pairs with the CAS in pop on the last item and with other
     * thieves' CAS; exactly one of them takes index t. */
    if (!atomic_compare_exchange_strong_explicit(&q->top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return TVL__STEAL_LOST;
    *out = x;
    return TVL__STEAL_OK;
}

int64_t tvl__deque_size_estimate(tvl__deque *q)
{
    /* Relaxed: a hint, no data is read through it. */
    int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
    int64_t t = atomic_load_explicit(&q->top, memory_order_relaxed);
    return b > t ? b - t : 0;
}
