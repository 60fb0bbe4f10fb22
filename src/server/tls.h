/* Internal: the delay server's TLS identity, made at start-up: a throw-away
 * CA and a server certificate it signs, both EC P-256. */
#ifndef TVL_SERVER_TLS_H
#define TVL_SERVER_TLS_H

#include <openssl/ssl.h>

typedef struct tvl__tls {
    SSL_CTX *ctx;      /* server context with the certificate and key */
    char dir[256];     /* private temporary directory (mode 0700), or "" */
    char ca_file[300]; /* dir + "/ca.pem": the CA certificate, mode 0600 */
} tvl__tls;

/* Generates the CA and server keys and certificates (server SAN: IP
 * 127.0.0.1, IP ::1, DNS localhost; valid from one hour ago for seven days),
 * makes the SSL_CTX, creates the directory under $TMPDIR (else /tmp) and
 * writes the CA certificate there. Private keys never touch the disk. On
 * failure returns -ENOMEM, -EIO (OpenSSL) or a negated errno of the file
 * system, writes a line into err, and leaves *t empty. */
int tvl__tls_init(tvl__tls *t, char *err, size_t errlen);

/* Removes the files and frees the context; safe on an empty or cleaned t. */
void tvl__tls_cleanup(tvl__tls *t);

#endif
