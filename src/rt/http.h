/* The HTTP GET both runtimes share: options, body checks, error mapping.
 * Only how a prepared transfer is performed differs (backend.h). */
#ifndef TVL_RT_HTTP_H
#define TVL_RT_HTTP_H

#include "tvl/rt.h"

/* Global HTTP state: curl_global_init (once per process) and the
 * connection limit. Called by tvl__rt_common_init/shutdown. */
int tvl__http_init(const tvl_rt_options *opts);
void tvl__http_shutdown(void);

/* curl_global_init, once per process, with our allocation functions
 * (they tell rt/prefault.h when libcurl grows the heap). A backend calls it
 * before its first other curl call; if something else initialised libcurl
 * first, libcurl keeps its own allocator and nothing else changes. Returns
 * 0 or -ENOMEM. */
int tvl__curl_global_init(void);

/* Tasks waiting in tvl_http_get() for a connection slot now (0 without a
 * connection limit). A hint for the loop runtime's admission (its
 * sched.c); any thread may read it. */
unsigned tvl__http_slot_waiters(void);

/* Whether the runtime was started with a connection limit. */
bool tvl__http_connection_limit(void);

#endif
