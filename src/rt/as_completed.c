/* asyncio.as_completed (Python 3.13): yields the original futures in the
 * order they end. */
#include "rt/watch.h"

#include <stdlib.h>

struct tvl_as_completed {
    tvl__watch watch;
    int64_t deadline_ns;
    size_t n;
    size_t yielded;
    size_t ended;      /* entries written to order[] by callbacks */
    size_t *order;     /* indexes in completion order */
    tvl_future **fs;   /* the futures, by index (references held by the watch) */
    bool over;         /* timed out: the iteration has ended */
};

static bool ac_on_end(tvl__watch *w, size_t index, tvl_future *f)
{
    (void)f;
    tvl_as_completed *it = w->ctx;
    it->order[it->ended++] = index;
    return true;
}

static bool ac_ready(tvl__watch *w)
{
    const tvl_as_completed *it = w->ctx;
    return it->ended > it->yielded;
}

int tvl_as_completed_begin(tvl_future *const *fs, size_t n, int64_t timeout_ns,
                           tvl_as_completed **out)
{
    tvl_as_completed *it = calloc(1, sizeof *it);
    if (it == NULL)
        return -ENOMEM;
    it->order = malloc((n ? n : 1) * sizeof *it->order);
    it->fs = malloc((n ? n : 1) * sizeof *it->fs);
    if (it->order == NULL || it->fs == NULL) {
        free(it->order);
        free(it->fs);
        free(it);
        return -ENOMEM;
    }
    it->n = n;
    it->deadline_ns = tvl__deadline(timeout_ns);
    tvl__watch_init(&it->watch, ac_on_end, it);
    for (size_t i = 0; i < n; i++) {
        it->fs[i] = fs[i];
        int rc = tvl__watch_add(&it->watch, fs[i]);
        if (rc != 0) {
            tvl_as_completed_end(it);
            return rc;
        }
    }
    *out = it;
    return 0;
}

int tvl_as_completed_next(tvl_as_completed *it, tvl_future **f)
{
    if (it->yielded == it->n)
        return 1;
    if (it->over)
        return -ETIMEDOUT;
    int rc = tvl__watch_wait(&it->watch, ac_ready, it->deadline_ns, true);
    if (rc == -ETIMEDOUT)
        it->over = true;
    if (rc != 0)
        return rc;
    tvl__watch_lock(&it->watch);
    size_t index = it->order[it->yielded++];
    tvl__watch_unlock(&it->watch);
    *f = it->fs[index];
    return 0;
}

void tvl_as_completed_end(tvl_as_completed *it)
{
    if (it == NULL)
        return;
    tvl__watch_destroy(&it->watch);
    free(it->order);
    free(it->fs);
    free(it);
}
