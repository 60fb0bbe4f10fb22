/* The CAs that TLS connections are verified against, parsed once per
 * runtime instead of once per connection or per client session. */
#ifndef TVL_RT_CA_STORE_H
#define TVL_RT_CA_STORE_H

#include <curl/curl.h>
#include <stdbool.h>

/* Picks the CA file: `cacert` (then the only thing trusted) or, if NULL,
 * libcurl's default bundle when it can be read. Nothing is parsed yet.
 * Returns 0 or -ENOMEM. */
int tvl__ca_store_init(const char *cacert);

/* Drops the parsed store (connections still open keep their reference). */
void tvl__ca_store_shutdown(void);

/* The CA file in use, or NULL (libcurl's own settings). For messages; the
 * string lives until tvl__ca_store_shutdown(). */
const char *tvl__ca_store_file(void);

/* Tells a transfer to load no CA file or directory itself, when there is
 * a CA file to parse into the store; returns whether there is (false: no
 * readable default bundle, and libcurl's own CA settings stay). Then each
 * new TLS context of the transfer must get the store from
 * tvl__ca_store_give() (rt/tls_ctx.c does both). Call after
 * curl_easy_reset(). */
bool tvl__ca_store_apply(CURL *easy);

/* Gives an SSL_CTX the store, parsed by the first call; from libcurl's
 * CURLOPT_SSL_CTX_FUNCTION. CURLE_SSL_CACERT_BADFILE if the file cannot be
 * parsed. */
CURLcode tvl__ca_store_give(void *ssl_ctx);

#endif
