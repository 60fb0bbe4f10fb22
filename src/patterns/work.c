/* The task bodies of both programs, shared by the seven ways: work(t)
 * sleeps t seconds, fetch(url) reads a page in full; each prints one line
 * as it ends, like the original's trace hook. */
#include "patterns/job.h"

#include <stdio.h>
#include <string.h>

#define GREY_ITALIC "\033[3;90m"
#define RED "\033[31m"
#define RESET "\033[0m"

/* One write per line, so that lines from concurrent tasks never mix. */
static void print_line(const tvl_output *o, bool failed, const char *text)
{
    if (o == NULL || o->quiet)
        return;
    char line[1024];
    if (o->color)
        snprintf(line, sizeof line, "%s%s%s\n", failed ? RED : GREY_ITALIC, text, RESET);
    else
        snprintf(line, sizeof line, "%s\n", text);
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
    char text[256];
    if (r->error == 0) {
        snprintf(text, sizeof text, "> work(%g) finished [ %.5f s ]", it->delay_s,
                 r->end_s - r->start_s);
    } else {
        snprintf(r->message, sizeof r->message, "%s", tvl_strerror(r->error));
        snprintf(text, sizeof text, "> work(%g) %s [ %.5f s ]", it->delay_s, r->message,
                 r->end_s - r->start_s);
    }
    print_line(it->job->output, r->error != 0, text);
    return r->error;
}

static int run_fetch(tvl_item *it)
{
    tvl_http_result *r = &it->out;
    tvl_http_get(it->url, r);
    char text[768];
    if (r->error == 0)
        snprintf(text, sizeof text, "> [%ld] Completed %s [ %.5f s ]", r->status, it->url,
                 r->end_s - r->start_s);
    else if (r->status > 0)
        snprintf(text, sizeof text, "> [%ld] Failed %s: %s [ %.5f s ]", r->status, it->url,
                 r->message, r->end_s - r->start_s);
    else
        snprintf(text, sizeof text, "> [---] Failed %s: %s [ %.5f s ]", it->url, r->message,
                 r->end_s - r->start_s);
    print_line(it->job->output, r->error != 0, text);
    return r->error;
}

int tvl_item_run(tvl_item *it)
{
    it->ran = true;
    return it->job->workload == TVL_WORKLOAD_SLEEP ? run_sleep(it) : run_fetch(it);
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
