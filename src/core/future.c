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

#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

_Static_assert(sizeof(struct tvl_future) <= 120, "keep futures in glibc's fast bins");

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

/* ---- creation, references --------------------------------------------------- */

tvl_future *tvl__future_new(tvl_task_fn fn, void *arg, int refs, tvl_pool *pool)
{
    tvl_future *f = malloc(sizeof *f);
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
    f->message = NULL;
    atomic_init(&f->cbs, NULL);
    f->hook = NULL;
    f->hook_arg = NULL;
    f->pool = pool;
    atomic_init(&f->qnode.next, NULL);
    f->hook_next = f->hook_prev = NULL;
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
    /* Acq_rel: the release half orders this holder's uses before the free;
     * the acquire half (for the last holder) sees every other holder's. An
     * RMW rather than release + acquire fence because ThreadSanitizer does
     * not model fences; same instruction on x86. */
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(f->message);
    free(f);
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
    if (f->message != NULL)
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
        free(self->message); /* only the body writes it, before it returns */
        self->message = m;
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
