/* The binary min-heap of deadlines behind every delay, tick and timeout. */
#include "server/timer_heap.h"

#include <errno.h>
#include <stdlib.h>

static void place(tvl__timer_heap *h, uint32_t i, tvl__timer *t)
{
    h->a[i] = t;
    t->slot = i;
}

static void sift_up(tvl__timer_heap *h, uint32_t i)
{
    tvl__timer *t = h->a[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (h->a[parent]->when <= t->when)
            break;
        place(h, i, h->a[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(tvl__timer_heap *h, uint32_t i)
{
    tvl__timer *t = h->a[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->a[c + 1]->when < h->a[c]->when)
            c++;
        if (t->when <= h->a[c]->when)
            break;
        place(h, i, h->a[c]);
        i = c;
    }
    place(h, i, t);
}

int tvl__timer_set(tvl__timer_heap *h, tvl__timer *t, uint64_t when)
{
    if (tvl__timer_armed(t)) {
        uint64_t old = t->when;
        t->when = when;
        if (when < old)
            sift_up(h, t->slot);
        else
            sift_down(h, t->slot);
        return 0;
    }
    if (h->n == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 256;
        tvl__timer **a = realloc(h->a, (size_t)cap * sizeof *a);
        if (a == NULL)
            return -ENOMEM;
        h->a = a;
        h->cap = cap;
    }
    t->when = when;
    place(h, h->n++, t);
    sift_up(h, t->slot);
    return 0;
}

void tvl__timer_cancel(tvl__timer_heap *h, tvl__timer *t)
{
    if (!tvl__timer_armed(t))
        return;
    uint32_t i = t->slot;
    t->slot = TVL__TIMER_IDLE;
    tvl__timer *last = h->a[--h->n];
    if (i == h->n)
        return;
    place(h, i, last);
    sift_up(h, i);
    sift_down(h, last->slot);
}

void tvl__timer_heap_free(tvl__timer_heap *h)
{
    free(h->a);
    h->a = NULL;
    h->n = h->cap = 0;
}
