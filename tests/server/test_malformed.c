/* Requests sent over raw sockets to a plain-HTTP server: a corpus of
 * malformed heads each gets its status and a close, oversized heads 431,
 * and pipelined requests are answered in order. */
#include "ds_util.h"
#include "test_util.h"

#include <string.h>

static void malformed_requests_get_their_status_and_a_close(void)
{
    static const struct {
        const char *req;
        int status;
    } corpus[] = {
        {"GARBAGE\r\n\r\n", 400},
        {"GET /\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
        {"GET / HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400},
        {"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 501},
        {"DELETE / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
        {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET http://evil/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\n folded: x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
        {"GET / HTTP/1.1\nHost: a\n\n", 400},
        {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400}, /* a TLS hello */
    };
    tvl_delay_server *s = ds_spawn(true, 0);
    if (!s)
        return;
    unsigned port = tvl_delay_server_port(s);
    for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
        char resp[4096];
        bool closed;
        ds_raw(port, corpus[i].req, strlen(corpus[i].req), resp, sizeof resp, 5000, &closed);
        int st = ds_status_of(resp);
        CU_ASSERT_EQUAL(st, corpus[i].status);
        CU_ASSERT(closed);
        CU_ASSERT_PTR_NOT_NULL(strstr(resp, "Connection: close\r\n"));
        if (st != corpus[i].status || !closed)
            fprintf(stderr, "corpus %zu: status %d closed %d\n", i, st, closed);
    }
    /* A NUL in a header value. */
    static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
    char resp[4096];
    bool closed;
    ds_raw(port, nul, sizeof nul - 1, resp, sizeof resp, 5000, &closed);
    CU_ASSERT_EQUAL(ds_status_of(resp), 400);
    CU_ASSERT(closed);
    ds_stop(s);
}

static void oversized_heads_get_431_and_a_close(void)
{
    tvl_delay_server *s = ds_spawn(true, 0);
    if (!s)
        return;
    unsigned port = tvl_delay_server_port(s);
    static char big[64 * 1024];
    char resp[4096];
    bool closed;
    /* One huge header, sent all at once (more than the server reads). */
    int n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
    memset(big + n, 'x', sizeof big - (size_t)n - 4);
    memcpy(big + sizeof big - 4, "\r\n\r\n", 4);
    ds_raw(port, big, sizeof big, resp, sizeof resp, 5000, &closed);
    CU_ASSERT_EQUAL(ds_status_of(resp), 431);
    CU_ASSERT(closed);
    /* A long request line. */
    memcpy(big, "GET /", 5);
    memset(big + 5, 'a', 9000);
    ds_raw(port, big, 9005, resp, sizeof resp, 5000, &closed);
    CU_ASSERT_EQUAL(ds_status_of(resp), 431);
    CU_ASSERT(closed);
    /* Many small headers. */
    char *p = big;
    p += sprintf(p, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < 150; i++)
        p += sprintf(p, "X-%d: y\r\n", i);
    p += sprintf(p, "\r\n");
    ds_raw(port, big, (size_t)(p - big), resp, sizeof resp, 5000, &closed);
    CU_ASSERT_EQUAL(ds_status_of(resp), 431);
    CU_ASSERT(closed);
    /* The server is unharmed. */
    const char ok[] = "GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    ds_raw(port, ok, sizeof ok - 1, resp, sizeof resp, 5000, &closed);
    CU_ASSERT_EQUAL(ds_status_of(resp), 200);
    ds_stop(s);
}

static void well_formed_raw_requests_keep_the_connection_open(void)
{
    tvl_delay_server *s = ds_spawn(true, 0);
    if (!s)
        return;
    unsigned port = tvl_delay_server_port(s);
    char resp[4096];
    bool closed;
    const char a[] = "\r\nGET /bytes/3 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n";
    ds_raw(port, a, sizeof a - 1, resp, sizeof resp, 300, &closed);
    CU_ASSERT_EQUAL(ds_status_of(resp), 200);
    CU_ASSERT(!closed); /* keep-alive: still open when we gave up */
    CU_ASSERT_PTR_NOT_NULL(strstr(resp, "\r\n\r\nABC"));
    const char b[] = "GET /bytes/3 HTTP/1.0\r\n\r\n"; /* 1.0: close after */
    ds_raw(port, b, sizeof b - 1, resp, sizeof resp, 5000, &closed);
    CU_ASSERT_EQUAL(ds_status_of(resp), 200);
    CU_ASSERT(closed);
    ds_stop(s);
}

static void pipelined_requests_are_answered_in_order(void)
{
    tvl_delay_server *s = ds_spawn(true, 0);
    if (!s)
        return;
    const char req[] = "GET /delay/100/bytes/3 HTTP/1.1\r\nHost: a\r\n\r\n"
                       "GET /bytes/5 HTTP/1.1\r\nHost: a\r\n\r\n"
                       "HEAD /bytes/7 HTTP/1.1\r\nHost: a\r\n\r\n"
                       "GET /delay/10/bytes/4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                       "GET /never HTTP/1.1\r\nHost: a\r\n\r\n";
    char resp[8192];
    bool closed;
    ds_raw(tvl_delay_server_port(s), req, sizeof req - 1, resp, sizeof resp, 5000, &closed);
    CU_ASSERT(closed);
    const char *a = strstr(resp, "Content-Length: 3\r\n");
    const char *b = strstr(resp, "Content-Length: 5\r\n");
    const char *c = strstr(resp, "Content-Length: 7\r\n");
    const char *d = strstr(resp, "Content-Length: 4\r\n");
    CU_ASSERT(a && b && c && d && a < b && b < c && c < d);
    CU_ASSERT_PTR_NULL(strstr(resp, "404"));
    CU_ASSERT(d && strcmp(resp + strlen(resp) - 4, "ABCD") == 0);
    ds_stop(s);
}

void test_malformed_register(void)
{
    static CU_TestInfo tests[] = {
        {"malformed_requests_get_their_status_and_a_close", malformed_requests_get_their_status_and_a_close},
        {"oversized_heads_get_431_and_a_close", oversized_heads_get_431_and_a_close},
        {"well_formed_raw_requests_keep_the_connection_open", well_formed_raw_requests_keep_the_connection_open},
        {"pipelined_requests_are_answered_in_order", pipelined_requests_are_answered_in_order},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("malformed", tests);
}
