/* The HTTP/1.1 request-head parser (RFC 9112), strict where being lenient
 * would cost a branch the fuzzer has to explore for nothing. */
#include "server/http_parse.h"

#include <string.h>

/* tchar of RFC 9110 5.6.2 */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar, SP, HTAB or obs-text */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool ieq(const char *a, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(a, lit, n) == 0;
}

static tvl__http_result bad(tvl__http_request *req, int status, const char *reason)
{
    req->status = status;
    req->reason = reason;
    return TVL__HTTP_BAD;
}

/* Finds the CRLF that ends the line starting at p; NULL if none before end. */
static const char *line_end(const char *p, const char *end)
{
    for (const char *q = p; q + 1 < end; q++)
        if (q[0] == '\r' && q[1] == '\n')
            return q;
    return NULL;
}

/* Parses "METHOD SP TARGET SP HTTP/x.y" in [p, e). */
static tvl__http_result parse_request_line(const char *p, const char *e, tvl__http_request *req,
                                           bool *known_method)
{
    const char *m = p;
    while (p < e && is_tchar((unsigned char)*p))
        p++;
    size_t mlen = (size_t)(p - m);
    if (mlen == 0 || p == e || *p != ' ')
        return bad(req, 400, "malformed method");
    if (mlen > TVL__HTTP_MAX_METHOD)
        return bad(req, 501, "method not implemented");
    *known_method = true;
    if (mlen == 3 && memcmp(m, "GET", 3) == 0)
        req->method = TVL__HTTP_GET;
    else if (mlen == 4 && memcmp(m, "HEAD", 4) == 0)
        req->method = TVL__HTTP_HEAD;
    else
        *known_method = false;
    p++;
    const char *t = p;
    while (p < e && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
        p++;
    if (p == t || p == e || *p != ' ')
        return bad(req, 400, "malformed request target");
    if (*t != '/')
        return bad(req, 400, "request target not in origin form");
    req->target = t;
    req->target_len = (size_t)(p - t);
    p++;
    if (e - p != 8 || memcmp(p, "HTTP/", 5) != 0 || p[5] < '0' || p[5] > '9' || p[6] != '.' ||
        p[7] < '0' || p[7] > '9')
        return bad(req, 400, "malformed HTTP version");
    if (p[5] != '1')
        return bad(req, 505, "HTTP version not supported");
    req->version_minor = (unsigned)(p[7] - '0');
    return TVL__HTTP_DONE;
}

tvl__http_result tvl__http_parse(const char *buf, size_t len, tvl__http_request *req)
{
    memset(req, 0, sizeof *req);
    const char *p = buf, *end = buf + (len < TVL__HTTP_MAX_HEAD ? len : TVL__HTTP_MAX_HEAD);

    /* RFC 9112 2.2: a server SHOULD ignore empty lines before the request. */
    while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
        p += 2;
    if (end - p >= 1 && p[0] == '\r' && end - p < 2)
        return len >= TVL__HTTP_MAX_HEAD ? bad(req, 431, "request head too large")
                                         : TVL__HTTP_NEED_MORE;

    const char *rl_end = line_end(p, end);
    if (rl_end == NULL) {
        /* A bare LF or a control byte in the request line is an error
         * already; say so now rather than when the head is complete. */
        for (const char *q = p; q < end; q++)
            if ((unsigned char)*q < 0x20 && *q != '\r')
                return bad(req, 400, "control character in request line");
        return len >= TVL__HTTP_MAX_HEAD ? bad(req, 431, "request head too large")
                                         : TVL__HTTP_NEED_MORE;
    }
    bool known_method = false;
    if (parse_request_line(p, rl_end, req, &known_method) == TVL__HTTP_BAD)
        return TVL__HTTP_BAD;

    /* The head must be complete before the headers are judged. */
    const char *q = rl_end + 2;
    const char *head_end = NULL;
    if (end - q >= 2 && q[0] == '\r' && q[1] == '\n') {
        head_end = q;
    } else {
        for (const char *s = rl_end; s + 3 < end; s++)
            if (s[0] == '\r' && s[1] == '\n' && s[2] == '\r' && s[3] == '\n') {
                head_end = s + 2;
                break;
            }
    }
    if (head_end == NULL)
        return len >= TVL__HTTP_MAX_HEAD ? bad(req, 431, "request head too large")
                                         : TVL__HTTP_NEED_MORE;

    unsigned nheaders = 0, nhost = 0;
    bool conn_close = false, conn_keep_alive = false;
    while (q < head_end) {
        const char *le = line_end(q, head_end + 2);
        /* le exists: head_end itself ends with CRLF. */
        if (*q == ' ' || *q == '\t')
            return bad(req, 400, "obsolete line folding");
        if (++nheaders > TVL__HTTP_MAX_HEADERS)
            return bad(req, 431, "too many header fields");
        const char *n = q;
        while (q < le && is_tchar((unsigned char)*q))
            q++;
        size_t nlen = (size_t)(q - n);
        if (nlen == 0 || q == le || *q != ':')
            return bad(req, 400, "malformed header field");
        q++;
        while (q < le && (*q == ' ' || *q == '\t'))
            q++;
        const char *v = q;
        for (; q < le; q++)
            if (!is_value_char((unsigned char)*q))
                return bad(req, 400, "control character in header value");
        const char *ve = le;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t vlen = (size_t)(ve - v);

        if (ieq(n, nlen, "host")) {
            nhost++;
        } else if (ieq(n, nlen, "content-length")) {
            if (vlen == 0)
                return bad(req, 400, "malformed Content-Length");
            bool zero = true;
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return bad(req, 400, "malformed Content-Length");
                zero = zero && v[i] == '0';
            }
            if (!zero)
                return bad(req, 501, "request bodies are not supported");
        } else if (ieq(n, nlen, "transfer-encoding")) {
            return bad(req, 501, "request bodies are not supported");
        } else if (ieq(n, nlen, "connection")) {
            /* A comma-separated list of tokens. */
            const char *s = v;
            while (s < ve) {
                while (s < ve && (*s == ',' || *s == ' ' || *s == '\t'))
                    s++;
                const char *tok = s;
                while (s < ve && *s != ',' && *s != ' ' && *s != '\t')
                    s++;
                if (ieq(tok, (size_t)(s - tok), "close"))
                    conn_close = true;
                else if (ieq(tok, (size_t)(s - tok), "keep-alive"))
                    conn_keep_alive = true;
            }
        }
        q = le + 2;
    }
    if (req->version_minor >= 1 && nhost != 1)
        return bad(req, 400, nhost == 0 ? "missing Host header" : "more than one Host header");
    if (nhost > 1)
        return bad(req, 400, "more than one Host header");
    if (!known_method)
        return bad(req, 501, "method not implemented");
    req->keep_alive = !conn_close && (req->version_minor >= 1 || conn_keep_alive);
    req->length = (size_t)(head_end + 2 - buf);
    return TVL__HTTP_DONE;
}
