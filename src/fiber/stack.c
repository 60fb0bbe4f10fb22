/* Fiber stacks: made in batches (one mapping, guards and first pages
 * installed by two batched system calls), valgrind registration, and the
 * per-thread cache of freed stacks.
 *
 * Why batches: on the VM this project is measured on, a page fault costs
 * about 14 us and a system call about 1 us, so a stack made one at a time
 * (mmap, mprotect for the guard, a fault on its first page) costs about
 * 20 us, which is what 5,000 fibers of a burst used to spend in total
 * 0.1 s on. A batch of B stacks is one mmap, one process_madvise(2) that
 * installs B guards (MADV_GUARD_INSTALL, Linux 6.13+) and one that
 * populates the top page of each (MADV_POPULATE_WRITE): about 1 us a
 * stack. Where the kernel lacks these (or under valgrind, which does not
 * know process_madvise) the guards fall back to one mprotect each and the
 * first page is faulted in on first use, as before. */
#include "fiber/stack.h"

#include "fiber/fiber.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
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
#define RUNNING_ON_VALGRIND 0
#endif

#ifndef MAP_STACK
#define MAP_STACK 0
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/* Bytes of PROT_NONE below each stack. More than one page so that a frame
 * of a few KiB (a char buf[8192]) cannot step over it; it costs address
 * space only, never memory. */
#define GUARD_BYTES ((size_t)16 * 1024)

/* Batches grow from BATCH_MIN stacks, doubling up to BATCH_MAX, so that a
 * thread with a few fibers maps a few stacks and a burst of thousands
 * costs a few dozen system calls. What a burst leaves unused is at most
 * one batch: BATCH_MAX top pages of memory (1 MiB). BATCH_MAX also stays
 * within process_madvise's limit of 1,024 ranges a call. */
#define BATCH_MIN 8u
#define BATCH_MAX 256u
/* Nor more than this much address space a batch (stacks can be configured
 * up to 1 GiB each); a batch that cannot be mapped is retried as one. */
#define BATCH_MAX_BYTES ((size_t)32 << 20)

/* Pages populated at the top of each new stack: a task body that fetches
 * a page and prints its line runs in the top 4 KiB (measured: 3.5 KiB
 * deep); deeper pages are faulted in when touched. */
#define READY_PAGES 1u

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
    struct tvl__stack stacks[TVL__STACK_CACHE_MAX]; /* freed, reused first */
    unsigned n;
    char *fresh;        /* the guard of the next never-used stack of the batch */
    unsigned fresh_left;
    size_t fresh_size;  /* usable bytes of the batch's stacks */
    unsigned next_batch;
    bool exit_hook;     /* the thread-exit destructor is registered */
    /* The ranges of one batch's two process_madvise calls: here rather than
     * on the caller's stack, which may be a fiber's 16 KiB. */
    struct iovec guards[BATCH_MAX], tops[BATCH_MAX];
} cache;

/* A thread that ends without tvl_fiber_thread_cleanup() would leak its
 * cache and the rest of its batch: a key's destructor drains them. */
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

static void drain_at_exit(void *unused)
{
    (void)unused;
    tvl__stack_cache_drain();
}

static void make_exit_key(void)
{
    (void)pthread_key_create(&exit_key, drain_at_exit);
}

/* Applies `advice` to n ranges of this process in one system call. False
 * if the kernel cannot (before 6.13 process_madvise takes only a few
 * advices, and before 5.10 it does not exist). A pidfd is opened each
 * time: one cached across a fork() would name the parent. */
static bool madvise_batch(struct iovec *iov, size_t n, int advice)
{
#if defined(SYS_process_madvise) && defined(SYS_pidfd_open)
    if (RUNNING_ON_VALGRIND)
        return false;
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (pidfd < 0)
        return false;
    size_t want = 0;
    for (size_t i = 0; i < n; i++)
        want += iov[i].iov_len;
    long done = syscall(SYS_process_madvise, pidfd, iov, n, advice, 0);
    close(pidfd);
    return done == (long)want;
#else
    (void)iov, (void)n, (void)advice;
    return false;
#endif
}

/* Maps a batch of `count` stacks of `size` usable bytes, each with its
 * guard below it, and makes it the thread's fresh reserve (any earlier
 * remainder must have been used up). Returns 0 or -ENOMEM. */
static int make_batch(size_t size, unsigned count)
{
    size_t guard = round_up(GUARD_BYTES, page_size());
    size_t per = guard + size;
    if (count > 1 && per * count > BATCH_MAX_BYTES)
        count = per >= BATCH_MAX_BYTES ? 1 : (unsigned)(BATCH_MAX_BYTES / per);
    /* NORESERVE: 10,000 fibers of 64 KiB reserve no swap; pages are only
     * committed when touched (or populated). */
    char *p = mmap(NULL, per * count, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED && count > 1) {
        count = 1; /* address space is short: one stack may still fit */
        p = mmap(NULL, per, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    }
    if (p == MAP_FAILED)
        return -ENOMEM;
    struct iovec *guards = cache.guards, *tops = cache.tops;
    size_t ready = READY_PAGES * page_size();
    for (unsigned i = 0; i < count; i++) {
        guards[i] = (struct iovec){p + i * per, guard};
        tops[i] = (struct iovec){p + (i + 1) * per - ready, ready};
    }
    if (!madvise_batch(guards, count, MADV_GUARD_INSTALL)) {
        for (unsigned i = 0; i < count; i++) {
            if (mprotect(guards[i].iov_base, guard, PROT_NONE) != 0) {
                munmap(p, per * count);
                return -ENOMEM; /* ENOMEM is mprotect's only plausible failure */
            }
        }
    }
    /* Best effort: without it the first touch faults the page in. */
    (void)madvise_batch(tops, count, MADV_POPULATE_WRITE);
    cache.fresh = p;
    cache.fresh_left = count;
    cache.fresh_size = size;
    return 0;
}

/* Takes the next stack of the fresh reserve. */
static void take_fresh(struct tvl__stack *st)
{
    size_t guard = round_up(GUARD_BYTES, page_size());
    st->map = cache.fresh;
    st->map_size = guard + cache.fresh_size;
    st->lo = cache.fresh + guard;
    st->size = cache.fresh_size;
    st->vg_id = VALGRIND_STACK_REGISTER(st->lo, st->lo + st->size);
    cache.fresh += st->map_size;
    cache.fresh_left--;
}

/* Returns the unused rest of the fresh reserve to the system. */
static void drop_fresh(void)
{
    if (cache.fresh_left > 0) {
        size_t guard = round_up(GUARD_BYTES, page_size());
        munmap(cache.fresh, cache.fresh_left * (guard + cache.fresh_size));
    }
    cache.fresh = NULL;
    cache.fresh_left = 0;
}

static void unmap_stack(struct tvl__stack *st)
{
    VALGRIND_STACK_DEREGISTER(st->vg_id);
    /* A stack's guard and usable part are a range of its batch's mapping;
     * munmap of a part of a mapping is fine. */
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
    if (cache.fresh_left == 0 || cache.fresh_size != size) {
        if (cache.fresh_size != size)
            cache.next_batch = BATCH_MIN; /* another size: start small again */
        drop_fresh();
        if (!cache.exit_hook) {
            pthread_once(&exit_key_once, make_exit_key);
            /* Any non-NULL value: it only makes the destructor run. */
            cache.exit_hook = pthread_setspecific(exit_key, &cache) == 0;
        }
        unsigned count = cache.next_batch < BATCH_MIN ? BATCH_MIN : cache.next_batch;
        int rc = make_batch(size, count);
        if (rc != 0)
            return rc;
        cache.next_batch = count * 2 > BATCH_MAX ? BATCH_MAX : count * 2;
    }
    take_fresh(st);
    return 0;
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
    drop_fresh();
    cache.next_batch = 0;
}
