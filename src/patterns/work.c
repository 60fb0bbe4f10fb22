/* The task bodies of both programs, shared by the seven ways: work(t)
 * sleeps t seconds (or, in the cpu workload, computes for t seconds of
 * CPU), fetch(url) reads a page in full; each prints one line as it ends,
 * like the original's trace hook. */
#include "patterns/job.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define GREY_ITALIC "\033[3;90m"
#define RED "\033[31m"
#define RESET "\033[0m"

/* Formats one line (grey italic, or red for a failure, on a terminal) and
 * prints it with one fputs, so that lines from concurrent tasks never mix.
 * Nothing is formatted when quiet. One buffer, formatted once: a task's
 * whole run then fits the first 4 KiB page of its fiber's stack. */
static void print_line(const tvl_output *o, bool failed, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void print_line(const tvl_output *o, bool failed, const char *fmt, ...)
{
    if (o == NULL || o->quiet)
        return;
    char line[1024];
    const char *suffix = o->color ? RESET "\n" : "\n";
    size_t room = sizeof line - strlen(suffix); /* the suffix always fits */
    size_t n = 0;
    if (o->color)
        n = (size_t)snprintf(line, room, "%s", failed ? RED : GREY_ITALIC);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line + n, room - n, fmt, ap); /* a longer line is cut */
    va_end(ap);
    if (k > 0)
        n = n + (size_t)k < room ? n + (size_t)k : room - 1;
    snprintf(line + n, sizeof line - n, "%s", suffix);
    fputs(line, stdout);
}

static int run_sleep(tvl_item *it)
{
    tvl_http_result *r = &it->out;
    r->thread = tvl_rt_thread_id();
    r->fiber = tvl_rt_fiber_id();
    r->start_s = tvl_now();
    r->error = tvl_sleep((int64_t)(it->delay_s * 1e9));
    r->end_s = tvl_now();
    const tvl_output *o = it->job->output;
    if (r->error == 0) {
        print_line(o, false, "> work(%g) finished [ %.5f s ]", it->delay_s, r->end_s - r->start_s);
    } else {
        snprintf(r->message, sizeof r->message, "%s", tvl_strerror(r->error));
        print_line(o, true, "> work(%g) %s [ %.5f s ]", it->delay_s, r->message,
                   r->end_s - r->start_s);
    }
    return r->error;
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* work(t) as CPU-bound code: arithmetic until the OS thread running it has
 * used t more seconds of CPU, so that every task does the same work however
 * it is scheduled. Like a coroutine with no await inside, it never gives
 * its thread up: on the loop build every other task waits for it; on the
 * pool, other workers run on the other cores meanwhile. */
static int run_compute(tvl_item *it)
{
    tvl_http_result *r = &it->out;
    r->thread = tvl_rt_thread_id();
    r->fiber = tvl_rt_fiber_id();
    r->start_s = tvl_now();
    double until = thread_cpu_s() + it->delay_s;
    volatile uint64_t x = (uint64_t)it->index + 1; /* volatile: the work stays */
    while (thread_cpu_s() < until)
        for (int i = 0; i < 20000; i++) /* about 20 us between clock reads */
            x = x * 6364136223846793005u + 1442695040888963407u;
    r->end_s = tvl_now();
    print_line(it->job->output, false, "> work(%g) computed [ %.5f s ]", it->delay_s,
               r->end_s - r->start_s);
    return 0;
}

static int run_fetch(tvl_item *it)
{
    tvl_http_result *r = &it->out;
    tvl_http_get(it->url, r);
    const tvl_output *o = it->job->output;
    double took = r->end_s - r->start_s;
    if (r->error == 0)
        print_line(o, false, "> [%ld] Completed %s [ %.5f s ]", r->status, it->url, took);
    else if (r->status > 0)
        print_line(o, true, "> [%ld] Failed %s: %s [ %.5f s ]", r->status, it->url, r->message,
                   took);
    else
        print_line(o, true, "> [---] Failed %s: %s [ %.5f s ]", it->url, r->message, took);
    return r->error;
}

int tvl_item_run(tvl_item *it)
{
    it->ran = true;
    switch (it->job->workload) {
    case TVL_WORKLOAD_SLEEP:
        return run_sleep(it);
    case TVL_WORKLOAD_CPU:
        return run_compute(it);
    case TVL_WORKLOAD_HTTP:
        break;
    }
    return run_fetch(it);
}

int tvl_item_task(tvl_future *self, void *item, void **result)
{
    tvl_item *it = item;
    *result = it;
    int rc = tvl_item_run(it);
    if (rc != 0 && rc != -ECANCELED)
        return tvl_future_fail(self, rc, "%s", it->out.message);
    return rc;
}

int tvl_item_spawn(tvl_job *job, size_t i, tvl_future **out)
{
    tvl_future *f;
    int rc = tvl_spawn(tvl_item_task, &job->items[i], &f);
    if (rc != 0) {
        job->items[i].out.error = rc;
        snprintf(job->items[i].out.message, sizeof job->items[i].out.message,
                 "could not start the task: %s", tvl_strerror(rc));
        return rc;
    }
    /* The job keeps one reference for the harness, the caller gets one. */
    job->tasks[i] = tvl_future_ref(f);
    *out = f;
    return 0;
}
