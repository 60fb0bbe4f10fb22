/* Internal: a binary min-heap of deadlines. Each timer is embedded in its
 * owner and knows its slot, so removal and re-arming are O(log n) with no
 * search; the loop never scans connections to find what is due. */
#ifndef TVL_SERVER_TIMER_HEAP_H
#define TVL_SERVER_TIMER_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TVL__TIMER_IDLE UINT32_MAX

typedef struct tvl__timer {
    uint64_t when; /* CLOCK_MONOTONIC, ns */
    uint32_t slot; /* index in the heap, or TVL__TIMER_IDLE */
} tvl__timer;

typedef struct tvl__timer_heap {
    tvl__timer **a;
    uint32_t n, cap;
} tvl__timer_heap;

static inline void tvl__timer_init(tvl__timer *t) { t->slot = TVL__TIMER_IDLE; }
static inline bool tvl__timer_armed(const tvl__timer *t) { return t->slot != TVL__TIMER_IDLE; }

/* Arms t for `when`, or moves it there if armed. Returns 0 or -ENOMEM (t is
 * then left as it was). */
int tvl__timer_set(tvl__timer_heap *h, tvl__timer *t, uint64_t when);

/* Disarms t; nothing if it is not armed. */
void tvl__timer_cancel(tvl__timer_heap *h, tvl__timer *t);

/* The earliest timer, or NULL. */
static inline tvl__timer *tvl__timer_min(const tvl__timer_heap *h) { return h->n ? h->a[0] : NULL; }

void tvl__timer_heap_free(tvl__timer_heap *h);

#endif
