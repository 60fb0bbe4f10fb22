/* asyncio.wait: done and pending sets, three modes, a timeout that cancels
 * nothing. */
#include "rt/watch.h"

typedef struct wait_state {
    size_t n;
    size_t ended;
    tvl_wait_mode mode;
    bool failed;
} wait_state;

static bool wait_ready(tvl__watch *w)
{
    const wait_state *s = w->ctx;
    switch (s->mode) {
    case TVL_FIRST_COMPLETED:
        return s->ended > 0;
    case TVL_FIRST_EXCEPTION:
        return s->failed || s->ended == s->n;
    case TVL_ALL_COMPLETED:
    default:
        return s->ended == s->n;
    }
}

static bool wait_on_end(tvl__watch *w, size_t index, tvl_future *f)
{
    (void)index;
    wait_state *s = w->ctx;
    s->ended++;
    /* asyncio counts only exceptions here, not cancellations. */
    if (tvl_future_state_get(f) == TVL_FUTURE_FAILED)
        s->failed = true;
    return wait_ready(w);
}

int tvl_wait(tvl_future *const *fs, size_t n, tvl_wait_mode mode, int64_t timeout_ns,
             tvl_future **done, size_t *n_done, tvl_future **pending, size_t *n_pending)
{
    if (n == 0)
        return -EINVAL;
    if (mode != TVL_ALL_COMPLETED && mode != TVL_FIRST_COMPLETED && mode != TVL_FIRST_EXCEPTION)
        return -EINVAL;
    wait_state s = {.n = n, .mode = mode};
    tvl__watch w;
    tvl__watch_init(&w, wait_on_end, &s);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = tvl__watch_add(&w, fs[i]);
    if (rc == 0)
        rc = tvl__watch_wait(&w, wait_ready, tvl__deadline(timeout_ns), true);
    tvl__watch_destroy(&w);
    if (rc == -ETIMEDOUT)
        rc = 0; /* a timeout just ends the wait early */
    if (rc != 0)
        return rc;
    /* Split after the callbacks are gone: a future that ended a moment
     * after the wait returned counts as done, as in asyncio, which also
     * splits by state at return. */
    size_t nd = 0, np = 0;
    for (size_t i = 0; i < n; i++) {
        if (tvl_future_is_final(fs[i]))
            done[nd++] = fs[i];
        else
            pending[np++] = fs[i];
    }
    *n_done = nd;
    *n_pending = np;
    return 0;
}
