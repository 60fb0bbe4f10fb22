/* Internal: the HTTP/1.1 request-head parser, a pure function over a buffer
 * (no allocation, no global state), so that it can be fuzzed on its own. */
#ifndef TVL_SERVER_HTTP_PARSE_H
#define TVL_SERVER_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define TVL__HTTP_MAX_HEAD 8192u  /* request line + headers + CRLFCRLF */
#define TVL__HTTP_MAX_HEADERS 100u
#define TVL__HTTP_MAX_METHOD 16u

typedef enum tvl__http_result {
    TVL__HTTP_NEED_MORE, /* no complete head yet and nothing wrong so far */
    TVL__HTTP_DONE,      /* a complete, acceptable GET or HEAD */
    TVL__HTTP_BAD        /* answer req->status and close */
} tvl__http_result;

typedef enum tvl__http_method { TVL__HTTP_GET, TVL__HTTP_HEAD } tvl__http_method;

typedef struct tvl__http_request {
    /* Set on TVL__HTTP_DONE: */
    tvl__http_method method;
    const char *target;    /* origin-form, points into the buffer */
    size_t target_len;
    unsigned version_minor;/* HTTP/1.x */
    bool keep_alive;       /* the connection may carry another request */
    size_t length;         /* bytes of the head, leading empty lines included */
    /* Set on TVL__HTTP_BAD: */
    int status;            /* 400, 431, 501 or 505 */
    const char *reason;    /* a static phrase saying what was wrong */
} tvl__http_request;

/* Parses the request head at the start of buf[0..len). Accepts GET and HEAD
 * in HTTP/1.0 and 1.1 with CRLF line ends; requires Host in 1.1; rejects
 * request bodies (a non-zero Content-Length or any Transfer-Encoding: 501),
 * other well-formed methods (501), other major versions (505), a head over
 * TVL__HTTP_MAX_HEAD bytes or TVL__HTTP_MAX_HEADERS headers (431), and
 * anything malformed (400). Reads nothing past buf[len-1]; buf need not be
 * NUL-terminated. On NEED_MORE, *req is unspecified. */
tvl__http_result tvl__http_parse(const char *buf, size_t len, tvl__http_request *req);

#endif
