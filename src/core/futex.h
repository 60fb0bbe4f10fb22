/* Thin wrappers over the Linux futex syscall, private to libtvl.
 *
 * Every caller re-checks its own atomic word after a wait returns: a wait may
 * end spuriously, on a signal, or because the value already differed, and the
 * happens-before edge always comes from that atomic load, never from the
 * syscall (which is why ThreadSanitizer needs no annotation here). */
#ifndef TVL_CORE_FUTEX_H
#define TVL_CORE_FUTEX_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Now on CLOCK_MONOTONIC, in nanoseconds. */
static inline int64_t tvl__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* An absolute CLOCK_MONOTONIC deadline timeout_ns from now; -1 (forever) for
 * a negative timeout. Saturates instead of overflowing. */
static inline int64_t tvl__deadline_after(int64_t timeout_ns)
{
    if (timeout_ns < 0)
        return -1;
    int64_t now = tvl__now_ns();
    return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

/* Sleeps while *word == expected, until woken or until the absolute
 * CLOCK_MONOTONIC deadline (ns; negative: none). Returns 0 when woken or when
 * the value differed, -ETIMEDOUT at the deadline, -EINTR on a signal. */
static inline int tvl__futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t deadline_ns)
{
    struct timespec ts, *tsp = NULL;
    if (deadline_ns >= 0) {
        ts.tv_sec = (time_t)(deadline_ns / 1000000000);
        ts.tv_nsec = (long)(deadline_ns % 1000000000);
        tsp = &ts;
    }
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, so a loop
     * of waits needs no recomputation of the remaining time. */
    long r = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected,
                     tsp, NULL, FUTEX_BITSET_MATCH_ANY);
    if (r == 0 || errno == EAGAIN)
        return 0;
    return errno == ETIMEDOUT ? -ETIMEDOUT : -EINTR;
}

/* Wakes up to n threads sleeping on word (INT_MAX: all). */
static inline void tvl__futex_wake(_Atomic uint32_t *word, int n)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
}

/* A hint inside spin loops. */
static inline void tvl__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
