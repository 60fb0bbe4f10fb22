/* Way 4, wait:
 *     done, pending = await asyncio.wait(tasks)
 * All tasks start at once; wait returns the done and pending sets (here
 * with ALL_COMPLETED, so pending is empty). Total = max. */
#include "patterns/job.h"

#include <stdlib.h>

int tvl_way_wait(tvl_job *job)
{
    size_t n = job->n ? job->n : 1;
    tvl_future **tasks = calloc(n, sizeof *tasks);
    tvl_future **done = calloc(n, sizeof *done);
    tvl_future **pending = calloc(n, sizeof *pending);
    int rc = tasks && done && pending ? 0 : -ENOMEM;
    size_t started = 0;
    for (; rc == 0 && started < job->n; started++)
        rc = tvl_item_spawn(job, started, &tasks[started]);
    size_t n_done = 0, n_pending = 0;
    if (rc == 0 && job->n > 0)
        rc = tvl_wait(tasks, job->n, TVL_ALL_COMPLETED, TVL_NO_TIMEOUT, done, &n_done, pending,
                      &n_pending);
    for (size_t i = 0; i < started; i++)
        tvl_future_unref(tasks[i]);
    free(pending);
    free(done);
    free(tasks);
    return rc;
}
