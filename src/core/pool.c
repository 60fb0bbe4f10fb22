/* The work-stealing pool: workers, injection queue, parking, helping joins,
 * blocking compensation and shutdown.
 *
 * Threading rules (the ones that matter):
 *   - pool->mu guards the idle list, the free-slot and zombie lists, the
 *     thread bookkeeping (live/starting writes, ids) and the exit decision.
 *     It is never held while a task body, a callback or a hook runs, and
 *     never while pthread_create() or pthread_join() runs.
 *   - pool->hooks_mu guards the registry of installed cancel hooks; it is
 *     taken before a future's own lock (see future_impl.h).
 *   - A worker's deque is pushed and popped only by the thread that owns the
 *     worker struct; a struct changes owner (a retired spare's slot reused)
 *     only under pool->mu.
 *
 * Parking, no lost wake-up: a publisher (submit, push, blocking_begin) makes
 * the work visible, then a seq_cst fence or RMW, then reads `searching` and
 * `nidle`. A worker going to sleep puts itself on the idle list and counts
 * itself in nidle (seq_cst RMW), stops searching (seq_cst RMW), then a
 * seq_cst fence, then re-checks every queue. In the single total order of
 * these seq_cst operations one side sees the other: the publisher sees the
 * sleeper (and wakes it), or the sleeper sees the work (and does not sleep).
 * As in Go's scheduler, at most one thread is woken to search at a time and
 * a searcher that finds work wakes the next one, so parallelism ramps up
 * without a wake-up per task. */
#include "core/pool_impl.h"

#include "core/deque.h"
#include "core/futex.h"
#include "tvl/error.h"
#include "tvl/pool.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define INITIAL_DEQUE_LOG2 8 /* 256 slots, grows on demand */
#define INJ_SIZE 16384u     /* injection ring slots (a power of two) */
#define MAX_BATCH 32         /* most tasks a worker takes from the injection queue at once */
#define SPIN_ROUNDS 48       /* rounds of looking for work before parking */
#define SPIN_PAUSES 32       /* pause instructions between two rounds */
#define STEAL_VICTIMS 16     /* deques one steal round looks at, at most */

/* park_word values */
enum { PARK_ARMED = 0, PARK_WAKE_WORK = 1, PARK_WAKE_FUTURE = 2 };

/* How a worker parks: idle (no task on its stack), in a helping join (on
 * the idle list, so new work wakes it), or in a timed wait (off the list:
 * only its futures or its deadline wake it). */
typedef enum { PARK_IDLE, PARK_HELPING, PARK_WAITING } park_mode;

/* Why park() returned. */
typedef enum { PARKED_WORK, PARKED_READY, PARKED_TIMEOUT, PARKED_EXIT, PARKED_RETIRED } park_result;

/* A retired spare's thread handle, waiting to be joined. */
typedef struct zombie {
    pthread_t thread;
    struct zombie *next;
} zombie;

struct tvl__worker {
    tvl__deque dq; /* first: cache-line aligned */
    tvl_pool *pool;
    _Atomic uint32_t park_word; /* futex word; PARK_* */
    int id;
    bool spare;
    /* owner-only */
    bool searching;   /* holds one unit of pool->searching */
    bool starting;    /* holds one unit of pool->starting */
    bool in_blocking; /* inside tvl_blocking_begin()/end() */
    uint64_t rng;
    /* The rest of a batch taken from the injection queue, run in order
     * without a round trip through the deque; spilled to the deque when
     * the worker blocks, so that it never sits on runnable work. */
    int nlocal, ilocal;
    tvl_future *local[MAX_BATCH];
    /* under pool->mu */
    bool on_idle;   /* on the idle list */
    bool popped;    /* taken off the idle list by a notifier (a wake for work) */
    bool has_thread;
    pthread_t thread;
    tvl__worker *idle_next, *idle_prev;
    tvl__worker *free_next;
    zombie *znode; /* preallocated, so that retiring cannot fail */
    /* statistics: written by the owner only (load + store, no RMW), read by
     * tvl_pool_get_stats(); relaxed everywhere, they publish nothing */
    _Atomic uint64_t tasks_run, steals, parks;
};

struct tvl_pool {
    tvl_pool_options o;
    unsigned cap; /* slots allocated: max_threads */
    /* Live threads allowed now: max_threads, or lower while a caller says
     * so (tvl_pool_set_thread_limit). Written under mu; read under mu by
     * spawn_worker() and, as a hint, relaxed by the compensation checks. */
    _Atomic unsigned limit;
    _Atomic(tvl__worker *) *slots;
    _Atomic unsigned nslots; /* slots in use (published with release) */
    _Atomic int shutdown;    /* 0, or 1 + tvl_shutdown */
    _Atomic bool exit;       /* every worker may leave */
    _Atomic uint32_t exit_word;

    /* Injection queue: a ring of INJ_SIZE slots. Producers claim index
     * `tail` with a CAS and then fill the slot; one consumer at a time
     * (inj_lock) takes a batch from `head` and empties the slots. Pointers
     * in an array, not a linked list, so a consumer reads a whole batch
     * with a few line transfers and prefetches the futures in parallel.
     * When the ring is full, submissions go to a mutex-protected overflow
     * list (FIFO order between the two is not kept; none is promised). */
    _Alignas(TVL__CACHE_LINE) _Atomic uint64_t inj_tail;
    _Alignas(TVL__CACHE_LINE) _Atomic uint64_t inj_head;
    _Atomic bool inj_lock;
    _Atomic(tvl_future *) *inj_ring;
    _Alignas(TVL__CACHE_LINE) pthread_mutex_t ovf_mu;
    tvl_future *ovf_head, *ovf_tail;
    _Atomic int64_t ovf_count;

    /* Scheduling counters, read by every publisher. */
    _Alignas(TVL__CACHE_LINE) _Atomic int searching; /* workers looking for work */
    _Atomic int nidle;    /* workers on the idle list */
    _Atomic int blocked;  /* workers in a blocking region or a parked join */
    _Atomic int live;     /* threads started and not exited (written under mu) */
    _Atomic int starting; /* threads started that have not taken work yet */

    _Alignas(TVL__CACHE_LINE) pthread_mutex_t mu;
    tvl__worker *idle_head;
    int nidle_free; /* idle with no task on their stack (not in a join) */
    tvl__worker *free_slots;
    zombie *zombies;
    int next_id;
    _Atomic uint64_t threads_started, peak_threads, spares_retired;
    _Atomic uint64_t caller_runs; /* tasks a full queue made the submitter run */

    pthread_mutex_t hooks_mu;
    tvl_future *hooks;
};

static _Thread_local tvl__worker *tls_worker;

tvl__worker *tvl__worker_self(void) { return tls_worker; }

tvl_pool *tvl_pool_current(void) { return tls_worker != NULL ? tls_worker->pool : NULL; }

int tvl_pool_worker_id(void) { return tls_worker != NULL ? tls_worker->id : -1; }

/* A cheap per-worker PRNG (xorshift64*), for victim selection. */
static uint64_t next_rand(tvl__worker *w)
{
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Owner-only counter increment: no RMW needed, one writer. */
static void bump(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static int load_int(_Atomic int *v)
{
    /* Seq_cst: these loads are the publisher's side of the parking protocol
     * (see the top of the file); they pair with the sleeper's seq_cst RMWs. */
    return atomic_load_explicit(v, memory_order_seq_cst);
}

/* ---- injection queue -------------------------------------------------------- */

static void ovf_push(tvl_pool *p, tvl_future *f)
{
    pthread_mutex_lock(&p->ovf_mu);
    f->link = NULL;
    if (p->ovf_tail != NULL)
        p->ovf_tail->link = f;
    else
        p->ovf_head = f;
    p->ovf_tail = f;
    /* Seq_cst: the publication point of the parking protocol for an
     * overflowed submission. */
    atomic_fetch_add_explicit(&p->ovf_count, 1, memory_order_seq_cst);
    pthread_mutex_unlock(&p->ovf_mu);
}

/* Queues f on the ring; false (nothing done) when the ring is full. */
static bool inj_try_push(tvl_pool *p, tvl_future *f)
{
    /* Relaxed: a first guess for the CAS. */
    uint64_t t = atomic_load_explicit(&p->inj_tail, memory_order_relaxed);
    for (;;) {
        /* Acquire: pairs with the consumer's release store of head, so the
         * slots it emptied are seen empty before we refill them. */
        uint64_t h = atomic_load_explicit(&p->inj_head, memory_order_acquire);
        if (t - h >= INJ_SIZE)
            return false;
        /* Seq_cst: the publication point of the parking protocol (a
         * sleeper that sees tail != head does not sleep, and waits for the
         * slot to be filled). */
        if (atomic_compare_exchange_weak_explicit(&p->inj_tail, &t, t + 1, memory_order_seq_cst,
                                                  memory_order_relaxed))
            break;
    }
    /* Release: pairs with the consumer's acquire load of the slot; the
     * future and everything written to it before are visible to it. */
    atomic_store_explicit(&p->inj_ring[t & (INJ_SIZE - 1)], f, memory_order_release);
    return true;
}

static void inj_push(tvl_pool *p, tvl_future *f)
{
    if (!inj_try_push(p, f))
        ovf_push(p, f);
}

/* Takes up to `want` futures; the caller holds inj_lock (or is the only
 * thread left). Stops early at a slot a producer has claimed but not
 * filled yet. */
static int inj_take_locked(tvl_pool *p, tvl_future **out, int want, int share)
{
    /* Relaxed: head is written only under inj_lock, which we hold. The
     * consumer never reads tail: a filled slot is non-NULL (we empty each
     * slot before head moves past it, and producers fill a slot only once
     * head is less than a lap behind), so reading tail would only pull the
     * producers' line away from them. */
    uint64_t h = atomic_load_explicit(&p->inj_head, memory_order_relaxed);
    int filled = 0;
    while (filled < want) {
        /* Relaxed: counting only; the slots we take are re-read below. */
        if (atomic_load_explicit(&p->inj_ring[(h + (uint64_t)filled) & (INJ_SIZE - 1)],
                                 memory_order_relaxed) == NULL)
            break; /* empty, or claimed and not filled yet */
        filled++;
    }
    int take = filled / share;
    if (take < 1)
        take = filled < 1 ? 0 : 1;
    int n = 0;
    while (n < take) {
        _Atomic(tvl_future *) *slot = &p->inj_ring[(h + (uint64_t)n) & (INJ_SIZE - 1)];
        /* Acquire: pairs with the release store of the slot in inj_push(). */
        tvl_future *f = atomic_load_explicit(slot, memory_order_acquire);
        if (f == NULL)
            break; /* cannot happen: only producers fill, only we empty */
        atomic_store_explicit(slot, NULL, memory_order_relaxed); /* published by head below */
        out[n++] = f;
    }
    if (n > 0)
        /* Release: pairs with the producers' acquire load of head. */
        atomic_store_explicit(&p->inj_head, h + (uint64_t)n, memory_order_release);
    if (n == 0 && atomic_load_explicit(&p->ovf_count, memory_order_relaxed) > 0) {
        pthread_mutex_lock(&p->ovf_mu);
        while (n < want && p->ovf_head != NULL) {
            tvl_future *f = p->ovf_head;
            p->ovf_head = f->link;
            if (p->ovf_head == NULL)
                p->ovf_tail = NULL;
            out[n++] = f;
        }
        atomic_fetch_sub_explicit(&p->ovf_count, n, memory_order_relaxed);
        pthread_mutex_unlock(&p->ovf_mu);
    }
    return n;
}

static bool inj_trylock(tvl_pool *p)
{
    /* Relaxed pre-check keeps contended workers off the line; acquire pairs
     * with the release in inj_unlock(). */
    if (atomic_load_explicit(&p->inj_lock, memory_order_relaxed))
        return false;
    return !atomic_exchange_explicit(&p->inj_lock, true, memory_order_acquire);
}

static void inj_unlock(tvl_pool *p)
{
    atomic_store_explicit(&p->inj_lock, false, memory_order_release);
}

/* Queued in the injection queue now (a hint). */
static int64_t inj_count(tvl_pool *p)
{
    /* Relaxed: a hint; the parking protocol re-reads after a fence. */
    uint64_t t = atomic_load_explicit(&p->inj_tail, memory_order_relaxed);
    uint64_t h = atomic_load_explicit(&p->inj_head, memory_order_relaxed);
    int64_t n = (int64_t)(t - h) + atomic_load_explicit(&p->ovf_count, memory_order_relaxed);
    return n > 0 ? n : 0;
}

/* ---- finding work --------------------------------------------------------- */

static void notify(tvl_pool *p);

/* Takes a batch from the injection queue: returns the first and keeps the
 * rest in w->local. */
static bool inj_peek(tvl_pool *p)
{
    /* Relaxed: a hint; inj_take_locked() reads the slot again with acquire. */
    uint64_t h = atomic_load_explicit(&p->inj_head, memory_order_relaxed);
    return atomic_load_explicit(&p->inj_ring[h & (INJ_SIZE - 1)], memory_order_relaxed) != NULL ||
           atomic_load_explicit(&p->ovf_count, memory_order_relaxed) > 0;
}

static tvl_future *take_batch(tvl__worker *w)
{
    tvl_pool *p = w->pool;
    if (!inj_peek(p) || !inj_trylock(p))
        return NULL;
    /* A share of what is queued: filled slots seen / (live + 1), so that
     * other workers find work too (a local batch cannot be stolen). Sized
     * from the slots themselves, never from tail, the producers' line. */
    int live = atomic_load_explicit(&p->live, memory_order_relaxed);
    int n = inj_take_locked(p, w->local, MAX_BATCH, live + 1);
    inj_unlock(p);
    if (n == 0)
        return NULL;
    for (int i = 0; i < n; i++) /* overlap the misses on the futures */
        __builtin_prefetch(w->local[i], 1, 3);
    w->nlocal = n;
    w->ilocal = 1;
    return w->local[0];
}

static tvl_future *steal_round(tvl__worker *w)
{
    tvl_pool *p = w->pool;
    /* Acquire: pairs with the release increment in spawn_worker(), so the
     * slot pointers below are initialised. */
    unsigned n = atomic_load_explicit(&p->nslots, memory_order_acquire);
    if (n < 2)
        return NULL;
    /* A bounded round, from a random victim: with thousands of spares a full
     * scan per round made searching cost more than the work (52% of the CPU
     * of 5,000 blocking fetches went to steal attempts). Work a round
     * misses is not lost: work_visible() scans every deque before a worker
     * parks. */
    unsigned start = (unsigned)(next_rand(w) % n);
    unsigned victims = n < STEAL_VICTIMS ? n : STEAL_VICTIMS;
    for (unsigned i = 0; i < victims; i++) {
        unsigned k = start + i;
        if (k >= n)
            k -= n;
        /* Relaxed: published by the acquire load of nslots above. */
        tvl__worker *v = atomic_load_explicit(&p->slots[k], memory_order_relaxed);
        if (v == w || v == NULL)
            continue;
        for (int attempt = 0; attempt < 4; attempt++) {
            void *x;
            int r = tvl__deque_thief_steal(&v->dq, &x);
            if (r == TVL__STEAL_OK) {
                bump(&w->steals);
                return x;
            }
            if (r == TVL__STEAL_EMPTY)
                break;
        }
    }
    return NULL;
}

/* One look for work: own deque (children first), the local batch, the
 * injection queue, then a steal. */
static tvl_future *find_task(tvl__worker *w)
{
    tvl_future *f = tvl__deque_owner_pop(&w->dq);
    if (f == NULL && w->ilocal < w->nlocal)
        return w->local[w->ilocal++];
    if (f == NULL)
        f = take_batch(w);
    if (f == NULL)
        f = steal_round(w);
    return f;
}

/* Whether any queue holds work, as the parking re-check sees it. Relaxed
 * loads: the caller has just executed a seq_cst fence. */
static bool work_visible(tvl_pool *p)
{
    if (atomic_load_explicit(&p->inj_tail, memory_order_relaxed) !=
            atomic_load_explicit(&p->inj_head, memory_order_relaxed) ||
        atomic_load_explicit(&p->ovf_count, memory_order_relaxed) > 0)
        return true;
    unsigned n = atomic_load_explicit(&p->nslots, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        tvl__worker *v = atomic_load_explicit(&p->slots[i], memory_order_relaxed);
        if (v != NULL && tvl__deque_size_estimate(&v->dq) > 0)
            return true;
    }
    return false;
}

/* An estimate of queued work near `self`, for compensation: the injection
 * queue, self's deque and a few random deques (not all of them: with
 * thousands of spares that scan would cost more than the decision). */
static int64_t queued_near(tvl_pool *p, tvl__worker *self)
{
    int64_t q = inj_count(p);
    if (self != NULL) {
        q += tvl__deque_size_estimate(&self->dq);
        unsigned n = atomic_load_explicit(&p->nslots, memory_order_acquire);
        for (int i = 0; i < 4 && n > 1; i++) {
            tvl__worker *v =
                atomic_load_explicit(&p->slots[next_rand(self) % n], memory_order_relaxed);
            if (v != NULL && v != self)
                q += tvl__deque_size_estimate(&v->dq);
        }
    }
    return q;
}

/* ---- running ---------------------------------------------------------------- */

static void run_task(tvl__worker *w, tvl_future *f)
{
    /* Relaxed: a flag; a task that misses it just runs (drain semantics for
     * one more task), the shutdown itself is ordered by pool->mu. */
    if (atomic_load_explicit(&w->pool->shutdown, memory_order_relaxed) == 1 + TVL_SHUTDOWN_CANCEL) {
        tvl_future_abandon(f);
    } else {
        bool ran;
        tvl__future_execute(f, &ran);
        if (ran)
            bump(&w->tasks_run);
    }
    tvl_future_unref(f); /* the executor's reference */
}

/* The worker found work: stop counting it as searching or starting. A last
 * searcher that found work wakes another, so that more work, if any, gets
 * another thread (Go's "resetspinning"). */
static void found_work(tvl__worker *w)
{
    tvl_pool *p = w->pool;
    if (w->starting) {
        w->starting = false;
        atomic_fetch_sub_explicit(&p->starting, 1, memory_order_relaxed); /* a hint */
    }
    if (w->searching) {
        w->searching = false;
        /* Seq_cst: part of the parking protocol (a publisher that read
         * searching > 0 relied on us; the notify below covers it). */
        if (atomic_fetch_sub_explicit(&p->searching, 1, memory_order_seq_cst) == 1)
            notify(p);
    }
}

static void stop_searching(tvl__worker *w)
{
    if (w->searching) {
        w->searching = false;
        /* Seq_cst: the sleeper's side of the parking protocol. */
        atomic_fetch_sub_explicit(&w->pool->searching, 1, memory_order_seq_cst);
    }
}

/* ---- threads ---------------------------------------------------------------- */

static void *worker_main(void *arg);
static tvl__worker *check_exit_locked(tvl_pool *p);
static void wake_exit_list(tvl_pool *p, tvl__worker *list);

static void join_zombies(tvl_pool *p)
{
    pthread_mutex_lock(&p->mu);
    zombie *z = p->zombies;
    p->zombies = NULL;
    pthread_mutex_unlock(&p->mu);
    while (z != NULL) {
        zombie *next = z->next;
        pthread_join(z->thread, NULL);
        free(z);
        z = next;
    }
}

static tvl__worker *worker_new(tvl_pool *p)
{
    size_t size = (sizeof(tvl__worker) + TVL__CACHE_LINE - 1) / TVL__CACHE_LINE * TVL__CACHE_LINE;
    tvl__worker *w = aligned_alloc(TVL__CACHE_LINE, size);
    if (w == NULL)
        return NULL;
    memset(w, 0, sizeof *w);
    if (tvl__deque_init(&w->dq, INITIAL_DEQUE_LOG2) < 0) {
        free(w);
        return NULL;
    }
    w->pool = p;
    atomic_init(&w->park_word, PARK_ARMED);
    atomic_init(&w->tasks_run, 0);
    atomic_init(&w->steals, 0);
    atomic_init(&w->parks, 0);
    return w;
}

/* Starts a worker thread (a spare if `spare`). Returns 0, -EAGAIN (at the
 * ceiling, shutting down, or the system refused) or -ENOMEM. */
static int spawn_worker(tvl_pool *p, bool spare)
{
    join_zombies(p); /* retired spares: their threads are gone or going */
    zombie *zn = malloc(sizeof *zn);
    if (zn == NULL)
        return -ENOMEM;
    pthread_mutex_lock(&p->mu);
    int live = atomic_load_explicit(&p->live, memory_order_relaxed);
    if (atomic_load_explicit(&p->exit, memory_order_relaxed) ||
        live >= (int)atomic_load_explicit(&p->limit, memory_order_relaxed)) {
        pthread_mutex_unlock(&p->mu);
        free(zn);
        return -EAGAIN;
    }
    tvl__worker *w = p->free_slots;
    if (w != NULL) {
        p->free_slots = w->free_next;
    } else {
        unsigned n = atomic_load_explicit(&p->nslots, memory_order_relaxed);
        w = n < p->cap ? worker_new(p) : NULL;
        if (w == NULL) {
            pthread_mutex_unlock(&p->mu);
            free(zn);
            return -ENOMEM;
        }
        atomic_store_explicit(&p->slots[n], w, memory_order_relaxed);
        /* Release: pairs with the acquire loads of nslots by thieves. */
        atomic_store_explicit(&p->nslots, n + 1, memory_order_release);
    }
    w->id = p->next_id++;
    w->spare = spare;
    w->starting = true;
    w->searching = false;
    w->in_blocking = false;
    w->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(w->id + 1);
    w->znode = zn;
    /* Seq_cst: live and starting are read by the compensation decisions. */
    atomic_store_explicit(&p->live, live + 1, memory_order_seq_cst);
    atomic_fetch_add_explicit(&p->starting, 1, memory_order_seq_cst);
    atomic_fetch_add_explicit(&p->threads_started, 1, memory_order_relaxed);
    if ((uint64_t)live + 1 > atomic_load_explicit(&p->peak_threads, memory_order_relaxed))
        atomic_store_explicit(&p->peak_threads, (uint64_t)live + 1, memory_order_relaxed);
    pthread_mutex_unlock(&p->mu);

    pthread_attr_t attr;
    pthread_t th;
    int r = pthread_attr_init(&attr);
    if (r == 0) {
        pthread_attr_setstacksize(&attr, p->o.stack_size);
        r = pthread_create(&th, &attr, worker_main, w);
        pthread_attr_destroy(&attr);
    }
    if (r == 0)
        return 0;

    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->live, atomic_load_explicit(&p->live, memory_order_relaxed) - 1,
                          memory_order_seq_cst);
    atomic_fetch_sub_explicit(&p->starting, 1, memory_order_seq_cst);
    atomic_fetch_sub_explicit(&p->threads_started, 1, memory_order_relaxed);
    w->znode = NULL;
    w->free_next = p->free_slots;
    p->free_slots = w;
    tvl__worker *exit_list = check_exit_locked(p); /* live changed */
    pthread_mutex_unlock(&p->mu);
    wake_exit_list(p, exit_list);
    free(zn);
    return r == ENOMEM ? -ENOMEM : -EAGAIN;
}

/* ---- parking ---------------------------------------------------------------- */

static void idle_remove_locked(tvl_pool *p, tvl__worker *w)
{
    if (w->idle_prev != NULL)
        w->idle_prev->idle_next = w->idle_next;
    else
        p->idle_head = w->idle_next;
    if (w->idle_next != NULL)
        w->idle_next->idle_prev = w->idle_prev;
    w->idle_next = w->idle_prev = NULL;
    w->on_idle = false;
    /* Seq_cst: nidle is read by publishers (parking protocol). */
    atomic_fetch_sub_explicit(&p->nidle, 1, memory_order_seq_cst);
}

/* Takes the first idle worker off the list for a wake; NULL if none. */
static tvl__worker *idle_pop_locked(tvl_pool *p)
{
    tvl__worker *w = p->idle_head;
    if (w == NULL)
        return NULL;
    idle_remove_locked(p, w);
    w->popped = true;
    /* Release: pairs with the acquire load in park(). */
    atomic_store_explicit(&w->park_word, PARK_WAKE_WORK, memory_order_release);
    return w;
}

static void wake_worker(tvl_future *f, void *arg)
{
    (void)f;
    tvl__worker *w = arg;
    /* Release: pairs with the acquire load of park_word in park(). */
    atomic_store_explicit(&w->park_word, PARK_WAKE_FUTURE, memory_order_release);
    tvl__futex_wake(&w->park_word, 1);
}

static bool queues_empty(tvl_pool *p)
{
    /* Under mu with every worker idle: no worker pushes; only a racing
     * external submitter could, which destroy() documents. */
    return !work_visible(p);
}

/* Under mu: if shutting down and every live worker is idle with nothing
 * queued, nothing can create work any more: let everyone leave. Returns
 * the list of workers to wake (linked through idle_next). */
static tvl__worker *check_exit_locked(tvl_pool *p)
{
    if (atomic_load_explicit(&p->shutdown, memory_order_relaxed) == 0 ||
        atomic_load_explicit(&p->exit, memory_order_relaxed))
        return NULL;
    if (p->nidle_free != atomic_load_explicit(&p->live, memory_order_relaxed) || !queues_empty(p))
        return NULL;
    atomic_store_explicit(&p->exit, true, memory_order_seq_cst);
    tvl__worker *list = NULL, *w;
    while ((w = p->idle_head) != NULL) {
        idle_remove_locked(p, w);
        w->popped = false;
        atomic_store_explicit(&w->park_word, PARK_WAKE_WORK, memory_order_release);
        w->idle_next = list;
        list = w;
    }
    return list;
}

/* After unlocking: wake what check_exit_locked() returned, and destroy(). */
static void wake_exit_list(tvl_pool *p, tvl__worker *list)
{
    if (!atomic_load_explicit(&p->exit, memory_order_relaxed))
        return;
    while (list != NULL) {
        tvl__worker *next = list->idle_next;
        list->idle_next = NULL;
        tvl__futex_wake(&list->park_word, 1);
        list = next;
    }
    /* Release: pairs with the acquire load in tvl_pool_destroy(). */
    atomic_store_explicit(&p->exit_word, 1, memory_order_release);
    tvl__futex_wake(&p->exit_word, INT_MAX);
}


/* Sleeps until woken for work (not in PARK_WAITING), until wt is ready (wt
 * is NULL for PARK_IDLE), until the deadline, or until the pool exits. */
static park_result park(tvl__worker *w, tvl__wait *wt, int64_t deadline_ns, park_mode mode)
{
    tvl_pool *p = w->pool;
    bool idle = mode == PARK_IDLE;
    if (mode == PARK_WAITING) {
        stop_searching(w);
        /* Relaxed: ordered before the arming below by program order; the
         * callbacks' release stores are what we wait for. */
        atomic_store_explicit(&w->park_word, PARK_ARMED, memory_order_relaxed);
        bool ready = tvl__wait_arm(wt, wake_worker, w) != 0;
        bool timed_out = false;
        if (!ready) {
            bump(&w->parks);
            /* Acquire: pairs with the release store in wake_worker(). */
            while (atomic_load_explicit(&w->park_word, memory_order_acquire) == PARK_ARMED) {
                if (tvl__futex_wait(&w->park_word, PARK_ARMED, deadline_ns) == -ETIMEDOUT) {
                    timed_out = true;
                    break;
                }
            }
            tvl__wait_disarm(wt);
        }
        return timed_out ? PARKED_TIMEOUT : PARKED_READY;
    }
    pthread_mutex_lock(&p->mu);
    if (atomic_load_explicit(&p->exit, memory_order_relaxed)) {
        pthread_mutex_unlock(&p->mu);
        return PARKED_EXIT;
    }
    w->popped = false;
    atomic_store_explicit(&w->park_word, PARK_ARMED, memory_order_relaxed); /* ordered by mu */
    w->idle_prev = NULL;
    w->idle_next = p->idle_head;
    if (p->idle_head != NULL)
        p->idle_head->idle_prev = w;
    p->idle_head = w;
    w->on_idle = true;
    /* Seq_cst: the sleeper's announcement (parking protocol). */
    atomic_fetch_add_explicit(&p->nidle, 1, memory_order_seq_cst);
    if (idle)
        p->nidle_free++;
    tvl__worker *exit_list = idle ? check_exit_locked(p) : NULL;
    pthread_mutex_unlock(&p->mu);
    wake_exit_list(p, exit_list);

    stop_searching(w);
    if (w->starting) {
        w->starting = false;
        atomic_fetch_sub_explicit(&p->starting, 1, memory_order_seq_cst);
    }
    bool ready = wt != NULL && tvl__wait_arm(wt, wake_worker, w) != 0;
    /* Seq_cst fence: pairs with the publishers' seq_cst RMW or fence after
     * they made work visible; after it, the re-check below cannot miss
     * work published before their load of nidle saw 0. */
    atomic_thread_fence(memory_order_seq_cst);
    bool timed_out = false;
    if (!ready && !work_visible(p) && !atomic_load_explicit(&p->exit, memory_order_relaxed)) {
        bump(&w->parks);
        tvl__future_cache_flush(); /* do not sit on other threads' futures */
        /* Acquire: pairs with the release stores of idle_pop_locked() and
         * wake_worker(). */
        while (atomic_load_explicit(&w->park_word, memory_order_acquire) == PARK_ARMED) {
            if (tvl__futex_wait(&w->park_word, PARK_ARMED, deadline_ns) == -ETIMEDOUT) {
                timed_out = true;
                break;
            }
        }
    }
    if (wt != NULL && !ready)
        tvl__wait_disarm(wt);

    pthread_mutex_lock(&p->mu);
    bool popped = !w->on_idle && w->popped;
    if (w->on_idle)
        idle_remove_locked(p, w);
    if (idle)
        p->nidle_free--;
    bool leaving = atomic_load_explicit(&p->exit, memory_order_relaxed);
    bool retire = false;
    if (!leaving && idle && timed_out && !popped && w->spare &&
        atomic_load_explicit(&p->shutdown, memory_order_relaxed) == 0 &&
        atomic_load_explicit(&p->live, memory_order_relaxed) > (int)p->o.workers &&
        tvl__deque_size_estimate(&w->dq) == 0) {
        retire = true;
        atomic_store_explicit(&p->live, atomic_load_explicit(&p->live, memory_order_relaxed) - 1,
                              memory_order_seq_cst);
        atomic_fetch_add_explicit(&p->spares_retired, 1, memory_order_relaxed);
        w->znode->thread = pthread_self();
        w->znode->next = p->zombies;
        p->zombies = w->znode;
        w->znode = NULL;
        w->has_thread = false;
        w->free_next = p->free_slots;
        p->free_slots = w;
    }
    pthread_mutex_unlock(&p->mu);
    if (popped) {
        /* The notifier counted us as searching on our behalf. */
        w->searching = true;
    }
    if (retire)
        return PARKED_RETIRED; /* w belongs to the free list now: do not touch it */
    if (leaving)
        return PARKED_EXIT;
    if (timed_out)
        return PARKED_TIMEOUT;
    return popped ? PARKED_WORK : PARKED_READY;
}

/* Wakes one idle worker to search, unless someone already searches. The
 * caller made its work visible and then executed a seq_cst fence or RMW. */
static void wake_one(tvl_pool *p)
{
    int zero = 0;
    /* Seq_cst: the woken worker's unit of searching is taken here, so that
     * concurrent publishers do not wake a crowd. */
    if (!atomic_compare_exchange_strong_explicit(&p->searching, &zero, 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return;
    pthread_mutex_lock(&p->mu);
    tvl__worker *w = idle_pop_locked(p);
    pthread_mutex_unlock(&p->mu);
    if (w != NULL)
        tvl__futex_wake(&w->park_word, 1);
    else
        /* Nobody was idle after all: whoever left the list is awake and
         * looks for work itself. */
        atomic_fetch_sub_explicit(&p->searching, 1, memory_order_seq_cst);
}

/* Compensation: while workers are blocked, keep `workers` threads able to
 * run queued work, up to max_threads. */
static void maybe_spawn(tvl_pool *p, int64_t queued)
{
    if (p->o.fixed || queued <= 0 || atomic_load_explicit(&p->shutdown, memory_order_relaxed) != 0)
        return;
    int blocked = load_int(&p->blocked);
    if (blocked == 0)
        return;
    int live = load_int(&p->live);
    int starting = load_int(&p->starting);
    int running = live - blocked - starting;
    if (running < (int)p->o.workers && starting < queued &&
        live < (int)atomic_load_explicit(&p->limit, memory_order_relaxed))
        spawn_worker(p, true);
}

static void notify(tvl_pool *p)
{
    if (load_int(&p->searching) > 0)
        return; /* a searcher re-checks every queue before it parks */
    if (load_int(&p->nidle) > 0) {
        wake_one(p);
        return;
    }
    if (!p->o.fixed && load_int(&p->blocked) > 0)
        maybe_spawn(p, queued_near(p, tls_worker != NULL && tls_worker->pool == p ? tls_worker : NULL));
}

/* ---- the worker loop -------------------------------------------------------- */

/* A new spare: if blocking is what made room for it and more work is queued
 * than the threads already starting will take, start one more before taking
 * a task, so that compensation fans out (doubling) instead of growing one
 * thread per blocked task. */
static void fan_out(tvl__worker *w)
{
    tvl_pool *p = w->pool;
    int64_t q = queued_near(p, w);
    int live = load_int(&p->live);
    int blocked = load_int(&p->blocked);
    int starting = load_int(&p->starting);
    if (q > starting && 2 * blocked >= live - starting && load_int(&p->nidle) == 0 &&
        live < (int)atomic_load_explicit(&p->limit, memory_order_relaxed) &&
        atomic_load_explicit(&p->shutdown, memory_order_relaxed) == 0)
        spawn_worker(p, true);
}

/* Searches a little before parking. Only some workers search at once. */
static tvl_future *spin_for_work(tvl__worker *w)
{
    tvl_pool *p = w->pool;
    if (!w->searching) {
        int awake = load_int(&p->live) - load_int(&p->nidle) - load_int(&p->blocked);
        int s = load_int(&p->searching);
        if (s > 0 && 2 * s >= awake)
            return NULL;
        w->searching = true;
        /* Seq_cst: publishers that read searching > 0 skip their wake-up;
         * we re-check every queue before parking (in park()). */
        atomic_fetch_add_explicit(&p->searching, 1, memory_order_seq_cst);
    }
    /* Spinning pays only while threads are few: with more awake threads
     * than CPUs a spinner steals the CPU from the thread it waits for. */
    int awake = load_int(&p->live) - load_int(&p->nidle) - load_int(&p->blocked);
    int rounds = awake > 2 * (int)p->o.workers ? 2 : SPIN_ROUNDS;
    for (int round = 0; round < rounds; round++) {
        if (round % 8 == 7)
            sched_yield(); /* 2 cores shared with the submitter: let it run */
        else
            for (int i = 0; i < SPIN_PAUSES; i++)
                tvl__cpu_relax();
        tvl_future *f = find_task(w);
        if (f != NULL)
            return f;
        if (atomic_load_explicit(&p->exit, memory_order_relaxed))
            break;
    }
    return NULL;
}

static void *worker_main(void *arg)
{
    tvl__worker *w = arg;
    tvl_pool *p = w->pool;
    tls_worker = w;
    pthread_mutex_lock(&p->mu);
    w->thread = pthread_self();
    w->has_thread = true;
    pthread_mutex_unlock(&p->mu);
    if (w->spare)
        fan_out(w);
    for (;;) {
        tvl_future *f = find_task(w);
        if (f == NULL)
            f = spin_for_work(w);
        if (f != NULL) {
            found_work(w);
            run_task(w, f);
            continue;
        }
        int64_t deadline = -1;
        if (w->spare)
            deadline = tvl__now_ns() + (int64_t)p->o.spare_idle_ms * 1000000;
        park_result r = park(w, NULL, deadline, PARK_IDLE);
        if (r == PARKED_RETIRED) {
            tls_worker = NULL;
            return NULL;
        }
        if (r == PARKED_EXIT)
            break;
    }
    stop_searching(w);
    tls_worker = NULL;
    return NULL;
}

/* ---- helping join ----------------------------------------------------------- */

int tvl__pool_help_wait(tvl__worker *w, tvl__wait *wt, int64_t deadline_ns)
{
    tvl_pool *p = w->pool;
    /* A wait with a deadline does not help: the task it would run could
     * overrun the deadline by its whole length. It parks, counted as
     * blocked, so the pool compensates as for any blocking call. */
    bool help = deadline_ns < 0;
    int rc = 0;
    for (;;) {
        if (tvl__wait_ready(wt))
            break;
        if (deadline_ns >= 0 && tvl__now_ns() >= deadline_ns) {
            rc = -ETIMEDOUT;
            break;
        }
        if (help) {
            tvl_future *f = find_task(w);
            for (int i = 0; f == NULL && i < 16; i++) { /* children often finish soon */
                for (int k = 0; k < SPIN_PAUSES; k++)
                    tvl__cpu_relax();
                if (tvl__wait_ready(wt))
                    break;
                f = find_task(w);
            }
            if (f != NULL) {
                found_work(w);
                run_task(w, f);
                continue;
            }
            if (tvl__wait_ready(wt))
                break;
        }
        /* Nothing to run: park, counted as blocked so the pool may
         * compensate, and (when helping) on the idle list so that new work
         * wakes us. */
        bool was_blocking = w->in_blocking;
        if (!was_blocking) {
            /* Seq_cst: a publication point like tvl_blocking_begin()'s (our
             * deque may hold work only we would have run). */
            atomic_fetch_add_explicit(&p->blocked, 1, memory_order_seq_cst);
            if (!p->o.fixed && queued_near(p, w) > 0)
                notify(p);
        }
        park_result r = park(w, wt, deadline_ns, help ? PARK_HELPING : PARK_WAITING);
        if (!was_blocking)
            atomic_fetch_sub_explicit(&p->blocked, 1, memory_order_seq_cst);
        if (r == PARKED_WORK && tvl__wait_ready(wt)) {
            /* Woken for work but our wait is over: pass the wake on
             * instead of swallowing it. */
            stop_searching(w);
            notify(p);
        }
    }
    if (w->searching) {
        stop_searching(w);
        notify(p);
    }
    return rc;
}

/* ---- blocking regions ---------------------------------------------------------- */

/* Before blocking, a worker hands everything queued on it (its local batch
 * and its deque, oldest first) to the injection queue, as Go's scheduler
 * hands a thread's run queue on when the thread enters a system call.
 * Left in the deque, that work would wait for thieves, and compensation
 * would not see it: queued_near() samples a few deques, and with hundreds
 * of blocked workers it missed the one holding the work, so tasks sat
 * until their worker came back from its 200 ms request. */
static void hand_off_queued(tvl__worker *w)
{
    for (int i = w->ilocal; i < w->nlocal; i++)
        inj_push(w->pool, w->local[i]);
    w->nlocal = w->ilocal = 0;
    for (;;) {
        void *x;
        /* The owner steals from its own deque: oldest first, and the CAS on
         * top keeps it right against a concurrent thief. */
        int r = tvl__deque_thief_steal(&w->dq, &x);
        if (r == TVL__STEAL_EMPTY)
            break;
        if (r == TVL__STEAL_OK)
            inj_push(w->pool, x);
    }
}

void tvl_blocking_begin(void)
{
    tvl__worker *w = tls_worker;
    if (w == NULL || w->in_blocking)
        return;
    tvl_pool *p = w->pool;
    w->in_blocking = true;
    hand_off_queued(w);
    /* Seq_cst: a publication point of the parking protocol too (our deque
     * may hold work only we would have run); pairs with the sleepers' fence. */
    atomic_fetch_add_explicit(&p->blocked, 1, memory_order_seq_cst);
    if (p->o.fixed)
        return;
    int64_t q = queued_near(p, w);
    if (q == 0)
        return;
    if (load_int(&p->searching) > 0)
        return;
    if (load_int(&p->nidle) > 0)
        wake_one(p);
    else
        maybe_spawn(p, q);
}

void tvl_blocking_end(void)
{
    tvl__worker *w = tls_worker;
    if (w == NULL || !w->in_blocking)
        return;
    w->in_blocking = false;
    atomic_fetch_sub_explicit(&w->pool->blocked, 1, memory_order_seq_cst);
}

/* ---- submit ------------------------------------------------------------------ */

int tvl_pool_submit(tvl_pool *pool, tvl_task_fn fn, void *arg, tvl_future **out)
{
    if (out != NULL)
        *out = NULL;
    if (pool == NULL || fn == NULL)
        return -EINVAL;
    /* Relaxed: a racing destroy is ordered by the caller; see destroy(). */
    if (atomic_load_explicit(&pool->shutdown, memory_order_relaxed) == 1 + TVL_SHUTDOWN_CANCEL ||
        atomic_load_explicit(&pool->exit, memory_order_relaxed))
        return -ESHUTDOWN;
    tvl_future *f = tvl__future_new(fn, arg, out != NULL ? 2 : 1, pool);
    if (f == NULL)
        return -ENOMEM;
    tvl__worker *w = tls_worker;
    bool ours = w != NULL && w->pool == pool;
    if (ours && tvl__deque_owner_push(&w->dq, f) == 0) {
        /* Seq_cst fence: the publication point of the parking protocol for
         * a push (the push itself is a release store). */
        atomic_thread_fence(memory_order_seq_cst);
    } else if (ours || inj_try_push(pool, f)) {
        if (ours)
            inj_push(pool, f); /* a full deque: the ring, or the overflow */
        /* the seq_cst CAS of the push is the publication point */
    } else {
        /* Caller runs: a thread that is not a worker found INJ_SIZE tasks
         * already queued. Rather than grow the queue without bound, it
         * runs this task itself before returning, as Java's
         * CallerRunsPolicy does: back-pressure on a submitter that outruns
         * the workers (and what libgomp does past 64 tasks a thread). Only
         * a submitter 16,384 tasks ahead ever gets here. */
        notify(pool);
        if (out != NULL)
            *out = f;
        bool ran;
        tvl__future_execute(f, &ran);
        if (ran)
            atomic_fetch_add_explicit(&pool->caller_runs, 1, memory_order_relaxed); /* a count */
        tvl_future_unref(f); /* the executor's reference */
        return 0;
    }
    notify(pool);
    if (out != NULL)
        *out = f;
    return 0;
}

/* ---- cancel-hook registry --------------------------------------------------- */

bool tvl__pool_cancelling(const tvl_pool *pool)
{
    /* Acquire: pairs with the seq_cst store in destroy(); a body that sees
     * the flag sees what destroy did before. */
    return atomic_load_explicit(&((tvl_pool *)pool)->shutdown, memory_order_acquire) ==
           1 + TVL_SHUTDOWN_CANCEL;
}

int tvl__pool_hook_register(tvl_pool *pool, tvl_future *f)
{
    pthread_mutex_lock(&pool->hooks_mu);
    if (tvl__pool_cancelling(pool)) {
        pthread_mutex_unlock(&pool->hooks_mu);
        return -ECANCELED;
    }
    f->hook_prev = NULL;
    f->hook_next = pool->hooks;
    if (pool->hooks != NULL)
        pool->hooks->hook_prev = f;
    pool->hooks = f;
    f->hook_registered = true;
    pthread_mutex_unlock(&pool->hooks_mu);
    return 0;
}

void tvl__pool_hook_unregister(tvl_pool *pool, tvl_future *f)
{
    pthread_mutex_lock(&pool->hooks_mu);
    if (f->hook_prev != NULL)
        f->hook_prev->hook_next = f->hook_next;
    else
        pool->hooks = f->hook_next;
    if (f->hook_next != NULL)
        f->hook_next->hook_prev = f->hook_prev;
    f->hook_next = f->hook_prev = NULL;
    f->hook_registered = false;
    pthread_mutex_unlock(&pool->hooks_mu);
}

/* ---- create, destroy, stats ----------------------------------------------------- */

void tvl_pool_options_init(tvl_pool_options *o)
{
    memset(o, 0, sizeof *o);
}

static unsigned default_max_threads(unsigned workers)
{
    unsigned max = TVL_POOL_DEFAULT_MAX_THREADS;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        /* NPROC counts every thread of the user; leave room for the rest
         * of the process and the session. */
        rlim_t room = rl.rlim_cur > 512 ? rl.rlim_cur - 256 : rl.rlim_cur / 2;
        if (room < max)
            max = (unsigned)room;
    }
    return max < workers ? workers : max;
}

int tvl_pool_create(const tvl_pool_options *opts, tvl_pool **out)
{
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    tvl_pool_options o;
    if (opts != NULL)
        o = *opts;
    else
        tvl_pool_options_init(&o);
    if (o.workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o.workers = n > 0 ? (unsigned)n : 1;
    }
    if (o.workers > (unsigned)INT_MAX / 2)
        return -EINVAL;
    if (o.fixed)
        o.max_threads = o.workers;
    else if (o.max_threads == 0)
        o.max_threads = default_max_threads(o.workers);
    if (o.max_threads < o.workers || o.max_threads > (unsigned)INT_MAX / 2)
        return -EINVAL;
    if (o.spare_idle_ms == 0)
        o.spare_idle_ms = 1000;
    if (o.stack_size == 0)
        o.stack_size = TVL_POOL_DEFAULT_STACK;
    if (o.stack_size < (size_t)PTHREAD_STACK_MIN)
        return -EINVAL;

    tvl_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -ENOMEM;
    p->o = o;
    p->cap = o.max_threads;
    atomic_init(&p->limit, o.max_threads);
    p->slots = calloc(p->cap, sizeof *p->slots);
    if (p->slots == NULL) {
        free(p);
        return -ENOMEM;
    }
    p->inj_ring = calloc(INJ_SIZE, sizeof *p->inj_ring);
    if (p->inj_ring == NULL) {
        free(p->slots);
        free(p);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < p->cap; i++)
        atomic_init(&p->slots[i], NULL);
    for (unsigned i = 0; i < INJ_SIZE; i++)
        atomic_init(&p->inj_ring[i], NULL);
    atomic_init(&p->inj_tail, 0);
    atomic_init(&p->inj_head, 0);
    atomic_init(&p->ovf_count, 0);
    pthread_mutex_init(&p->ovf_mu, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->hooks_mu, NULL);
    for (unsigned i = 0; i < o.workers; i++) {
        int r = spawn_worker(p, false);
        if (r < 0) {
            tvl_pool_destroy(p, TVL_SHUTDOWN_CANCEL);
            return r;
        }
    }
    *out = p;
    return 0;
}

void tvl_pool_destroy(tvl_pool *pool, tvl_shutdown mode)
{
    if (pool == NULL)
        return;
    if (tls_worker != NULL && tls_worker->pool == pool) {
        fprintf(stderr, "tvl_pool_destroy: called from a worker of the pool\n");
        abort();
    }
    tvl_pool *p = pool;
    pthread_mutex_lock(&p->hooks_mu);
    /* Seq_cst: read by workers (relaxed: run_task; acquire: the token). */
    atomic_store_explicit(&p->shutdown, 1 + (int)mode, memory_order_seq_cst);
    if (mode == TVL_SHUTDOWN_CANCEL)
        for (tvl_future *f = p->hooks; f != NULL; f = f->hook_next)
            tvl_future_cancel(f); /* running: sets the token, fires the hook */
    pthread_mutex_unlock(&p->hooks_mu);

    pthread_mutex_lock(&p->mu);
    tvl__worker *list = check_exit_locked(p);
    pthread_mutex_unlock(&p->mu);
    wake_exit_list(p, list);
    /* Not everyone idle yet: the last worker to go idle decides. */
    while (atomic_load_explicit(&p->exit_word, memory_order_acquire) == 0)
        tvl__futex_wait(&p->exit_word, 0, -1);

    /* After exit nothing starts threads; join all of them. */
    join_zombies(p);
    unsigned n = atomic_load_explicit(&p->nslots, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        tvl__worker *w = atomic_load_explicit(&p->slots[i], memory_order_relaxed);
        pthread_mutex_lock(&p->mu);
        bool has = w->has_thread;
        pthread_t th = w->thread;
        w->has_thread = false;
        pthread_mutex_unlock(&p->mu);
        if (has)
            pthread_join(th, NULL);
    }
    join_zombies(p); /* none expected; cheap */

    /* Tasks an external thread submitted while we decided to exit. */
    tvl_future *left[MAX_BATCH];
    for (int k; (k = inj_take_locked(p, left, MAX_BATCH, 1)) > 0;) {
        for (int i = 0; i < k; i++) {
            tvl_future_abandon(left[i]);
            tvl_future_unref(left[i]);
        }
    }
    for (unsigned i = 0; i < n; i++) {
        tvl__worker *w = atomic_load_explicit(&p->slots[i], memory_order_relaxed);
        tvl__deque_destroy(&w->dq);
        free(w->znode);
        free(w);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->hooks_mu);
    pthread_mutex_destroy(&p->ovf_mu);
    free(p->inj_ring);
    free(p->slots);
    free(p);
}

void tvl_pool_get_options(const tvl_pool *pool, tvl_pool_options *o)
{
    *o = pool->o; /* written once by create, read-only since */
}

int tvl_pool_set_thread_limit(tvl_pool *pool, unsigned limit)
{
    if (pool == NULL || pool->o.fixed || limit < pool->o.workers || limit > pool->o.max_threads)
        return -EINVAL;
    pthread_mutex_lock(&pool->mu);
    bool raised = limit > atomic_load_explicit(&pool->limit, memory_order_relaxed);
    atomic_store_explicit(&pool->limit, limit, memory_order_relaxed);
    pthread_mutex_unlock(&pool->mu);
    /* Room for spares again: if workers are blocked while tasks wait, start
     * one now (it fans out), instead of waiting for the next block. */
    if (raised)
        notify(pool);
    return 0;
}

void tvl_pool_reset_peak(tvl_pool *pool)
{
    if (pool == NULL)
        return;
    /* Under mu, like every other write of peak_threads and live. */
    pthread_mutex_lock(&pool->mu);
    int live = atomic_load_explicit(&pool->live, memory_order_relaxed);
    atomic_store_explicit(&pool->peak_threads, live > 0 ? (uint64_t)live : 0,
                          memory_order_relaxed);
    pthread_mutex_unlock(&pool->mu);
}

void tvl_pool_get_stats(tvl_pool *pool, tvl_pool_stats *st)
{
    memset(st, 0, sizeof *st);
    if (pool == NULL)
        return;
    /* Relaxed: counters; the snapshot is not one instant (see pool.h). */
    st->threads_started = atomic_load_explicit(&pool->threads_started, memory_order_relaxed);
    st->peak_threads = atomic_load_explicit(&pool->peak_threads, memory_order_relaxed);
    int live = atomic_load_explicit(&pool->live, memory_order_relaxed);
    st->live_threads = live > 0 ? (uint64_t)live : 0;
    st->spares_retired = atomic_load_explicit(&pool->spares_retired, memory_order_relaxed);
    st->caller_runs = atomic_load_explicit(&pool->caller_runs, memory_order_relaxed);
    int blocked = atomic_load_explicit(&pool->blocked, memory_order_relaxed);
    st->blocked_now = blocked > 0 ? (uint64_t)blocked : 0;
    unsigned n = atomic_load_explicit(&pool->nslots, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        tvl__worker *w = atomic_load_explicit(&pool->slots[i], memory_order_relaxed);
        st->tasks_run += atomic_load_explicit(&w->tasks_run, memory_order_relaxed);
        st->steals += atomic_load_explicit(&w->steals, memory_order_relaxed);
        st->parks += atomic_load_explicit(&w->parks, memory_order_relaxed);
    }
}
