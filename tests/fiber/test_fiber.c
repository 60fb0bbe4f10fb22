/* Fibers: switches carry control and values both ways, keep registers and
 * floating-point values, scale to 10,000 live fibers, reuse stacks, work on
 * several threads at once, and turn a stack overflow into a clear message. */
#include "test_util.h"

#include "fiber/fiber.h"
#include "fiber/stack.h"

#include <dlfcn.h>
#include <errno.h>
#include <fenv.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* --- ping-pong ------------------------------------------------------------- */

struct box {
    int to_fiber;
    int to_main;
    int rounds;
    tvl_fiber *self_seen;
};

static void doubler(void *arg)
{
    struct box *b = arg;
    b->self_seen = tvl_fiber_current();
    while (b->to_fiber >= 0) {
        b->to_main = b->to_fiber * 2;
        b->rounds++;
        tvl_fiber_suspend();
    }
}

static void ping_pong_passes_values_both_ways(void)
{
    struct box b = {0};
    tvl_fiber *f = NULL;
    CU_ASSERT_EQUAL_FATAL(tvl_fiber_create(&f, doubler, &b, 0), 0);
    CU_ASSERT_PTR_NULL(tvl_fiber_current());
    CU_ASSERT_FALSE(tvl_fiber_is_finished(f));
    for (int i = 0; i < 1000; i++) {
        b.to_fiber = i;
        tvl_fiber_switch(f);
        CU_ASSERT_EQUAL(b.to_main, 2 * i);
        CU_ASSERT_PTR_NULL(tvl_fiber_current());
        CU_ASSERT_FALSE(tvl_fiber_is_finished(f));
    }
    b.to_fiber = -1;
    tvl_fiber_switch(f);
    CU_ASSERT_TRUE(tvl_fiber_is_finished(f));
    CU_ASSERT_EQUAL(b.rounds, 1000);
    CU_ASSERT_PTR_EQUAL(b.self_seen, f);
    tvl_fiber_destroy(f);
}

/* --- nested ---------------------------------------------------------------- */

struct nest {
    tvl_fiber *outer, *inner;
    int trace[8];
    int n;
    tvl_fiber *inner_saw, *outer_saw_after;
};

static void inner_body(void *arg)
{
    struct nest *s = arg;
    s->trace[s->n++] = 2;
    s->inner_saw = tvl_fiber_current();
    tvl_fiber_switch(s->outer); /* fiber to fiber */
    s->trace[s->n++] = 4;
    /* returning goes to the main context, not to the outer fiber */
}

static void outer_body(void *arg)
{
    struct nest *s = arg;
    s->trace[s->n++] = 1;
    if (tvl_fiber_create(&s->inner, inner_body, s, 0) != 0)
        return;
    tvl_fiber_switch(s->inner);
    s->trace[s->n++] = 3;
    s->outer_saw_after = tvl_fiber_current();
    tvl_fiber_switch(s->inner);
    s->trace[s->n++] = 5;
    tvl_fiber_destroy(s->inner);
    s->inner = NULL;
}

static void nested_fiber_creates_and_returns(void)
{
    struct nest s = {0};
    CU_ASSERT_EQUAL_FATAL(tvl_fiber_create(&s.outer, outer_body, &s, 0), 0);
    tvl_fiber_switch(s.outer);
    /* Back here because the inner fiber finished; the outer one waits. */
    CU_ASSERT_EQUAL_FATAL(s.n, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s.inner);
    CU_ASSERT_TRUE(tvl_fiber_is_finished(s.inner));
    CU_ASSERT_FALSE(tvl_fiber_is_finished(s.outer));
    CU_ASSERT_PTR_EQUAL(s.inner_saw, s.inner);
    CU_ASSERT_PTR_EQUAL(s.outer_saw_after, s.outer);
    tvl_fiber_switch(s.outer);
    CU_ASSERT_TRUE(tvl_fiber_is_finished(s.outer));
    CU_ASSERT_PTR_NULL(s.inner);
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(s.trace[i], i + 1);
    tvl_fiber_destroy(s.outer);
}

/* --- registers and floating point ------------------------------------------ */

struct calc {
    uint64_t seed;
    bool yield;
    uint64_t ints;
    double fp;
};

/* Keeps six integers and three doubles live across every suspension, so the
 * compiler holds them in callee-saved registers or spills them to the stack:
 * either must survive the other contexts running meanwhile. */
static void calc_run(struct calc *c)
{
    uint64_t a = c->seed, b = a * 3 + 1, d = a ^ 0x9e3779b97f4a7c15u, e = 7, g = 11, h = 13;
    double x = 1.5 + (double)(c->seed % 7), y = 0.25, z = -3.0;
    for (int i = 0; i < 500; i++) {
        a = a * 6364136223846793005u + 1442695040888963407u;
        b ^= a >> 7;
        d += b * 31;
        e = e * 33 ^ d;
        g += e >> 3;
        h ^= g + a;
        x = x * 1.0000001 + y;
        y = y / 1.0000003 + 0.5 * z;
        z = z * 0.999 - x * 1e-9;
        if (c->yield)
            tvl_fiber_suspend();
    }
    c->ints = a ^ b ^ d ^ e ^ g ^ h;
    c->fp = x + y * 3 + z * 7;
}

static void calc_body(void *arg) { calc_run(arg); }

static void registers_and_doubles_survive_switches(void)
{
    enum { N = 3 };
    struct calc c[N], ref[N];
    tvl_fiber *f[N];
    for (int i = 0; i < N; i++) {
        c[i] = (struct calc){.seed = 1000u + (uint64_t)i, .yield = true};
        ref[i] = (struct calc){.seed = 1000u + (uint64_t)i, .yield = false};
        calc_run(&ref[i]);
        CU_ASSERT_EQUAL_FATAL(tvl_fiber_create(&f[i], calc_body, &c[i], 0), 0);
    }
    /* The main context computes too, with its own values live across each
     * round of switches. */
    double m = 2.0;
    uint64_t k = 5;
    for (int round = 0; round <= 500; round++) {
        for (int i = 0; i < N; i++)
            if (!tvl_fiber_is_finished(f[i]))
                tvl_fiber_switch(f[i]);
        m = m * 1.5 - 1.0;
        k = k * 2862933555777941757u + 3037000493u;
    }
    double m_ref = 2.0;
    uint64_t k_ref = 5;
    for (int round = 0; round <= 500; round++) {
        m_ref = m_ref * 1.5 - 1.0;
        k_ref = k_ref * 2862933555777941757u + 3037000493u;
    }
    CU_ASSERT(m == m_ref);
    CU_ASSERT_EQUAL(k, k_ref);
    for (int i = 0; i < N; i++) {
        CU_ASSERT_TRUE(tvl_fiber_is_finished(f[i]));
        CU_ASSERT_EQUAL(c[i].ints, ref[i].ints);
        CU_ASSERT(c[i].fp == ref[i].fp);
        tvl_fiber_destroy(f[i]);
    }
}

/* The rounding mode is part of what a function must give back as it found
 * it (MXCSR and the x87 control word on x86-64, FPCR on AArch64), so each
 * context keeps its own across switches. test-fiber does not link libm,
 * where fesetround lives, so it is looked up at run time. */
struct rounding {
    int (*set)(int);
    int (*get)(void);
    int in_fiber_before, in_fiber_after;
};

static void upward_body(void *arg)
{
    struct rounding *r = arg;
    r->set(FE_UPWARD);
    r->in_fiber_before = r->get();
    tvl_fiber_suspend();
    r->in_fiber_after = r->get();
}

static void rounding_mode_stays_with_its_context(void)
{
    void *libm = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(libm);
    struct rounding r = {0};
    *(void **)&r.set = dlsym(libm, "fesetround");
    *(void **)&r.get = dlsym(libm, "fegetround");
    CU_ASSERT_FATAL(r.set != NULL && r.get != NULL);
    CU_ASSERT_EQUAL_FATAL(r.get(), FE_TONEAREST);

    tvl_fiber *f = NULL;
    CU_ASSERT_EQUAL_FATAL(tvl_fiber_create(&f, upward_body, &r, 0), 0);
    tvl_fiber_switch(f);
    CU_ASSERT_EQUAL(r.in_fiber_before, FE_UPWARD);
    CU_ASSERT_EQUAL(r.get(), FE_TONEAREST); /* the fiber's mode stayed there */
    r.set(FE_TOWARDZERO);
    tvl_fiber_switch(f);
    CU_ASSERT_EQUAL(r.in_fiber_after, FE_UPWARD); /* and main's did not leak in */
    CU_ASSERT_EQUAL(r.get(), FE_TOWARDZERO);
    CU_ASSERT_TRUE(tvl_fiber_is_finished(f));
    tvl_fiber_destroy(f);
    r.set(FE_TONEAREST);
    dlclose(libm);
}

/* --- many live fibers ------------------------------------------------------- */

struct many {
    unsigned started, finished, wrong_current;
};

static struct many many_state;

static void many_body(void *arg)
{
    many_state.started++;
    tvl_fiber_suspend();
    if (tvl_fiber_current() != *(tvl_fiber **)arg)
        many_state.wrong_current++;
    many_state.finished++;
}

static long count_lines(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return -1;
    long n = 0;
    int c;
    while ((c = getc(fp)) != EOF)
        n += c == '\n';
    fclose(fp);
    return n;
}

static long read_long(const char *path, long fallback)
{
    FILE *fp = fopen(path, "r");
    long v = fallback;
    if (fp != NULL) {
        if (fscanf(fp, "%ld", &v) != 1)
            v = fallback;
        fclose(fp);
    }
    return v;
}

static long rss_bytes(void)
{
    long pages = 0;
    FILE *fp = fopen("/proc/self/statm", "r");
    if (fp != NULL) {
        if (fscanf(fp, "%*s %ld", &pages) != 1)
            pages = 0;
        fclose(fp);
    }
    return pages * sysconf(_SC_PAGESIZE);
}

/* Memory the test may take for its live fibers: about six times what 10,000
 * plain fibers need, far below what a TSan build would take for them. */
#define MANY_FIBERS_MEMORY_CAP (256L << 20)

/* How many live fibers fit, measured on the first `probe`: in the kernel's
 * limit on mappings (vm.max_map_count, 65,530 by default; each fiber takes
 * two, stack and guard) and in MANY_FIBERS_MEMORY_CAP. A plain, ASan or
 * valgrind build fits 10,000. TSan does not: it gives every fiber a thread
 * context of its own, about nine more mappings and close to 1 MiB. */
static int fiber_room(int wanted, int probe, long maps_before, long rss_before)
{
    long maps_after = count_lines("/proc/self/maps");
    long limit = read_long("/proc/sys/vm/max_map_count", 65530);
    long room = wanted;
    if (maps_before >= 0 && maps_after >= 0) {
        long per = (maps_after - maps_before + probe - 1) / probe;
        long by_maps = probe + (limit - maps_after - 2000) / (per > 0 ? per : 1);
        room = by_maps < room ? by_maps : room;
    }
    long rss_after = rss_bytes();
    if (rss_before > 0 && rss_after > rss_before) {
        long per = (rss_after - rss_before + probe - 1) / probe;
        long by_memory = MANY_FIBERS_MEMORY_CAP / per;
        room = by_memory < room ? by_memory : room;
    }
    return room < probe ? probe : (int)room;
}

static void ten_thousand_fibers_live_at_once(void)
{
    enum { WANTED = 10000, PROBE = 100 };
    tvl_fiber **f = calloc(WANTED, sizeof *f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    memset(&many_state, 0, sizeof many_state);
    tvl_fiber_thread_cleanup(); /* no cached stacks to blur the count */
    long maps_before = count_lines("/proc/self/maps");
    long rss_before = rss_bytes();
    int n = WANTED;
    for (int i = 0; i < n; i++) {
        int err = tvl_fiber_create(&f[i], many_body, &f[i], 0);
        CU_ASSERT_EQUAL_FATAL(err, 0);
        tvl_fiber_switch(f[i]); /* runs to its suspend: its stack is touched */
        if (i + 1 == PROBE) {
            n = fiber_room(WANTED, PROBE, maps_before, rss_before);
            if (n < WANTED)
                printf("\n  [%d live fibers, not %d: the rest would not fit in this build] ", n, WANTED);
        }
    }
    CU_ASSERT_EQUAL(many_state.started, (unsigned)n);
    CU_ASSERT_EQUAL(many_state.finished, 0);
    for (int i = n; i-- > 0;) /* resume in the other order */
        tvl_fiber_switch(f[i]);
    CU_ASSERT_EQUAL(many_state.finished, (unsigned)n);
    CU_ASSERT_EQUAL(many_state.wrong_current, 0);
    for (int i = 0; i < n; i++) {
        CU_ASSERT_TRUE(tvl_fiber_is_finished(f[i]));
        tvl_fiber_destroy(f[i]);
    }
    free(f);
    tvl_fiber_thread_cleanup();
}

/* --- stacks ------------------------------------------------------------------ */

static void record_frame(void *arg)
{
    /* The frame address is on the real stack even under ASan, whose fake
     * stacks may hold the locals. */
    *(uintptr_t *)arg = (uintptr_t)__builtin_frame_address(0);
}

static uintptr_t frame_of_fresh_fiber(size_t stack_size)
{
    uintptr_t frame = 0;
    tvl_fiber *f = NULL;
    if (tvl_fiber_create(&f, record_frame, &frame, stack_size) != 0)
        return 0;
    tvl_fiber_switch(f);
    tvl_fiber_destroy(f);
    return frame;
}

static void freed_stacks_are_reused(void)
{
    tvl_fiber_thread_cleanup();
    uintptr_t first = frame_of_fresh_fiber(0);
    CU_ASSERT(first != 0);
    for (int i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(frame_of_fresh_fiber(0), first);
    /* A different size does not take that stack. */
    uintptr_t other = frame_of_fresh_fiber(4 * tvl_fiber_default_stack_size());
    CU_ASSERT(other != 0 && other != first);
    tvl_fiber_thread_cleanup();
}

static void noop(void *arg) { (void)arg; }

static void stack_sizes_are_rounded_and_configurable(void)
{
    tvl_fiber *f = NULL;
    CU_ASSERT_EQUAL(tvl_fiber_default_stack_size(), TVL_FIBER_DEFAULT_STACK);
    CU_ASSERT_EQUAL_FATAL(tvl_fiber_create(&f, noop, NULL, 1), 0);
    CU_ASSERT_EQUAL(tvl_fiber_stack_size(f), TVL_FIBER_MIN_STACK);
    tvl_fiber_destroy(f);

    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    CU_ASSERT_EQUAL_FATAL(tvl_fiber_create(&f, noop, NULL, 100 * 1024 + 1), 0);
    CU_ASSERT_EQUAL(tvl_fiber_stack_size(f), (100 * 1024 + page) / page * page);
    tvl_fiber_destroy(f);

    CU_ASSERT_EQUAL(tvl_fiber_set_default_stack_size(256 * 1024), 0);
    CU_ASSERT_EQUAL_FATAL(tvl_fiber_create(&f, noop, NULL, 0), 0);
    CU_ASSERT_EQUAL(tvl_fiber_stack_size(f), 256 * 1024);
    tvl_fiber_switch(f);
    CU_ASSERT_TRUE(tvl_fiber_is_finished(f));
    tvl_fiber_destroy(f);

    CU_ASSERT_EQUAL(tvl_fiber_set_default_stack_size(TVL_FIBER_MAX_STACK + 1), -EINVAL);
    CU_ASSERT_EQUAL(tvl_fiber_create(&f, noop, NULL, TVL_FIBER_MAX_STACK + 1), -EINVAL);
    CU_ASSERT_EQUAL(tvl_fiber_create(&f, NULL, NULL, 0), -EINVAL);
    CU_ASSERT_EQUAL(tvl_fiber_set_default_stack_size(0), 0);
    CU_ASSERT_EQUAL(tvl_fiber_default_stack_size(), TVL_FIBER_DEFAULT_STACK);
    tvl_fiber_thread_cleanup();
}

static void never_started_fibers_can_be_destroyed(void)
{
    tvl_fiber *f = NULL;
    CU_ASSERT_EQUAL_FATAL(tvl_fiber_create(&f, noop, NULL, 0), 0);
    CU_ASSERT_FALSE(tvl_fiber_is_finished(f));
    tvl_fiber_destroy(f);
    tvl_fiber_destroy(NULL);
}

/* --- ids ------------------------------------------------------------------- */

static void fiber_ids_are_sequential(void)
{
    tvl_fiber *f[3];
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL_FATAL(tvl_fiber_create(&f[i], noop, NULL, 0), 0);
    CU_ASSERT(tvl_fiber_id(f[0]) > 0);
    CU_ASSERT_EQUAL(tvl_fiber_id(f[1]), tvl_fiber_id(f[0]) + 1);
    CU_ASSERT_EQUAL(tvl_fiber_id(f[2]), tvl_fiber_id(f[0]) + 2);
    CU_ASSERT_EQUAL(tvl_fiber_id(NULL), 0);
    CU_ASSERT_EQUAL(tvl_fiber_id(tvl_fiber_current()), 0);
    for (int i = 0; i < 3; i++)
        tvl_fiber_destroy(f[i]);
}

/* --- threads ----------------------------------------------------------------- */

static void *thread_ping_pong(void *arg)
{
    (void)arg;
    struct box b = {0};
    tvl_fiber *f = NULL;
    long bad = 0;
    if (tvl_fiber_create(&f, doubler, &b, 0) != 0)
        return (void *)1L;
    for (int i = 0; i < 2000; i++) {
        b.to_fiber = i;
        tvl_fiber_switch(f);
        bad += b.to_main != 2 * i || tvl_fiber_current() != NULL;
    }
    b.to_fiber = -1;
    tvl_fiber_switch(f);
    bad += !tvl_fiber_is_finished(f) || b.self_seen != f;
    tvl_fiber_destroy(f);
    tvl_fiber_thread_cleanup();
    return (void *)bad;
}

static void threads_run_their_own_fibers_at_once(void)
{
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, thread_ping_pong, NULL), 0);
    for (int i = 0; i < 2; i++) {
        void *bad = NULL;
        pthread_join(th[i], &bad);
        CU_ASSERT_PTR_NULL(bad);
    }
}

/* --- guard page ---------------------------------------------------------------- */

static int recurse(volatile char *up, unsigned depth)
{
    volatile char buf[256];
    buf[0] = (char)depth;
    buf[255] = up != NULL ? up[0] : 0;
    if (depth == UINT_MAX)
        return buf[0];
    return recurse(buf, depth + 1) + buf[255];
}

static void overflow_body(void *arg)
{
    (void)arg;
    recurse(NULL, 0);
}

static void guard_page_reports_a_stack_overflow(void)
{
    /* The child's fiber gets the next id, which we learn here. */
    tvl_fiber *probe = NULL;
    CU_ASSERT_EQUAL_FATAL(tvl_fiber_create(&probe, noop, NULL, 0), 0);
    uint64_t child_id = tvl_fiber_id(probe) + 1;
    tvl_fiber_destroy(probe);

    int fds[2];
    CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        tvl_fiber *f = NULL;
        if (tvl_fiber_create(&f, overflow_body, NULL, TVL_FIBER_MIN_STACK) == 0)
            tvl_fiber_switch(f);
        _exit(0); /* not reached if the guard works */
    }
    close(fds[1]);
    char out[16384];
    size_t len = 0;
    ssize_t r;
    while ((r = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    close(fds[0]);
    int status = 0;
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);

    char want[128];
    snprintf(want, sizeof want, "tvl: fiber %llu overflowed its %zu-byte stack (guard page hit)\n",
             (unsigned long long)child_id, TVL_FIBER_MIN_STACK);
    bool died = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
    CU_ASSERT_TRUE(died);
    if (strstr(out, want) != NULL) {
        CU_ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    } else {
        /* Only a sanitizer that handles SIGSEGV before our handler may
         * report the overflow in its own words. */
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "Sanitizer"));
        if (strstr(out, "Sanitizer") == NULL)
            fprintf(stderr, "\nchild status %#x, stderr:\n%s\n", status, out);
    }
}

/* Stacks come in batches carved from one mapping (stack.c): each one must
 * still be a range of its own, writable from its lowest to its highest
 * byte, with a guard below it that faults. */
enum { BATCHED = 40 };

static bool touch_faults(volatile char *p)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        *p = 1;
        _exit(0); /* not reached if p is a guard */
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return false;
    /* SIGSEGV, or a sanitizer's report of it (an exit or an abort). */
    return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void batched_stacks_are_separate_and_guarded(void)
{
    tvl_fiber_thread_cleanup(); /* start a fresh batch */
    struct tvl__stack st[BATCHED];
    size_t size = tvl_fiber_default_stack_size();
    int got = 0;
    for (; got < BATCHED; got++)
        if (tvl__stack_get(&st[got], size) != 0)
            break;
    CU_ASSERT_EQUAL_FATAL(got, BATCHED);
    for (int i = 0; i < BATCHED; i++) {
        CU_ASSERT_EQUAL(st[i].size, size);
        CU_ASSERT(st[i].map < st[i].lo);
        st[i].lo[0] = 1; /* both ends usable */
        st[i].lo[st[i].size - 1] = 1;
        for (int j = 0; j < i; j++) { /* no two overlap, guards included */
            bool apart = st[i].lo + st[i].size <= st[j].map || st[j].lo + st[j].size <= st[i].map;
            CU_ASSERT(apart);
        }
    }
    /* Guards of the first stack, of one inside the first batch and of the
     * last (a later batch). A faulting child under valgrind proves little
     * and reports much; there only the layout is checked. */
    if (!tvl_test_slow_env()) {
        CU_ASSERT_TRUE(touch_faults(st[0].lo - 1));
        CU_ASSERT_TRUE(touch_faults(st[3].map));
        CU_ASSERT_TRUE(touch_faults(st[BATCHED - 1].lo - 1));
    }
    for (int i = 0; i < BATCHED; i++)
        tvl__stack_put(&st[i]);
    tvl_fiber_thread_cleanup();
}

void test_fiber_register(void)
{
    /* The overflow test forks first, while the process is still plain: an
     * aborting child under valgrind then has no dlopen'd library or joined
     * thread for the leak check to report. */
    static CU_TestInfo tests[] = {
        {"guard_page_reports_a_stack_overflow", guard_page_reports_a_stack_overflow},
        {"ping_pong_passes_values_both_ways", ping_pong_passes_values_both_ways},
        {"nested_fiber_creates_and_returns", nested_fiber_creates_and_returns},
        {"registers_and_doubles_survive_switches", registers_and_doubles_survive_switches},
        {"rounding_mode_stays_with_its_context", rounding_mode_stays_with_its_context},
        {"ten_thousand_fibers_live_at_once", ten_thousand_fibers_live_at_once},
        {"freed_stacks_are_reused", freed_stacks_are_reused},
        {"batched_stacks_are_separate_and_guarded", batched_stacks_are_separate_and_guarded},
        {"stack_sizes_are_rounded_and_configurable", stack_sizes_are_rounded_and_configurable},
        {"never_started_fibers_can_be_destroyed", never_started_fibers_can_be_destroyed},
        {"fiber_ids_are_sequential", fiber_ids_are_sequential},
        {"threads_run_their_own_fibers_at_once", threads_run_their_own_fibers_at_once},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("fiber", tests);
}
