/* One X509_STORE per runtime, shared by every TLS connection.
 *
 * libcurl 7.88 parses the CA file for each new connection unless it can
 * cache the result, and its cache lives in the multi handle: the loop
 * build replaces its multi handle for every new client session (one per
 * way, as the original opens one per way), and in the threads build every
 * thread's easy handle has a multi handle of its own. So each way parsed
 * the file again, once per thread in the threads build: 0.1 ms for the
 * delay server's one certificate, 18 ms for the system bundle of 140 that
 * real URLs are checked against (measured here). Python's ssl module
 * parses its context's CAs once per process.
 *
 * Here libcurl is told to load nothing (no CA file, no CA directory) and
 * every new SSL_CTX gets the store (rt/tls_ctx.c's hook, libcurl's
 * CURLOPT_SSL_CTX_FUNCTION, calls tvl__ca_store_give), which the first TLS
 * connection parses. Verification is unchanged: libcurl still
 * asks OpenSSL to verify the peer (and checks the host name itself), now
 * against this store. X509_STORE is reference-counted and locks itself,
 * so threads share it. */
#include "rt/ca_store.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ca_file is written only by init and shutdown, when no transfer runs
 * (as rt/http.c's options), so transfers read it without the lock; the
 * lock guards the store, which the first TLS connection parses. */
static pthread_mutex_t ca_mu = PTHREAD_MUTEX_INITIALIZER;
static char *ca_file;        /* NULL: libcurl's own CA settings apply */
static X509_STORE *ca_store; /* parsed by the first TLS connection */
static bool ca_failed;       /* the file could not be parsed: TLS fails */

static char *default_bundle(void)
{
    CURL *probe = curl_easy_init();
    if (probe == NULL)
        return NULL;
    char *bundle = NULL, *copy = NULL;
    if (curl_easy_getinfo(probe, CURLINFO_CAINFO, &bundle) == CURLE_OK && bundle != NULL &&
        access(bundle, R_OK) == 0)
        copy = strdup(bundle);
    curl_easy_cleanup(probe);
    return copy;
}

int tvl__ca_store_init(const char *cacert)
{
    tvl__ca_store_shutdown();
    char *file = cacert != NULL ? strdup(cacert) : default_bundle();
    if (cacert != NULL && file == NULL)
        return -ENOMEM;
    pthread_mutex_lock(&ca_mu);
    ca_file = file;
    pthread_mutex_unlock(&ca_mu);
    return 0;
}

void tvl__ca_store_shutdown(void)
{
    pthread_mutex_lock(&ca_mu);
    X509_STORE_free(ca_store);
    ca_store = NULL;
    free(ca_file);
    ca_file = NULL;
    ca_failed = false;
    pthread_mutex_unlock(&ca_mu);
}

const char *tvl__ca_store_file(void)
{
    return ca_file;
}

/* The store, parsed on first use; NULL if the file cannot be parsed. The
 * caller owns one reference. */
static X509_STORE *store_ref(void)
{
    pthread_mutex_lock(&ca_mu);
    if (ca_store == NULL && !ca_failed && ca_file != NULL) {
        X509_STORE *s = X509_STORE_new();
        if (s != NULL && X509_STORE_load_file(s, ca_file) == 1) {
            ca_store = s;
        } else {
            X509_STORE_free(s);
            ca_failed = true;
            ERR_clear_error(); /* libcurl reports OpenSSL's queue as its own */
        }
    }
    X509_STORE *s = ca_store;
    if (s != NULL && X509_STORE_up_ref(s) != 1)
        s = NULL;
    pthread_mutex_unlock(&ca_mu);
    return s;
}

CURLcode tvl__ca_store_give(void *ssl_ctx)
{
    X509_STORE *s = store_ref();
    if (s == NULL)
        return CURLE_SSL_CACERT_BADFILE;
    SSL_CTX_set_cert_store(ssl_ctx, s); /* takes our reference */
    return CURLE_OK;
}

bool tvl__ca_store_apply(CURL *easy)
{
    if (ca_file == NULL)
        return false;
    curl_easy_setopt(easy, CURLOPT_CAINFO, NULL);
    curl_easy_setopt(easy, CURLOPT_CAPATH, NULL);
    return true;
}
