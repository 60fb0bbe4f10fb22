/* The context switch: one backend is compiled in, switch_<arch>.S where we
 * wrote one for the CPU, switch_ucontext.c otherwise (Makefile, FIBER_SWITCH).
 *
 * A context is an opaque handle. For the assembly backends it is the saved
 * stack pointer, below which the callee-saved registers lie; for ucontext it
 * is a ucontext_t. fiber.c only stores handles and passes them back. */
#ifndef TVL_FIBER_SWITCH_H
#define TVL_FIBER_SWITCH_H

#include <stddef.h>

/* Prepares the stack [lo, lo + size) so that the first tvl__ctx_switch() to
 * the returned handle calls start(arg) on that stack, 16-byte aligned as the
 * ABI wants at a call. start must never return. Writes only near the top of
 * the stack; cannot fail. */
void *tvl__ctx_make(void *lo, size_t size, void (*start)(void *arg), void *arg);

/* Saves the running context into *save and resumes the context `to`; returns
 * when some later switch resumes *save. The slot of a context that was never
 * made (a thread's main context) starts out NULL. save and `to` must not
 * name the same context. */
void tvl__ctx_switch(void **save, void *to);

/* The backend's name, for tvl_fiber_backend(). */
extern const char tvl__ctx_backend[];

#endif
