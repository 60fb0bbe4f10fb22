/* A watch: completion callbacks on many futures feeding one waiter. */
#include "rt/watch.h"

#include <errno.h>
#include <stdlib.h>

enum { CHUNK_NODES = 64 };

typedef struct watch_node {
    tvl_future_callback cb;
    tvl__watch *watch;
    tvl_future *future;
    size_t index;
} watch_node;

struct tvl__watch_chunk {
    struct tvl__watch_chunk *next;
    size_t used;
    watch_node nodes[CHUNK_NODES];
};

static void watch_on_done(tvl_future *f, void *arg)
{
    watch_node *node = arg;
    tvl__watch *w = node->watch;
    tvl__watch_lock(w);
    bool wake = w->on_end(w, node->index, f);
    tvl__watch_unlock(w);
    /* Woken outside the lock: the owner may run as soon as it is woken. */
    if (wake)
        tvl__waiter_wake(&w->waiter);
}

void tvl__watch_init(tvl__watch *w, tvl__watch_end_fn on_end, void *ctx)
{
    pthread_mutex_init(&w->mu, NULL);
    tvl__waiter_init(&w->waiter);
    w->on_end = on_end;
    w->ctx = ctx;
    w->chunks = NULL;
    w->count = 0;
}

int tvl__watch_add(tvl__watch *w, tvl_future *f)
{
    struct tvl__watch_chunk *c = w->chunks;
    if (c == NULL || c->used == CHUNK_NODES) {
        c = calloc(1, sizeof *c);
        if (c == NULL)
            return -ENOMEM;
        c->next = w->chunks;
        w->chunks = c;
    }
    watch_node *node = &c->nodes[c->used++];
    node->cb.fn = watch_on_done;
    node->cb.arg = node;
    node->watch = w;
    node->future = tvl_future_ref(f);
    /* The owner alone writes count, so no lock; callbacks read only their
     * node, which is complete before on_done publishes it. */
    node->index = w->count++;
    tvl_future_on_done(f, &node->cb);
    return 0;
}

int tvl__watch_wait(tvl__watch *w, tvl__watch_ready_fn ready, int64_t deadline_ns,
                    bool cancellable)
{
    int rc = 0;
    tvl__watch_lock(w);
    while (!ready(w)) {
        tvl__watch_unlock(w);
        rc = tvl__waiter_wait(&w->waiter, deadline_ns, cancellable);
        tvl__watch_lock(w);
        if (rc != 0) {
            /* The condition may have come true together with the timeout
             * or the cancel; the condition wins. */
            if (ready(w))
                rc = 0;
            break;
        }
    }
    tvl__watch_unlock(w);
    return rc;
}

void tvl__watch_each(tvl__watch *w, void (*fn)(tvl_future *f, void *arg), void *arg)
{
    for (struct tvl__watch_chunk *c = w->chunks; c != NULL; c = c->next)
        for (size_t i = 0; i < c->used; i++)
            fn(c->nodes[i].future, arg);
}

void tvl__watch_destroy(tvl__watch *w)
{
    struct tvl__watch_chunk *c = w->chunks;
    while (c != NULL) {
        struct tvl__watch_chunk *next = c->next;
        for (size_t i = 0; i < c->used; i++) {
            tvl_future_remove_callback(c->nodes[i].future, &c->nodes[i].cb);
            tvl_future_unref(c->nodes[i].future);
        }
        free(c);
        c = next;
    }
    w->chunks = NULL;
    tvl__waiter_destroy(&w->waiter);
    pthread_mutex_destroy(&w->mu);
}
