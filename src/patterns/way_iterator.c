/* Way 1, the asynchronous iterator:
 *     async for result in Fetcher(urls): ...
 * Each step of the iterator itself waits (sleeps, or fetches the next
 * URL), so consuming it is sequential by nature: total = sum. */
#include "patterns/job.h"

typedef struct job_cursor {
    tvl_job *job;
    size_t next;
} job_cursor;

/* __anext__: runs the next item, yields it; StopAsyncIteration at the end. */
static int cursor_next(tvl_aiter *it, void **item)
{
    job_cursor *c = it->state;
    if (c->next == c->job->n)
        return 1;
    tvl_item *x = &c->job->items[c->next++];
    tvl_item_run(x);
    *item = x;
    return 0;
}

int tvl_way_iterator(tvl_job *job)
{
    job_cursor cursor = {.job = job, .next = 0};
    tvl_aiter it = {.next = cursor_next, .state = &cursor};
    void *item;
    int rc;
    while ((rc = tvl_aiter_next(&it, &item)) == 0)
        ; /* the item has printed its own line */
    return rc == 1 ? 0 : rc;
}
