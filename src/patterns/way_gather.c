/* Way 3, gather:
 *     results = await asyncio.gather(*(fetch(u) for u in urls))
 * Every task starts at once; results come back in input order; the first
 * error goes to the caller and the other tasks keep running. Total = max. */
#include "patterns/job.h"

#include <stdlib.h>

int tvl_way_gather(tvl_job *job)
{
    tvl_future **tasks = calloc(job->n ? job->n : 1, sizeof *tasks);
    void **results = calloc(job->n ? job->n : 1, sizeof *results);
    int rc = tasks && results ? 0 : -ENOMEM;
    size_t started = 0;
    for (; rc == 0 && started < job->n; started++)
        rc = tvl_item_spawn(job, started, &tasks[started]);
    if (rc == 0)
        rc = tvl_gather(tasks, job->n, false, results, NULL);
    for (size_t i = 0; i < started; i++)
        tvl_future_unref(tasks[i]);
    free(results);
    free(tasks);
    return rc;
}
