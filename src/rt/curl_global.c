/* libcurl's process-wide set-up: curl_global_init, once, with allocation
 * functions of ours, so that a runtime that prefaults its heap
 * (rt/prefault.h) sees libcurl grow it. */
#include "rt/http.h"
#include "rt/prefault.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* curl_global_init is not thread-safe and must run once per process, so it
 * runs on the first init and is never undone (a second runtime in the same
 * process, as the tests make, reuses it). */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_global_rc;

/* libcurl's allocations go through these, so that a runtime that prefaults
 * its heap (rt/prefault.h) sees the heap grow under a burst of transfers:
 * they are most of what grows it. */
static void *curl_malloc(size_t n)
{
    void *p = malloc(n);
    tvl__prefault_check(p, n);
    return p;
}

static void *curl_calloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    tvl__prefault_check(p, n * size); /* calloc checked the product */
    return p;
}

static void *curl_realloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    tvl__prefault_check(q, n);
    return q;
}

static char *curl_strdup(const char *s)
{
    char *q = strdup(s);
    tvl__prefault_check(q, q != NULL ? strlen(q) + 1 : 0);
    return q;
}

static void curl_global_once(void)
{
    curl_global_rc = curl_global_init_mem(CURL_GLOBAL_DEFAULT, curl_malloc, free, curl_realloc,
                                          curl_strdup, curl_calloc);
}

int tvl__curl_global_init(void)
{
    pthread_once(&curl_once, curl_global_once);
    return curl_global_rc == CURLE_OK ? 0 : -ENOMEM;
}
