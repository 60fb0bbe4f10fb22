/* fiber-bench: what a fiber costs: one switch, a create and destroy, the
 * memory of a live fiber, and glibc's swapcontext for comparison.
 *
 * Usage: fiber-bench [--iterations N] [--runs R] [--fibers F] [--json]
 * Timings are the best of R runs (the least disturbed by other processes on
 * a shared machine). A switch is one direction: main to fiber or back. */
#include "fiber/fiber.h"
#include "tvl/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

struct opts {
    long iterations; /* round trips per switch run */
    int runs;
    int fibers; /* live fibers for the memory figure */
    bool json;
};

struct results {
    double switch_ns;
    double swapcontext_ns;
    double create_destroy_ns;
    double create_run_destroy_ns;
    double create_fresh_ns;
    double rss_per_fiber;
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what, int err)
{
    fprintf(stderr, "fiber-bench: %s: %s\n", what, tvl_strerror(err));
    exit(1);
}

/* --- tvl_fiber_switch ping-pong --------------------------------------------- */

static bool stop_bouncing;

static void bouncer(void *arg)
{
    (void)arg;
    while (!stop_bouncing)
        tvl_fiber_suspend();
}

static double bench_switch(long iterations)
{
    tvl_fiber *f;
    int err = tvl_fiber_create(&f, bouncer, NULL, 0);
    if (err != 0)
        die("tvl_fiber_create", err);
    stop_bouncing = false;
    tvl_fiber_switch(f); /* first entry: not timed */
    double t0 = now_ns();
    for (long i = 0; i < iterations; i++)
        tvl_fiber_switch(f);
    double t1 = now_ns();
    stop_bouncing = true;
    tvl_fiber_switch(f);
    tvl_fiber_destroy(f);
    return (t1 - t0) / (2.0 * (double)iterations);
}

/* --- swapcontext ping-pong --------------------------------------------------- */

static ucontext_t uc_main, uc_fiber;

static void uc_bouncer(void)
{
    for (;;)
        swapcontext(&uc_fiber, &uc_main);
}

static double bench_swapcontext(long iterations)
{
    size_t size = 64 * 1024;
    void *stack = malloc(size);
    if (stack == NULL)
        die("malloc", -ENOMEM);
    getcontext(&uc_fiber);
    uc_fiber.uc_stack.ss_sp = stack;
    uc_fiber.uc_stack.ss_size = size;
    uc_fiber.uc_link = NULL;
    makecontext(&uc_fiber, uc_bouncer, 0);
    swapcontext(&uc_main, &uc_fiber);
    double t0 = now_ns();
    for (long i = 0; i < iterations; i++)
        swapcontext(&uc_main, &uc_fiber);
    double t1 = now_ns();
    /* The fiber is left suspended in its loop: its stack holds nothing that
     * needs unwinding. */
    free(stack);
    return (t1 - t0) / (2.0 * (double)iterations);
}

/* --- create and destroy ---------------------------------------------------------- */

static void nothing(void *arg) { (void)arg; }

static double bench_create_destroy(long n, bool run)
{
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        tvl_fiber *f;
        int err = tvl_fiber_create(&f, nothing, NULL, 0);
        if (err != 0)
            die("tvl_fiber_create", err);
        if (run)
            tvl_fiber_switch(f);
        tvl_fiber_destroy(f);
    }
    return (now_ns() - t0) / (double)n;
}

/* --- many live fibers: fresh creation cost and memory --------------------------- */

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

static void suspend_once(void *arg)
{
    (void)arg;
    tvl_fiber_suspend();
}

/* Creates `count` fibers with an empty stack cache (every stack is new
 * memory, from the batches of stack.c), runs each to its first suspension,
 * and measures the time of both (what a new task pays for its fiber) and
 * the RSS growth. */
static void bench_many(int count, double *create_ns, double *rss_per_fiber)
{
    tvl_fiber **f = calloc((size_t)count, sizeof *f);
    if (f == NULL)
        die("calloc", -ENOMEM);
    tvl_fiber_thread_cleanup();
    long rss0 = rss_bytes();
    double t0 = now_ns();
    for (int i = 0; i < count; i++) {
        int err = tvl_fiber_create(&f[i], suspend_once, NULL, 0);
        if (err != 0)
            die("tvl_fiber_create", err);
    }
    for (int i = 0; i < count; i++)
        tvl_fiber_switch(f[i]);
    double t1 = now_ns();
    long rss1 = rss_bytes();
    for (int i = 0; i < count; i++) {
        tvl_fiber_switch(f[i]);
        tvl_fiber_destroy(f[i]);
    }
    free(f);
    tvl_fiber_thread_cleanup();
    double c = (t1 - t0) / count, r = (double)(rss1 - rss0) / count;
    if (c < *create_ns)
        *create_ns = c;
    if (r < *rss_per_fiber)
        *rss_per_fiber = r;
}

/* --- options -------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fiber-bench [--iterations N] [--runs R] [--fibers F] [--json]\n"
            "  -n, --iterations N  round trips per switch measurement (default 5000000)\n"
            "  -r, --runs R        repeat every measurement R times, keep the best (default 5)\n"
            "  -f, --fibers F      live fibers for the memory measurement (default 10000)\n"
            "  -j, --json          one JSON object instead of a table\n"
            "  -h, --help          this text\n"
            "A switch is one direction (main to fiber, or back); swapcontext is timed\n"
            "the same way. TVL_FIBER_STACK_SIZE sets the stack of every fiber.\n");
}

static long parse_positive(const char *s, const char *name, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v <= 0 || v > max) {
        fprintf(stderr, "fiber-bench: %s must be an integer from 1 to %ld, not '%s'\n", name, max, s);
        exit(2);
    }
    return v;
}

static struct opts parse_args(int argc, char **argv)
{
    struct opts o = {.iterations = 5000000, .runs = 5, .fibers = 10000, .json = false};
    static const struct option longopts[] = {
        {"iterations", required_argument, NULL, 'n'},
        {"runs", required_argument, NULL, 'r'},
        {"fibers", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0; /* our one-line message instead of getopt's */
    int c;
    while ((c = getopt_long(argc, argv, ":n:r:f:jh", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            o.iterations = parse_positive(optarg, "--iterations", 1000000000L);
            break;
        case 'r':
            o.runs = (int)parse_positive(optarg, "--runs", 1000);
            break;
        case 'f':
            o.fibers = (int)parse_positive(optarg, "--fibers", 1000000);
            break;
        case 'j':
            o.json = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case ':':
            fprintf(stderr, "fiber-bench: %s needs a value (try --help)\n", argv[optind - 1]);
            exit(2);
        default:
            fprintf(stderr, "fiber-bench: unknown option '%s' (try --help)\n", argv[optind - 1]);
            exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fiber-bench: unexpected argument '%s' (try --help)\n", argv[optind]);
        exit(2);
    }
    return o;
}

int main(int argc, char **argv)
{
    struct opts o = parse_args(argc, argv);
    struct results r = {1e300, 1e300, 1e300, 1e300, 1e300, 1e300};
    long uc_iterations = o.iterations / 10 > 0 ? o.iterations / 10 : 1;
    long cd = o.iterations / 20 > 0 ? o.iterations / 20 : 1;

    for (int run = 0; run < o.runs; run++) {
        double v;
        if ((v = bench_switch(o.iterations)) < r.switch_ns)
            r.switch_ns = v;
        if ((v = bench_swapcontext(uc_iterations)) < r.swapcontext_ns)
            r.swapcontext_ns = v;
        if ((v = bench_create_destroy(cd, false)) < r.create_destroy_ns)
            r.create_destroy_ns = v;
        if ((v = bench_create_destroy(cd, true)) < r.create_run_destroy_ns)
            r.create_run_destroy_ns = v;
        bench_many(o.fibers, &r.create_fresh_ns, &r.rss_per_fiber);
    }

    size_t stack = tvl_fiber_default_stack_size();
    if (o.json) {
        printf("{\"backend\": \"%s\", \"stack_bytes\": %zu, \"iterations\": %ld, \"runs\": %d, "
               "\"switch_ns\": %.2f, \"swapcontext_ns\": %.2f, \"create_destroy_ns\": %.1f, "
               "\"create_run_destroy_ns\": %.1f, \"create_fresh_stack_ns\": %.1f, "
               "\"fibers\": %d, \"rss_per_fiber_bytes\": %.0f}\n",
               tvl_fiber_backend(), stack, o.iterations, o.runs, r.switch_ns, r.swapcontext_ns,
               r.create_destroy_ns, r.create_run_destroy_ns, r.create_fresh_ns, o.fibers,
               r.rss_per_fiber);
    } else {
        printf("fiber switch backend: %s, stack %zu KiB, best of %d runs\n", tvl_fiber_backend(),
               stack / 1024, o.runs);
        printf("  tvl_fiber_switch            %8.2f ns per switch (%ld round trips)\n",
               r.switch_ns, o.iterations);
        printf("  glibc swapcontext           %8.2f ns per switch (%ld round trips; %.0fx)\n",
               r.swapcontext_ns, uc_iterations, r.swapcontext_ns / r.switch_ns);
        printf("  create + destroy            %8.1f ns (cached stack, never run)\n",
               r.create_destroy_ns);
        printf("  create + run + destroy      %8.1f ns (cached stack)\n", r.create_run_destroy_ns);
        printf("  create + first run, new stack %6.1f ns (%d fibers)\n",
               r.create_fresh_ns, o.fibers);
        printf("  memory per live fiber       %8.0f bytes RSS (%d fibers, each suspended once)\n",
               r.rss_per_fiber, o.fibers);
    }
    return 0;
}
