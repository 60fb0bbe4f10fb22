/* Way 7, TaskGroup:
 *     async with asyncio.TaskGroup() as tg:
 *         for u in urls: tg.create_task(fetch(u))
 * Structured concurrency: leaving the block waits for every child; the
 * first failure cancels the siblings still running, and every failure is
 * reported together. Total = max. */
#include "patterns/job.h"

#include <stdio.h>

int tvl_way_taskgroup(tvl_job *job)
{
    tvl_group *tg;
    int rc = tvl_group_create(&tg);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < job->n; i++) {
        tvl_future *f;
        rc = tvl_group_spawn(tg, tvl_item_task, &job->items[i], &f);
        if (rc != 0) {
            /* The group is aborting: a child already failed. Like asyncio,
             * the items not started are not run; say so in their record. */
            job->items[i].out.error = rc;
            snprintf(job->items[i].out.message, sizeof job->items[i].out.message,
                     "not started: the task group was aborting");
            continue;
        }
        job->tasks[i] = f; /* the harness drops this reference */
    }
    int left = tvl_group_wait(tg); /* TVL_E_GROUP if any child failed */
    tvl_group_destroy(tg);
    if (left != 0)
        return left;
    return rc == -ECANCELED ? TVL_E_GROUP : rc;
}
