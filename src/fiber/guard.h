/* The guard-page report: a SIGSEGV handler that names the fiber whose stack
 * overflowed, running on an alternate signal stack (the faulting stack has
 * no room left). */
#ifndef TVL_FIBER_GUARD_H
#define TVL_FIBER_GUARD_H

#include <stddef.h>
#include <stdint.h>

/* Installs the handler (once per process) and, if this thread has no
 * alternate signal stack, gives it one (once per thread). Failure only
 * costs the clear message: an overflow still faults on the guard. */
void tvl__guard_init_thread(void);

/* Removes and unmaps this thread's alternate signal stack if we made it. */
void tvl__guard_cleanup_thread(void);

/* Defined in fiber.c, called from the signal handler, so it must be
 * async-signal-safe: true if addr lies in the guard of the fiber running on
 * this thread, with its id and usable size. */
int tvl__fiber_guard_hit(const void *addr, uint64_t *id, size_t *size);

#endif
