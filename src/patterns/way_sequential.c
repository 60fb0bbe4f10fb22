/* Way 2, sequential awaits in a for-loop:
 *     for url in urls: await fetch(url)
 * Async used the wrong way: each await finishes before the next starts,
 * so it is as slow as synchronous code. Total = sum. */
#include "patterns/job.h"

int tvl_way_sequential(tvl_job *job)
{
    for (size_t i = 0; i < job->n; i++)
        tvl_item_run(&job->items[i]);
    return 0;
}
