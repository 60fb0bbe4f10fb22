/* Internal: prepare the main heap just ahead of its use, so that a burst
 * of thousands of transfers does not take one page fault per new page.
 *
 * On the VM this project is measured on, the first touch of a 4 KiB page
 * costs 11-12 us (a fault, and the hypervisor mapping the page); populated
 * in bulk beforehand (madvise MADV_POPULATE_WRITE), 0.5 us a page plus
 * still about 5 us at its first touch. A 2 MiB transparent huge page made
 * by MADV_COLLAPSE costs 0.4-1.0 us per 4 KiB it holds, all included,
 * once the host backs the memory (7.7 us the first time it does not): the
 * hypervisor maps one entry instead of 512. (Measured by touching
 * 64 MiB at a time, 2 December 2026.)
 *
 * How: glibc grows the main heap (brk) with a pad of TVL__PREFAULT_PAD.
 * libcurl's allocations go through hooks (rt/curl_global.c) that call
 * tvl__prefault_check(); when an allocation ends beyond what is prepared,
 * the heap is populated in small pages through the end of its 1 MiB
 * chunk, in one system call. The pad is address space only: nothing is
 * touched before an allocation comes near it. TVL_PREFAULT=0 turns it off,
 * to measure what it saves; on a machine where faults are cheap this
 * changes little either way.
 *
 * TVL_PREFAULT=huge prepares 2 MiB blocks instead: a block wholly below
 * the break is collapsed into one transparent huge page (MADV_COLLAPSE,
 * Linux 6.1; its few pages already written are copied), the block the
 * break cuts is populated in small pages and collapsed once the break has
 * moved past it. It is not the default: measured with a threads burst run
 * before each loop burst (the way make bench and make targets interleave
 * programs), 5,000 requests took a median of 0.660 s with huge pages
 * against 0.540 s with small ones and 0.548 s unprepared (eight runs
 * each, 2 December 2026; /proc/vmstat counted no compaction, only the
 * collapses, and why they cost more then is not known); run after run of
 * the loop alone it was a little faster (0.523 against 0.532 s, fifteen
 * each).
 *
 * The cost in memory: up to one chunk (1 MiB, or a 2 MiB block with huge
 * pages) prepared and never used, and
 * pages of large blocks that are only partly written (a 16 KiB receive
 * buffer holding a 200-byte answer) become resident whole, which is why
 * the HTTP layer keeps curl's receive buffer small.
 *
 * Process-wide side effects: M_TOP_PAD is one setting for the whole
 * process, and setting it also freezes glibc's dynamic mmap threshold at
 * its default (128 KiB: larger blocks are always mapped and unmapped on
 * their own) until the process ends; turning prefaulting off restores the
 * pad, not the dynamic threshold.
 *
 * Threads: the on/off flag and the prepared mark are the calling thread's.
 * Enable it on the thread whose allocations should be covered (the loop's,
 * which must be the process's first thread for its allocations to come
 * from the brk heap); tvl__prefault_check() does nothing on other threads,
 * so it may be called from anywhere. */
#ifndef TVL_RT_PREFAULT_H
#define TVL_RT_PREFAULT_H

#include <stdbool.h>
#include <stddef.h>

/* glibc's extra sbrk growth while prefaulting (its M_TOP_PAD; default
 * 128 KiB): large, so that the break moves seldom, and most 2 MiB blocks
 * lie wholly below it when huge pages are asked for. */
#define TVL__PREFAULT_PAD ((unsigned long)32 << 20)

/* Turns prefaulting on for the calling thread (and sets M_TOP_PAD), or off
 * (restoring glibc's default pad). The environment variable TVL_PREFAULT=0
 * keeps it off and TVL_PREFAULT=huge uses huge pages, to measure
 * what each saves. Returns whether it is on. */
bool tvl__prefault_enable(bool on);

/* After an allocation of n bytes at p (NULL: none): if it ends beyond what
 * is prepared, prepares the heap through its block. Cheap when it does not
 * (a compare). */
void tvl__prefault_check(void *p, size_t n);

/* The size of a transparent huge page, if the kernel has them and it is a
 * power of two no larger than 4 MiB (larger ones would make the resident
 * set jump too far); else 0, and the heap is prepared in small pages. */
size_t tvl__prefault_huge_page_size(void);

#endif
