/* The internal interface between the files of the event-loop runtime: the
 * loop (epoll, run queue, cross-thread posts), timers, the scheduler of
 * task fibers, and the HTTP multi handle.
 *
 * Threads: everything here is for the loop's thread only (the thread that
 * called tvl_rt_init), except tvl__sched_wake_any(), which any thread may
 * call. Nothing here takes a lock but the cross-thread post queue.
 *
 * Contexts: a tvl__task is either a worker fiber (running one task body at
 * a time, reused for the next one) or the main context, the code that runs
 * on the thread's own stack (the program's main, the loop itself). A wait
 * on a fiber suspends the fiber; a wait on the main context runs the loop
 * until the wait is over: an await from the main program runs the loop
 * until the future is done.
 */
#ifndef TVL_RT_LOOP_LOOP_H
#define TVL_RT_LOOP_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiber/fiber.h"
#include "rt/backend.h"

/* ---- timers (timer.c) ------------------------------------------------------ */

/* A one-shot timer in the loop's binary min-heap, ordered by deadline and,
 * for equal deadlines, by arming order. Storage is the owner's. Arming,
 * re-arming and disarming are O(log n) and never a system call: the loop
 * computes its epoll_wait timeout from the earliest deadline. */
typedef struct tvl__timer {
    int64_t deadline;   /* absolute, CLOCK_MONOTONIC nanoseconds */
    uint64_t seq;       /* arming order, the tie-break */
    size_t slot;        /* index in the heap; TVL__TIMER_IDLE when not armed */
    void (*fire)(struct tvl__timer *t);
} tvl__timer;

#define TVL__TIMER_IDLE ((size_t)-1)

void tvl__timer_init(tvl__timer *t, void (*fire)(tvl__timer *t));

/* Arms t (or moves it, if armed) to fire at deadline. Returns 0 or -ENOMEM
 * (the heap could not grow; t is then not armed). */
int tvl__timer_arm(tvl__timer *t, int64_t deadline);

/* Disarms t; nothing if it is not armed. */
void tvl__timer_disarm(tvl__timer *t);

static inline bool tvl__timer_armed(const tvl__timer *t)
{
    return t->slot != TVL__TIMER_IDLE;
}

/* The earliest deadline armed, or INT64_MAX. */
int64_t tvl__timers_next(void);

/* Fires, in deadline order, every timer due at `now` (each is disarmed
 * before its fire function runs, which may re-arm it or others). */
void tvl__timers_run(int64_t now);

/* How many timers are armed (for tests and shutdown checks). */
size_t tvl__timers_count(void);

/* Frees the heap's array; no timer may be armed. */
void tvl__timers_free(void);

/* ---- contexts and the scheduler (sched.c) ------------------------------------ */

typedef struct tvl__task tvl__task;
struct tvl__task {
    tvl_fiber *fiber;   /* NULL: the main context */
    tvl_future *future; /* the executor's reference to the body it runs; NULL when idle */
    tvl__task *next;    /* run queue, or the idle list */
    bool queued;        /* on the run queue */
    bool parked;        /* suspended in tvl__sched_park() */
    int reason;         /* why the park ended: 0, -ETIMEDOUT, -ECANCELED */
    tvl__timer timer;   /* the park's deadline */
};

/* The context running now: a worker fiber, or the main context. Never NULL
 * while the runtime is up. */
tvl__task *tvl__sched_current(void);

/* Suspends the calling context until it is woken (tvl__sched_wake), until
 * the absolute deadline (INT64_MAX: none), or, if `cancellable` and the
 * context runs a task, until that task gets a cancel request (checked
 * first, so a cancelled task never suspends here). Returns 0 (woken),
 * -ETIMEDOUT or -ECANCELED. A return of 0 may be spurious: every caller
 * re-checks its own condition and parks again. */
int tvl__sched_park(int64_t deadline, bool cancellable);

/* Makes t runnable if it is parked, with the given reason; otherwise does
 * nothing (the parked code re-checks its condition anyway). Loop thread. */
void tvl__sched_wake(tvl__task *t, int reason);

/* tvl__sched_wake() from any thread: on another thread the wake is posted
 * to the loop and applied there. t must stay allocated (task records live
 * until shutdown, so this holds). */
void tvl__sched_wake_any(tvl__task *t, int reason);

/* Switches to t's fiber and comes back when it parks, yields or ends. */
void tvl__sched_run(tvl__task *t);

/* Queues a future created by tvl_future_create() to run on a worker,
 * taking over the caller's reference on success (tvl_rt_run's main task;
 * tvl_spawn counts its own). Returns 0, -ENOMEM or -ESHUTDOWN. */
int tvl__sched_start(tvl_future *f);

/* Tasks spawned, workers running a body now, and the most at once since
 * the last reset (every task runs on its own fiber while it lives). */
void tvl__sched_stats(uint64_t *n_spawned, uint64_t *live, uint64_t *peak);
void tvl__sched_reset_peak(void);

/* Starts tasks held back by admission (sched.c) while the gate is open;
 * the loop calls it at the top of every iteration. */
void tvl__sched_admit(void);

/* Whether tvl__sched_admit() would start something now (the loop must not
 * sleep then). */
bool tvl__sched_admissible(void);

/* On the main context: runs the loop until every task has ended, held-back
 * ones included. */
void tvl__sched_drain(void);

/* Sets up the main context; frees every idle worker fiber. */
void tvl__sched_open(void);
void tvl__sched_close(void);

/* ---- the loop (loop.c) ----------------------------------------------------- */

int tvl__loop_open(void);
void tvl__loop_close(void);

/* True on the loop's thread. */
bool tvl__loop_on_thread(void);

/* Appends t to the run queue (once: a queued task stays where it is). */
void tvl__loop_ready(tvl__task *t);

/* Runs one iteration: every task that was ready when it began, then one
 * epoll_wait, then the I/O callbacks, then the timers due. The epoll_wait
 * blocks (until the next timer or I/O) only if nothing is ready and
 * *block_while is still true after the tasks ran; NULL never blocks. */
void tvl__loop_iterate(const bool *block_while);

/* Posts a wake from another thread; applied on the loop's thread at its
 * next iteration (an eventfd wakes its epoll_wait). Returns 0 or -ENOMEM. */
int tvl__loop_post(tvl__task *t, int reason);

/* Sets the epoll interest of fd (EPOLLIN/EPOLLOUT bits; 0 removes it).
 * Events on fd go to tvl__http_on_socket(). Returns 0 or a negative errno.
 * For a socket marked owned, removing keeps it in the epoll set, idle:
 * a kept-alive connection goes idle after every response and is wanted
 * again with the same interest by the next request, and that saves an
 * EPOLL_CTL_DEL and an EPOLL_CTL_ADD a request. An event on an idle
 * socket (the server closed it) removes it then. */
int tvl__loop_fd_set(int fd, uint32_t events);

/* Marks fd as a socket we opened and will be told of before it is closed
 * (tvl__loop_fd_closing): only such sockets stay in the epoll set while
 * idle. Another descriptor (curl's resolver pipes, which curl closes
 * itself) could be closed and its number reused behind our back. */
int tvl__loop_fd_owned(int fd);
void tvl__loop_fd_closing(int fd);

/* ---- HTTP (http_multi.c) --------------------------------------------------- */

int tvl__http_multi_open(const tvl_rt_options *opts);
void tvl__http_multi_close(void);

/* The loop's hooks: an epoll event on a socket curl asked for, and the end
 * of a batch of events (completed transfers are collected then). */
void tvl__http_on_socket(int fd, uint32_t events);
void tvl__http_after_events(void);

/* Transfers in flight (added to the multi handle, not yet completed). */
unsigned tvl__http_in_flight(void);

#endif
