/* The --wrap'd allocator of the out-of-memory tests. */
#include "alloc_fail.h"

#include <errno.h>
#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static _Thread_local long fail_at = -1;
static _Thread_local long calls;
static _Thread_local int sticky_fail;
static _Thread_local int fired;

void alloc_fail_arm(long n, int sticky)
{
    fail_at = n;
    sticky_fail = sticky;
    calls = 0;
    fired = 0;
}

long alloc_fail_calls(void)
{
    return calls;
}

int alloc_fail_fired(void)
{
    return fired;
}

static int should_fail(void)
{
    long i = calls++;
    if (fail_at < 0 || i < fail_at || (i > fail_at && !sticky_fail))
        return 0;
    fired = 1;
    errno = ENOMEM;
    return 1;
}

void *__wrap_malloc(size_t n)
{
    return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __real_realloc(p, n);
}
