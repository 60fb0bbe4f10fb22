/* What every new TLS connection of a transfer is set up with, through
 * libcurl's CURLOPT_SSL_CTX_FUNCTION: the runtime's CA store
 * (rt/ca_store.c) and a session of its own to resume. */
#ifndef TVL_RT_TLS_CTX_H
#define TVL_RT_TLS_CTX_H

#include <curl/curl.h>
#include <stdbool.h>

/* Sets the transfer's TLS context hook. With `verify`, the peer is
 * checked against the runtime's CA store (when there is a CA file; else
 * libcurl's own settings apply). Call after curl_easy_reset(). */
void tvl__tls_ctx_apply(CURL *easy, bool verify);

#endif
