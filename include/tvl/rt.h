/* The runtime-neutral API: everything the seven ways and their task bodies
 * may call, and nothing else.
 *
 * Two runtimes implement it, and the Makefile links exactly one (as Redis
 * links ae_epoll.c or ae_kqueue.c):
 *   threads  tasks are futures on a work-stealing pthread pool; every wait
 *            is a real blocking call (curl_easy_perform, a futex, a timed
 *            condition wait) inside a blocking region of the pool;
 *   loop     one OS thread, an epoll loop with timers and libcurl's
 *            multi_socket interface; each task runs on a fiber, and a wait
 *            suspends the fiber instead of blocking the thread.
 * Code written against this header cannot tell which one it runs on, except
 * through tvl_rt_backend() (for labels in the output, never for behaviour).
 *
 * The asyncio names map as follows:
 *   asyncio.run(main())            tvl_rt_run(main, arg, NULL)
 *   asyncio.create_task(coro)      tvl_spawn()
 *   await task                     tvl_await()
 *   asyncio.sleep(t)               tvl_sleep()
 *   session.get(url) + read()      tvl_http_get()
 *   a new aiohttp.ClientSession    tvl_http_new_session()
 *   asyncio.gather(*t)             tvl_gather()
 *   asyncio.wait(t, ...)           tvl_wait()
 *   asyncio.as_completed(t)        tvl_as_completed_*()
 *   asyncio.TaskGroup()            tvl_group_*()
 *   task.cancel()                  tvl_cancel()
 *   asyncio.wait_for(t, timeout)   tvl_wait_for()
 *   asyncio.Semaphore(n)           tvl_sem_*()
 *   async for x in aiter           tvl_aiter_next()
 *
 * Tasks are tvl_future objects (tvl/future.h): the same reference-counting,
 * states, results and messages. A function here that gives you a future
 * gives you a reference; drop it with tvl_future_unref().
 *
 * Threads: the API is for the runtime's own tasks and for the code running
 * inside tvl_rt_run(). In the threads runtime that code may run on any
 * thread; in the loop runtime, only on the loop's thread.
 *
 * Errors: 0 or a negative code from tvl/error.h. Timeouts are int64_t
 * nanoseconds; a negative timeout means none.
 */
#ifndef TVL_RT_H
#define TVL_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tvl/error.h"
#include "tvl/future.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TVL_NO_TIMEOUT ((int64_t)-1)
#define TVL_MS(ms) ((int64_t)(ms) * 1000000)

/* ---- the runtime ------------------------------------------------------- */

typedef struct tvl_rt_options {
    unsigned threads;     /* threads runtime: a fixed pool of this many
                             workers; 0: the compensating pool. The loop
                             runtime refuses anything but 0. */
    unsigned max_threads; /* threads runtime: ceiling of the compensating
                             pool; 0: its default. Loop: must be 0. */
    unsigned connections; /* at most this many transfers in flight, over
                             as many connections; 0: no limit */
    long timeout_ms;      /* per request, whole transfer; 0: none */
    const char *cacert;   /* PEM file of CAs to trust instead of the
                             system store; NULL: the system store */
    bool insecure;        /* skip TLS verification (only when asked) */
} tvl_rt_options;

/* Starts the process-wide runtime. On failure returns -EINVAL (options this
 * runtime cannot honour; a one-line reason is written to errbuf) or the
 * error of what failed, and leaves nothing running. */
int tvl_rt_init(const tvl_rt_options *opts, char *errbuf, size_t errlen);

/* Stops the runtime: waits for tasks still running, frees everything. */
void tvl_rt_shutdown(void);

/* "threads" or "loop". */
const char *tvl_rt_backend(void);

/* Runs fn(self, arg, result) as the main task, like asyncio.run(), and
 * returns its error. In the threads runtime it runs on the calling thread;
 * in the loop runtime on a fiber, with the loop running until it ends. */
int tvl_rt_run(tvl_task_fn fn, void *arg, void **result);

typedef struct tvl_rt_stats {
    uint64_t threads_started; /* OS threads ever started by the runtime */
    uint64_t peak_threads;    /* most alive at once, the caller's included */
    uint64_t live_threads;
    uint64_t tasks_spawned;   /* tvl_spawn() calls that started a task */
} tvl_rt_stats;
void tvl_rt_get_stats(tvl_rt_stats *st);

/* Starts a new measurement of peak_threads from the threads alive now. */
void tvl_rt_reset_peak(void);

/* The OS thread id (gettid) of the caller, and the fiber id of the running
 * task (-1 where tasks are not fibers). For per-request timelines. The loop
 * runtime reuses fibers, so one fiber id names a lane that runs several
 * tasks one after another, as one OS thread does in the threads runtime. */
int64_t tvl_rt_thread_id(void);
int64_t tvl_rt_fiber_id(void);

/* Seconds on CLOCK_MONOTONIC. */
double tvl_now(void);

/* ---- tasks ----------------------------------------------------------- */

/* Starts fn(self, arg, &result) as a task, running concurrently with the
 * caller, and gives the caller a reference to its future. Returns 0,
 * -ENOMEM, or -ESHUTDOWN. */
int tvl_spawn(tvl_task_fn fn, void *arg, tvl_future **out);

/* The future of the task the caller runs in (the main task included);
 * borrowed, no reference. NULL outside the runtime. Use this, never
 * tvl_future_current(), which knows nothing of fibers. */
tvl_future *tvl_current(void);

/* Waits for f to end and returns tvl_future_error(f): 0 if it is done.
 * If the awaiting task is itself cancelled while waiting, f is cancelled
 * too (asyncio's rule for `await task`) and -ECANCELED is returned; the
 * threads runtime notices this only when f ends (a worker that waits helps
 * run other tasks meanwhile). */
int tvl_await(tvl_future *f);

/* Requests cancellation; see tvl_future_cancel() for the results. */
int tvl_cancel(tvl_future *f);

/* asyncio.wait_for: waits up to timeout_ns for f; on timeout cancels f,
 * waits for it to end, and returns -ETIMEDOUT. Otherwise returns f's
 * error. */
int tvl_wait_for(tvl_future *f, int64_t timeout_ns);

/* ---- blocking-style operations (inside tasks) ------------------------ */

/* Sleeps ns nanoseconds (0 yields). Returns 0, or -ECANCELED as soon as the
 * calling task is cancelled. */
int tvl_sleep(int64_t ns);

/* One HTTP GET, body read in full and checked, and its outcome. */
typedef struct tvl_http_result {
    long status;        /* HTTP status; 0 if no response arrived */
    uint64_t bytes;     /* body bytes received */
    double start_s;     /* tvl_now() when the request started */
    double sent_s;      /* when the request went out: the connection set up
                           (TCP, TLS) or reused; 0 if it never went out */
    double first_byte_s; /* when the response's first byte came; 0 if none */
    double end_s;       /* tvl_now() when it ended */
    int error;          /* 0, or why it failed (see below) */
    char message[200];  /* "" or a one-line reason */
    int64_t thread;     /* tvl_rt_thread_id() of the transfer */
    int64_t fiber;      /* tvl_rt_fiber_id() of the task, or -1 */
    bool checksum_verified; /* the server sent X-Body-Checksum and it matched */
} tvl_http_result;

/* GETs url, reading the body in full, and fills *res. A request succeeds
 * when the transfer completes, the body has its announced length (and, if
 * the server sends one, its checksum), and the status is below 400. On
 * failure res->error is negative: TVL_E_HTTP_STATUS, TVL_E_SHORT_BODY,
 * TVL_E_CHECKSUM, -ECONNREFUSED, -ECONNRESET, TVL_E_RESOLVE, TVL_E_TLS,
 * -ETIMEDOUT (the per-request timeout), -ECANCELED (the task was
 * cancelled: the transfer is aborted at once), TVL_E_TRANSFER. Returns
 * res->error. Bounded by the runtime's connection limit. */
int tvl_http_get(const char *url, tvl_http_result *res);

/* A new client session, as the original opens one per way: every
 * kept-alive connection is closed (or, in the threads runtime, closed by
 * each thread before its next request), so the next requests connect
 * anew. TLS session tickets and DNS answers stay cached. Call it between
 * ways, from the thread that called tvl_rt_init(), with no request in
 * flight. Returns 0, -EBUSY when a request is still in flight, or -ENOMEM
 * (the old session is kept). */
int tvl_http_new_session(void);

/* ---- combinators ------------------------------------------------------- */

/* asyncio.gather. Waits for fs[0..n). With return_exceptions false it
 * returns as soon as one of them fails or is cancelled, with that error
 * (the earliest in time) and its index in *failed_index (if not NULL); the
 * others are not cancelled and go on running. With return_exceptions true
 * it waits for all and returns 0; each outcome is then read from its
 * future. Results are in input order: results[i] (if results is not NULL)
 * gets tvl_future_result(fs[i]) for each one that is done, NULL otherwise.
 * If the calling task is cancelled while waiting, returns -ECANCELED and
 * cancels every child not yet ended (asyncio's rule). */
int tvl_gather(tvl_future *const *fs, size_t n, bool return_exceptions, void **results,
               size_t *failed_index);

typedef enum tvl_wait_mode {
    TVL_ALL_COMPLETED,
    TVL_FIRST_COMPLETED,
    TVL_FIRST_EXCEPTION, /* or all completed, whichever comes first */
} tvl_wait_mode;

/* asyncio.wait. Waits as `mode` says, or until timeout_ns passes, then
 * splits fs into done[0..*n_done) and pending[0..*n_pending) (borrowed
 * pointers; each array must hold n). A timeout returns 0 with what is done
 * so far and cancels nothing. Returns -ECANCELED if the calling task is
 * cancelled while waiting (nothing else is cancelled), -EINVAL for n == 0
 * (as asyncio refuses an empty set). */
int tvl_wait(tvl_future *const *fs, size_t n, tvl_wait_mode mode, int64_t timeout_ns,
             tvl_future **done, size_t *n_done, tvl_future **pending, size_t *n_pending);

/* asyncio.as_completed, the Python 3.13 way: an iterator that yields the
 * original futures in the order they end. */
typedef struct tvl_as_completed tvl_as_completed;

/* Starts iterating over fs[0..n) (the iterator takes its own references).
 * timeout_ns bounds the whole iteration, from this call. */
int tvl_as_completed_begin(tvl_future *const *fs, size_t n, int64_t timeout_ns,
                           tvl_as_completed **out);

/* Waits for the next future to end and stores it (borrowed, valid until
 * _end) in *f. Returns 0, 1 when every future has been yielded, -ETIMEDOUT
 * when the timeout passed first (the iteration is over; nothing is
 * cancelled), -ECANCELED if the calling task was cancelled. */
int tvl_as_completed_next(tvl_as_completed *it, tvl_future **f);

/* Ends the iteration (early or not) and frees it. NULL does nothing. */
void tvl_as_completed_end(tvl_as_completed *it);

/* asyncio.TaskGroup: structured concurrency. */
typedef struct tvl_group tvl_group;

int tvl_group_create(tvl_group **out);

/* Starts a child. Returns -ECANCELED, starting nothing, once the group is
 * aborting (a child failed), or -ESHUTDOWN once it has been left. out may
 * be NULL. Only the task that created the group may spawn into it, wait
 * for it and destroy it. */
int tvl_group_spawn(tvl_group *g, tvl_task_fn fn, void *arg, tvl_future **out);

/* Leaves the group: waits until every child has ended. The first child
 * that fails makes the group cancel every sibling still pending or
 * running. Returns 0 if no child failed, otherwise TVL_E_GROUP, and every
 * failure is then listed by tvl_group_failures(). If the calling task is
 * cancelled while waiting, the children are cancelled, waited for, and
 * -ECANCELED is returned. */
int tvl_group_wait(tvl_group *g);

/* The failed children, in the order they failed (cancelled siblings are
 * not failures). Valid until tvl_group_destroy(). */
size_t tvl_group_failure_count(const tvl_group *g);
tvl_future *tvl_group_failure(const tvl_group *g, size_t i);

/* Frees the group after tvl_group_wait(); if it was never waited for, the
 * children are cancelled and waited for first. NULL does nothing. */
void tvl_group_destroy(tvl_group *g);

/* asyncio.Semaphore: at most `value` holders at once; waiters are served
 * in FIFO order. */
typedef struct tvl_sem tvl_sem;
int tvl_sem_create(unsigned value, tvl_sem **out);
/* Returns 0 once acquired, or -ECANCELED if the calling task was
 * cancelled while waiting (then nothing is held). */
int tvl_sem_acquire(tvl_sem *s);
void tvl_sem_release(tvl_sem *s);
unsigned tvl_sem_value(const tvl_sem *s); /* free permits now */
void tvl_sem_destroy(tvl_sem *s);         /* no holders or waiters left */

/* An asynchronous iterator: each step may wait (sleep, fetch). next
 * returns 0 with an item, 1 at the end (StopAsyncIteration), or a
 * negative error. */
typedef struct tvl_aiter {
    int (*next)(struct tvl_aiter *it, void **item);
    void *state;
} tvl_aiter;

static inline int tvl_aiter_next(tvl_aiter *it, void **item)
{
    return it->next(it, item);
}

#ifdef __cplusplus
}
#endif
#endif
