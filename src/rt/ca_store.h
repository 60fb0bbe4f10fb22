/* The CAs that TLS connections are verified against, parsed once per
 * runtime instead of once per connection or per client session. */
#ifndef TVL_RT_CA_STORE_H
#define TVL_RT_CA_STORE_H

#include <curl/curl.h>

/* Picks the CA file: `cacert` (then the only thing trusted) or, if NULL,
 * libcurl's default bundle when it can be read. Nothing is parsed yet.
 * Returns 0 or -ENOMEM. */
int tvl__ca_store_init(const char *cacert);

/* Drops the parsed store (connections still open keep their reference). */
void tvl__ca_store_shutdown(void);

/* The CA file in use, or NULL (libcurl's own settings). For messages; the
 * string lives until tvl__ca_store_shutdown(). */
const char *tvl__ca_store_file(void);

/* Points a transfer at the shared store: libcurl loads no CA file or
 * directory itself, and each new TLS connection gets the store, parsed by
 * the first one. Without a CA file (no readable default bundle), leaves
 * libcurl's own CA settings. Call after curl_easy_reset(). */
void tvl__ca_store_apply(CURL *easy);

#endif
