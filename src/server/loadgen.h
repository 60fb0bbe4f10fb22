/* Internal: a small plain-HTTP load generator over raw non-blocking sockets
 * and epoll, for the delay server's scale test and its benchmark. */
#ifndef TVL_SERVER_LOADGEN_H
#define TVL_SERVER_LOADGEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct tvl__loadgen_options {
    const char *ip;         /* IPv4 loopback address; NULL: 127.0.0.1 */
    unsigned port;
    const char *path;       /* e.g. "/delay/200" */
    unsigned connections;   /* concurrent requests, one connection each */
    unsigned timeout_ms;    /* the whole run; 0: 60000 */
    unsigned max_connecting;/* connects in flight at once; 0: 512 */
} tvl__loadgen_options;

typedef struct tvl__loadgen_result {
    unsigned ok;            /* 200, full body, matching checksum */
    unsigned failed;        /* anything else, timeouts included */
    double seconds;         /* first connect to last answer */
    double lat_min, lat_mean, lat_max; /* per request, connect to EOF, s */
} tvl__loadgen_result;

/* Sends one GET with "Connection: close" on each of o->connections
 * connections, all open at once (connects are paced by max_connecting),
 * and reads every answer to its end. Raises RLIMIT_NOFILE if it must.
 * Returns 0 (see r for the outcome), -EINVAL, -ENOMEM or -EMFILE. */
int tvl__loadgen_run(const tvl__loadgen_options *o, tvl__loadgen_result *r);

/* The same with kept-alive connections: open() makes the set (o->path is
 * not used; nothing is connected yet), each round() sends one GET `path`
 * on every connection at once, connecting those that are not connected,
 * and waits for every answer; close() closes them all. */
typedef struct tvl__loadgen tvl__loadgen;
int tvl__loadgen_open(const tvl__loadgen_options *o, tvl__loadgen **out);
int tvl__loadgen_round(tvl__loadgen *lg, const char *path, tvl__loadgen_result *r);
void tvl__loadgen_close(tvl__loadgen *lg);

#endif
