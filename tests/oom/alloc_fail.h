/* An allocation-failure hook for the out-of-memory tests: this test binary
 * is linked with --wrap=malloc,calloc,realloc, so every allocation our code
 * makes goes through here and the Nth one on the calling thread can be made
 * to fail (libraries' own allocations are not affected). */
#ifndef TVL_TESTS_ALLOC_FAIL_H
#define TVL_TESTS_ALLOC_FAIL_H

/* From now on, on this thread, allocation number `n` (0-based) fails, and
 * so does every later one if `sticky`. n < 0 disarms. */
void alloc_fail_arm(long n, int sticky);

/* Allocations counted on this thread since the last arm. */
long alloc_fail_calls(void);

/* Whether an allocation has been failed since the last arm. */
int alloc_fail_fired(void);

#endif
