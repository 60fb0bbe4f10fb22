/* The scheduler of the event-loop runtime: worker fibers that run task
 * bodies, spawning, the current task, and the one way every wait suspends
 * (tvl__sched_park), with its deadline and its cancel hook.
 *
 * A worker is a fiber whose entry runs one future's body with
 * tvl_future_run(), then goes idle and waits to be handed the next future;
 * so a spawn costs a future and a queue link, not a stack (idle workers are
 * kept up to IDLE_MAX; beyond that a worker's fiber ends and its stack goes
 * back to the fiber module's cache). A future cancelled while still pending
 * is never run: tvl_future_run() sees it final and returns -ECANCELED
 * without calling the body.
 *
 * Fibers never switch to each other: every switch is from the loop (the
 * main context) to a fiber and back, so the stack of the loop is the only
 * one that ever holds more than one task's frames.
 *
 * Admission: a task that has started holds a fiber and its stack until it
 * ends, and a fresh stack costs about 10 us on the VM we measure on (a
 * page to populate and touch). With a connection limit, 10,000 spawned
 * fetches would all start and 9,900 of them would sit on the connection
 * semaphore, each on a stack of its own. So while ADMIT_WAITERS or more
 * tasks wait for a connection slot, newly spawned tasks are held back,
 * unstarted and without a fiber, in spawn order; the loop starts them as
 * the queue for slots shortens, on the fibers of tasks that have ended.
 * This is what the threads build's capped pool does with threads. A slot
 * is only ever held by a transfer in flight, which normally ends on its
 * own or by its timeout; but without a timeout a stalled server holds its
 * slots forever, and a task held back behind them (a watchdog that would
 * cancel the stalled fetches, say) would never start. So when a task has
 * waited a second for a slot, the HTTP layer calls tvl__slots_stalled()
 * and the gate stays open from then on. What changes is only when a
 * held-back task starts: later than asyncio would start it, in the same
 * order.
 *
 * Threads: loop thread only, except tvl__sched_wake_any() and the cancel
 * hook, which may run on the thread of whoever cancels.
 */
#include "rt_loop/loop.h"
#include "rt/http.h"

#include <errno.h>
#include <stdlib.h>

/* Idle workers kept for reuse; a burst larger than this returns the rest
 * of its stacks once it is over. */
enum { IDLE_MAX = 16384 };

/* Admission closes while this many tasks wait for a connection slot: enough
 * that a freed slot is taken at once, few enough that their stacks stay
 * warm in cache and few. */
enum { ADMIT_WAITERS = 64 };

static tvl__task main_ctx;
static tvl__task *current = &main_ctx;
static tvl__task *idle_head;
static size_t idle_count;
static size_t stack_size; /* 0: the fiber module's default */

/* Set when the connection slots stall (tvl__slots_stalled): from then on
 * the gate stays open, as asyncio's always is. */
static bool admission_lifted;

/* Futures held back by admission, in spawn order: a ring of
 * pending_cap slots, each holding the executor's reference. */
static tvl_future **pending;
static size_t pending_head, pending_len, pending_cap;

static uint64_t live_workers; /* workers running (or about to run) a body */
static uint64_t peak_workers;
static uint64_t spawned;
static bool accepting;
static bool draining; /* the main context waits for live_workers == 0 */

tvl__task *tvl__sched_current(void)
{
    return current;
}

static void park_timeout(tvl__timer *tm)
{
    tvl__task *t = (tvl__task *)((char *)tm - offsetof(tvl__task, timer));
    tvl__sched_wake(t, -ETIMEDOUT);
}

static void main_context_init(void)
{
    main_ctx = (tvl__task){0};
    tvl__timer_init(&main_ctx.timer, park_timeout);
    current = &main_ctx;
}

void tvl__sched_open(void)
{
    main_context_init();
    admission_lifted = false;
    idle_head = NULL;
    idle_count = 0;
    live_workers = peak_workers = spawned = 0;
    accepting = true;
}

/* The body of every worker fiber: one future after another. */
static void worker_main(void *arg)
{
    tvl__task *t = arg;
    while (t->future != NULL) {
        tvl_future *f = t->future;
        tvl_future_run(f); /* completion callbacks run here, on this fiber */
        t->future = NULL;
        tvl_future_unref(f);
        live_workers--;
        if (live_workers == 0 && draining)
            tvl__sched_wake(&main_ctx, 0);
        if (idle_count >= IDLE_MAX || !accepting)
            return; /* finished: the scheduler frees it */
        t->next = idle_head;
        idle_head = t;
        idle_count++;
        tvl_fiber_suspend(); /* until handed a future, or told to end (NULL) */
    }
}

static tvl__task *worker_get(void)
{
    tvl__task *t = idle_head;
    if (t != NULL) {
        idle_head = t->next;
        idle_count--;
        t->next = NULL;
        return t;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    tvl__timer_init(&t->timer, park_timeout);
    if (tvl_fiber_create(&t->fiber, worker_main, t, stack_size) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

static void worker_free(tvl__task *t)
{
    tvl_fiber_destroy(t->fiber);
    free(t);
}

void tvl__sched_run(tvl__task *t)
{
    tvl__task *outer = current;
    current = t;
    tvl_fiber_switch(t->fiber);
    current = outer;
    if (tvl_fiber_is_finished(t->fiber))
        worker_free(t);
}

void tvl__sched_drain(void)
{
    draining = true;
    while (live_workers > 0 || pending_len > 0)
        (void)tvl__sched_park(INT64_MAX, false);
    draining = false;
}

void tvl__sched_close(void)
{
    accepting = false;
    /* An idle worker is suspended inside worker_main; resumed with no
     * future it returns, and its fiber can be destroyed. */
    while (idle_head != NULL) {
        tvl__task *t = idle_head;
        idle_head = t->next;
        idle_count--;
        t->next = NULL;
        tvl__sched_run(t);
    }
    /* Drained before, so nothing is held back; a future that still were
     * would be dropped here, and its awaiters would wait forever. */
    free(pending);
    pending = NULL;
    pending_head = pending_len = pending_cap = 0;
    main_context_init();
}

/* Hands f (the executor's reference, kept until the body has run) to a
 * worker and queues it. */
static tvl__task *bind_worker(tvl_future *f)
{
    tvl__task *t = worker_get();
    if (t == NULL)
        return NULL;
    t->future = f;
    live_workers++;
    if (live_workers > peak_workers)
        peak_workers = live_workers;
    return t;
}

static int start_now(tvl_future *f)
{
    tvl__task *t = bind_worker(f);
    if (t == NULL)
        return -ENOMEM;
    tvl__loop_ready(t);
    return 0;
}

static bool admission_open(void)
{
    return admission_lifted || tvl__http_slot_waiters() < ADMIT_WAITERS;
}

void tvl__slots_stalled(void)
{
    admission_lifted = true; /* the loop admits everything on its next turn */
}

static int hold_back(tvl_future *f)
{
    if (pending_len == pending_cap) {
        size_t cap = pending_cap ? pending_cap * 2 : 256;
        tvl_future **grown = malloc(cap * sizeof *grown);
        if (grown == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < pending_len; i++)
            grown[i] = pending[(pending_head + i) % pending_cap];
        free(pending);
        pending = grown;
        pending_head = 0;
        pending_cap = cap;
    }
    pending[(pending_head + pending_len) % pending_cap] = f;
    pending_len++;
    return 0;
}

bool tvl__sched_admissible(void)
{
    return pending_len > 0 && admission_open();
}

/* Starts held-back tasks. Without a connection limit the gate never
 * closes: every one gets its worker now and they run in the next batch,
 * together, as asyncio runs new tasks. With a limit they start one at a
 * time, each run until it first waits, so that the gate sees the waiters
 * each one adds before the next starts. */
void tvl__sched_admit(void)
{
    if (!tvl__http_connection_limit()) {
        while (pending_len > 0 && start_now(pending[pending_head]) == 0) {
            pending_head = (pending_head + 1) % pending_cap;
            pending_len--;
        }
        return;
    }
    while (tvl__sched_admissible()) {
        tvl__task *t = bind_worker(pending[pending_head]);
        if (t == NULL)
            return; /* out of memory: try again next iteration */
        pending_head = (pending_head + 1) % pending_cap;
        pending_len--;
        tvl__sched_run(t);
    }
}

int tvl_spawn(tvl_task_fn fn, void *arg, tvl_future **out)
{
    if (!accepting || !tvl__loop_on_thread())
        return -ESHUTDOWN;
    tvl_future *f = tvl_future_create(fn, arg);
    if (f == NULL)
        return -ENOMEM;
    if (out != NULL)
        *out = tvl_future_ref(f);
    /* It waits in the admission queue for the loop's next turn (asyncio
     * too starts a new task on the loop's next iteration, not inside
     * create_task). */
    int rc = hold_back(f);
    if (rc != 0) {
        if (out != NULL) {
            tvl_future_unref(*out);
            *out = NULL;
        }
        tvl_future_unref(f);
        return rc;
    }
    spawned++;
    return 0;
}

int tvl__sched_start(tvl_future *f)
{
    if (!accepting)
        return -ESHUTDOWN;
    return start_now(f); /* the main task is never held back */
}

tvl_future *tvl_current(void)
{
    return current->future;
}

int64_t tvl_rt_fiber_id(void)
{
    return current->fiber != NULL ? (int64_t)tvl_fiber_id(current->fiber) : -1;
}

void tvl__sched_stats(uint64_t *n_spawned, uint64_t *live, uint64_t *peak)
{
    *n_spawned = spawned;
    *live = live_workers;
    *peak = peak_workers;
}

void tvl__sched_reset_peak(void)
{
    peak_workers = live_workers;
}

/* ---- parking -------------------------------------------------------------- */

void tvl__sched_wake(tvl__task *t, int reason)
{
    if (!t->parked)
        return;
    t->parked = false;
    t->reason = reason;
    if (t->fiber != NULL)
        tvl__loop_ready(t);
    /* The main context polls its own flag in park's loop. */
}

void tvl__sched_wake_any(tvl__task *t, int reason)
{
    if (tvl__loop_on_thread())
        tvl__sched_wake(t, reason);
    else
        (void)tvl__loop_post(t, reason); /* out of memory: the park's
                                             deadline or re-check is all
                                             that is left */
}

/* The cancel hook of a park: runs on the cancelling thread, which on the
 * loop's thread is another fiber (or the loop) while t is parked. */
static void park_cancelled(void *arg)
{
    tvl__sched_wake_any(arg, -ECANCELED);
}

int tvl__sched_park(int64_t deadline, bool cancellable)
{
    tvl__task *t = current;
    tvl_future *self = cancellable ? t->future : NULL;
    if (self != NULL && tvl_future_cancel_requested(self))
        return -ECANCELED;
    if (deadline != INT64_MAX) {
        if (deadline <= tvl__now_ns())
            return -ETIMEDOUT;
        if (tvl__timer_arm(&t->timer, deadline) != 0)
            return -ENOMEM;
    }
    bool hooked = false;
    if (self != NULL) {
        int rc = tvl_future_set_cancel_hook(self, park_cancelled, t);
        if (rc == -ECANCELED) {
            tvl__timer_disarm(&t->timer);
            return -ECANCELED;
        }
        hooked = rc == 0; /* -EBUSY: the body has a hook of its own; the
                             token is still checked on every wake */
    }
    t->parked = true;
    t->reason = 0;
    if (t->fiber != NULL) {
        tvl_fiber_suspend();
    } else {
        while (t->parked)
            tvl__loop_iterate(&t->parked);
    }
    t->parked = false;
    if (hooked)
        tvl_future_clear_cancel_hook(self);
    tvl__timer_disarm(&t->timer);
    int reason = t->reason;
    /* A cancel wake posted from another thread may arrive late, after this
     * context moved on; the token is the truth. */
    if (reason == -ECANCELED && (self == NULL || !tvl_future_cancel_requested(self)))
        reason = 0;
    return reason;
}

/* ---- sleeping and awaiting ------------------------------------------------- */

int tvl_sleep(int64_t ns)
{
    tvl__task *t = current;
    tvl_future *self = t->future;
    if (ns <= 0) {
        /* asyncio.sleep(0): let every other ready task run once. */
        if (t->fiber != NULL) {
            tvl__loop_ready(t);
            tvl_fiber_suspend();
        } else {
            tvl__loop_iterate(NULL);
        }
        return self != NULL && tvl_future_cancel_requested(self) ? -ECANCELED : 0;
    }
    int64_t deadline = tvl__deadline(ns);
    int rc;
    while ((rc = tvl__sched_park(deadline, true)) == 0)
        ; /* nobody wakes a sleep but its timer or a cancel */
    return rc == -ETIMEDOUT ? 0 : rc;
}

static void await_done(tvl_future *f, void *arg)
{
    (void)f;
    tvl__sched_wake_any(arg, 0);
}

int tvl__await_until(tvl_future *f, int64_t deadline_ns, bool cancellable)
{
    if (tvl_future_is_final(f))
        return tvl_future_error(f);
    tvl_future_callback cb = {.fn = await_done, .arg = current};
    if (tvl_future_on_done(f, &cb) != 0)
        return tvl_future_error(f);
    int rc = 0;
    while (!tvl_future_is_final(f)) {
        rc = tvl__sched_park(deadline_ns, cancellable);
        if (rc != 0)
            break;
    }
    tvl_future_remove_callback(f, &cb);
    return tvl_future_is_final(f) ? tvl_future_error(f) : rc;
}
