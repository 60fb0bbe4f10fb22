/* The throw-away CA and server certificate, made with OpenSSL 3 at start-up
 * (P-256 key generation takes well under a millisecond). */
#include "server/tls.h"
#include "tvl/error.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int ossl_fail(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[160] = "";
    if (e != 0)
        ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, errlen, "TLS setup: %s failed%s%s", what, buf[0] ? ": " : "", buf);
    ERR_clear_error();
    return -EIO;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* A certificate for `key` named `cn`, signed by issuer/issuer_key (itself
 * when issuer is NULL). Returns NULL on failure. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key)
{
    X509 *c = X509_new();
    BIGNUM *bn = BN_new();
    if (c == NULL || bn == NULL)
        goto fail;
    if (!X509_set_version(c, 2) || !BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) == NULL)
        goto fail;
    if (X509_gmtime_adj(X509_getm_notBefore(c), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(c), 7L * 24 * 3600) == NULL)
        goto fail;
    X509_NAME *name = X509_get_subject_name(c);
    if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"tvl", -1, -1,
                                    0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0))
        goto fail;
    if (!X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name) ||
        !X509_set_pubkey(c, key))
        goto fail;
    X509 *iss = issuer ? issuer : c;
    if (issuer == NULL) {
        if (add_ext(c, iss, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
            add_ext(c, iss, NID_key_usage, "critical,keyCertSign,cRLSign") ||
            add_ext(c, iss, NID_subject_key_identifier, "hash"))
            goto fail;
    } else {
        if (add_ext(c, iss, NID_basic_constraints, "critical,CA:FALSE") ||
            add_ext(c, iss, NID_key_usage, "critical,digitalSignature") ||
            add_ext(c, iss, NID_ext_key_usage, "serverAuth") ||
            add_ext(c, iss, NID_subject_key_identifier, "hash") ||
            add_ext(c, iss, NID_authority_key_identifier, "keyid:always") ||
            add_ext(c, iss, NID_subject_alt_name, "IP:127.0.0.1,IP:::1,DNS:localhost"))
            goto fail;
    }
    if (X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()) == 0)
        goto fail;
    BN_free(bn);
    return c;
fail:
    BN_free(bn);
    X509_free(c);
    return NULL;
}

static int write_ca(tvl__tls *t, X509 *ca, char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    if ((size_t)snprintf(t->dir, sizeof t->dir, "%s/tvl-ds-XXXXXX", tmp) >= sizeof t->dir) {
        t->dir[0] = '\0';
        snprintf(err, errlen, "TLS setup: TMPDIR too long");
        return -ENAMETOOLONG;
    }
    if (mkdtemp(t->dir) == NULL) { /* mode 0700 */
        int e = errno;
        snprintf(err, errlen, "TLS setup: mkdtemp %s: %s", t->dir, strerror(e));
        t->dir[0] = '\0';
        return -e;
    }
    snprintf(t->ca_file, sizeof t->ca_file, "%s/ca.pem", t->dir);
    int fd = open(t->ca_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        snprintf(err, errlen, "TLS setup: %s: %s", t->ca_file, strerror(e));
        return -e;
    }
    int ok = PEM_write_X509(f, ca);
    if (fclose(f) != 0 || !ok) {
        snprintf(err, errlen, "TLS setup: cannot write %s", t->ca_file);
        return -EIO;
    }
    return 0;
}

int tvl__tls_init(tvl__tls *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    EVP_PKEY *ca_key = NULL, *key = NULL;
    X509 *ca = NULL, *cert = NULL;
    int rc = 0;

    if ((ca_key = EVP_EC_gen("P-256")) == NULL || (key = EVP_EC_gen("P-256")) == NULL) {
        rc = ossl_fail(err, errlen, "key generation");
        goto out;
    }
    if ((ca = make_cert(ca_key, "tvl delay server test CA", NULL, NULL)) == NULL ||
        (cert = make_cert(key, "localhost", ca, ca_key)) == NULL) {
        rc = ossl_fail(err, errlen, "certificate");
        goto out;
    }
    t->ctx = SSL_CTX_new(TLS_server_method());
    if (t->ctx == NULL || !SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) ||
        !SSL_CTX_use_certificate(t->ctx, cert) || !SSL_CTX_use_PrivateKey(t->ctx, key) ||
        !SSL_CTX_check_private_key(t->ctx)) {
        rc = ossl_fail(err, errlen, "SSL_CTX");
        goto out;
    }
    /* Partial, moving writes: the body comes from a static buffer and is
     * written as far as the socket takes it. Release buffers: an idle
     * connection of 10,000 should not hold 34 KiB of record buffers.
     * Ignore a missing close_notify: clients drop connections. */
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                 SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    rc = write_ca(t, ca, err, errlen);
out:
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    X509_free(ca);
    X509_free(cert);
    if (rc != 0)
        tvl__tls_cleanup(t);
    return rc;
}

void tvl__tls_cleanup(tvl__tls *t)
{
    if (t->ca_file[0] != '\0')
        unlink(t->ca_file);
    if (t->dir[0] != '\0')
        rmdir(t->dir);
    SSL_CTX_free(t->ctx);
    memset(t, 0, sizeof *t);
}
