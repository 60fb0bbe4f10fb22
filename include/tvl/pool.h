/* A work-stealing pthread pool that runs futures.
 *
 * Each worker owns a Chase-Lev deque: a task submitted from a worker is
 * pushed there and popped LIFO by its owner; idle workers steal FIFO from
 * random victims. Tasks submitted from threads that are not workers go to a
 * shared injection queue. Idle workers park with no lost wake-up and use no
 * CPU. A worker that waits on a future runs other tasks meanwhile (a helping
 * join), so tasks that wait on their children never deadlock the pool.
 *
 * Blocking compensation: a task that is about to block (a blocking
 * curl_easy_perform, a sleep) says so with tvl_blocking_begin(); while
 * workers are blocked and work is queued, the pool starts spare workers, up
 * to max_threads, so that blocked workers do not hold up queued tasks.
 * Spares retire after an idle period. A fixed pool never compensates, which
 * is what shows the "waves" of a small pool.
 *
 * Threads: every function may be called from any thread, including from
 * inside a task, except tvl_pool_destroy(), which must not be called from a
 * worker of the pool being destroyed.
 */
#ifndef TVL_POOL_H
#define TVL_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tvl/future.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tvl_pool tvl_pool;

typedef struct tvl_pool_options {
    unsigned workers;       /* core workers; 0: the number of online CPUs */
    bool fixed;             /* true: exactly `workers` threads, no spares */
    unsigned max_threads;   /* ceiling on live threads with compensation;
                               0: the default (TVL_POOL_DEFAULT_MAX_THREADS,
                               lowered to fit RLIMIT_NPROC) */
    unsigned spare_idle_ms; /* a spare idle this long retires; 0: 1000 */
    size_t stack_size;      /* per worker; 0: TVL_POOL_DEFAULT_STACK */
} tvl_pool_options;

#define TVL_POOL_DEFAULT_MAX_THREADS 10240u
#define TVL_POOL_DEFAULT_STACK ((size_t)256 * 1024)

/* Fills *o with the defaults (compensating pool, one core worker per CPU). */
void tvl_pool_options_init(tvl_pool_options *o);

/* Creates a pool and starts its core workers. opts may be NULL for the
 * defaults. On success stores the pool in *out and returns 0; on failure
 * returns -EINVAL (bad options), -ENOMEM or -EAGAIN (thread creation), and
 * nothing is left allocated or running. */
int tvl_pool_create(const tvl_pool_options *opts, tvl_pool **out);

/* Submits fn(self, arg, &result) to run on the pool. From a worker of this
 * pool the task goes to that worker's deque (LIFO, cheap); from any other
 * thread, to the injection queue, which holds 16,384 tasks: a submitter
 * that finds it full runs the task itself before returning (back-pressure,
 * like Java's CallerRunsPolicy; counted in caller_runs), so a task may run
 * on the submitting thread. If out is not NULL the caller receives a
 * reference to the task's future; otherwise the task is fire-and-forget.
 * Returns 0, -EINVAL (NULL pool or fn), -ENOMEM, or -ESHUTDOWN once the
 * pool is being destroyed in TVL_SHUTDOWN_CANCEL mode (in DRAIN mode, tasks
 * submitted by running tasks are still accepted and run). A thread that is
 * not a worker must not submit concurrently with tvl_pool_destroy(): such a
 * task may be accepted and then end CANCELLED without running. */
int tvl_pool_submit(tvl_pool *pool, tvl_task_fn fn, void *arg, tvl_future **out);

typedef enum tvl_shutdown {
    TVL_SHUTDOWN_DRAIN,  /* run everything queued, including tasks that
                            running tasks submit, then stop */
    TVL_SHUTDOWN_CANCEL, /* queued tasks end CANCELLED without running;
                            running tasks get a cancel request */
} tvl_shutdown;

/* Shuts the pool down as `mode` says, joins every thread it started and
 * frees it. NULL does nothing. Futures handed out stay valid (their owners
 * still unref them). Called from a worker of this pool, it aborts. */
void tvl_pool_destroy(tvl_pool *pool, tvl_shutdown mode);

/* ---- blocking regions ---------------------------------------------------- */

/* Brackets a call that blocks the thread (a blocking transfer, a sleep). On
 * a worker of a compensating pool, begin counts the worker as blocked and,
 * if work is queued and no idle worker can take it, starts a spare; end
 * counts it as running again. Off a worker, both do nothing. Regions do not
 * nest. */
void tvl_blocking_begin(void);
void tvl_blocking_end(void);

/* ---- introspection ------------------------------------------------------- */

/* The pool whose worker is the calling thread, or NULL. */
tvl_pool *tvl_pool_current(void);

/* A small integer naming the calling worker (0.. threads_started-1), or -1
 * off a worker. Spares get fresh numbers; numbers are not reused. */
int tvl_pool_worker_id(void);

typedef struct tvl_pool_stats {
    uint64_t threads_started; /* every thread ever started, spares included */
    uint64_t peak_threads;    /* most threads alive at once */
    uint64_t live_threads;    /* alive now */
    uint64_t spares_retired;  /* spares that exited after idling */
    uint64_t tasks_run;       /* bodies executed */
    uint64_t steals;          /* tasks taken from another worker's deque */
    uint64_t parks;           /* times a worker went to sleep */
    uint64_t blocked_now;     /* workers inside a blocking region, or parked
                                 in a join or timed wait, now */
    uint64_t caller_runs;     /* tasks a submitter that is not a worker ran
                                 itself because the queue was full */
} tvl_pool_stats;

/* A consistent-enough snapshot (each counter read atomically; the set is
 * not one instant). */
void tvl_pool_get_stats(tvl_pool *pool, tvl_pool_stats *st);

/* Restarts peak_threads from the threads alive now, to measure one phase. */
void tvl_pool_reset_peak(tvl_pool *pool);

/* The options the pool runs with, every default filled in. Any thread. */
void tvl_pool_get_options(const tvl_pool *pool, tvl_pool_options *o);

/* Sets how many live threads a compensating pool may reach now, from
 * `workers` up to its max_threads (which is also where it starts): at the
 * limit it starts no spare and queued tasks wait instead. Lowering it
 * stops no running thread; raising it starts a spare at once if workers
 * are blocked while tasks wait. Any thread. Returns 0, or -EINVAL (NULL, a
 * fixed pool, or a limit outside that range). */
int tvl_pool_set_thread_limit(tvl_pool *pool, unsigned limit);

#ifdef __cplusplus
}
#endif
#endif
