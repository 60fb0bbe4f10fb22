/* Runtime state shared by both backends: the options, the connection
 * limit, thread ids. */
#include "rt/backend.h"
#include "rt/http.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static tvl_rt_options options;
static char *cacert_copy;

int tvl__rt_common_init(const tvl_rt_options *opts)
{
    options = *opts;
    cacert_copy = NULL;
    if (opts->cacert != NULL) {
        cacert_copy = strdup(opts->cacert);
        if (cacert_copy == NULL)
            return -ENOMEM;
    }
    options.cacert = cacert_copy;
    int rc = tvl__http_init(&options);
    if (rc != 0) {
        free(cacert_copy);
        cacert_copy = NULL;
    }
    return rc;
}

void tvl__rt_common_shutdown(void)
{
    tvl__http_shutdown();
    free(cacert_copy);
    cacert_copy = NULL;
    memset(&options, 0, sizeof options);
}

const tvl_rt_options *tvl__rt_options(void)
{
    return &options;
}

/* gettid is a system call (1 us on the VM we measure on) and every request
 * records it: ask once per thread. 0 is never a thread id. A fork()ed
 * child starts over: its thread inherits the parent's copy. */
static _Thread_local pid_t my_tid;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void forget_tid(void)
{
    my_tid = 0;
}

static void install_atfork(void)
{
    (void)pthread_atfork(NULL, NULL, forget_tid);
}

int64_t tvl_rt_thread_id(void)
{
    if (my_tid == 0) {
        pthread_once(&atfork_once, install_atfork);
        my_tid = gettid();
    }
    return (int64_t)my_tid;
}
