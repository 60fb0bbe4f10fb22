/* Internal: populate the main heap ahead of its growth, so that a burst of
 * thousands of transfers does not take one page fault per new page.
 *
 * On the VM this project is measured on, a page fault costs about 14 us,
 * while populating pages in bulk (madvise MADV_POPULATE_WRITE) costs about
 * 0.7 us a page. Of the 1.0 s the loop build took for 5,000 concurrent
 * requests, about 0.3 s went to first touches of new heap pages (curl's
 * easy handles, connections and buffers). With prefaulting on, glibc grows
 * the main heap (brk) in steps of TVL__PREFAULT_STEP, and the first
 * allocation that sees the break moved populates the new range in one
 * system call. On a machine where faults are cheap this changes nothing
 * measurable either way.
 *
 * The cost in memory: up to one step of populated heap that may never be
 * used, and pages of large blocks that are only partly written (a 16 KiB
 * receive buffer holding a 200-byte answer) become resident whole, which
 * is why the HTTP layer keeps curl's receive buffer small.
 *
 * Process-wide side effects: M_TOP_PAD is one setting for the whole
 * process, and setting it also freezes glibc's dynamic mmap threshold at
 * its default (128 KiB: larger blocks are always mapped and unmapped on
 * their own) until the process ends; turning prefaulting off restores the
 * pad, not the dynamic threshold.
 *
 * Threads: the on/off flag and the populated mark are the calling thread's.
 * Enable it on the thread whose allocations should be covered (the loop's,
 * which must be the process's first thread for its allocations to come
 * from the brk heap); tvl__prefault_check() does nothing on other threads,
 * so it may be called from anywhere. */
#ifndef TVL_RT_PREFAULT_H
#define TVL_RT_PREFAULT_H

#include <stdbool.h>

/* glibc's sbrk increment while prefaulting (its M_TOP_PAD; default 128 KiB). */
#define TVL__PREFAULT_STEP ((unsigned long)1 << 20)

/* Turns prefaulting on for the calling thread (and sets M_TOP_PAD), or off
 * (restoring glibc's default pad). The environment variable TVL_PREFAULT=0
 * keeps it off, to measure what it saves. Returns whether it is on. */
bool tvl__prefault_enable(bool on);

/* After an allocation: if the break moved past what is populated, populate
 * the new range. Cheap when it did not (a compare). */
void tvl__prefault_check(void);

#endif
