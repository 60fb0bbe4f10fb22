/* Fibers: stackful coroutines that the event-loop runtime runs task bodies on,
 * so that a blocking-style body suspends instead of blocking the loop.
 *
 * A fiber has its own stack (mmap'd, MAP_NORESERVE, so only touched pages
 * cost memory) with a PROT_NONE guard region below it; running off the end
 * of the stack hits the guard and the process aborts with the message
 * "tvl: fiber N overflowed its S-byte stack (guard page hit)" instead of
 * corrupting memory. Switching saves only what the ABI says a callee keeps
 * (no signal mask, no syscall): a few nanoseconds.
 *
 * The model is asymmetric, as in a scheduler: each thread has a main context
 * (the code that is not on any fiber: the loop). tvl_fiber_switch() goes from
 * whatever runs now to a fiber; tvl_fiber_suspend() goes from a fiber back to
 * the main context; a fiber whose entry function returns is finished and
 * control goes back to the main context.
 *
 * Threads: fibers belong to the thread that created them. A fiber must only
 * be switched to, and destroyed, on that thread; nothing here takes a lock.
 * Different threads may each run their own fibers at the same time.
 *
 * Sanitizers and valgrind are told about every stack and every switch, so
 * `make SANITIZE=address,undefined`, `make SANITIZE=thread` and valgrind work
 * on fiber code; docs/fibers.md says what reports an overflow in each build.
 */
#ifndef TVL_FIBER_H
#define TVL_FIBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tvl_fiber tvl_fiber;

/* Usable stack bytes of a fiber created with stack_size 0, unless changed by
 * tvl_fiber_set_default_stack_size() or the environment variable
 * TVL_FIBER_STACK_SIZE (bytes, or with a k/K or m/M suffix), read once. Task
 * bodies do printf and small work; 64 KiB leaves room for glibc's printf
 * (which can use several KiB) and for ASan's larger frames. */
#define TVL_FIBER_DEFAULT_STACK ((size_t)64 * 1024)

/* Smallest usable stack; smaller requests are raised to this. */
#define TVL_FIBER_MIN_STACK ((size_t)16 * 1024)

/* Largest usable stack; larger requests fail with -EINVAL. */
#define TVL_FIBER_MAX_STACK ((size_t)1 << 30)

/* Creates a fiber that will run entry(arg) on a stack of at least
 * stack_size usable bytes (0: the default; rounded up to whole pages and to
 * TVL_FIBER_MIN_STACK). The fiber does not run until switched to. The
 * stack comes from this thread's cache of freed stacks when one of the
 * right size is there, else from mmap. On success stores the fiber in *out
 * and returns 0; on failure returns -EINVAL (entry NULL, stack_size too
 * large) or -ENOMEM, and *out is untouched. The caller owns the fiber. */
int tvl_fiber_create(tvl_fiber **out, void (*entry)(void *arg), void *arg, size_t stack_size);

/* Suspends whatever runs now (the main context or a fiber) and runs `to`
 * from where it stopped, or from its entry function the first time. Returns
 * when something switches back to the caller. `to` must belong to this
 * thread, must not be finished and must not be the caller itself. */
void tvl_fiber_switch(tvl_fiber *to);

/* Called on a fiber: suspends it and goes back to this thread's main
 * context; returns when the fiber is switched to again. Calling it on the
 * main context is a programming error (an assertion; a no-op with NDEBUG). */
void tvl_fiber_suspend(void);

/* The fiber running on this thread now, or NULL on the main context. */
tvl_fiber *tvl_fiber_current(void);

/* True once f's entry function has returned. */
bool tvl_fiber_is_finished(const tvl_fiber *f);

/* Frees f. f must be finished or never started (a suspended fiber still has
 * live frames on its stack, which cannot be unwound), and must not be the
 * current fiber. Its stack goes to this thread's cache, or back to the
 * system when the cache is full. NULL does nothing. */
void tvl_fiber_destroy(tvl_fiber *f);

/* f's id: 1, 2, 3... in order of creation, unique in the process; 0 for
 * NULL (which tvl_fiber_current() returns on the main context). For tracing. */
uint64_t tvl_fiber_id(const tvl_fiber *f);

/* f's usable stack bytes, after rounding. */
size_t tvl_fiber_stack_size(const tvl_fiber *f);

/* The default stack size, and a setter that overrides TVL_FIBER_STACK_SIZE
 * for fibers created afterwards (rounded as for tvl_fiber_create; 0 restores
 * TVL_FIBER_DEFAULT_STACK). Returns 0 or -EINVAL. Any thread. */
size_t tvl_fiber_default_stack_size(void);
int tvl_fiber_set_default_stack_size(size_t stack_size);

/* Returns this thread's cached stacks and its signal stack to the system.
 * Call it on the main context when the thread is done with fibers (all
 * destroyed), e.g. before the loop's thread exits; fibers created later
 * start a new cache. Without it the cached stacks stay mapped until exit. */
void tvl_fiber_thread_cleanup(void);

/* The context switch compiled in: "x86_64", "aarch64" or "ucontext". */
const char *tvl_fiber_backend(void);

#endif
