/* The TLS context hook of every transfer (see tls_ctx.h).
 *
 * Why each connection resumes a copy of the cached session: libcurl keeps
 * one TLS session per host and port (in the runtime's share) and hands the
 * same SSL_SESSION object to every connection that starts before a newer
 * one arrives. With OpenSSL 3.0 and TLS 1.3, once one connection has
 * resumed that object, SSL_SESSION_is_resumable() on it turns false, and
 * the others that start from it afterwards make full handshakes,
 * certificate check and all (separate copies of one session, as
 * `openssl s_client -sess_in` makes, all resume). In the loop build,
 * where a concurrent way's six connections start one after another on one
 * thread, the delay server counted 1 resumed handshake of 6 in a way after
 * the first; with a copy per connection, 6 of 6 (its /stats, tls_resumed).
 * The copy is made when the handshake starts, before the ClientHello is
 * built: libcurl has called SSL_set_session by then, and nothing has read
 * the session yet. A TLS session is this process's only: nothing here
 * changes what is verified.
 *
 * What OpenSSL does is deliberate: RFC 8446 (appendix C.4) says a client
 * SHOULD NOT use a TLS 1.3 ticket for more than one connection, since a
 * reused ticket lets an observer link those connections. So the copy is
 * made only for a connection to a loopback address (the embedded delay
 * server, or one started by hand), where no one else can observe it; a
 * real site gets what libcurl alone does, one ticket resumed once and
 * full handshakes for the connections that find it used. The test is on
 * the host of the URL being fetched (libcurl's effective URL, which
 * follows redirects): a loopback address or "localhost", which libcurl
 * always resolves to loopback. A name that some resolver maps to loopback
 * does not count. (The handle's primary IP cannot tell: on a handle's
 * first connection it is still empty when the context is built.) */
#include "rt/tls_ctx.h"
#include "rt/ca_store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>
#include <strings.h>

static void resume_a_copy(const SSL *ssl, int where, int ret)
{
    (void)ret;
    /* Only a client that has sent nothing yet: a TLS 1.2 renegotiation
     * starts a handshake too, from a later state. */
    if (where != SSL_CB_HANDSHAKE_START || SSL_get_state(ssl) != TLS_ST_BEFORE)
        return;
    SSL_SESSION *shared = SSL_get_session(ssl);
    if (shared == NULL)
        return;
    SSL_SESSION *copy = SSL_SESSION_dup(shared);
    if (copy == NULL) {
        /* Resumes the shared one, as libcurl would; the allocation failure
         * must not pass for the reason of a later handshake error. */
        ERR_clear_error();
        return;
    }
    /* OpenSSL declares the callback's SSL const; the SSL is the caller's
     * own, and setting its session is what the callback is for. */
    SSL_set_session((SSL *)ssl, copy); /* takes its own reference */
    SSL_SESSION_free(copy);
}

bool tvl__tls_url_is_loopback(const char *url)
{
    CURLU *u = url ? curl_url() : NULL;
    char *host = NULL;
    bool loopback = false;
    if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        char addr[INET6_ADDRSTRLEN];
        size_t len = strlen(host);
        struct in_addr v4;
        struct in6_addr v6;
        if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof addr) {
            memcpy(addr, host + 1, len - 2); /* an IPv6 literal, bracketed */
            addr[len - 2] = '\0';
            loopback = inet_pton(AF_INET6, addr, &v6) == 1 &&
                       (IN6_IS_ADDR_LOOPBACK(&v6) ||
                        (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127));
        } else if (inet_pton(AF_INET, host, &v4) == 1) {
            loopback = (ntohl(v4.s_addr) >> 24) == 127;
        } else {
            loopback = strcasecmp(host, "localhost") == 0;
        }
    }
    curl_free(host);
    curl_url_cleanup(u);
    return loopback;
}

static CURLcode setup(CURL *easy, void *ssl_ctx, void *use_store)
{
    if (use_store != NULL) {
        CURLcode rc = tvl__ca_store_give(ssl_ctx);
        if (rc != CURLE_OK)
            return rc;
    }
    char *url = NULL;
    if (curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK &&
        tvl__tls_url_is_loopback(url))
        SSL_CTX_set_info_callback(ssl_ctx, resume_a_copy);
    return CURLE_OK;
}

void tvl__tls_ctx_apply(CURL *easy, bool verify)
{
    static char use_store; /* its address says "give the store" */
    bool store = verify && tvl__ca_store_apply(easy);
    curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, setup);
    curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, store ? &use_store : NULL);
}
