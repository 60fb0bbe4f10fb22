/* Way 5, as_completed:
 *     for task in asyncio.as_completed(tasks): result = await task
 * Results are consumed in completion order, and (as in Python 3.13) the
 * iterator yields the original task, so we know which one ended.
 * Total = max. */
#include "patterns/job.h"

#include <stdlib.h>

int tvl_way_as_completed(tvl_job *job)
{
    tvl_future **tasks = calloc(job->n ? job->n : 1, sizeof *tasks);
    int rc = tasks ? 0 : -ENOMEM;
    size_t started = 0;
    for (; rc == 0 && started < job->n; started++)
        rc = tvl_item_spawn(job, started, &tasks[started]);
    tvl_as_completed *it = NULL;
    if (rc == 0)
        rc = tvl_as_completed_begin(tasks, job->n, TVL_NO_TIMEOUT, &it);
    tvl_future *next;
    while (rc == 0 && (rc = tvl_as_completed_next(it, &next)) == 0)
        tvl_await(next); /* already ended: returns its outcome at once */
    if (rc == 1)
        rc = 0;
    tvl_as_completed_end(it);
    for (size_t i = 0; i < started; i++)
        tvl_future_unref(tasks[i]);
    free(tasks);
    return rc;
}
