/* What every new TLS connection of a transfer is set up with, through
 * libcurl's CURLOPT_SSL_CTX_FUNCTION: the runtime's CA store
 * (rt/ca_store.c) and, on a loopback connection, a session of its own to
 * resume. */
#ifndef TVL_RT_TLS_CTX_H
#define TVL_RT_TLS_CTX_H

#include <curl/curl.h>
#include <stdbool.h>

/* Sets the transfer's TLS context hook. With `verify`, the peer is
 * checked against the runtime's CA store (when there is a CA file; else
 * libcurl's own settings apply). Call after curl_easy_reset(). */
void tvl__tls_ctx_apply(CURL *easy, bool verify);

/* Whether the host of `url` is a loopback address (127.0.0.0/8, [::1],
 * [::ffff:127.x.y.z]) or "localhost". Only connections to one resume a copy
 * of the cached session (see tls_ctx.c); NULL or a URL that does not parse
 * is not loopback. */
bool tvl__tls_url_is_loopback(const char *url);

#endif
