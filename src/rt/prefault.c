/* Preparing the main heap ahead of its use (see prefault.h for why, and
 * for what it changes in glibc for the whole process).
 *
 * The state is the calling thread's: the loop runtime enables it on its
 * own thread, whose allocations come from glibc's main arena (the one that
 * grows with brk) when it is the process's first thread. sbrk(0) only
 * reads glibc's cached break (no system call); if another thread moved the
 * break at the same moment, the worst outcome is a block prepared one
 * allocation late (its pages fault as they would without us). */
#include "rt/prefault.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/* glibc's default M_TOP_PAD (DEFAULT_TOP_PAD), set again when turned off. */
#define GLIBC_TOP_PAD (128 * 1024)

/* A huge page larger than this (aarch64 with 64 KiB pages has 512 MiB
 * ones) would make the resident set jump by too much: blocks are then
 * populated in small pages only. */
#define HUGE_MAX ((uintptr_t)4 << 20)

static _Thread_local bool enabled;
static _Thread_local uintptr_t prepared_end; /* the heap is prepared up to here */
static _Thread_local uintptr_t huge;         /* the huge page size; 0: small pages only */

static uintptr_t page_down(uintptr_t a)
{
    uintptr_t p = (uintptr_t)sysconf(_SC_PAGESIZE);
    return a & ~(p - 1);
}

size_t tvl__prefault_huge_page_size(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "re");
    unsigned long v = 0;
    if (f != NULL) {
        if (fscanf(f, "%lu", &v) != 1)
            v = 0;
        fclose(f);
    }
    if (v == 0 || v > HUGE_MAX || (v & (v - 1)) != 0 || v < (unsigned long)sysconf(_SC_PAGESIZE))
        return 0;
    return (size_t)v;
}

bool tvl__prefault_enable(bool on)
{
    const char *env = getenv("TVL_PREFAULT");
    if (on && env != NULL && strcmp(env, "0") == 0)
        on = false;
    if (on == enabled)
        return on;
    mallopt(M_TOP_PAD, on ? (int)TVL__PREFAULT_PAD : GLIBC_TOP_PAD);
    if (on) {
        huge = env != NULL && strcmp(env, "huge") == 0 ? tvl__prefault_huge_page_size() : 0;
        /* The first time, what lies below the break is glibc's and the
         * program's so far (with glibc's default pad, at most 128 KiB of
         * it untouched); the first block prepared may take it in (a
         * collapse keeps the contents of the pages it replaces). Later,
         * what an earlier enabling prepared still is, and what lies above
         * it (the rest of the pad) still is not. */
        uintptr_t brk_now = (uintptr_t)sbrk(0);
        if (prepared_end == 0 || prepared_end > brk_now)
            prepared_end = brk_now;
    }
    enabled = on;
    return on;
}

/* Small pages are populated this much at a time: one system call a MiB. */
#define SMALL_CHUNK ((uintptr_t)1 << 20)

static uintptr_t chunk_size(void)
{
    return huge != 0 ? huge : SMALL_CHUNK;
}

typedef enum collapse_result {
    COLLAPSED,     /* the block is one huge page now */
    NOT_NOW,       /* this block in small pages */
    NO_HUGE_PAGES, /* the kernel cannot: small pages from now on */
} collapse_result;

/* Collapses the huge-page block at `block` into one huge page. EINVAL
 * comes from a kernel before 6.1 or with THP turned off, and also from a
 * block no page of which was ever touched (a large allocation can leave
 * one): such a block is populated and tried once more, and only a second
 * EINVAL means no huge pages. EAGAIN, ENOMEM (no huge page free right
 * now, or a block reaching below the heap's start): not now. */
static collapse_result collapse(uintptr_t block)
{
    if (madvise((void *)block, huge, MADV_COLLAPSE) == 0)
        return COLLAPSED;
    if (errno != EINVAL)
        return NOT_NOW;
    if (madvise((void *)block, huge, MADV_POPULATE_WRITE) == 0 &&
        madvise((void *)block, huge, MADV_COLLAPSE) == 0)
        return COLLAPSED;
    return errno == EINVAL ? NO_HUGE_PAGES : NOT_NOW;
}

/* Prepares the heap from prepared_end up to `to` (at most brk_now), a
 * chunk at a time: a huge-page block wholly below the break is collapsed
 * into one huge page; the block the break cuts, or any block when huge
 * pages are off, is populated in small pages (a later call collapses it
 * once the break has moved past it). */
static void prepare(uintptr_t to, uintptr_t brk_now)
{
    while (prepared_end < to) {
        uintptr_t block = prepared_end & ~(chunk_size() - 1);
        if (huge != 0 && block + huge <= brk_now) {
            collapse_result r = collapse(block);
            if (r == COLLAPSED) {
                prepared_end = block + huge;
                continue;
            }
            if (r == NO_HUGE_PAGES) {
                huge = 0; /* the chunks are smaller now */
                continue;
            }
        }
        uintptr_t from = page_down(prepared_end), stop = block + chunk_size();
        if (stop > brk_now)
            stop = brk_now;
        /* Best effort: without MADV_POPULATE_WRITE (Linux < 5.14) pages
         * fault in as they are touched, as they always did. */
        (void)madvise((void *)from, stop - from, MADV_POPULATE_WRITE);
        prepared_end = stop;
    }
}

void tvl__prefault_check(void *p, size_t n)
{
    uintptr_t end = (uintptr_t)p + n;
    if (!enabled || p == NULL || end <= prepared_end)
        return;
    uintptr_t brk_now = (uintptr_t)sbrk(0);
    if (brk_now < prepared_end)
        prepared_end = brk_now; /* trimmed: follow it down */
    if ((uintptr_t)p >= brk_now)
        return; /* a block glibc mapped on its own, not the heap */
    /* Through the end of the chunk that holds the allocation: the next
     * allocations come from just above it. */
    uintptr_t to = ((end - 1) & ~(chunk_size() - 1)) + chunk_size();
    prepare(to < brk_now ? to : brk_now, brk_now);
}
