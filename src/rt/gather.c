/* asyncio.gather: wait for all, results in input order, first error out. */
#include "rt/watch.h"

typedef struct gather_state {
    size_t n;
    size_t ended;
    bool return_exceptions;
    bool failed;
    size_t failed_index;
    int failed_error;
} gather_state;

static bool gather_on_end(tvl__watch *w, size_t index, tvl_future *f)
{
    gather_state *g = w->ctx;
    g->ended++;
    int err = tvl_future_error(f);
    if (err != 0 && !g->return_exceptions && !g->failed) {
        g->failed = true;
        g->failed_index = index;
        g->failed_error = err;
    }
    return g->ended == g->n || g->failed;
}

static bool gather_ready(tvl__watch *w)
{
    const gather_state *g = w->ctx;
    return g->ended == g->n || g->failed;
}

static void cancel_one(tvl_future *f, void *arg)
{
    (void)arg;
    tvl_future_cancel(f);
}

int tvl_gather(tvl_future *const *fs, size_t n, bool return_exceptions, void **results,
               size_t *failed_index)
{
    gather_state g = {.n = n, .return_exceptions = return_exceptions};
    tvl__watch w;
    tvl__watch_init(&w, gather_on_end, &g);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = tvl__watch_add(&w, fs[i]);
    if (rc == 0)
        rc = tvl__watch_wait(&w, gather_ready, INT64_MAX, true);
    if (rc == -ECANCELED)
        tvl__watch_each(&w, cancel_one, NULL); /* asyncio cancels the children */
    tvl__watch_destroy(&w);
    if (rc != 0)
        return rc;
    if (results != NULL)
        for (size_t i = 0; i < n; i++)
            results[i] = tvl_future_state_get(fs[i]) == TVL_FUTURE_DONE ? tvl_future_result(fs[i])
                                                                        : NULL;
    if (g.failed) {
        if (failed_index != NULL)
            *failed_index = g.failed_index;
        return g.failed_error;
    }
    return 0;
}
