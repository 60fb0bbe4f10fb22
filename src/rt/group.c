/* asyncio.TaskGroup: leaving waits for every child; the first failure
 * cancels the siblings; every failure is reported. */
#include "rt/watch.h"

#include <stdlib.h>

struct tvl_group {
    tvl__watch watch;
    size_t spawned;      /* children added to the watch */
    size_t ended;
    bool aborting;       /* a child failed, or the owner was cancelled */
    bool siblings_cancelled;
    bool left;           /* tvl_group_wait() has returned */
    tvl_future **failures; /* in failure order; capacity >= spawned */
    size_t n_failures;
    size_t cap_failures;
};

static bool group_on_end(tvl__watch *w, size_t index, tvl_future *f)
{
    (void)index;
    tvl_group *g = w->ctx;
    g->ended++;
    if (tvl_future_state_get(f) == TVL_FUTURE_FAILED) {
        /* Capacity was reserved at spawn, so a callback never allocates. */
        g->failures[g->n_failures++] = f;
        g->aborting = true;
    }
    return true;
}

/* Wake the owner when all have ended, or when siblings need cancelling. */
static bool group_ready(tvl__watch *w)
{
    const tvl_group *g = w->ctx;
    return g->ended == g->spawned || (g->aborting && !g->siblings_cancelled);
}

int tvl_group_create(tvl_group **out)
{
    tvl_group *g = calloc(1, sizeof *g);
    if (g == NULL)
        return -ENOMEM;
    tvl__watch_init(&g->watch, group_on_end, g);
    *out = g;
    return 0;
}

static void cancel_child(tvl_future *f, void *arg)
{
    (void)arg;
    tvl_future_cancel(f);
}

/* Cancels every child once, outside the lock (see watch.h). */
static void cancel_siblings(tvl_group *g)
{
    tvl__watch_lock(&g->watch);
    bool todo = !g->siblings_cancelled;
    g->siblings_cancelled = true;
    g->aborting = true;
    tvl__watch_unlock(&g->watch);
    if (todo)
        tvl__watch_each(&g->watch, cancel_child, NULL);
}

int tvl_group_spawn(tvl_group *g, tvl_task_fn fn, void *arg, tvl_future **out)
{
    tvl__watch_lock(&g->watch);
    int rc = g->left ? -ESHUTDOWN : g->aborting ? -ECANCELED : 0;
    if (rc == 0 && g->spawned + 1 > g->cap_failures) {
        size_t cap = g->cap_failures ? 2 * g->cap_failures : 16;
        tvl_future **grown = realloc(g->failures, cap * sizeof *grown);
        if (grown == NULL) {
            rc = -ENOMEM;
        } else {
            g->failures = grown;
            g->cap_failures = cap;
        }
    }
    tvl__watch_unlock(&g->watch);
    if (rc != 0)
        return rc;
    tvl_future *f;
    rc = tvl_spawn(fn, arg, &f);
    if (rc != 0)
        return rc;
    /* spawned counts before the watch sees the child, so that an early end
     * never makes ended exceed spawned. */
    tvl__watch_lock(&g->watch);
    g->spawned++;
    tvl__watch_unlock(&g->watch);
    rc = tvl__watch_add(&g->watch, f);
    if (rc != 0) {
        /* Cannot watch it: do not leave it running unobserved. */
        tvl__watch_lock(&g->watch);
        g->spawned--;
        tvl__watch_unlock(&g->watch);
        tvl_future_cancel(f);
        tvl__await_until(f, INT64_MAX, false);
        tvl_future_unref(f);
        return rc;
    }
    if (out != NULL)
        *out = f;
    else
        tvl_future_unref(f);
    return 0;
}

int tvl_group_wait(tvl_group *g)
{
    bool owner_cancelled = false;
    for (;;) {
        int rc = tvl__watch_wait(&g->watch, group_ready, INT64_MAX, !owner_cancelled);
        if (rc == -ECANCELED) {
            owner_cancelled = true; /* asyncio: cancel the children, wait */
            cancel_siblings(g);
            continue;
        }
        tvl__watch_lock(&g->watch);
        bool all_ended = g->ended == g->spawned;
        bool must_cancel = g->aborting && !g->siblings_cancelled;
        tvl__watch_unlock(&g->watch);
        if (must_cancel)
            cancel_siblings(g);
        else if (all_ended)
            break;
    }
    tvl__watch_lock(&g->watch);
    g->left = true;
    size_t failures = g->n_failures;
    tvl__watch_unlock(&g->watch);
    if (failures > 0)
        return TVL_E_GROUP;
    return owner_cancelled ? -ECANCELED : 0;
}

size_t tvl_group_failure_count(const tvl_group *g)
{
    return g->n_failures;
}

tvl_future *tvl_group_failure(const tvl_group *g, size_t i)
{
    return i < g->n_failures ? g->failures[i] : NULL;
}

void tvl_group_destroy(tvl_group *g)
{
    if (g == NULL)
        return;
    if (!g->left) {
        /* Once the siblings are cancelled, ready means all have ended. */
        cancel_siblings(g);
        tvl__watch_wait(&g->watch, group_ready, INT64_MAX, false);
    }
    tvl__watch_destroy(&g->watch);
    free(g->failures);
    free(g);
}
