/* Awaiting one task: await, cancel, wait_for. */
#include "rt/backend.h"

int tvl_await(tvl_future *f)
{
    int rc = tvl__await_until(f, INT64_MAX, true);
    if (rc == -ECANCELED && !tvl_future_is_final(f)) {
        /* The awaiting task was cancelled: like asyncio, the cancellation
         * goes on to the task it awaits. */
        tvl_future_cancel(f);
    }
    return rc;
}

int tvl_cancel(tvl_future *f)
{
    return tvl_future_cancel(f);
}

int tvl_wait_for(tvl_future *f, int64_t timeout_ns)
{
    int rc = tvl__await_until(f, tvl__deadline(timeout_ns), true);
    if (rc != -ETIMEDOUT && rc != -ECANCELED)
        return rc;
    /* Timed out, or we were cancelled: cancel f and, as asyncio does, wait
     * for it to end so that nothing outlives the call. That wait is not
     * cut short by our own cancel request, which is being honoured. */
    tvl_future_cancel(f);
    tvl__await_until(f, INT64_MAX, false);
    return rc;
}
