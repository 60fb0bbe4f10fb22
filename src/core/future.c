/* Futures: state machine, outcome, references, cancellation, callbacks, waits.
 *
 * Every state change goes through transition(), one compare-and-swap. The
 * only contested changes are PENDING -> RUNNING (the runner) against PENDING
 * -> CANCELLED (cancel, abandon); the CAS gives exactly one of them. RUNNING
 * is left only by the runner, so a running future always ends the way its
 * body says.
 *
 * Callbacks: a future keeps pending callback nodes on a list changed under
 * its spin lock. The completer reads the list head after its transition;
 * an adder re-reads the state after linking its node. Both with seq_cst, so
 * at least one of them sees the other (store-buffering / Dekker), and the
 * lock decides who runs the node. */
#include "core/future_impl.h"
#include "core/pool_impl.h"

#include "core/futex.h"
#include "tvl/error.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

_Static_assert(sizeof(struct tvl_future) == 128, "two cache lines");

/* The future whose callbacks this thread is running now (remove_callback
 * from inside one of them must not wait for itself). */
static _Thread_local const tvl_future *tls_dispatching;

/* ---- the spin lock ---------------------------------------------------------- */

static void flock(tvl_future *f)
{
    unsigned spins = 0;
    /* Acquire: pairs with the release store in funlock(). */
    while (atomic_exchange_explicit(&f->lock, 1, memory_order_acquire)) {
        /* Relaxed: only a hint to retry the exchange. */
        while (atomic_load_explicit(&f->lock, memory_order_relaxed)) {
            if (++spins < 64)
                tvl__cpu_relax();
            else
                sched_yield(); /* the holder may be preempted: 2 cores, many threads */
        }
    }
}

static void funlock(tvl_future *f)
{
    /* Release: pairs with the acquire exchange in flock(). */
    atomic_store_explicit(&f->lock, 0, memory_order_release);
}

/* ---- state ---------------------------------------------------------------- */

/* The one function that changes a future's state. Seq_cst: on success it
 * releases the outcome (result, error, message written before) to acquire
 * loads of state, and it is the first half of the Dekker pair with
 * tvl_future_on_done() (see the top of the file). */
static bool transition(tvl_future *f, tvl_future_state from, tvl_future_state to)
{
    int expected = (int)from;
    return atomic_compare_exchange_strong_explicit(&f->state, &expected, (int)to,
                                                   memory_order_seq_cst, memory_order_acquire);
}

/* Runs the callbacks linked on f now. Returns true if `mine` was among
 * them (it has then run on this thread). */
static bool dispatch(tvl_future *f, const tvl_future_callback *mine)
{
    flock(f);
    /* Relaxed: cbs is written only under the lock we hold. */
    tvl_future_callback *list = atomic_load_explicit(&f->cbs, memory_order_relaxed);
    if (list == NULL) {
        funlock(f);
        return false;
    }
    atomic_store_explicit(&f->cbs, NULL, memory_order_relaxed);
    /* Relaxed: inside the lock; the release that matters is the decrement. */
    atomic_fetch_add_explicit(&f->dispatching, 1, memory_order_relaxed);
    funlock(f);

    /* Newest first on the list: reverse to run in registration order. */
    tvl_future_callback *fifo = NULL;
    while (list != NULL) {
        tvl_future_callback *next = list->next_;
        list->next_ = fifo;
        fifo = list;
        list = next;
    }
    bool found = false;
    const tvl_future *outer = tls_dispatching;
    tls_dispatching = f;
    while (fifo != NULL) {
        tvl_future_callback *next = fifo->next_; /* the node may be freed once fn ran */
        found |= fifo == mine;
        fifo->fn(f, fifo->arg);
        fifo = next;
    }
    tls_dispatching = outer;
    /* Release: pairs with the acquire load in tvl_future_remove_callback(),
     * which may then free the nodes and what the callbacks touched. */
    atomic_fetch_sub_explicit(&f->dispatching, 1, memory_order_release);
    return found;
}

/* After a transition to a final state: runs the callbacks. */
static void complete(tvl_future *f)
{
    /* Seq_cst: second half of the completer's side of the Dekker pair with
     * tvl_future_on_done(); ordered after the seq_cst CAS in transition(). */
    if (atomic_load_explicit(&f->cbs, memory_order_seq_cst) != NULL)
        dispatch(f, NULL);
}

tvl_future_state tvl_future_state_get(const tvl_future *f)
{
    /* Acquire: pairs with the release of transition(), so a caller that sees
     * a final state also sees the outcome. */
    return (tvl_future_state)atomic_load_explicit(&f->state, memory_order_acquire);
}

/* ---- the per-thread future cache -------------------------------------------
 *
 * A fork-join task allocates and frees its children on one thread, where
 * malloc's tcache is already fast. Submissions from a thread that is not a
 * worker are freed by the workers, so every malloc there misses the tcache
 * and every line of a new future comes from the other core. Each thread
 * therefore keeps its own stack of free futures; a thread that frees
 * another thread's future collects it into a block of FC_BLOCK pointers and
 * hands the full block back with one CAS. The owner swaps all returned
 * blocks out at once and copies the pointers onto its stack, where it
 * prefetches them ahead of use. A thread's cache dies with the thread:
 * futures still out are then freed by whoever frees them last (the orphan
 * count decides who frees the cache itself).
 *
 * Under AddressSanitizer the cache is bypassed so that a use after free
 * is still reported. */
#if defined(__SANITIZE_ADDRESS__)
#define FC_ENABLED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FC_ENABLED 0
#endif
#endif
#ifndef FC_ENABLED
#define FC_ENABLED 1
#endif

#define FC_MAX 65536 /* free futures a thread keeps (8 MiB) */
#define FC_BLOCK 62  /* futures per returned block (a 512-byte block) */
#define FC_DEAD ((fc_block *)1)

typedef struct fc_block {
    struct fc_block *next;
    size_t n;
    tvl_future *f[FC_BLOCK];
} fc_block;

struct tvl__fcache {
    _Atomic(fc_block *) remote; /* blocks returned by other threads; FC_DEAD after exit */
    _Atomic long orphans;       /* settles the futures that were out when the owner exited */
    /* owner only */
    tvl_future **stack;
    size_t n, cap;
    long out; /* handed out and not back yet */
};

typedef struct fc_tls {
    tvl__fcache *cache;
    fc_block *ret;            /* futures freed here for ret_home */
    tvl__fcache *ret_home;
    bool dead;                /* this thread is exiting: no new cache */
    bool exit_hook;           /* fc_thread_exit() will run for this thread */
} fc_tls;

static _Thread_local fc_tls tls_fc;
static pthread_key_t fc_key;
static pthread_once_t fc_once = PTHREAD_ONCE_INIT;

static void fc_thread_exit(void *arg);

static void fc_key_init(void)
{
    pthread_key_create(&fc_key, fc_thread_exit);
}

static void fc_free_future(tvl_future *f)
{
    free(f);
}

/* Gives a block of futures back to their home cache (or frees them when the
 * home thread has exited). */
static void fc_return_block(tvl__fcache *home, fc_block *b)
{
    /* Relaxed: only a first guess for the CAS, which orders. */
    fc_block *old = atomic_load_explicit(&home->remote, memory_order_relaxed);
    for (;;) {
        if (old == FC_DEAD) {
            long n = (long)b->n;
            for (size_t i = 0; i < b->n; i++)
                fc_free_future(b->f[i]);
            free(b);
            /* Acq_rel: the last one to settle frees the cache and must see
             * every other settlement. */
            if (atomic_fetch_sub_explicit(&home->orphans, n, memory_order_acq_rel) == n)
                free(home);
            return;
        }
        b->next = old;
        /* Release: pairs with the owner's acquire exchange in fc_refill();
         * our uses of the futures happen before its reuse of them. Acquire
         * on failure: we may read FC_DEAD's consequences (orphans). */
        if (atomic_compare_exchange_weak_explicit(&home->remote, &old, b, memory_order_release,
                                                  memory_order_acquire))
            return;
    }
}

void tvl__future_cache_flush(void)
{
    fc_tls *t = &tls_fc;
    if (t->ret != NULL) {
        fc_return_block(t->ret_home, t->ret);
        t->ret = NULL;
        t->ret_home = NULL;
    }
}

static void fc_kill(tvl__fcache *c)
{
    /* Acquire: pairs with the release CAS of returners (their blocks). */
    fc_block *b = atomic_exchange_explicit(&c->remote, FC_DEAD, memory_order_acquire);
    while (b != NULL) {
        fc_block *next = b->next;
        for (size_t i = 0; i < b->n; i++)
            fc_free_future(b->f[i]);
        c->out -= (long)b->n;
        free(b);
        b = next;
    }
    for (size_t i = 0; i < c->n; i++)
        fc_free_future(c->stack[i]);
    free(c->stack);
    c->stack = NULL;
    c->n = c->cap = 0;
    long out = c->out;
    /* Acq_rel: see fc_return_block(); whoever brings it to 0 frees. */
    if (atomic_fetch_add_explicit(&c->orphans, out, memory_order_acq_rel) + out == 0)
        free(c);
}

static void fc_thread_exit(void *arg)
{
    (void)arg;
    fc_tls *t = &tls_fc;
    tvl__future_cache_flush();
    if (t->cache != NULL) {
        fc_kill(t->cache);
        t->cache = NULL;
    }
    t->dead = true;
}

/* The main thread's cache: thread-specific destructors do not run for the
 * thread that calls exit(). */
__attribute__((destructor)) static void fc_process_exit(void)
{
    fc_thread_exit(NULL);
}

/* Makes sure fc_thread_exit() runs when this thread exits (thread-specific
 * destructors run only for a non-NULL value). Returns false if it cannot. */
static bool fc_hook_exit(fc_tls *t)
{
    if (t->exit_hook)
        return true;
    pthread_once(&fc_once, fc_key_init);
    if (pthread_setspecific(fc_key, t) != 0)
        return false;
    t->exit_hook = true;
    return true;
}

static tvl__fcache *fc_self(void)
{
    fc_tls *t = &tls_fc;
    if (t->cache != NULL || t->dead)
        return t->cache;
    if (!fc_hook_exit(t))
        return NULL;
    tvl__fcache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    atomic_init(&c->remote, NULL);
    atomic_init(&c->orphans, 0);
    t->cache = c;
    return c;
}

/* Moves returned blocks onto the stack. */
static void fc_refill(tvl__fcache *c)
{
    /* Relaxed peek, then acquire: pairs with the returners' release CAS. */
    if (atomic_load_explicit(&c->remote, memory_order_relaxed) == NULL)
        return;
    fc_block *b = atomic_exchange_explicit(&c->remote, NULL, memory_order_acquire);
    while (b != NULL) {
        fc_block *next = b->next;
        c->out -= (long)b->n;
        for (size_t i = 0; i < b->n; i++) {
            if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 256;
                tvl_future **s = cap <= FC_MAX ? realloc(c->stack, cap * sizeof *s) : NULL;
                if (s == NULL) {
                    fc_free_future(b->f[i]);
                    continue;
                }
                c->stack = s;
                c->cap = cap;
            }
            c->stack[c->n++] = b->f[i];
        }
        free(b);
        b = next;
    }
}

static tvl_future *future_alloc(void)
{
    tvl__fcache *c = FC_ENABLED ? fc_self() : NULL;
    if (c == NULL) {
        tvl_future *f = aligned_alloc(64, sizeof *f);
        if (f != NULL)
            f->home = NULL;
        return f;
    }
    if (c->n == 0)
        fc_refill(c);
    tvl_future *f;
    if (c->n > 0) {
        f = c->stack[--c->n];
        /* The next ones are probably still in the worker's cache: fetch
         * them for writing now, so that the misses overlap. */
        if (c->n >= 4)
            __builtin_prefetch(c->stack[c->n - 4], 1, 3);
    } else {
        f = aligned_alloc(64, sizeof *f);
        if (f == NULL)
            return NULL;
        f->home = c; /* for good: a future only ever returns to this cache */
    }
    c->out++;
    return f;
}

static void future_free(tvl_future *f)
{
    if (f->has_message)
        free(f->message);
    tvl__fcache *home = f->home;
    if (home == NULL) {
        free(f);
        return;
    }
    fc_tls *t = &tls_fc;
    if (home == t->cache) {
        if (home->n == home->cap) {
            size_t cap = home->cap ? home->cap * 2 : 256;
            tvl_future **s = cap <= FC_MAX ? realloc(home->stack, cap * sizeof *s) : NULL;
            if (s == NULL) {
                home->out--;
                free(f);
                return;
            }
            home->stack = s;
            home->cap = cap;
        }
        home->stack[home->n++] = f;
        home->out--;
        return;
    }
    if (t->ret != NULL && (t->ret_home != home || t->ret->n == FC_BLOCK))
        tvl__future_cache_flush();
    if (t->ret == NULL) {
        /* A batch must not outlive this thread: it is flushed at exit. */
        t->ret = !t->dead && fc_hook_exit(t) ? malloc(sizeof *t->ret) : NULL;
        if (t->ret == NULL) {
            /* No memory for a block: free it here and settle it through
             * the orphan count, which the owner reconciles when it exits. */
            fc_free_future(f);
            if (atomic_fetch_sub_explicit(&home->orphans, 1, memory_order_acq_rel) == 1)
                free(home);
            return;
        }
        t->ret->n = 0;
        t->ret_home = home;
    }
    t->ret->f[t->ret->n++] = f;
}

/* ---- creation, references --------------------------------------------------- */

tvl_future *tvl__future_new(tvl_task_fn fn, void *arg, int refs, tvl_pool *pool)
{
    tvl_future *f = future_alloc();
    if (f == NULL)
        return NULL;
    /* Plain initialisation: the future is published to other threads only
     * through a release (deque push, queue link, or the caller's own sync). */
    atomic_init(&f->state, TVL_FUTURE_PENDING);
    atomic_init(&f->refs, refs);
    f->error = 0;
    atomic_init(&f->lock, 0);
    atomic_init(&f->cancel_req, false);
    f->hook_state = TVL__HOOK_NONE;
    f->hook_registered = false;
    f->hook_used = false;
    atomic_init(&f->dispatching, 0);
    f->fn = fn;
    f->arg = arg;
    f->result = NULL;
    atomic_init(&f->cbs, NULL);
    f->has_message = false;
    f->pool = pool;
    return f;
}

tvl_future *tvl_future_create(tvl_task_fn fn, void *arg)
{
    if (fn == NULL)
        return NULL;
    return tvl__future_new(fn, arg, 1, NULL);
}

tvl_future *tvl_future_ref(tvl_future *f)
{
    /* Relaxed: the caller already holds a reference, so the count cannot
     * reach zero meanwhile; nothing is published by taking one. */
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void tvl_future_unref(tvl_future *f)
{
    if (f == NULL)
        return;
    /* Acquire: pairs with the release half of other holders' decrements.
     * Seeing 1 while holding a reference means ours is the only one, and
     * no one can take another without holding one: free without an RMW
     * (saves a locked instruction per fire-and-forget task). */
    if (atomic_load_explicit(&f->refs, memory_order_acquire) != 1) {
        /* Acq_rel: the release half orders this holder's uses before the
         * free; the acquire half (for the last holder) sees every other
         * holder's. An RMW rather than release + acquire fence because
         * ThreadSanitizer does not model fences; same instruction on x86. */
        if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
            return;
    }
    future_free(f);
}

/* ---- running ---------------------------------------------------------------- */

/* Ends the body's cancel hook if it left one installed. */
static void drop_hook(tvl_future *f);

int tvl_future_run(tvl_future *f)
{
    bool ran;
    return tvl__future_execute(f, &ran);
}

/* The body running on this thread; restored on return, because a helping
 * wait may run one body inside another. */
static _Thread_local tvl_future *tls_current;

tvl_future *tvl_future_current(void)
{
    return tls_current;
}

int tvl__future_execute(tvl_future *f, bool *ran)
{
    *ran = false;
    if (!transition(f, TVL_FUTURE_PENDING, TVL_FUTURE_RUNNING))
        return -ECANCELED; /* cancelled (or abandoned) before it started */
    *ran = true;
    void *result = NULL;
    tvl_future *outer = tls_current;
    tls_current = f;
    int rc = f->fn(f, f->arg, &result);
    tls_current = outer;
    if (rc > 0)
        rc = -EINVAL; /* a body must return 0 or a negative code */
    if (f->hook_used) /* the body left its hook installed */
        drop_hook(f);
    f->result = result;
    f->error = rc;
    tvl_future_state to = rc == 0 ? TVL_FUTURE_DONE
                          : rc == -ECANCELED ? TVL_FUTURE_CANCELLED
                                             : TVL_FUTURE_FAILED;
    transition(f, TVL_FUTURE_RUNNING, to); /* cannot fail: only we leave RUNNING */
    complete(f);
    return rc;
}

int tvl_future_abandon(tvl_future *f)
{
    if (!transition(f, TVL_FUTURE_PENDING, TVL_FUTURE_CANCELLED))
        return -EALREADY;
    complete(f);
    return 0;
}

/* ---- outcome ---------------------------------------------------------------- */

void *tvl_future_result(const tvl_future *f)
{
    return tvl_future_state_get(f) == TVL_FUTURE_DONE ? f->result : NULL;
}

int tvl_future_error(const tvl_future *f)
{
    switch (tvl_future_state_get(f)) {
    case TVL_FUTURE_DONE:
        return 0;
    case TVL_FUTURE_FAILED:
        return f->error;
    case TVL_FUTURE_CANCELLED:
        return -ECANCELED;
    default:
        return -EINPROGRESS;
    }
}

const char *tvl_future_message(const tvl_future *f)
{
    tvl_future_state s = tvl_future_state_get(f);
    if (s != TVL_FUTURE_FAILED && s != TVL_FUTURE_CANCELLED)
        return "";
    /* The acquire load above ordered the body's write of message. */
    if (f->has_message)
        return f->message;
    return tvl_strerror(s == TVL_FUTURE_FAILED ? f->error : -ECANCELED);
}

int tvl_future_fail(tvl_future *self, int err, const char *fmt, ...)
{
    char *m = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&m, fmt, ap);
    va_end(ap);
    if (n >= 0) {
        if (self->has_message) /* only the body writes it, before it returns */
            free(self->message);
        self->message = m;
        self->has_message = true;
    }
    return err;
}

/* ---- cancellation -------------------------------------------------------- */

bool tvl_future_cancel_requested(const tvl_future *self)
{
    /* Acquire: pairs with the release store in tvl_future_cancel(), so what
     * the canceller wrote before asking is visible to the body. */
    if (atomic_load_explicit(&self->cancel_req, memory_order_acquire))
        return true;
    return self->pool != NULL && tvl__pool_cancelling(self->pool);
}

/* Runs the installed hook once, on this thread. */
static void fire_hook(tvl_future *f)
{
    flock(f);
    if (f->hook_state != TVL__HOOK_INSTALLED) {
        funlock(f);
        return;
    }
    void (*hook)(void *) = f->hook;
    void *arg = f->hook_arg;
    f->hook_state = TVL__HOOK_RUNNING;
    funlock(f);
    hook(arg);
    flock(f);
    f->hook_state = TVL__HOOK_FIRED;
    funlock(f);
}

int tvl_future_cancel(tvl_future *f)
{
    for (;;) {
        tvl_future_state s = tvl_future_state_get(f);
        if (s == TVL_FUTURE_PENDING) {
            if (transition(f, TVL_FUTURE_PENDING, TVL_FUTURE_CANCELLED)) {
                complete(f);
                return 0;
            }
            continue; /* it started (or someone else cancelled it): look again */
        }
        if (s != TVL_FUTURE_RUNNING)
            return -EALREADY;
        /* Release: pairs with the acquire loads of the token. */
        atomic_store_explicit(&f->cancel_req, true, memory_order_release);
        fire_hook(f);
        return -EBUSY;
    }
}

int tvl_future_set_cancel_hook(tvl_future *self, void (*hook)(void *arg), void *arg)
{
    if (hook == NULL)
        return -EINVAL;
    bool registered_now = false;
    if (self->pool != NULL && !self->hook_registered) {
        int r = tvl__pool_hook_register(self->pool, self);
        if (r < 0)
            return r;
        registered_now = true;
    }
    flock(self);
    /* Relaxed: the lock orders us after a cancel that stored the token and
     * then took the lock in fire_hook(); a later cancel sees our hook. */
    if (atomic_load_explicit(&self->cancel_req, memory_order_relaxed) ||
        (self->pool != NULL && tvl__pool_cancelling(self->pool))) {
        funlock(self);
        if (registered_now)
            tvl__pool_hook_unregister(self->pool, self);
        return -ECANCELED;
    }
    if (self->hook_state == TVL__HOOK_INSTALLED || self->hook_state == TVL__HOOK_RUNNING) {
        funlock(self);
        return -EBUSY; /* one hook at a time */
    }
    self->hook = hook;
    self->hook_arg = arg;
    self->hook_state = TVL__HOOK_INSTALLED;
    self->hook_used = true;
    funlock(self);
    return 0;
}

void tvl_future_clear_cancel_hook(tvl_future *self)
{
    flock(self);
    while (self->hook_state == TVL__HOOK_RUNNING) { /* a canceller runs it now */
        funlock(self);
        sched_yield();
        flock(self);
    }
    self->hook_state = TVL__HOOK_NONE;
    self->hook = NULL;
    self->hook_arg = NULL;
    self->hook_used = false;
    funlock(self);
    if (self->hook_registered)
        tvl__pool_hook_unregister(self->pool, self);
}

static void drop_hook(tvl_future *f)
{
    tvl_future_clear_cancel_hook(f);
}

/* ---- callbacks ------------------------------------------------------------- */

int tvl_future_on_done(tvl_future *f, tvl_future_callback *cb)
{
    flock(f);
    if (tvl_future_is_final(f)) {
        funlock(f);
        cb->fn(f, cb->arg);
        return 1;
    }
    cb->next_ = atomic_load_explicit(&f->cbs, memory_order_relaxed); /* under the lock */
    /* Seq_cst: first half of the adder's side of the Dekker pair (see the
     * top of the file); pairs with the seq_cst load in complete(). */
    atomic_store_explicit(&f->cbs, cb, memory_order_seq_cst);
    funlock(f);
    /* Seq_cst: if the completer's load of cbs missed our node, its
     * transition precedes this load and we see the final state. */
    if (tvl_future_state_is_final(
            (tvl_future_state)atomic_load_explicit(&f->state, memory_order_seq_cst)))
        return dispatch(f, cb) ? 1 : 0;
    return 0;
}

int tvl_future_remove_callback(tvl_future *f, tvl_future_callback *cb)
{
    flock(f);
    tvl_future_callback *prev = NULL;
    for (tvl_future_callback *c = atomic_load_explicit(&f->cbs, memory_order_relaxed); c != NULL;
         prev = c, c = c->next_) {
        if (c != cb)
            continue;
        if (prev == NULL)
            /* Relaxed: under the lock; a completer reads it under the lock
             * too before using it. */
            atomic_store_explicit(&f->cbs, c->next_, memory_order_relaxed);
        else
            prev->next_ = c->next_;
        funlock(f);
        return 0;
    }
    funlock(f);
    if (tls_dispatching != f) {
        unsigned spins = 0;
        /* Acquire: pairs with the release decrement in dispatch(). */
        while (atomic_load_explicit(&f->dispatching, memory_order_acquire) != 0) {
            if (++spins < 64)
                tvl__cpu_relax();
            else
                sched_yield();
        }
    }
    return -ENOENT;
}

/* ---- waits ----------------------------------------------------------------- */

bool tvl__wait_ready(tvl__wait *w)
{
    for (size_t i = 0; i < w->n; i++) {
        if (tvl_future_is_final(w->set[i])) {
            w->index = i;
            return true;
        }
    }
    return false;
}

int tvl__wait_arm(tvl__wait *w, void (*fn)(tvl_future *, void *), void *arg)
{
    for (size_t i = 0; i < w->n; i++) {
        w->cbs[i].fn = fn;
        w->cbs[i].arg = arg;
        if (tvl_future_on_done(w->set[i], &w->cbs[i]) != 0) {
            for (size_t j = 0; j < i; j++)
                tvl_future_remove_callback(w->set[j], &w->cbs[j]);
            return 1;
        }
    }
    return 0;
}

void tvl__wait_disarm(tvl__wait *w)
{
    for (size_t i = 0; i < w->n; i++)
        tvl_future_remove_callback(w->set[i], &w->cbs[i]);
}

static void wake_word(tvl_future *f, void *arg)
{
    (void)f;
    _Atomic uint32_t *word = arg;
    /* Release: pairs with the acquire load in park_wait(). */
    atomic_store_explicit(word, 1, memory_order_release);
    tvl__futex_wake(word, 1);
}

/* The wait of a thread that is not a worker: sleep on a futex word that a
 * callback on each future sets. */
static int park_wait(tvl__wait *w, int64_t deadline_ns)
{
    for (int i = 0; i < 100; i++) { /* a short spin catches quick tasks cheaply */
        if (tvl__wait_ready(w))
            return 0;
        tvl__cpu_relax();
    }
    _Atomic uint32_t word;
    atomic_init(&word, 0);
    if (tvl__wait_arm(w, wake_word, &word) == 0) {
        /* Acquire: pairs with the release store in wake_word(). */
        while (atomic_load_explicit(&word, memory_order_acquire) == 0) {
            if (tvl__futex_wait(&word, 0, deadline_ns) == -ETIMEDOUT)
                break;
        }
        tvl__wait_disarm(w); /* returns once no callback touches word */
    }
    return tvl__wait_ready(w) ? 0 : -ETIMEDOUT;
}

static int wait_set(tvl__wait *w, int64_t deadline_ns)
{
    if (tvl__wait_ready(w))
        return 0;
    if (deadline_ns >= 0 && tvl__now_ns() >= deadline_ns)
        return -ETIMEDOUT;
    tvl__worker *self = tvl__worker_self();
    if (self != NULL)
        return tvl__pool_help_wait(self, w, deadline_ns);
    return park_wait(w, deadline_ns);
}

int tvl_future_wait_timeout(tvl_future *f, int64_t timeout_ns)
{
    if (tvl_future_is_final(f))
        return tvl_future_error(f);
    tvl_future_callback cb;
    tvl__wait w = {.set = &f, .n = 1, .cbs = &cb};
    int r = wait_set(&w, tvl__deadline_after(timeout_ns));
    return r < 0 ? r : tvl_future_error(f);
}

int tvl_future_wait(tvl_future *f)
{
    return tvl_future_wait_timeout(f, -1);
}

int tvl_future_wait_any(tvl_future *const *set, size_t n, int64_t timeout_ns, size_t *index)
{
    if (n == 0 || set == NULL)
        return -EINVAL;
    tvl__wait w = {.set = set, .n = n};
    if (tvl__wait_ready(&w)) {
        if (index != NULL)
            *index = w.index;
        return 0;
    }
    tvl_future_callback small[8];
    w.cbs = n <= 8 ? small : malloc(n * sizeof *w.cbs);
    if (w.cbs == NULL)
        return -ENOMEM;
    int r = wait_set(&w, tvl__deadline_after(timeout_ns));
    if (w.cbs != small)
        free(w.cbs);
    if (r == 0 && index != NULL)
        *index = w.index;
    return r;
}
