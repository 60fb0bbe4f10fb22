/* Fiber stacks: mapping with a guard region, valgrind registration, and the
 * per-thread cache of freed stacks. */
#include "fiber/stack.h"

#include "fiber/fiber.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

/* valgrind must be told which memory is a stack, or every switch looks like
 * a huge stack-pointer jump and it reports bogus invalid accesses. The
 * macros do nothing (a few instructions) when not running under valgrind. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define TVL__HAVE_VALGRIND 1
#endif
#endif
#ifndef TVL__HAVE_VALGRIND
#define VALGRIND_STACK_REGISTER(lo, hi) 0u
#define VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#endif

#ifndef MAP_STACK
#define MAP_STACK 0
#endif

/* Bytes of PROT_NONE below each stack. More than one page so that a frame
 * of a few KiB (a char buf[8192]) cannot step over it; it costs address
 * space only, never memory. */
#define GUARD_BYTES ((size_t)16 * 1024)

static size_t page_size(void)
{
    /* Relaxed: every thread computes the same value; a race only repeats
     * the sysconf. */
    static atomic_size_t cached;
    size_t p = atomic_load_explicit(&cached, memory_order_relaxed);
    if (p == 0) {
        long v = sysconf(_SC_PAGESIZE);
        p = v > 0 ? (size_t)v : 4096;
        atomic_store_explicit(&cached, p, memory_order_relaxed);
    }
    return p;
}

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

size_t tvl__stack_round(size_t size)
{
    if (size > TVL_FIBER_MAX_STACK)
        return 0;
    if (size < TVL_FIBER_MIN_STACK)
        size = TVL_FIBER_MIN_STACK;
    return round_up(size, page_size());
}

static _Thread_local struct {
    struct tvl__stack stacks[TVL__STACK_CACHE_MAX];
    unsigned n;
} cache;

static int map_stack(struct tvl__stack *st, size_t size)
{
    size_t guard = round_up(GUARD_BYTES, page_size());
    size_t total = guard + size;
    /* NORESERVE: 10,000 fibers of 64 KiB reserve no swap; pages are only
     * committed when touched. The guard is made PROT_NONE afterwards rather
     * than mapped separately, so one munmap frees both. */
    void *p = mmap(NULL, total, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED)
        return -ENOMEM;
    if (mprotect(p, guard, PROT_NONE) != 0) {
        munmap(p, total);
        return -ENOMEM; /* ENOMEM is mprotect's only plausible failure here */
    }
    st->map = p;
    st->map_size = total;
    st->lo = (char *)p + guard;
    st->size = size;
    st->vg_id = VALGRIND_STACK_REGISTER(st->lo, st->lo + size);
    return 0;
}

static void unmap_stack(struct tvl__stack *st)
{
    VALGRIND_STACK_DEREGISTER(st->vg_id);
    munmap(st->map, st->map_size);
}

int tvl__stack_get(struct tvl__stack *st, size_t size)
{
    /* Newest first: the most recently freed stack is the likeliest to be
     * warm in cache and TLB. Linear, but the cache is small and in practice
     * holds one size. */
    for (unsigned i = cache.n; i-- > 0;) {
        if (cache.stacks[i].size == size) {
            *st = cache.stacks[i];
            cache.stacks[i] = cache.stacks[--cache.n];
            return 0;
        }
    }
    return map_stack(st, size);
}

void tvl__stack_put(struct tvl__stack *st)
{
    if (cache.n < TVL__STACK_CACHE_MAX)
        cache.stacks[cache.n++] = *st;
    else
        unmap_stack(st);
}

void tvl__stack_cache_drain(void)
{
    while (cache.n > 0)
        unmap_stack(&cache.stacks[--cache.n]);
}
