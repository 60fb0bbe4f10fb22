/* Monotonic time for timeouts, deadlines and per-request timelines. */
#include "rt/backend.h"

#include <time.h>

int64_t tvl__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t tvl__deadline(int64_t timeout_ns)
{
    if (timeout_ns < 0)
        return INT64_MAX;
    int64_t now = tvl__now_ns();
    return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

double tvl_now(void)
{
    return (double)tvl__now_ns() / 1e9;
}
