/* Way 6, a list of tasks awaited in order:
 *     tasks = [asyncio.create_task(fetch(u)) for u in urls]
 *     for t in tasks: await t
 * Every task is created first and starts running at once, so awaiting
 * them one by one still takes the max, not the sum: the lesson of way 2
 * done right. */
#include "patterns/job.h"

#include <stdlib.h>

int tvl_way_tasks(tvl_job *job)
{
    tvl_future **tasks = calloc(job->n ? job->n : 1, sizeof *tasks);
    int rc = tasks ? 0 : -ENOMEM;
    size_t started = 0;
    for (; rc == 0 && started < job->n; started++)
        rc = tvl_item_spawn(job, started, &tasks[started]);
    for (size_t i = 0; i < started; i++)
        tvl_await(tasks[i]); /* an item's failure is in its record */
    for (size_t i = 0; i < started; i++)
        tvl_future_unref(tasks[i]);
    free(tasks);
    return rc;
}
