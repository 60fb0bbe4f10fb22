/* Populating the main heap ahead of its growth (see prefault.h for why,
 * and for what it changes in glibc for the whole process).
 *
 * The flag and the mark are the calling thread's: the loop runtime enables
 * it on its own thread, whose allocations come from glibc's main arena
 * (the one that grows with brk) when it is the process's first thread.
 * sbrk(0) only reads glibc's cached break (no system call); if another
 * thread moved the break at the same moment, the worst
 * outcome is a range populated one step late (its pages fault as they
 * would without us). */
#include "rt/prefault.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* glibc's default M_TOP_PAD (DEFAULT_TOP_PAD), set again when turned off. */
#define GLIBC_TOP_PAD (128 * 1024)

static _Thread_local bool enabled;
static _Thread_local uintptr_t populated_end; /* the break we populated up to */

static uintptr_t page_down(uintptr_t a)
{
    uintptr_t p = (uintptr_t)sysconf(_SC_PAGESIZE);
    return a & ~(p - 1);
}

bool tvl__prefault_enable(bool on)
{
    const char *env = getenv("TVL_PREFAULT");
    if (on && env != NULL && strcmp(env, "0") == 0)
        on = false;
    if (on == enabled)
        return on;
    mallopt(M_TOP_PAD, on ? (int)TVL__PREFAULT_STEP : GLIBC_TOP_PAD);
    /* What lies below the break now is glibc's and the program's so far:
     * populated or not, it is not ours to touch. */
    populated_end = (uintptr_t)sbrk(0);
    enabled = on;
    return on;
}

void tvl__prefault_check(void)
{
    if (!enabled)
        return;
    uintptr_t brk_now = (uintptr_t)sbrk(0);
    if (brk_now <= populated_end) {
        populated_end = brk_now; /* trimmed: follow it down */
        return;
    }
    /* The page holding the old end was touched by whoever wrote there. */
    uintptr_t from = page_down(populated_end);
    /* Best effort: without MADV_POPULATE_WRITE (Linux < 5.14) pages fault
     * in as they are touched, as they always did. */
    (void)madvise((void *)from, brk_now - from, MADV_POPULATE_WRITE);
    populated_end = brk_now;
}
