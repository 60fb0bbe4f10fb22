/* The portable context switch, for CPUs without an assembly backend:
 * makecontext/swapcontext. Correct everywhere glibc runs, but every switch
 * also saves and restores the signal mask, a rt_sigprocmask system call each
 * way, which makes it one to two orders of magnitude slower than the
 * assembly (see fiber-bench).
 *
 * A fiber's ucontext_t lives at the top of its own stack, so the handle of
 * switch.h is a pointer to it and never changes. The main context of each
 * thread has its ucontext_t in thread-local storage. */
#include "fiber/switch.h"

#include <stdint.h>
#include <ucontext.h>

const char tvl__ctx_backend[] = "ucontext";

struct uctx {
    ucontext_t uc;
    void (*start)(void *arg);
    void *arg;
};

static _Thread_local ucontext_t main_uc;

/* makecontext passes int arguments only: the pointer comes in two halves. */
static void trampoline(unsigned hi, unsigned lo)
{
    struct uctx *u = (struct uctx *)(uintptr_t)(((uint64_t)hi << 32) | lo);
    u->start(u->arg);
}

void *tvl__ctx_make(void *lo, size_t size, void (*start)(void *arg), void *arg)
{
    uintptr_t top = ((uintptr_t)lo + size - sizeof(struct uctx)) & ~(uintptr_t)63;
    struct uctx *u = (struct uctx *)top;
    getcontext(&u->uc);
    u->uc.uc_stack.ss_sp = lo;
    u->uc.uc_stack.ss_size = top - (uintptr_t)lo;
    u->uc.uc_link = NULL; /* start never returns */
    u->start = start;
    u->arg = arg;
    uintptr_t p = (uintptr_t)u;
    makecontext(&u->uc, (void (*)(void))trampoline, 2, (unsigned)(p >> 32), (unsigned)p);
    return u;
}

void tvl__ctx_switch(void **save, void *to)
{
    if (*save == NULL)
        *save = &main_uc;
    swapcontext(*save, to);
}
