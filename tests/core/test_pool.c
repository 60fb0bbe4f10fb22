/* The pool: submission and introspection, a stress of nested submissions
 * from several threads, helping joins, blocking compensation against the
 * waves of a fixed pool, cancellation, timeouts, both shutdowns and a
 * create/destroy loop. */
#include "test_util.h"
#include "tvl/error.h"
#include "tvl/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

static void sleep_ms(int ms) { usleep((useconds_t)ms * 1000); }

static tvl_pool *make_pool(unsigned workers, bool fixed)
{
    tvl_pool_options o;
    tvl_pool_options_init(&o);
    o.workers = workers;
    o.fixed = fixed;
    tvl_pool *p = NULL;
    CU_ASSERT_EQUAL_FATAL(tvl_pool_create(&o, &p), 0);
    return p;
}

/* ---- basics ------------------------------------------------------------------ */

/* ---- back-pressure ------------------------------------------------------------ */

typedef struct caller_probe {
    _Atomic int release;   /* the blocker waits for this */
    _Atomic int on_caller; /* tasks that ran on the submitting thread */
    pthread_t submitter;
} caller_probe;

static int body_block_until_released(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)result;
    caller_probe *c = arg;
    while (!atomic_load_explicit(&c->release, memory_order_acquire))
        usleep(1000);
    return 0;
}

/* The same inside a blocking region, as a transfer is: compensation sees it. */
static int body_blocking_until_released(tvl_future *self, void *arg, void **result)
{
    tvl_blocking_begin();
    int rc = body_block_until_released(self, arg, result);
    tvl_blocking_end();
    return rc;
}

static int body_where(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)result;
    caller_probe *c = arg;
    if (pthread_equal(pthread_self(), c->submitter))
        atomic_fetch_add_explicit(&c->on_caller, 1, memory_order_relaxed);
    return 0;
}

static void a_full_queue_makes_the_submitter_run_the_task(void)
{
    /* One fixed worker, held by a blocker: the 16,384-slot queue fills, and
     * each submission past it runs on the submitting thread instead of
     * growing the queue. */
    tvl_pool *p = make_pool(1, true);
    caller_probe c = {.submitter = pthread_self()};
    tvl_future *blocker;
    CU_ASSERT_EQUAL_FATAL(tvl_pool_submit(p, body_block_until_released, &c, &blocker), 0);
    sleep_ms(20); /* the worker has taken it */
    enum { QUEUED = 16384, EXTRA = 10 };
    for (int i = 0; i < QUEUED + EXTRA; i++)
        CU_ASSERT_EQUAL_FATAL(tvl_pool_submit(p, body_where, &c, NULL), 0);
    CU_ASSERT(atomic_load(&c.on_caller) >= EXTRA);
    tvl_pool_stats st;
    tvl_pool_get_stats(p, &st);
    CU_ASSERT_EQUAL(st.caller_runs, (uint64_t)atomic_load(&c.on_caller));
    atomic_store_explicit(&c.release, 1, memory_order_release);
    CU_ASSERT_EQUAL(tvl_future_wait(blocker), 0);
    tvl_future_unref(blocker);
    tvl_pool_destroy(p, TVL_SHUTDOWN_DRAIN);
}

typedef struct whoami {
    tvl_pool *pool;
    int id;
} whoami;

static int body_whoami(tvl_future *self, void *arg, void **result)
{
    (void)self;
    whoami *w = arg;
    w->pool = tvl_pool_current();
    w->id = tvl_pool_worker_id();
    *result = arg;
    return 0;
}

static void submit_runs_on_a_worker(void)
{
    tvl_pool *p = make_pool(2, false);
    whoami w = {NULL, -5};
    tvl_future *f;
    CU_ASSERT_EQUAL(tvl_pool_submit(p, body_whoami, &w, &f), 0);
    CU_ASSERT_EQUAL(tvl_future_wait(f), 0);
    CU_ASSERT_PTR_EQUAL(tvl_future_result(f), &w);
    CU_ASSERT_PTR_EQUAL(w.pool, p);
    CU_ASSERT(w.id >= 0 && w.id < 2);
    CU_ASSERT_PTR_NULL(tvl_pool_current());
    CU_ASSERT_EQUAL(tvl_pool_worker_id(), -1);
    tvl_blocking_begin(); /* off a worker: nothing */
    tvl_blocking_end();
    tvl_future_unref(f);
    CU_ASSERT_EQUAL(tvl_pool_submit(p, NULL, NULL, &f), -EINVAL);
    CU_ASSERT_PTR_NULL(f);
    tvl_pool_stats st;
    tvl_pool_get_stats(p, &st);
    CU_ASSERT_EQUAL(st.threads_started, 2);
    CU_ASSERT_EQUAL(st.live_threads, 2);
    CU_ASSERT(st.tasks_run >= 1);
    tvl_pool_destroy(p, TVL_SHUTDOWN_DRAIN);
    tvl_pool_destroy(NULL, TVL_SHUTDOWN_DRAIN);
}

static void bad_options_are_einval(void)
{
    tvl_pool_options o;
    tvl_pool *p = (tvl_pool *)1;
    tvl_pool_options_init(&o);
    o.workers = 4;
    o.max_threads = 2;
    CU_ASSERT_EQUAL(tvl_pool_create(&o, &p), -EINVAL);
    CU_ASSERT_PTR_NULL(p);
    tvl_pool_options_init(&o);
    o.stack_size = 1024;
    CU_ASSERT_EQUAL(tvl_pool_create(&o, &p), -EINVAL);
    CU_ASSERT_EQUAL(tvl_pool_create(NULL, NULL), -EINVAL);
}

/* ---- stress: nested submissions from several threads ---------------------- */

typedef struct stress {
    tvl_pool *pool;
    _Atomic long spawned, ran, wrong;
} stress;

typedef struct node {
    stress *s;
    uint32_t seed;
    int depth;
} node;

static uint32_t lcg(uint32_t x) { return x * 1664525u + 1013904223u; }

static int body_node(tvl_future *self, void *arg, void **result);

/* Spawns 0-3 children; waits for some (in random order), forgets others. */
static void spawn_children(stress *s, uint32_t seed, int depth)
{
    if (depth <= 0)
        return;
    int n = (int)((seed >> 8) % 4);
    tvl_future *kids[3] = {NULL, NULL, NULL};
    node *args[3] = {NULL, NULL, NULL};
    for (int i = 0; i < n; i++) {
        node *c = malloc(sizeof *c);
        seed = lcg(seed);
        c->s = s;
        c->seed = seed;
        c->depth = depth - 1;
        bool wait = (seed >> 20) & 1;
        atomic_fetch_add_explicit(&s->spawned, 1, memory_order_relaxed);
        if (tvl_pool_submit(s->pool, body_node, c, wait ? &kids[i] : NULL) < 0)
            atomic_fetch_add(&s->wrong, 1);
        if (wait)
            args[i] = c;
    }
    for (int k = 0; k < n; k++) {
        int i = (int)((seed >> (4 + k)) % (unsigned)n);
        for (int j = 0; j < n && kids[i] == NULL; j++)
            i = (i + 1) % n;
        if (kids[i] == NULL)
            break;
        if (tvl_future_wait(kids[i]) != 0 ||
            tvl_future_result(kids[i]) != (void *)(uintptr_t)args[i]->seed)
            atomic_fetch_add(&s->wrong, 1);
        tvl_future_unref(kids[i]);
        free(args[i]);
        kids[i] = NULL;
    }
}

static int body_node(tvl_future *self, void *arg, void **result)
{
    (void)self;
    node *c = arg;
    stress *s = c->s;
    uint32_t seed = c->seed;
    int depth = c->depth;
    *result = (void *)(uintptr_t)seed;
    atomic_fetch_add_explicit(&s->ran, 1, memory_order_relaxed);
    bool waited = (seed >> 20) & 1; /* the parent frees args it waits for */
    if (!waited && depth >= 0)
        free(c); /* fire-and-forget: the task owns its argument */
    spawn_children(s, lcg(seed ^ 0x5bd1e995u), depth);
    return 0;
}

typedef struct submitter {
    stress *s;
    int roots;
    uint32_t seed;
} submitter;

static void *submitter_main(void *arg)
{
    submitter *sub = arg;
    for (int i = 0; i < sub->roots; i++) {
        sub->seed = lcg(sub->seed);
        spawn_children(sub->s, sub->seed | 0x300u, 6); /* at least 3 children */
    }
    return NULL;
}

static void stress_every_task_accounted_for(void)
{
    enum { SUBMITTERS = 3 };
    stress s;
    s.pool = make_pool(2, false);
    atomic_init(&s.spawned, 0);
    atomic_init(&s.ran, 0);
    atomic_init(&s.wrong, 0);
    long target = tvl_test_slow_env() ? 150000 : 1100000;
    double t0 = tvl_test_now();
    pthread_t th[SUBMITTERS];
    submitter subs[SUBMITTERS];
    /* Rounds until the target: each round's tree size is random. */
    while (atomic_load(&s.spawned) < target) {
        for (int i = 0; i < SUBMITTERS; i++) {
            subs[i] = (submitter){&s, 64, (uint32_t)(atomic_load(&s.spawned) * 31 + (long)i)};
            pthread_create(&th[i], NULL, submitter_main, &subs[i]);
        }
        for (int i = 0; i < SUBMITTERS; i++)
            pthread_join(th[i], NULL);
    }
    tvl_pool_stats st;
    tvl_pool_destroy(s.pool, TVL_SHUTDOWN_DRAIN); /* runs the forgotten ones too */
    (void)st;
    CU_ASSERT_EQUAL(atomic_load(&s.wrong), 0);
    CU_ASSERT_EQUAL(atomic_load(&s.ran), atomic_load(&s.spawned));
    CU_ASSERT(atomic_load(&s.spawned) >= target);
    if (getenv("TVL_TEST_VERBOSE"))
        printf("\n    %ld tasks in %.3f s\n", atomic_load(&s.ran), tvl_test_now() - t0);
}

/* ---- helping joins ---------------------------------------------------------- */

typedef struct tree_arg {
    int depth;
    long leaves;
} tree_arg;

/* Spawns both children and waits for both: every worker ends up waiting. */
static int body_tree(tvl_future *self, void *arg, void **result)
{
    (void)self;
    (void)result;
    tree_arg *a = arg;
    if (a->depth == 0) {
        a->leaves = 1;
        return 0;
    }
    tree_arg l = {a->depth - 1, 0}, r = {a->depth - 1, 0};
    tvl_future *fl, *fr;
    tvl_pool *p = tvl_pool_current();
    if (tvl_pool_submit(p, body_tree, &l, &fl) < 0 || tvl_pool_submit(p, body_tree, &r, &fr) < 0)
        return -ENOMEM;
    /* Wait in FIFO order (the older child first): the join cannot just pop
     * its own newest child, it must help or wait for a thief. */
    int e1 = tvl_future_wait(fl), e2 = tvl_future_wait(fr);
    tvl_future_unref(fl);
    tvl_future_unref(fr);
    a->leaves = l.leaves + r.leaves;
    return e1 < 0 ? e1 : e2;
}

static void helping_join_never_deadlocks_fixed_pool(void)
{
    tvl_pool *p = make_pool(2, true);
    int depth = tvl_test_slow_env() ? 12 : 16;
    for (int round = 0; round < 3; round++) {
        tree_arg root = {depth, 0};
        tvl_future *f;
        CU_ASSERT_EQUAL_FATAL(tvl_pool_submit(p, body_tree, &root, &f), 0);
        CU_ASSERT_EQUAL(tvl_future_wait_timeout(f, 60LL * 1000000000), 0);
        CU_ASSERT_EQUAL(root.leaves, 1L << depth);
        tvl_future_unref(f);
    }
    tvl_pool_stats st;
    tvl_pool_get_stats(p, &st);
    CU_ASSERT_EQUAL(st.threads_started, 2); /* fixed: no spares */
    tvl_pool_destroy(p, TVL_SHUTDOWN_DRAIN);
}

/* A single worker whose task waits on a child that sits in its own deque
 * behind other work: the join must run it inline. */
static void helping_join_on_one_worker(void)
{
    tvl_pool *p = make_pool(1, true);
    tree_arg root = {8, 0};
    tvl_future *f;
    CU_ASSERT_EQUAL_FATAL(tvl_pool_submit(p, body_tree, &root, &f), 0);
    CU_ASSERT_EQUAL(tvl_future_wait_timeout(f, 30LL * 1000000000), 0);
    CU_ASSERT_EQUAL(root.leaves, 256);
    tvl_future_unref(f);
    tvl_pool_destroy(p, TVL_SHUTDOWN_DRAIN);
}

/* ---- blocking compensation ------------------------------------------------------ */

static _Atomic int max_blocked_seen;

/* How long each blocking task sleeps: longer under sanitizers, where
 * starting a thread costs milliseconds, so the bounds keep their meaning. */
static int block_ms(void) { return tvl_test_slow_env() ? 100 : 50; }

static int body_blocking_sleep(tvl_future *self, void *arg, void **result)
{
    (void)self;
    (void)result;
    tvl_pool *p = arg;
    tvl_blocking_begin();
    tvl_pool_stats st;
    tvl_pool_get_stats(p, &st);
    int b = (int)st.blocked_now;
    int m = atomic_load(&max_blocked_seen);
    while (b > m && !atomic_compare_exchange_weak(&max_blocked_seen, &m, b))
        ;
    sleep_ms(block_ms());
    tvl_blocking_end();
    return 0;
}

/* Runs 8*W blocking block_ms() tasks submitted from this thread; returns seconds. */
static double run_blocking_batch(tvl_pool *p, unsigned w)
{
    unsigned n = 8 * w;
    tvl_future **fs = calloc(n, sizeof *fs);
    double t0 = tvl_test_now();
    for (unsigned i = 0; i < n; i++)
        CU_ASSERT_EQUAL(tvl_pool_submit(p, body_blocking_sleep, p, &fs[i]), 0);
    for (unsigned i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(tvl_future_wait(fs[i]), 0);
        tvl_future_unref(fs[i]);
    }
    double dt = tvl_test_now() - t0;
    free(fs);
    return dt;
}

static void compensation_runs_blocked_tasks_at_once(void)
{
    const unsigned w = 2;
    tvl_pool_options o;
    tvl_pool_options_init(&o);
    o.workers = w;
    o.spare_idle_ms = 100;
    tvl_pool *p;
    CU_ASSERT_EQUAL_FATAL(tvl_pool_create(&o, &p), 0);
    atomic_store(&max_blocked_seen, 0);
    double dt = run_blocking_batch(p, w);
    tvl_pool_stats st;
    tvl_pool_get_stats(p, &st);
    if (getenv("TVL_TEST_VERBOSE"))
        printf("\n    %u blocking tasks: %.3f s, %llu threads, peak %llu\n", 8 * w, dt,
               (unsigned long long)st.threads_started, (unsigned long long)st.peak_threads);
    /* About one sleep; the fixed pool needs 8 of them. */
    double d = block_ms() / 1000.0;
    CU_ASSERT(dt < 8 * d / 2);
    CU_ASSERT(st.threads_started > w);
    CU_ASSERT(st.peak_threads > w);
    CU_ASSERT(atomic_load(&max_blocked_seen) > (int)w);
    /* Spares retire after spare_idle_ms. */
    for (int i = 0; i < 100 && st.live_threads > w; i++) {
        sleep_ms(20);
        tvl_pool_get_stats(p, &st);
    }
    CU_ASSERT_EQUAL(st.live_threads, w);
    CU_ASSERT(st.spares_retired > 0);
    CU_ASSERT_EQUAL(st.blocked_now, 0);
    /* And they come back when needed again. */
    dt = run_blocking_batch(p, w);
    CU_ASSERT(dt < 8 * d / 2);
    tvl_pool_destroy(p, TVL_SHUTDOWN_DRAIN);
}

/* A thread limit holds a compensating pool at that many threads (queued
 * tasks wait); raising it again lets the spares start, at once. */
static void the_thread_limit_holds_spares_back_until_raised(void)
{
    const unsigned w = 2;
    tvl_pool_options o;
    tvl_pool_options_init(&o);
    o.workers = w;
    o.max_threads = 64;
    tvl_pool *p;
    CU_ASSERT_EQUAL_FATAL(tvl_pool_create(&o, &p), 0);
    tvl_pool_options got;
    tvl_pool_get_options(p, &got);
    CU_ASSERT_EQUAL(got.workers, w);
    CU_ASSERT_EQUAL(got.max_threads, 64);
    CU_ASSERT_EQUAL(tvl_pool_set_thread_limit(p, w - 1), -EINVAL);
    CU_ASSERT_EQUAL(tvl_pool_set_thread_limit(p, 65), -EINVAL);
    CU_ASSERT_EQUAL(tvl_pool_set_thread_limit(NULL, 4), -EINVAL);
    CU_ASSERT_EQUAL(tvl_pool_set_thread_limit(p, 4), 0);

    /* 16 tasks that block until released: at most 4 threads take them. */
    enum { N = 16 };
    caller_probe c = {.release = 0};
    tvl_future *fs[N];
    for (int i = 0; i < N; i++)
        CU_ASSERT_EQUAL(tvl_pool_submit(p, body_blocking_until_released, &c, &fs[i]), 0);
    sleep_ms(tvl_test_slow_env() ? 300 : 100);
    tvl_pool_stats st;
    tvl_pool_get_stats(p, &st);
    CU_ASSERT(st.peak_threads <= 4);
    CU_ASSERT_EQUAL(st.blocked_now, 4);
    /* Raised: the others start without any worker blocking anew. */
    CU_ASSERT_EQUAL(tvl_pool_set_thread_limit(p, 64), 0);
    for (int i = 0; i < 200 && st.blocked_now < N; i++) {
        sleep_ms(10);
        tvl_pool_get_stats(p, &st);
    }
    CU_ASSERT_EQUAL(st.blocked_now, N);
    atomic_store_explicit(&c.release, 1, memory_order_release);
    for (int i = 0; i < N; i++) {
        CU_ASSERT_EQUAL(tvl_future_wait(fs[i]), 0);
        tvl_future_unref(fs[i]);
    }
    tvl_pool_destroy(p, TVL_SHUTDOWN_DRAIN);

    tvl_pool *fixed = make_pool(2, true);
    CU_ASSERT_EQUAL(tvl_pool_set_thread_limit(fixed, 2), -EINVAL);
    tvl_pool_destroy(fixed, TVL_SHUTDOWN_DRAIN);
}

static void fixed_pool_shows_the_waves(void)
{
    const unsigned w = 2;
    tvl_pool *p = make_pool(w, true);
    double dt = run_blocking_batch(p, w);
    CU_ASSERT(dt >= 7 * block_ms() / 1000.0);
    tvl_pool_stats st;
    tvl_pool_get_stats(p, &st);
    CU_ASSERT_EQUAL(st.threads_started, w);
    tvl_pool_destroy(p, TVL_SHUTDOWN_DRAIN);
}

/* ---- cancellation, timeouts -------------------------------------------------------- */

typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    _Atomic bool started;
    _Atomic int hook_calls;
    _Atomic int submit_after_cancel;
} gate;

static void gate_init(gate *g)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    atomic_store(&g->submit_after_cancel, 1);
}

static void gate_hook(void *arg)
{
    gate *g = arg;
    atomic_fetch_add(&g->hook_calls, 1);
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static int body_noop(tvl_future *self, void *arg, void **result)
{
    (void)self;
    (void)result;
    if (arg != NULL)
        atomic_fetch_add((_Atomic int *)arg, 1);
    return 0;
}

/* Blocks (announced) until the gate opens, through a cancel hook or not. */
static int body_gated(tvl_future *self, void *arg, void **result)
{
    (void)result;
    gate *g = arg;
    int r = tvl_future_set_cancel_hook(self, gate_hook, g);
    atomic_store(&g->started, true);
    if (r == 0) {
        tvl_blocking_begin();
        pthread_mutex_lock(&g->mu);
        while (!g->open)
            pthread_cond_wait(&g->cv, &g->mu);
        pthread_mutex_unlock(&g->mu);
        tvl_blocking_end();
        tvl_future_clear_cancel_hook(self);
    }
    if (tvl_future_cancel_requested(self)) {
        atomic_store(&g->submit_after_cancel,
                     tvl_pool_submit(tvl_pool_current(), body_noop, NULL, NULL));
        return -ECANCELED;
    }
    return 0;
}

static void cancel_pending_and_running_tasks(void)
{
    tvl_pool *p = make_pool(1, true);
    gate g;
    gate_init(&g);
    _Atomic int ran = 0;
    tvl_future *a, *b;
    CU_ASSERT_EQUAL_FATAL(tvl_pool_submit(p, body_gated, &g, &a), 0);
    while (!atomic_load(&g.started))
        sleep_ms(1);
    CU_ASSERT_EQUAL_FATAL(tvl_pool_submit(p, body_noop, &ran, &b), 0);
    /* b is queued behind a on the only worker. */
    CU_ASSERT_EQUAL(tvl_future_cancel(b), 0);
    CU_ASSERT_EQUAL(tvl_future_state_get(b), TVL_FUTURE_CANCELLED);
    CU_ASSERT_EQUAL(tvl_future_cancel(b), -EALREADY);
    CU_ASSERT_EQUAL(tvl_future_wait_timeout(a, 20 * 1000000LL), -ETIMEDOUT);
    CU_ASSERT_EQUAL(tvl_future_state_get(a), TVL_FUTURE_RUNNING); /* a timeout cancels nothing */
    CU_ASSERT_EQUAL(tvl_future_cancel(a), -EBUSY);
    CU_ASSERT_EQUAL(tvl_future_wait(a), -ECANCELED);
    CU_ASSERT_EQUAL(atomic_load(&g.hook_calls), 1);
    CU_ASSERT_EQUAL(tvl_future_state_get(a), TVL_FUTURE_CANCELLED);
    CU_ASSERT_EQUAL(tvl_future_cancel(a), -EALREADY);
    CU_ASSERT_EQUAL(tvl_future_wait(b), -ECANCELED);
    tvl_pool_destroy(p, TVL_SHUTDOWN_DRAIN);
    CU_ASSERT_EQUAL(atomic_load(&ran), 0); /* b never ran */
    CU_ASSERT_EQUAL(atomic_load(&g.submit_after_cancel), 0); /* pool was not shutting down */
    tvl_future_unref(a);
    tvl_future_unref(b);
}

static int body_sleep_ms(tvl_future *self, void *arg, void **result)
{
    (void)self;
    (void)result;
    tvl_blocking_begin();
    sleep_ms((int)(intptr_t)arg);
    tvl_blocking_end();
    return 0;
}

static void wait_any_and_timeouts_on_pool_tasks(void)
{
    tvl_pool *p = make_pool(2, false);
    tvl_future *set[3];
    tvl_pool_submit(p, body_sleep_ms, (void *)(intptr_t)300, &set[0]);
    tvl_pool_submit(p, body_sleep_ms, (void *)(intptr_t)300, &set[1]);
    size_t idx = 7;
    CU_ASSERT_EQUAL(tvl_future_wait_any(set, 2, 20 * 1000000LL, &idx), -ETIMEDOUT);
    CU_ASSERT_EQUAL(idx, 7);
    tvl_pool_submit(p, body_sleep_ms, (void *)(intptr_t)10, &set[2]);
    CU_ASSERT_EQUAL(tvl_future_wait_any(set, 3, 10LL * 1000000000, &idx), 0);
    CU_ASSERT_EQUAL(idx, 2);
    CU_ASSERT_EQUAL(tvl_future_wait_timeout(set[0], 10 * 1000000LL), -ETIMEDOUT);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(tvl_future_wait(set[i]), 0); /* the timeouts cancelled nothing */
        tvl_future_unref(set[i]);
    }
    tvl_pool_destroy(p, TVL_SHUTDOWN_DRAIN);
}

/* A task on a worker waits with a timeout and with wait_any: helping waits. */
static int body_waits_with_timeout(tvl_future *self, void *arg, void **result)
{
    (void)self;
    (void)arg;
    (void)result;
    tvl_pool *p = tvl_pool_current();
    tvl_future *slow, *fast;
    tvl_pool_submit(p, body_sleep_ms, (void *)(intptr_t)200, &slow);
    int r = tvl_future_wait_timeout(slow, 20 * 1000000LL) == -ETIMEDOUT ? 0 : -EPROTO;
    tvl_pool_submit(p, body_sleep_ms, (void *)(intptr_t)5, &fast);
    tvl_future *set[2] = {slow, fast};
    size_t idx = 9;
    if (tvl_future_wait_any(set, 2, -1, &idx) != 0 || idx != 1)
        r = -EPROTO;
    if (tvl_future_wait(slow) != 0)
        r = -EPROTO;
    tvl_future_unref(slow);
    tvl_future_unref(fast);
    return r;
}

static void waits_with_timeout_on_a_worker(void)
{
    tvl_pool *p = make_pool(2, false);
    tvl_future *f;
    tvl_pool_submit(p, body_waits_with_timeout, NULL, &f);
    CU_ASSERT_EQUAL(tvl_future_wait(f), 0);
    tvl_future_unref(f);
    tvl_pool_destroy(p, TVL_SHUTDOWN_DRAIN);
}

typedef struct on_done_log {
    _Atomic int calls;
    _Atomic int worker_id; /* where the callback ran */
} on_done_log;

static void log_completion(tvl_future *f, void *arg)
{
    on_done_log *l = arg;
    atomic_store(&l->worker_id, tvl_pool_worker_id());
    atomic_fetch_add(&l->calls, 1);
    (void)f;
}

static void on_done_runs_on_completion(void)
{
    tvl_pool *p = make_pool(2, false);
    on_done_log l;
    atomic_init(&l.calls, 0);
    atomic_init(&l.worker_id, -7);
    tvl_future *f;
    tvl_pool_submit(p, body_sleep_ms, (void *)(intptr_t)30, &f);
    tvl_future_callback cb = {log_completion, &l, NULL};
    CU_ASSERT_EQUAL(tvl_future_on_done(f, &cb), 0);
    CU_ASSERT_EQUAL(tvl_future_wait(f), 0);
    /* The callback runs before the completing thread moves on; remove
     * waits for it if it is still running. */
    CU_ASSERT_EQUAL(tvl_future_remove_callback(f, &cb), -ENOENT);
    CU_ASSERT_EQUAL(atomic_load(&l.calls), 1);
    CU_ASSERT(atomic_load(&l.worker_id) >= 0); /* on the worker that completed it */
    tvl_future_unref(f);
    tvl_pool_destroy(p, TVL_SHUTDOWN_DRAIN);
}

/* ---- shutdown -------------------------------------------------------------------------- */

typedef struct drain_arg {
    _Atomic int ran;
    int fanout;
} drain_arg;

static int body_nested_late(tvl_future *self, void *arg, void **result)
{
    (void)self;
    (void)result;
    drain_arg *d = arg;
    atomic_fetch_add(&d->ran, 1);
    if (d->fanout > 0) {
        sleep_ms(5); /* the destroy is already waiting by now */
        for (int i = 0; i < 4; i++)
            if (tvl_pool_submit(tvl_pool_current(), body_noop, &d->ran, NULL) != 0)
                return -EPROTO;
    }
    return 0;
}

static void drain_runs_nested_submissions(void)
{
    tvl_pool *p = make_pool(2, false);
    drain_arg d = {0, 1};
    for (int i = 0; i < 20; i++)
        CU_ASSERT_EQUAL(tvl_pool_submit(p, body_nested_late, &d, NULL), 0);
    tvl_pool_destroy(p, TVL_SHUTDOWN_DRAIN);
    CU_ASSERT_EQUAL(atomic_load(&d.ran), 20 * 5);
}

static void cancel_shutdown_leaves_queued_cancelled(void)
{
    tvl_pool *p = make_pool(1, true);
    gate g;
    gate_init(&g);
    _Atomic int ran = 0;
    tvl_future *a, *q[50];
    CU_ASSERT_EQUAL_FATAL(tvl_pool_submit(p, body_gated, &g, &a), 0);
    while (!atomic_load(&g.started))
        sleep_ms(1);
    for (int i = 0; i < 50; i++)
        CU_ASSERT_EQUAL(tvl_pool_submit(p, body_noop, &ran, &q[i]), 0);
    tvl_pool_destroy(p, TVL_SHUTDOWN_CANCEL);
    CU_ASSERT_EQUAL(atomic_load(&g.hook_calls), 1);
    CU_ASSERT_EQUAL(tvl_future_state_get(a), TVL_FUTURE_CANCELLED);
    CU_ASSERT_EQUAL(atomic_load(&g.submit_after_cancel), -ESHUTDOWN);
    CU_ASSERT_EQUAL(atomic_load(&ran), 0);
    for (int i = 0; i < 50; i++) {
        CU_ASSERT_EQUAL(tvl_future_state_get(q[i]), TVL_FUTURE_CANCELLED);
        CU_ASSERT_STRING_EQUAL(tvl_future_message(q[i]), "cancelled");
        tvl_future_unref(q[i]);
    }
    tvl_future_unref(a);
}

static void create_destroy_loop_leaks_nothing(void)
{
    int n = tvl_test_slow_env() ? 200 : 1000;
    double t0 = tvl_test_now();
    for (int i = 0; i < n; i++) {
        tvl_pool_options o;
        tvl_pool_options_init(&o);
        o.workers = 2;
        o.fixed = i % 3 == 0;
        tvl_pool *p;
        CU_ASSERT_EQUAL_FATAL(tvl_pool_create(&o, &p), 0);
        if (i % 2 == 0)
            tvl_pool_submit(p, body_noop, NULL, NULL);
        tvl_pool_destroy(p, i % 4 < 2 ? TVL_SHUTDOWN_DRAIN : TVL_SHUTDOWN_CANCEL);
    }
    if (getenv("TVL_TEST_VERBOSE"))
        printf("\n    %d pools in %.3f s\n", n, tvl_test_now() - t0);
}

void test_pool_register(void)
{
    static CU_TestInfo tests[] = {
        {"submit_runs_on_a_worker", submit_runs_on_a_worker},
        {"bad_options_are_einval", bad_options_are_einval},
        {"a_full_queue_makes_the_submitter_run_the_task",
         a_full_queue_makes_the_submitter_run_the_task},
        {"stress_every_task_accounted_for", stress_every_task_accounted_for},
        {"helping_join_never_deadlocks_fixed_pool", helping_join_never_deadlocks_fixed_pool},
        {"helping_join_on_one_worker", helping_join_on_one_worker},
        {"compensation_runs_blocked_tasks_at_once", compensation_runs_blocked_tasks_at_once},
        {"fixed_pool_shows_the_waves", fixed_pool_shows_the_waves},
        {"the_thread_limit_holds_spares_back_until_raised",
         the_thread_limit_holds_spares_back_until_raised},
        {"cancel_pending_and_running_tasks", cancel_pending_and_running_tasks},
        {"wait_any_and_timeouts_on_pool_tasks", wait_any_and_timeouts_on_pool_tasks},
        {"waits_with_timeout_on_a_worker", waits_with_timeout_on_a_worker},
        {"on_done_runs_on_completion", on_done_runs_on_completion},
        {"drain_runs_nested_submissions", drain_runs_nested_submissions},
        {"cancel_shutdown_leaves_queued_cancelled", cancel_shutdown_leaves_queued_cancelled},
        {"create_destroy_loop_leaks_nothing", create_destroy_loop_leaks_nothing},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("pool", tests);
}
