/* Fiber objects, the per-thread main context, and the bookkeeping around a
 * switch that tells the sanitizers which stack is live.
 *
 * Threads: all state here is thread-local except the id counter and the
 * default stack size, which are atomics. A fiber records the thread state it
 * was made on; switching to it from another thread trips an assertion. */
#include "fiber/fiber.h"

#include "fiber/guard.h"
#include "fiber/stack.h"
#include "fiber/switch.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* The sanitizers must be told about every switch: ASan so that it knows
 * which stack its checks and its fake stacks (use-after-return) refer to,
 * TSan so that each fiber gets its own shadow call stack and happens-before
 * state. This is the only place in the project that tests which sanitizer
 * it is built with. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TVL__FIBER_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define TVL__FIBER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(TVL__FIBER_ASAN)
#define TVL__FIBER_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(TVL__FIBER_TSAN)
#define TVL__FIBER_TSAN 1
#endif

#ifdef TVL__FIBER_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef TVL__FIBER_TSAN
#include <sanitizer/tsan_interface.h>
#endif

enum fiber_state {
    FIBER_CREATED,   /* never run */
    FIBER_RUNNING,   /* the current context of its thread */
    FIBER_SUSPENDED, /* switched away from; frames live on its stack */
    FIBER_FINISHED,  /* entry returned */
};

struct fiber_thread;

struct tvl_fiber {
    void *ctx; /* backend handle; see switch.h */
    enum fiber_state state;
    void (*entry)(void *arg);
    void *arg;
    uint64_t id;
    struct tvl__stack stack; /* unused for a thread's main context */
    struct fiber_thread *thread;
    /* ASan: the fake stack saved while switched away, and the bounds of the
     * real stack (for the main context, learnt at the first switch). */
    void *asan_fake_stack;
    const void *asan_bottom;
    size_t asan_size;
    void *tsan_fiber; /* TSan's fiber handle */
};

struct fiber_thread {
    tvl_fiber main;     /* the code that is on no fiber */
    tvl_fiber *current; /* NULL until the thread first creates a fiber */
    tvl_fiber *prev;    /* what the last switch left, for ASan */
};

static _Thread_local struct fiber_thread thr;

/* Relaxed: ids only need to be unique, they order nothing. Starts at 1 so
 * that 0 can name the main context. */
static atomic_uint_fast64_t next_id = 1;

/* Relaxed: a configuration value; no other data is published with it. 0
 * means not yet set (the environment is consulted first). */
static atomic_size_t default_stack;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

/* --- sanitizer hooks ------------------------------------------------------ */

static void san_fiber_created(tvl_fiber *f)
{
#ifdef TVL__FIBER_ASAN
    f->asan_bottom = f->stack.lo;
    f->asan_size = f->stack.size;
#endif
#ifdef TVL__FIBER_TSAN
    f->tsan_fiber = __tsan_create_fiber(0);
#endif
    (void)f;
}

static void san_fiber_destroyed(tvl_fiber *f)
{
#ifdef TVL__FIBER_ASAN
    /* A finished fiber's last frames never returned and may have left
     * poisoned redzones; the next fiber on this stack must not trip on
     * them. */
    __asan_unpoison_memory_region(f->stack.lo, f->stack.size);
#endif
#ifdef TVL__FIBER_TSAN
    __tsan_destroy_fiber(f->tsan_fiber);
#endif
    (void)f;
}

static void san_thread_started(struct fiber_thread *t)
{
#ifdef TVL__FIBER_TSAN
    t->main.tsan_fiber = __tsan_get_current_fiber();
#endif
    (void)t;
}

/* Just before leaving `from` for `to`. A finished fiber passes no save slot,
 * so ASan frees its fake stack. */
static void san_before_switch(tvl_fiber *from, tvl_fiber *to)
{
#ifdef TVL__FIBER_ASAN
    __sanitizer_start_switch_fiber(from->state == FIBER_FINISHED ? NULL : &from->asan_fake_stack,
                                   to->asan_bottom, to->asan_size);
#endif
#ifdef TVL__FIBER_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    (void)from;
    (void)to;
}

/* First thing on arrival in t->current, which t->prev switched to. ASan
 * tells us the bounds of the stack we came from: that is how the main
 * context's bounds become known. */
static void san_after_switch(struct fiber_thread *t)
{
#ifdef TVL__FIBER_ASAN
    __sanitizer_finish_switch_fiber(t->current->asan_fake_stack, &t->prev->asan_bottom,
                                    &t->prev->asan_size);
#endif
    (void)t;
}

/* --- switching ------------------------------------------------------------- */

static void switch_to(struct fiber_thread *t, tvl_fiber *from, tvl_fiber *to)
{
    if (from->state == FIBER_RUNNING)
        from->state = FIBER_SUSPENDED;
    to->state = FIBER_RUNNING;
    t->prev = from;
    t->current = to;
    san_before_switch(from, to);
    tvl__ctx_switch(&from->ctx, to->ctx);
    san_after_switch(t);
}

/* Every fiber starts here, on its own stack, from the trampoline of the
 * switch backend. */
static void fiber_start(void *arg)
{
    tvl_fiber *f = arg;
    struct fiber_thread *t = f->thread;
    san_after_switch(t);
    f->entry(f->arg);
    f->state = FIBER_FINISHED;
    switch_to(t, f, &t->main);
    /* A finished fiber is never switched to again. */
    abort();
}

static struct fiber_thread *thread_state(void)
{
    struct fiber_thread *t = &thr;
    if (t->current == NULL) {
        t->main.state = FIBER_RUNNING;
        t->main.thread = t;
        t->current = &t->main;
        san_thread_started(t);
    }
    return t;
}

/* --- stack size ------------------------------------------------------------ */

/* Parses "65536", "64k", "1M"; returns 0 if s is not a size. */
static size_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return 0;
    unsigned long long unit = 1;
    if (*end == 'k' || *end == 'K')
        unit = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        unit = 1024 * 1024, end++;
    if (*end != '\0' || v == 0 || v > TVL_FIBER_MAX_STACK / unit)
        return 0;
    return (size_t)(v * unit);
}

static void read_env(void)
{
    const char *s = getenv("TVL_FIBER_STACK_SIZE");
    if (s == NULL || *s == '\0')
        return;
    size_t bytes = parse_size(s);
    size_t v = bytes != 0 ? tvl__stack_round(bytes) : 0;
    if (v == 0) {
        fprintf(stderr, "tvl: ignoring TVL_FIBER_STACK_SIZE=%s (not a size up to 1G)\n", s);
        return;
    }
    size_t unset = 0;
    /* A setter call that raced ahead of us wins. */
    atomic_compare_exchange_strong_explicit(&default_stack, &unset, v, memory_order_relaxed,
                                            memory_order_relaxed);
}

size_t tvl_fiber_default_stack_size(void)
{
    pthread_once(&env_once, read_env);
    size_t v = atomic_load_explicit(&default_stack, memory_order_relaxed);
    return v != 0 ? v : tvl__stack_round(TVL_FIBER_DEFAULT_STACK);
}

int tvl_fiber_set_default_stack_size(size_t stack_size)
{
    pthread_once(&env_once, read_env);
    size_t v = tvl__stack_round(stack_size == 0 ? TVL_FIBER_DEFAULT_STACK : stack_size);
    if (v == 0)
        return -EINVAL;
    atomic_store_explicit(&default_stack, v, memory_order_relaxed);
    return 0;
}

/* --- public API ------------------------------------------------------------ */

int tvl_fiber_create(tvl_fiber **out, void (*entry)(void *arg), void *arg, size_t stack_size)
{
    if (entry == NULL)
        return -EINVAL;
    size_t size = stack_size == 0 ? tvl_fiber_default_stack_size() : tvl__stack_round(stack_size);
    if (size == 0)
        return -EINVAL;
    struct fiber_thread *t = thread_state();
    tvl__guard_init_thread();

    tvl_fiber *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -ENOMEM;
    int err = tvl__stack_get(&f->stack, size);
    if (err != 0) {
        free(f);
        return err;
    }
    f->state = FIBER_CREATED;
    f->entry = entry;
    f->arg = arg;
    f->thread = t;
    f->id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
    f->ctx = tvl__ctx_make(f->stack.lo, f->stack.size, fiber_start, f);
    san_fiber_created(f);
    *out = f;
    return 0;
}

void tvl_fiber_switch(tvl_fiber *to)
{
    struct fiber_thread *t = thread_state();
    assert(to != NULL && to->thread == t && "a fiber runs only on its own thread");
    assert(to != t->current && to->state != FIBER_FINISHED);
    switch_to(t, t->current, to);
}

void tvl_fiber_suspend(void)
{
    struct fiber_thread *t = &thr;
    assert(t->current != NULL && t->current != &t->main && "suspend called on the main context");
    if (t->current == NULL || t->current == &t->main)
        return;
    switch_to(t, t->current, &t->main);
}

tvl_fiber *tvl_fiber_current(void)
{
    tvl_fiber *c = thr.current;
    return c == &thr.main ? NULL : c;
}

bool tvl_fiber_is_finished(const tvl_fiber *f) { return f->state == FIBER_FINISHED; }

void tvl_fiber_destroy(tvl_fiber *f)
{
    if (f == NULL)
        return;
    assert((f->state == FIBER_FINISHED || f->state == FIBER_CREATED) &&
           "only a finished or never-started fiber can be destroyed");
    san_fiber_destroyed(f);
    tvl__stack_put(&f->stack);
    free(f);
}

uint64_t tvl_fiber_id(const tvl_fiber *f) { return f == NULL ? 0 : f->id; }

size_t tvl_fiber_stack_size(const tvl_fiber *f) { return f->stack.size; }

void tvl_fiber_thread_cleanup(void)
{
    assert(tvl_fiber_current() == NULL && "cleanup called on a fiber");
    tvl__stack_cache_drain();
    tvl__guard_cleanup_thread();
}

const char *tvl_fiber_backend(void) { return tvl__ctx_backend; }

int tvl__fiber_guard_hit(const void *addr, uint64_t *id, size_t *size)
{
    /* Signal context: reads of this thread's own state only. The TLS block
     * of the executable is reached without calling anything. */
    const tvl_fiber *c = thr.current;
    if (c == NULL || c == &thr.main)
        return 0;
    const char *a = addr;
    if (a < c->stack.map || a >= c->stack.lo)
        return 0;
    *id = c->id;
    *size = c->stack.size;
    return 1;
}
