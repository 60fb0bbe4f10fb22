/* Receive stamps on the server's clock (src/server/rx_stamp.c), on a real
 * loopback TCP connection. */
#include "server/rx_stamp.h"
#include "test_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* A connected pair over 127.0.0.1 and its listener; the accepted side
 * (p->srv) inherits the listener's stamps when `stamped`. The listener
 * stays open until pair_close(), as the server's does: the kernel turns
 * stamping off (later, from a work queue) when no socket wants it, and a
 * closed listener may leave the accepted socket briefly without it. */
typedef struct pair {
    int lis, cli, srv;
} pair;

static void pair_close(pair *p)
{
    close(p->cli);
    close(p->srv);
    close(p->lis);
}

static bool tcp_pair(bool stamped, pair *p)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    p->cli = p->srv = -1;
    p->lis = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok = p->lis >= 0 && bind(p->lis, (struct sockaddr *)&a, sizeof a) == 0 &&
              listen(p->lis, 1) == 0 && getsockname(p->lis, (struct sockaddr *)&a, &al) == 0 &&
              (!stamped || tvl__rx_stamp_enable(p->lis));
    if (ok) {
        p->cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ok = p->cli >= 0 && connect(p->cli, (struct sockaddr *)&a, sizeof a) == 0 &&
             (p->srv = accept(p->lis, NULL, NULL)) >= 0;
    }
    CU_ASSERT_TRUE(ok);
    if (!ok)
        pair_close(p);
    return ok;
}

static uint64_t mono_ns(void)
{
    return (uint64_t)(tvl_test_now() * 1e9);
}

/* Two parts sent 60 ms apart and read together: the read reports when the
 * second one arrived (the newest byte), by peeking and by reading, never
 * later than the read itself. */
static void a_read_reports_when_its_newest_byte_arrived(void)
{
    pair p;
    if (!tcp_pair(true, &p))
        return;
    int cli = p.cli, srv = p.srv;
    tvl__rx_clock k = {0};
    tvl__rx_clock_watch(&k);
    CU_ASSERT_EQUAL(send(cli, "GET / HT", 8, 0), 8);
    usleep(60 * 1000);
    uint64_t before_b = mono_ns();
    CU_ASSERT_EQUAL(send(cli, "TP/1.1\r\n", 8, 0), 8);
    usleep(20 * 1000);
    char buf[64];
    uint64_t at = 0;
    CU_ASSERT_EQUAL(tvl__rx_recv(&k, srv, buf, sizeof buf, MSG_PEEK, &at), 16);
    uint64_t after = mono_ns();
    CU_ASSERT(at >= before_b);
    CU_ASSERT(at <= after);
    uint64_t at2 = 0;
    CU_ASSERT_EQUAL(tvl__rx_recv(&k, srv, buf, sizeof buf, 0, &at2), 16);
    CU_ASSERT(at2 >= before_b);
    CU_ASSERT(at2 <= after);
    /* Nothing left: -1, EAGAIN, and no time. */
    CU_ASSERT_EQUAL(tvl__rx_recv(&k, srv, buf, sizeof buf, 0, &at2), -1);
    CU_ASSERT(errno == EAGAIN || errno == EWOULDBLOCK);
    CU_ASSERT_EQUAL(at2, 0);
    pair_close(&p);
}

/* Sends one byte on the pair, lets it arrive, reads it with the stamp;
 * returns the time read (0: none). */
static uint64_t one_byte_arrived(pair *p, tvl__rx_clock *k)
{
    CU_ASSERT_EQUAL(send(p->cli, "x", 1, 0), 1);
    usleep(10 * 1000);
    char byte = 0;
    uint64_t at = 1;
    CU_ASSERT_EQUAL(tvl__rx_recv(k, p->srv, &byte, 1, 0, &at), 1);
    return at;
}

/* A wall-clock step between a stamp and its read (simulated by the clock
 * record's remembered difference being a second off) makes the stamp
 * unusable; bytes stamped after the step are timed again. */
static void a_clock_step_makes_the_stamps_before_it_unusable(void)
{
    pair p;
    if (!tcp_pair(true, &p))
        return;
    tvl__rx_clock k = {0};
    tvl__rx_clock_watch(&k);
    CU_ASSERT_EQUAL(k.stepped_at, 0);
    k.offset -= 1000000000; /* as if the wall clock had jumped a second ahead */
    CU_ASSERT_EQUAL(one_byte_arrived(&p, &k), 0);
    CU_ASSERT(k.stepped_at > 0);
    usleep(1000);
    uint64_t before = mono_ns();
    uint64_t at = one_byte_arrived(&p, &k);
    CU_ASSERT(at >= before);
    CU_ASSERT(at <= mono_ns());
    pair_close(&p);
}

/* Without the listener option there are no stamps and no time. */
static void without_stamps_there_is_no_time(void)
{
    pair p;
    if (!tcp_pair(false, &p))
        return;
    tvl__rx_clock k = {0};
    CU_ASSERT_EQUAL(one_byte_arrived(&p, &k), 0);
    pair_close(&p);
}

void test_rx_stamp_register(void)
{
    static CU_TestInfo tests[] = {
        {"a_read_reports_when_its_newest_byte_arrived", a_read_reports_when_its_newest_byte_arrived},
        {"a_clock_step_makes_the_stamps_before_it_unusable", a_clock_step_makes_the_stamps_before_it_unusable},
        {"without_stamps_there_is_no_time", without_stamps_there_is_no_time},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("rx_stamp", tests);
}
