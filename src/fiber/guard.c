/* The SIGSEGV handler that turns a hit on a fiber's guard into a clear
 * message and an abort, and the alternate signal stacks it runs on.
 *
 * The handler is chained, never a replacement: a fault that is not on a
 * guard goes to whatever handler was installed before (a sanitizer's, the
 * application's), or gets the default action, which kills the process with
 * SIGSEGV as if we were not there. */
#include "fiber/guard.h"

#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Room for our handler and for a chained sanitizer report. */
#define ALT_STACK_BYTES ((size_t)64 * 1024)

static struct sigaction previous;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static _Thread_local bool thread_done;
static _Thread_local void *alt_stack; /* ours, or NULL */

/* Writes n in decimal at the end of buf; returns where the digits start. */
static char *format_u64(char *end, uint64_t n)
{
    char *p = end;
    do {
        *--p = (char)('0' + n % 10);
        n /= 10;
    } while (n != 0);
    return p;
}

static void write_all(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void write_str(const char *s) { write_all(s, strlen(s)); }

static void write_u64(uint64_t n)
{
    char buf[24];
    char *p = format_u64(buf + sizeof buf, n);
    write_all(p, (size_t)(buf + sizeof buf - p));
}

static void on_segv(int sig, siginfo_t *si, void *uctx)
{
    uint64_t id;
    size_t size;
    if (tvl__fiber_guard_hit(si->si_addr, &id, &size)) {
        /* Only async-signal-safe calls from here: write(2) and abort(). */
        write_str("tvl: fiber ");
        write_u64(id);
        write_str(" overflowed its ");
        write_u64(size);
        write_str("-byte stack (guard page hit)\n");
        abort();
    }
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, si, uctx);
        return;
    }
    if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    /* Default action: restore it and let the fault happen again on return
     * (the faulting instruction re-executes), or re-raise a SIGSEGV that was
     * sent rather than caused (si_code <= 0), which would not recur. */
    signal(SIGSEGV, SIG_DFL);
    if (si->si_code <= 0)
        raise(SIGSEGV);
}

static void install_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous);
}

void tvl__guard_init_thread(void)
{
    if (thread_done)
        return;
    thread_done = true;
    pthread_once(&install_once, install_handler);

    /* A thread that already has an alternate stack (ASan gives one to every
     * thread) keeps it. */
    stack_t old;
    if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
        return;
    void *p = mmap(NULL, ALT_STACK_BYTES, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return;
    stack_t ss = {.ss_sp = p, .ss_size = ALT_STACK_BYTES, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(p, ALT_STACK_BYTES);
        return;
    }
    alt_stack = p;
}

void tvl__guard_cleanup_thread(void)
{
    if (alt_stack != NULL) {
        stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
        if (sigaltstack(&ss, NULL) == 0) {
            munmap(alt_stack, ALT_STACK_BYTES);
            alt_stack = NULL;
        }
    }
    thread_done = false;
}
