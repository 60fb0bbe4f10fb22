/* Helpers of the delay server suites: start a server, fetch with libcurl
 * (verification on), talk raw HTTP over a socket. */
#ifndef TVL_TESTS_DS_UTIL_H
#define TVL_TESTS_DS_UTIL_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tvl/delay_server.h"

/* Spawns a child server (plain or TLS, with a delay scale; 0 means 1) and
 * asserts it started; returns NULL if it did not. */
tvl_delay_server *ds_spawn(bool plain, double scale);

/* Spawns a plain-HTTP child server with an idle timeout and a spin (0:
 * the defaults); a failure to start ends the test (a fatal assertion). */
tvl_delay_server *ds_spawn_plain(unsigned idle_timeout_ms, unsigned spin_us);

/* Stops s and asserts a clean exit (a sanitizer report makes it fail). */
void ds_stop(tvl_delay_server *s);

typedef struct ds_fetch {
    CURLcode code;
    long status;
    size_t body_len;
    uint32_t body_sum;      /* tvl_body_checksum of what was received */
    bool has_sum;
    uint64_t header_sum;    /* from X-Body-Checksum */
    long long content_length; /* -1: none */
    long long delay_us;     /* X-Delay-Us, -1: none */
    double total_s, ttfb_s, pretransfer_s; /* pretransfer: connection ready */
    long num_connects;
    char body[256];         /* the first bytes, NUL-terminated */
} ds_fetch;

/* GETs (or HEADs) s's base URL + path on handle h (a new one if NULL),
 * with CURLOPT_CAINFO = ca (NULL: the server's own CA) and a timeout. */
void ds_get(CURL *h, const tvl_delay_server *s, const char *path, const char *ca,
            long timeout_ms, bool head, ds_fetch *f);

/* The URL of s with `path`, in a static buffer. */
const char *ds_url(const tvl_delay_server *s, const char *path);

/* Sends req[0..len) on a new TCP connection to 127.0.0.1:port and reads
 * until the server closes or timeout_ms passes. Returns the bytes read (a
 * NUL is appended; cap includes it); *closed says whether the server
 * closed (EOF or reset). */
size_t ds_raw(unsigned port, const char *req, size_t len, char *resp, size_t cap, int timeout_ms,
              bool *closed);

/* The status code of the first response in resp, or 0. */
int ds_status_of(const char *resp);

/* Timing slack in seconds: larger under sanitizers (TVL_TEST_SLOW). */
double ds_slack(void);

#endif
