/* pool-bench: the tvl pool against OpenMP tasks on fork-join fib and on a
 * flood of empty tasks, timed in the same run so the ratio is fair.
 *
 * fib(n) spawns one child per call above the base case (tvl_pool_submit from
 * inside a task), runs the other inline and joins with tvl_future_wait; the
 * OpenMP version does the same with `omp task` and `taskwait`. The empty
 * tasks are submitted from the main thread, which is not a worker; each body
 * bumps a shared counter and the last one completes a latch future that the
 * main thread waits on. The OpenMP version creates its tasks from one thread
 * (`omp single`) and waits with `taskwait`; its bodies bump the same kind of
 * counter. Every measurement is repeated; the best and the median are kept. */
#include "tvl/error.h"
#include "tvl/future.h"
#include "tvl/pool.h"

#include <errno.h>
#include <getopt.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
    fprintf(stderr, "pool-bench: %s: %s\n", what, tvl_strerror(err));
    exit(1);
}

/* ---- fib on the pool ---------------------------------------------------- */

typedef struct fib_arg {
    int n;
    long r;
} fib_arg;

static long fib_pool(tvl_pool *p, int n);

static int fib_task(tvl_future *self, void *arg, void **result)
{
    (void)self;
    (void)result;
    fib_arg *a = arg;
    a->r = fib_pool(tvl_pool_current(), a->n);
    return 0;
}

static long fib_pool(tvl_pool *p, int n)
{
    if (n < 2)
        return n;
    fib_arg child = {n - 1, 0};
    tvl_future *f;
    int r = tvl_pool_submit(p, fib_task, &child, &f);
    if (r < 0)
        die("submit", r);
    long b = fib_pool(p, n - 2);
    tvl_future_wait(f);
    tvl_future_unref(f);
    return child.r + b;
}

static double time_fib_pool(tvl_pool *p, int n, long *out)
{
    fib_arg root = {n, 0};
    tvl_future *f;
    double t0 = now_s();
    int r = tvl_pool_submit(p, fib_task, &root, &f);
    if (r < 0)
        die("submit", r);
    tvl_future_wait(f);
    double t = now_s() - t0;
    tvl_future_unref(f);
    *out = root.r;
    return t;
}

/* ---- fib with OpenMP ------------------------------------------------------ */

static long fib_omp(int n)
{
    if (n < 2)
        return n;
    long a, b;
#pragma omp task shared(a) firstprivate(n)
    a = fib_omp(n - 1);
    b = fib_omp(n - 2);
#pragma omp taskwait
    return a + b;
}

static double time_fib_omp(int n, long *out)
{
    long r = 0;
    double t0 = now_s();
#pragma omp parallel
#pragma omp single
    r = fib_omp(n);
    double t = now_s() - t0;
    *out = r;
    return t;
}

/* ---- empty tasks ------------------------------------------------------------ */

static _Atomic long empty_done;
static long empty_total;
static tvl_future *empty_latch;

static int latch_body(tvl_future *self, void *arg, void **result)
{
    (void)self;
    (void)arg;
    (void)result;
    return 0;
}

static int empty_task(tvl_future *self, void *arg, void **result)
{
    (void)self;
    (void)arg;
    (void)result;
    /* Relaxed is enough for the count; the latch future orders the rest. */
    if (atomic_fetch_add_explicit(&empty_done, 1, memory_order_relaxed) + 1 == empty_total)
        tvl_future_run(empty_latch);
    return 0;
}

static double time_empty_pool(tvl_pool *p, long n)
{
    empty_total = n;
    atomic_store(&empty_done, 0);
    empty_latch = tvl_future_create(latch_body, NULL);
    if (empty_latch == NULL)
        die("future", -ENOMEM);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        int r = tvl_pool_submit(p, empty_task, NULL, NULL);
        if (r < 0)
            die("submit", r);
    }
    tvl_future_wait(empty_latch);
    double t = now_s() - t0;
    tvl_future_unref(empty_latch);
    return t;
}

static _Atomic long omp_done;

static double time_empty_omp(long n)
{
    atomic_store(&omp_done, 0);
    double t0 = now_s();
#pragma omp parallel
#pragma omp single
    {
        for (long i = 0; i < n; i++) {
#pragma omp task
            atomic_fetch_add_explicit(&omp_done, 1, memory_order_relaxed);
        }
#pragma omp taskwait
    }
    double t = now_s() - t0;
    if (atomic_load(&omp_done) != n) {
        fprintf(stderr, "pool-bench: OpenMP ran %ld of %ld tasks\n", atomic_load(&omp_done), n);
        exit(1);
    }
    return t;
}

/* ---- driver ----------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct series {
    double v[64];
    int n;
} series;

static double best(series *s)
{
    qsort(s->v, (size_t)s->n, sizeof s->v[0], cmp_double);
    return s->v[0];
}

static double median(series *s)
{
    qsort(s->v, (size_t)s->n, sizeof s->v[0], cmp_double);
    return s->n % 2 ? s->v[s->n / 2] : (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2;
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: pool-bench [--workers N] [--fib N] [--tasks N] [--reps N] [--json]\n"
            "  Times fork-join fib(N) and N empty tasks on the tvl pool and with OpenMP\n"
            "  tasks (OMP_NUM_THREADS = workers), in the same run, and prints both.\n"
            "  --workers N  pool workers and OpenMP threads (default 2)\n"
            "  --fib N      fib argument (default 30)\n"
            "  --tasks N    empty tasks submitted from the main thread (default 1000000)\n"
            "  --reps N     repetitions of each measurement, best and median kept (default 5)\n"
            "  --json       one JSON object on stdout instead of the table\n");
}

static long parse_num(const char *opt, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "pool-bench: %s wants an integer in [%ld, %ld], got '%s'\n", opt, lo, hi,
                s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    long workers = 2, fib_n = 30, tasks = 1000000, reps = 5;
    bool json = false;
    static const struct option longopts[] = {
        {"workers", required_argument, NULL, 'w'}, {"fib", required_argument, NULL, 'f'},
        {"tasks", required_argument, NULL, 't'},   {"reps", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},          {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (c) {
        case 'w':
            workers = parse_num("--workers", optarg, 1, 1024);
            break;
        case 'f':
            fib_n = parse_num("--fib", optarg, 1, 45);
            break;
        case 't':
            tasks = parse_num("--tasks", optarg, 1, 100000000);
            break;
        case 'r':
            reps = parse_num("--reps", optarg, 1, 64);
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "pool-bench: bad option '%s' (try --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pool-bench: unexpected argument '%s' (try --help)\n", argv[optind]);
        return 2;
    }

    omp_set_num_threads((int)workers);
    omp_set_dynamic(0);

    tvl_pool_options o;
    tvl_pool_options_init(&o);
    o.workers = (unsigned)workers;
    tvl_pool *pool;
    int r = tvl_pool_create(&o, &pool);
    if (r < 0)
        die("pool", r);

    /* Warm up both runtimes (threads started, allocator primed). */
    long fr, fo;
    time_fib_pool(pool, 20, &fr);
    time_fib_omp(20, &fo);

    series fib_s = {0}, fib_o = {0}, emp_s = {0}, emp_o = {0};
    long fib_value = 0;
    for (long i = 0; i < reps; i++) {
        /* Interleave so that noise from other tenants hits both sides. */
        fib_s.v[fib_s.n++] = time_fib_pool(pool, (int)fib_n, &fr);
        fib_o.v[fib_o.n++] = time_fib_omp((int)fib_n, &fo);
        if (fr != fo) {
            fprintf(stderr, "pool-bench: fib mismatch %ld vs %ld\n", fr, fo);
            return 1;
        }
        fib_value = fr;
        emp_s.v[emp_s.n++] = time_empty_pool(pool, tasks);
        emp_o.v[emp_o.n++] = time_empty_omp(tasks);
    }
    tvl_pool_stats st;
    tvl_pool_get_stats(pool, &st);
    tvl_pool_destroy(pool, TVL_SHUTDOWN_DRAIN);

    double fb = best(&fib_s), fm = median(&fib_s), ob = best(&fib_o), om = median(&fib_o);
    double eb = best(&emp_s), em = median(&emp_s), pb = best(&emp_o), pm = median(&emp_o);
    if (json) {
        printf("{\"workers\": %ld, \"reps\": %ld, \"fib_n\": %ld, \"fib_value\": %ld, "
               "\"fib_s\": %.6f, \"fib_median_s\": %.6f, \"omp_fib_s\": %.6f, "
               "\"omp_fib_median_s\": %.6f, \"fib_ratio\": %.4f, \"fib_median_ratio\": %.4f, "
               "\"empty_tasks\": %ld, \"empty_s\": %.6f, \"empty_median_s\": %.6f, "
               "\"omp_empty_s\": %.6f, \"omp_empty_median_s\": %.6f, \"empty_ratio\": %.4f, "
               "\"empty_median_ratio\": %.4f, \"stats\": {\"threads_started\": %llu, "
               "\"peak_threads\": %llu, \"tasks_run\": %llu, \"steals\": %llu, \"parks\": %llu, "
               "\"caller_runs\": %llu}}\n",
               workers, reps, fib_n, fib_value, fb, fm, ob, om, fb / ob, fm / om, tasks, eb, em, pb,
               pm, eb / pb, em / pm, (unsigned long long)st.threads_started,
               (unsigned long long)st.peak_threads, (unsigned long long)st.tasks_run,
               (unsigned long long)st.steals, (unsigned long long)st.parks,
               (unsigned long long)st.caller_runs);
    } else {
        printf("pool-bench: %ld workers, %ld repetitions (best / median)\n", workers, reps);
        printf("  fib(%ld) fork-join   tvl %8.4f / %8.4f s   OpenMP %8.4f / %8.4f s   ratio %.3f / "
               "%.3f\n",
               fib_n, fb, fm, ob, om, fb / ob, fm / om);
        printf("  %ld empty tasks  tvl %8.4f / %8.4f s   OpenMP %8.4f / %8.4f s   ratio %.3f / "
               "%.3f\n",
               tasks, eb, em, pb, pm, eb / pb, em / pm);
        printf("  pool stats: %llu threads started, %llu tasks run, %llu steals, %llu parks, "
               "%llu run by the submitter (queue full)\n",
               (unsigned long long)st.threads_started, (unsigned long long)st.tasks_run,
               (unsigned long long)st.steals, (unsigned long long)st.parks,
               (unsigned long long)st.caller_runs);
    }
    return 0;
}
