/* The pure parts of the delay server: the request-head parser, the route
 * grammar, the timer heap and the body checksum. */
#include "test_util.h"
#include "server/body.h"
#include "server/http_parse.h"
#include "server/route.h"
#include "server/timer_heap.h"
#include "tvl/delay_server.h"

#include <string.h>

static tvl__http_result parse(const char *s, tvl__http_request *req)
{
    return tvl__http_parse(s, strlen(s), req);
}

static void parser_accepts_get_and_head_with_keep_alive_rules(void)
{
    tvl__http_request r;
    const char *a = "GET /delay/5?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\nGET";
    CU_ASSERT_EQUAL(parse(a, &r), TVL__HTTP_DONE);
    CU_ASSERT_EQUAL(r.method, TVL__HTTP_GET);
    CU_ASSERT_EQUAL(r.target_len, strlen("/delay/5?x=1"));
    CU_ASSERT(strncmp(r.target, "/delay/5?x=1", r.target_len) == 0);
    CU_ASSERT_EQUAL(r.length, strlen(a) - 3); /* the pipelined "GET" is left */
    CU_ASSERT(r.keep_alive);
    CU_ASSERT_EQUAL(parse("HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &r),
                    TVL__HTTP_DONE);
    CU_ASSERT_EQUAL(r.method, TVL__HTTP_HEAD);
    CU_ASSERT(!r.keep_alive);
    CU_ASSERT_EQUAL(parse("GET / HTTP/1.0\r\n\r\n", &r), TVL__HTTP_DONE);
    CU_ASSERT(!r.keep_alive);
    CU_ASSERT_EQUAL(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r), TVL__HTTP_DONE);
    CU_ASSERT(r.keep_alive);
    CU_ASSERT_EQUAL(parse("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", &r),
                    TVL__HTTP_DONE);
}

static void parser_waits_for_an_incomplete_head(void)
{
    tvl__http_request r;
    const char *full = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    for (size_t n = 0; n < strlen(full); n++)
        CU_ASSERT_EQUAL(tvl__http_parse(full, n, &r), TVL__HTTP_NEED_MORE);
    CU_ASSERT_EQUAL(tvl__http_parse(full, strlen(full), &r), TVL__HTTP_DONE);
}

static void parser_refuses_malformed_heads_with_the_right_status(void)
{
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"GARBAGE\r\n\r\n", 400},
        {"GET /\r\n\r\n", 400},
        {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
        {"GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
        {"GET / HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        {"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 501},
        {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 400},
        {"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n", 400},
        {"GET / HTTP/1.1\nHost: a\n\n", 400},
        {"GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tvl__http_request r;
        tvl__http_result res = parse(cases[i].req, &r);
        CU_ASSERT_EQUAL(res, TVL__HTTP_BAD);
        CU_ASSERT_EQUAL(r.status, cases[i].status);
        if (res != TVL__HTTP_BAD || r.status != cases[i].status)
            fprintf(stderr, "case %zu: result %d status %d\n", i, (int)res, r.status);
        if (res == TVL__HTTP_BAD)
            CU_ASSERT_PTR_NOT_NULL(r.reason);
    }
}

static void parser_bounds_the_head_size_and_header_count(void)
{
    static char big[TVL__HTTP_MAX_HEAD + 100];
    tvl__http_request r;
    /* A head that does not end within the limit: 431, whatever follows. */
    strcpy(big, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
    size_t n = strlen(big);
    memset(big + n, 'a', sizeof big - n);
    CU_ASSERT_EQUAL(tvl__http_parse(big, sizeof big, &r), TVL__HTTP_BAD);
    CU_ASSERT_EQUAL(r.status, 431);
    CU_ASSERT_EQUAL(tvl__http_parse(big, TVL__HTTP_MAX_HEAD - 1, &r), TVL__HTTP_NEED_MORE);
    /* A long request line. */
    memcpy(big, "GET /", 5);
    memset(big + 5, 'a', sizeof big - 5);
    CU_ASSERT_EQUAL(tvl__http_parse(big, sizeof big, &r), TVL__HTTP_BAD);
    CU_ASSERT_EQUAL(r.status, 431);
    /* Too many header fields. */
    char *p = big;
    p += sprintf(p, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (unsigned i = 0; i < TVL__HTTP_MAX_HEADERS; i++)
        p += sprintf(p, "X: %u\r\n", i % 10);
    p += sprintf(p, "\r\n");
    CU_ASSERT_EQUAL(tvl__http_parse(big, (size_t)(p - big), &r), TVL__HTTP_BAD);
    CU_ASSERT_EQUAL(r.status, 431);
}

static void parser_never_reads_past_the_buffer_on_any_prefix(void)
{
    /* Every prefix of a few inputs, copied into exact-size heap blocks, so
     * that ASan sees any read past the end. */
    static const char *inputs[] = {
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n",
        "\r\n\r\r\nGET / HTTP/1.1\r\n\r\n",
        "HEAD /x HTTP/1.0\r\nContent-Length: 000\r\nX:\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t len = strlen(inputs[i]);
        for (size_t n = 0; n <= len; n++) {
            char *b = malloc(n ? n : 1);
            memcpy(b, inputs[i], n);
            tvl__http_request r;
            (void)tvl__http_parse(b, n, &r);
            free(b);
        }
    }
    CU_PASS("no overread");
}

static void route(const char *t, tvl__route *r)
{
    tvl__route_parse(t, strlen(t), 1.0, r);
}

static void routes_combine_pairs_and_query_overrides(void)
{
    tvl__route r;
    route("/delay/200", &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_EQUAL(r.delay_ns, 200000000u);
    CU_ASSERT_EQUAL(r.bytes, 0);
    route("/bytes/1000/delay/1.5", &r);
    CU_ASSERT_EQUAL(r.bytes, 1000);
    CU_ASSERT_EQUAL(r.delay_ns, 1500000u);
    route("/bytes/10?delay_ms=7&bytes=20&status=201", &r);
    CU_ASSERT_EQUAL(r.bytes, 20);
    CU_ASSERT_EQUAL(r.delay_ns, 7000000u);
    CU_ASSERT_EQUAL(r.status, 201);
    route("/site/isc2", &r);
    CU_ASSERT_EQUAL(r.delay_ns, 430000000u);
    CU_ASSERT_EQUAL(r.bytes, 245000);
    tvl__route_parse("/delay/100", 10, 0.1, &r);
    CU_ASSERT_EQUAL(r.delay_ns, 10000000u);
    route("/delay/100?scale=0.5", &r);
    CU_ASSERT_EQUAL(r.delay_ns, 50000000u);
    route("/fault/trickle?chunk=3&every_ms=5", &r);
    CU_ASSERT_EQUAL(r.fault, TVL__FAULT_TRICKLE);
    CU_ASSERT_EQUAL(r.bytes, 64);
    CU_ASSERT_EQUAL(r.chunk, 3);
    CU_ASSERT_EQUAL(r.every_ns, 5000000u);
    route("/fault/reset", &r);
    CU_ASSERT_EQUAL(r.bytes, 65536);
    route("/status/204?bytes=5", &r);
    CU_ASSERT_EQUAL(r.bytes, 0);
    route("/health", &r);
    CU_ASSERT_EQUAL(r.kind, TVL__ROUTE_TEXT);
    route("/stats", &r);
    CU_ASSERT_EQUAL(r.kind, TVL__ROUTE_STATS);
}

static void routes_refuse_unknown_paths_and_bad_values(void)
{
    static const struct {
        const char *t;
        unsigned status;
    } cases[] = {
        {"/nope", 404}, {"/delay", 404}, {"/delay/", 400}, {"/delay/abc", 400},
        {"/delay/-1", 400}, {"/delay/3600001", 400}, {"/delay/1.", 400},
        {"/bytes/1073741825", 400}, {"/status/99", 400}, {"/status/600", 400},
        {"/site/example", 404}, {"/fault/boom", 404}, {"/delay/1?scale=1001", 400},
        {"/delay/1?chunk=0", 400}, {"//", 404}, {"/bytes/99999999999999999999", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tvl__route r;
        route(cases[i].t, &r);
        CU_ASSERT_EQUAL(r.status, cases[i].status);
        CU_ASSERT_EQUAL(r.kind, TVL__ROUTE_TEXT);
        if (r.status != cases[i].status)
            fprintf(stderr, "route %s: %u\n", cases[i].t, r.status);
    }
}

static void timer_heap_pops_in_deadline_order_after_moves_and_cancels(void)
{
    enum { N = 1000 };
    static tvl__timer t[N];
    tvl__timer_heap h = {0};
    uint64_t seed = 12345;
    for (unsigned i = 0; i < N; i++) {
        tvl__timer_init(&t[i]);
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        CU_ASSERT_EQUAL(tvl__timer_set(&h, &t[i], seed >> 40), 0);
    }
    for (unsigned i = 0; i < N; i += 3) { /* move some */
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        tvl__timer_set(&h, &t[i], seed >> 40);
    }
    for (unsigned i = 1; i < N; i += 7) /* cancel some */
        tvl__timer_cancel(&h, &t[i]);
    uint64_t last = 0;
    unsigned popped = 0;
    tvl__timer *m;
    while ((m = tvl__timer_min(&h)) != NULL) {
        CU_ASSERT(m->when >= last);
        last = m->when;
        tvl__timer_cancel(&h, m);
        CU_ASSERT(!tvl__timer_armed(m));
        popped++;
    }
    CU_ASSERT_EQUAL(popped, N - (N - 1 + 6) / 7);
    tvl__timer_heap_free(&h);
}

static void checksum_is_crc32_and_bodies_are_the_documented_pattern(void)
{
    /* The documented values (delay_server.h); core's suite tests the CRC. */
    CU_ASSERT_EQUAL(tvl_body_checksum("", 0, TVL_BODY_CHECKSUM_INIT), 0u);
    CU_ASSERT_EQUAL(tvl_body_checksum("123456789", 9, TVL_BODY_CHECKSUM_INIT), 0xcbf43926u);
    uint32_t whole = tvl_body_checksum("foobar", 6, TVL_BODY_CHECKSUM_INIT);
    CU_ASSERT_EQUAL(tvl_body_checksum("bar", 3, tvl_body_checksum("foo", 3, TVL_BODY_CHECKSUM_INIT)),
                    whole);
    CU_ASSERT_EQUAL(tvl_body_byte(0), 'A');
    CU_ASSERT_EQUAL(tvl_body_byte(63), '\n');
    CU_ASSERT_EQUAL(tvl_body_byte(64), 'B');
    CU_ASSERT_EQUAL(tvl_body_byte(4096), 'A');
    tvl__body_init();
    uint32_t h = TVL_BODY_CHECKSUM_INIT;
    for (uint64_t i = 0; i < 100000; i++) {
        unsigned char b = tvl_body_byte(i);
        h = tvl_body_checksum(&b, 1, h);
    }
    CU_ASSERT_EQUAL(tvl__body_checksum_prefix(100000), h);
    size_t len;
    const unsigned char *p = tvl__body_at(5000, 70000, &len);
    CU_ASSERT(len > 0 && len <= 70000);
    for (size_t i = 0; i < len; i++)
        if (p[i] != tvl_body_byte(5000 + i)) {
            CU_FAIL("pattern mismatch");
            break;
        }
    CU_ASSERT_PTR_NOT_NULL(tvl_delay_site_find("sans"));
    CU_ASSERT_PTR_NULL(tvl_delay_site_find("example"));
    for (size_t i = 0; i < TVL_DELAY_SITE_COUNT; i++) {
        CU_ASSERT(tvl_delay_sites[i].delay_ms >= 90 && tvl_delay_sites[i].delay_ms <= 450);
        CU_ASSERT(tvl_delay_sites[i].bytes >= 15000 && tvl_delay_sites[i].bytes <= 250000);
    }
}

void test_http_parse_register(void)
{
    static CU_TestInfo tests[] = {
        {"parser_accepts_get_and_head_with_keep_alive_rules", parser_accepts_get_and_head_with_keep_alive_rules},
        {"parser_waits_for_an_incomplete_head", parser_waits_for_an_incomplete_head},
        {"parser_refuses_malformed_heads_with_the_right_status", parser_refuses_malformed_heads_with_the_right_status},
        {"parser_bounds_the_head_size_and_header_count", parser_bounds_the_head_size_and_header_count},
        {"parser_never_reads_past_the_buffer_on_any_prefix", parser_never_reads_past_the_buffer_on_any_prefix},
        {"routes_combine_pairs_and_query_overrides", routes_combine_pairs_and_query_overrides},
        {"routes_refuse_unknown_paths_and_bad_values", routes_refuse_unknown_paths_and_bad_values},
        {"timer_heap_pops_in_deadline_order_after_moves_and_cancels", timer_heap_pops_in_deadline_order_after_moves_and_cancels},
        {"checksum_is_crc32_and_bodies_are_the_documented_pattern", checksum_is_crc32_and_bodies_are_the_documented_pattern},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("http_parse", tests);
}
