/* A job: the n items one way runs (sleeps or fetches), their outcomes, and
 * the table of the seven ways. Pattern code sees only this and tvl/rt.h. */
#ifndef TVL_PATTERNS_JOB_H
#define TVL_PATTERNS_JOB_H

#include <stdbool.h>
#include <stddef.h>

#include "tvl/rt.h"

typedef enum tvl_workload {
    TVL_WORKLOAD_SLEEP, /* Program A: work(t) sleeps t seconds */
    TVL_WORKLOAD_HTTP,  /* Program B: fetch(url) reads a page in full */
    TVL_WORKLOAD_CPU,   /* Program A with work(t) computing for t seconds of
                           CPU instead of sleeping: what no event loop
                           can overlap */
} tvl_workload;

struct tvl_job;

/* One unit of work and what became of it. */
typedef struct tvl_item {
    struct tvl_job *job;
    size_t index;
    double delay_s;      /* sleep (cpu) workload: how long work() sleeps
                            (computes, in CPU seconds) */
    const char *url;     /* HTTP workload: what fetch() gets */
    bool ran;            /* the body started */
    tvl_http_result out; /* outcome; for sleeps only the times, ids, error */
} tvl_item;

/* How completion lines are printed. */
typedef struct tvl_output {
    bool quiet;  /* no per-item lines */
    bool color;  /* grey italic lines (a terminal, and NO_COLOR unset) */
} tvl_output;

typedef struct tvl_job {
    tvl_workload workload;
    size_t n;
    tvl_item *items;
    tvl_future **tasks; /* tasks[i]: the task a way spawned for item i, or
                           NULL when it ran item i inline; the harness
                           waits for and releases them after the way */
    const tvl_output *output;
    bool keep_connections; /* HTTP: every way reuses one client session's
                              connections (default: a new session per way) */
    double t0; /* tvl_now() when the way started */
} tvl_job;

/* The task body of item i, for tvl_spawn(fn, &job->items[i], ...): runs
 * work(t) (sleeping or computing) or fetch(url), records the outcome and
 * prints the completion line. Returns 0 or the item's error. */
int tvl_item_task(tvl_future *self, void *item, void **result);

/* The same body called inline (await work(t) without a task). */
int tvl_item_run(tvl_item *item);

/* Spawns item i's task and records it in job->tasks[i]. */
int tvl_item_spawn(tvl_job *job, size_t i, tvl_future **out);

/* A way of running the job. Returns 0, or the error the way itself raised
 * (gather without return_exceptions, a task group with failures). */
typedef struct tvl_way {
    const char *name;    /* for --pattern: iterator, sequential, ... */
    const char *label;   /* the original's label, with what C calls */
    bool concurrent;     /* total is about the max, not the sum */
    int (*run)(tvl_job *job);
} tvl_way;

enum { TVL_WAY_COUNT = 7 };
extern const tvl_way tvl_ways[TVL_WAY_COUNT];

/* The way named `name`, or NULL. */
const tvl_way *tvl_way_find(const char *name);

int tvl_way_iterator(tvl_job *job);
int tvl_way_sequential(tvl_job *job);
int tvl_way_gather(tvl_job *job);
int tvl_way_wait(tvl_job *job);
int tvl_way_as_completed(tvl_job *job);
int tvl_way_tasks(tvl_job *job);
int tvl_way_taskgroup(tvl_job *job);

#endif
