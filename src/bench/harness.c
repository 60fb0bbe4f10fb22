/* Running and measuring one way. */
#include "bench/harness.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <unistd.h>

typedef struct way_call {
    const tvl_way *way;
    tvl_job *job;
    double wall_s;
    int way_error;
} way_call;

/* The main task: the way, timed, then the stragglers. */
static int way_main(tvl_future *self, void *arg, void **result)
{
    (void)self, (void)result;
    way_call *c = arg;
    c->job->t0 = tvl_now();
    c->way_error = c->way->run(c->job);
    c->wall_s = tvl_now() - c->job->t0;
    /* gather may return on the first error with others still running: wait
     * for them, so that every item is accounted for. */
    for (size_t i = 0; i < c->job->n; i++) {
        if (c->job->tasks[i] != NULL) {
            tvl_await(c->job->tasks[i]);
            tvl_future_unref(c->job->tasks[i]);
            c->job->tasks[i] = NULL;
        }
    }
    return 0;
}

/* The kernel's high-water mark of resident memory can be reset (Linux
 * 4.0+, /proc/self/clear_refs "5"); without that, the process-wide peak
 * from getrusage is all there is. */
static void reset_peak_rss(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, "5", 1) != 1) {
            /* best effort: the peak then covers the whole process */
        }
        close(fd);
    }
}

static long peak_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    long kib = -1;
    if (f != NULL) {
        char line[256];
        while (fgets(line, sizeof line, f) != NULL)
            if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
                break;
        fclose(f);
    }
    if (kib < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kib = ru.ru_maxrss;
    }
    return kib;
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

void tvl_harness_run(const tvl_way *way, tvl_job *job, unsigned repeat, tvl_way_run *run)
{
    memset(run, 0, sizeof *run);
    run->way = way;
    run->repeat = repeat;
    for (size_t i = 0; i < job->n; i++) {
        memset(&job->items[i].out, 0, sizeof job->items[i].out);
        job->items[i].ran = false;
        job->items[i].out.fiber = -1;
        job->tasks[i] = NULL;
    }

    /* Each way gets a client session of its own, as in the original (a
     * new aiohttp.ClientSession per way): no way inherits the kept-alive
     * connections of the one before. Nothing is in flight between ways. */
    if (job->workload == TVL_WORKLOAD_HTTP && !job->keep_connections)
        (void)tvl_http_new_session();
    reset_peak_rss();
    tvl_rt_reset_peak();
    tvl_rt_stats before, after;
    tvl_rt_get_stats(&before);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);

    way_call call = {.way = way, .job = job};
    int rc = tvl_rt_run(way_main, &call, NULL);

    getrusage(RUSAGE_SELF, &ru1);
    tvl_rt_get_stats(&after);
    run->t0 = job->t0;
    run->wall_s = call.wall_s;
    run->cpu_user_s = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime);
    run->cpu_sys_s = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime);
    run->max_rss_kib = peak_rss_kib();
    run->ctx_voluntary = ru1.ru_nvcsw - ru0.ru_nvcsw;
    run->ctx_involuntary = ru1.ru_nivcsw - ru0.ru_nivcsw;
    run->threads_started = after.threads_started - before.threads_started;
    run->peak_threads = after.peak_threads;
    run->way_error = rc != 0 ? rc : call.way_error;
    if (run->way_error != 0)
        snprintf(run->way_message, sizeof run->way_message, "%s", tvl_strerror(run->way_error));

    for (size_t i = 0; i < job->n; i++) {
        tvl_item *it = &job->items[i];
        if (!it->ran && it->out.error == 0) {
            /* Cancelled before it started (a task group aborting). */
            it->out.error = -ECANCELED;
            snprintf(it->out.message, sizeof it->out.message,
                     "cancelled before it started");
        }
        if (it->out.error == 0) {
            run->ok++;
            run->bytes += it->out.bytes;
        } else {
            run->failed++;
        }
    }
}
