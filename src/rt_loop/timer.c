/* The loop's timers: a binary min-heap of caller-owned timer records, each
 * knowing its slot so that disarming or moving one is O(log n) with no
 * search and no system call (the loop sleeps until the heap's minimum).
 *
 * Costs: arm, re-arm and disarm O(log n); the earliest deadline O(1); the
 * heap's array grows by doubling and is freed at shutdown. Loop thread only.
 */
#include "rt_loop/loop.h"

#include <errno.h>
#include <stdlib.h>

static tvl__timer **heap;
static size_t heap_len, heap_cap;
static uint64_t next_seq;

static bool before(const tvl__timer *a, const tvl__timer *b)
{
    if (a->deadline != b->deadline)
        return a->deadline < b->deadline;
    return a->seq < b->seq;
}

static void place(tvl__timer *t, size_t slot)
{
    heap[slot] = t;
    t->slot = slot;
}

static void sift_up(size_t i)
{
    tvl__timer *t = heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, heap[parent]))
            break;
        place(heap[parent], i);
        i = parent;
    }
    place(t, i);
}

static void sift_down(size_t i)
{
    tvl__timer *t = heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= heap_len)
            break;
        if (child + 1 < heap_len && before(heap[child + 1], heap[child]))
            child++;
        if (!before(heap[child], t))
            break;
        place(heap[child], i);
        i = child;
    }
    place(t, i);
}

void tvl__timer_init(tvl__timer *t, void (*fire)(tvl__timer *t))
{
    t->deadline = 0;
    t->seq = 0;
    t->slot = TVL__TIMER_IDLE;
    t->fire = fire;
}

int tvl__timer_arm(tvl__timer *t, int64_t deadline)
{
    if (tvl__timer_armed(t))
        tvl__timer_disarm(t);
    if (heap_len == heap_cap) {
        size_t cap = heap_cap ? heap_cap * 2 : 64;
        tvl__timer **grown = realloc(heap, cap * sizeof *grown);
        if (grown == NULL)
            return -ENOMEM;
        heap = grown;
        heap_cap = cap;
    }
    t->deadline = deadline;
    t->seq = next_seq++;
    place(t, heap_len++);
    sift_up(t->slot);
    return 0;
}

void tvl__timer_disarm(tvl__timer *t)
{
    if (!tvl__timer_armed(t))
        return;
    size_t i = t->slot;
    t->slot = TVL__TIMER_IDLE;
    heap_len--;
    if (i == heap_len)
        return;
    /* The last timer fills the hole and moves whichever way it must. */
    place(heap[heap_len], i);
    if (i > 0 && before(heap[i], heap[(i - 1) / 2]))
        sift_up(i);
    else
        sift_down(i);
}

int64_t tvl__timers_next(void)
{
    return heap_len > 0 ? heap[0]->deadline : INT64_MAX;
}

void tvl__timers_run(int64_t now)
{
    /* A fire function may arm a timer that is due at once (curl asks for a
     * timeout of 0 ms); timers armed during this pass wait for the next
     * iteration, so the pass always ends and I/O gets its turn. */
    uint64_t limit = next_seq;
    while (heap_len > 0 && heap[0]->deadline <= now && heap[0]->seq < limit) {
        tvl__timer *t = heap[0];
        tvl__timer_disarm(t);
        t->fire(t);
    }
}

size_t tvl__timers_count(void)
{
    return heap_len;
}

void tvl__timers_free(void)
{
    free(heap);
    heap = NULL;
    heap_len = heap_cap = 0;
    next_seq = 0;
}
