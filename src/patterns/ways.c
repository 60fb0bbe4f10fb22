/* The table of the seven ways, in the original program's order. */
#include "patterns/job.h"

#include <string.h>

const tvl_way tvl_ways[TVL_WAY_COUNT] = {
    {"iterator", "Use async for-loop with Asynchronous Iterator (tvl_aiter_next)", false,
     tvl_way_iterator},
    {"sequential", "Sequential Asyncio For-Loop (await each in turn)", false, tvl_way_sequential},
    {"gather", "Async for-loop with asyncio.gather() (tvl_gather)", true, tvl_way_gather},
    {"wait", "Async for-loop with asyncio.wait() (tvl_wait)", true, tvl_way_wait},
    {"as_completed", "Async for-loop with asyncio.as_completed() (tvl_as_completed_next)", true,
     tvl_way_as_completed},
    {"tasks", "Async for-loop with list comprehension of Tasks (tvl_spawn, then tvl_await)", true,
     tvl_way_tasks},
    {"taskgroup", "Async for-loop with asyncio.TaskGroup() (tvl_group_spawn, tvl_group_wait)",
     true, tvl_way_taskgroup},
};

const tvl_way *tvl_way_find(const char *name)
{
    for (size_t i = 0; i < TVL_WAY_COUNT; i++)
        if (strcmp(tvl_ways[i].name, name) == 0)
            return &tvl_ways[i];
    return NULL;
}
