/* The delay server's loop: one thread, level-triggered epoll over
 * non-blocking sockets, a timerfd armed for the earliest deadline of a
 * binary heap, and one state machine per connection.
 *
 * A connection is in one state at a time and only conn_set_state() changes
 * it. Requests on a connection are handled strictly in order: the next head
 * is not parsed before the previous response has been sent in full, so
 * pipelined requests are safe. Memory per connection is the struct (~170
 * bytes), plus its input while a head is incomplete or pipelined (at most
 * TVL__HTTP_MAX_HEAD), plus the response head while it is being sent; the
 * body comes from one static buffer, and OpenSSL's record buffers are
 * released when idle. System calls per request on a fresh plain
 * connection that says "Connection: close": accept4, read, sendmsg, close
 * (no epoll_ctl when the delay is under a second: see conn_update_events;
 * a kept-alive connection is registered after its first answer); on a
 * kept-alive one: recvmsg (with its receive stamp), sendmsg; over TLS, one
 * more recvmsg that peeks for the stamp; plus a share of
 * epoll_wait, accept4's final EAGAIN and timerfd_settime. A system call
 * cost 0.13-1.1 us on this project's VM, depending on the day; the rest of
 * the server's CPU is the kernel's TCP work (docs/delay-server.md).
 */
#include "server/server.h"
#include "server/body.h"
#include "server/http_parse.h"
#include "server/route.h"
#include "server/rx_stamp.h"
#include "server/timer_heap.h"
#include "server/tls.h"
#include "tvl/delay_server.h"
#include "tvl/error.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define LINGER_NS (2 * UINT64_C(1000000000))
#define WATCH_DELAY_NS UINT64_C(1000000000)
#define ACCEPT_PAUSE_NS (100 * UINT64_C(1000000))
#define ACCEPT_BATCH 128
#define MAX_EVENTS 256
#define CKSUM_CACHE 64

typedef enum conn_state {
    CS_HANDSHAKE, /* TLS handshake; idle timer */
    CS_READ,      /* waiting for (the rest of) a request head; idle timer */
    CS_DELAY,     /* request parsed, waiting for its delay; timer */
    CS_WRITE,     /* sending the head and the current burst of body */
    CS_TICK,      /* trickle: between two bursts; timer */
    CS_STALL,     /* never answering; input discarded until the peer leaves */
    CS_LINGER     /* our side shut down; draining input until EOF; timer */
} conn_state;

typedef struct conn {
    tvl__timer timer;
    int fd;
    uint8_t state;
    uint8_t fault;       /* tvl__fault of the current request */
    bool peer_eof;       /* the client will send nothing more */
    bool keep_alive;     /* after the current response */
    bool maybe_more;     /* a read might find data (cleared by a short read) */
    bool want_out;       /* a write or handshake is waiting for EPOLLOUT */
    bool hs_want_in;     /* the handshake is waiting for EPOLLIN */
    bool nodelay;        /* TCP_NODELAY is set */
    bool answered;       /* a response was sent on this connection */
    bool refused;        /* the current response refuses a bad head */
    bool registered;     /* in the epoll set (added lazily, see conn_update_events) */
    uint32_t events;     /* the mask registered with epoll */
    uint64_t arrived;    /* when the newest input read in CS_READ reached the kernel
                          * (CLOCK_MONOTONIC ns, rx_stamp.h); 0: not known */
    uint64_t answered_at; /* when the last response was sent in full; 0: none yet */
    uint64_t write_began; /* kept-alive: when the last write call of the last
                             response began; 0: none yet */
    SSL *ssl;
    char *in;            /* received, unparsed bytes */
    uint32_t in_len, in_cap;
    char *out;           /* the response head (and a text body) */
    uint32_t out_len, out_off;
    uint64_t body_off, body_end, body_stop; /* sent, end of burst, end */
    uint64_t every_ns;   /* trickle tick */
    uint32_t chunk;      /* trickle burst */
    struct conn *prev, *next;
} conn;

struct tvl__ds {
    int ep, lfd, tfd;
    tvl__tls tls;
    bool plain;
    double scale;
    uint64_t idle_ns;
    uint64_t spin_ns;
    char url[80];
    unsigned port;
    tvl__timer_heap heap;
    uint64_t armed; /* the deadline the timerfd is set for; 0: disarmed */
    tvl__timer accept_timer;
    bool accept_paused;
    bool listen_nodelay; /* accepted sockets inherit TCP_NODELAY */
    bool rx_stamps;      /* accepted sockets inherit software receive stamps */
    tvl__rx_clock rx_clock;
    conn *conns;
    tvl__ds_stats st;
    struct {
        uint64_t n;
        uint32_t sum;
    } cksum[CKSUM_CACHE];
    char scratch[TVL__HTTP_MAX_HEAD];
    char peek[16384 + 512]; /* a whole TLS record, looked at for its stamp */
};

/* epoll data for the three descriptors that are not connections. */
static char tag_listen, tag_timer, tag_stop;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

unsigned long tvl__raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = old;
    }
    return (unsigned long)rl.rlim_cur;
}

/* --- connection plumbing -------------------------------------------------- */

static void conn_set_state(tvl__ds *s, conn *c, conn_state st)
{
    (void)s;
    c->state = (uint8_t)st;
}

static void conn_close(tvl__ds *s, conn *c, bool reset)
{
    tvl__timer_cancel(&s->heap, &c->timer);
    if (reset) {
        struct linger lg = {1, 0}; /* close() sends RST and drops unsent data */
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    SSL_free(c->ssl);
    close(c->fd); /* also leaves the epoll set */
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->in);
    free(c->out);
    free(c);
    s->st.active--;
}

/* A connection enters the epoll set only when it first has to wait for
 * the socket: a plain request that arrives whole with the connection
 * (TCP_DEFER_ACCEPT sees to that) and is answered before a long wait is
 * never registered, which saves an epoll_ctl per connection and the
 * kernel's epitem. The cost: during a short delay nobody watches the
 * socket, so a client that leaves is noticed when the answer is written,
 * at most WATCH_DELAY_NS later. */
static void conn_update_events(tvl__ds *s, conn *c)
{
    bool in;
    if (c->state == CS_HANDSHAKE)
        in = c->hs_want_in;
    else if (c->state == CS_STALL || c->state == CS_LINGER)
        in = !c->peer_eof;
    else if (c->state == CS_DELAY && !c->registered && c->timer.when < now_ns() + WATCH_DELAY_NS)
        in = false;
    else
        in = !c->peer_eof && c->in_len < TVL__HTTP_MAX_HEAD;
    uint32_t ev = (in ? EPOLLIN : 0u) | (c->want_out ? EPOLLOUT : 0u);
    if (ev == c->events && (c->registered || ev == 0))
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (epoll_ctl(s->ep, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &e) == 0) {
        c->events = ev;
        c->registered = true;
    } else if (!c->registered) {
        conn_close(s, c, false); /* nothing would ever wake it */
    }
}

typedef enum io_result { IO_OK, IO_AGAIN, IO_EOF, IO_ERR } io_result;

/* Reads at most cap bytes into buf. A plain read given `arrived` notes
 * there when its newest bytes reached the kernel (rx_stamp.h), in the same
 * one system call. */
static io_result conn_recv(tvl__ds *s, conn *c, char *buf, size_t cap, size_t *got,
                           uint64_t *arrived)
{
    if (c->ssl == NULL) {
        for (;;) {
            ssize_t n = arrived ? tvl__rx_recv(&s->rx_clock, c->fd, buf, cap, 0, arrived)
                                : read(c->fd, buf, cap);
            if (n > 0) {
                *got = (size_t)n;
                if ((size_t)n < cap)
                    c->maybe_more = false; /* epoll will say when there is more */
                return IO_OK;
            }
            if (n == 0)
                return IO_EOF;
            if (errno == EINTR)
                continue;
            c->maybe_more = false;
            return errno == EAGAIN ? IO_AGAIN : IO_ERR;
        }
    }
    ERR_clear_error();
    int n = SSL_read(c->ssl, buf, (int)cap);
    if (n > 0) {
        *got = (size_t)n;
        return IO_OK;
    }
    switch (SSL_get_error(c->ssl, n)) {
    case SSL_ERROR_WANT_READ:
        return IO_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        c->want_out = true;
        return IO_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return IO_EOF;
    default:
        ERR_clear_error();
        return IO_ERR;
    }
}

/* Appends what the socket has (up to the head limit) to c->in. */
static io_result conn_fill(tvl__ds *s, conn *c)
{
    size_t room = TVL__HTTP_MAX_HEAD - c->in_len, got = 0;
    if (room == 0 || (c->ssl == NULL && !c->maybe_more))
        return IO_AGAIN;
    /* A request's delay runs from when its head reached the kernel, not from
     * when this one thread got to it (after other connections' handshakes,
     * say): each emulated site answers as if it were a server of its own.
     * A plain connection gets the stamp from the read itself, once it has
     * answered before (the first request's bytes carry none: TCP_DEFER_ACCEPT
     * queued them before the accepted socket existed). A TLS read takes one
     * record, which OpenSSL reads whole: look at everything waiting first,
     * and take the stamp of its newest byte (never older than the record's
     * last). A record OpenSSL began in an earlier read has no known end:
     * then the delay runs from now. */
    uint64_t *arrived = NULL;
    if (s->rx_stamps && c->state == CS_READ) {
        if (c->ssl == NULL) {
            if (c->answered)
                arrived = &c->arrived;
        } else if (SSL_has_pending(c->ssl)) {
            c->arrived = 0;
        } else {
            ssize_t n = tvl__rx_recv(&s->rx_clock, c->fd, s->peek, sizeof s->peek, MSG_PEEK,
                                     &c->arrived);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return IO_AGAIN;
        }
    }
    io_result r = conn_recv(s, c, s->scratch, room, &got, arrived);
    if (r != IO_OK)
        return r;
    if (c->in_len + got > c->in_cap) {
        uint32_t cap = (uint32_t)((c->in_len + got + 511) & ~(size_t)511);
        char *p = realloc(c->in, cap);
        if (p == NULL)
            return IO_ERR;
        c->in = p;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, s->scratch, got);
    c->in_len += (uint32_t)got;
    return IO_OK;
}

/* Reads and throws away what the socket has. */
static io_result conn_discard(tvl__ds *s, conn *c)
{
    for (;;) {
        size_t got;
        if (c->ssl == NULL && !c->maybe_more)
            return IO_AGAIN;
        io_result r = conn_recv(s, c, s->scratch, sizeof s->scratch, &got, NULL);
        if (r != IO_OK)
            return r;
    }
}

static void conn_consume(conn *c, size_t n)
{
    if (n >= c->in_len) {
        free(c->in);
        c->in = NULL;
        c->in_len = c->in_cap = 0;
        return;
    }
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= (uint32_t)n;
}

/* Nagle's algorithm would hold a small write back while an earlier one is
 * unacknowledged; it is turned off only where that can happen (TLS, a
 * second response, trickles, partial writes), to save a system call on
 * the common one-response connection. */
static void conn_nodelay(conn *c)
{
    if (c->nodelay)
        return;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->nodelay = true;
}

/* --- responses ---------------------------------------------------------- */

static const char *reason_phrase(unsigned status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default:
        return status < 300 ? "Success" : status < 400 ? "Redirection"
             : status < 500 ? "Client Error" : "Server Error";
    }
}

/* The checksum of the first n generated bytes, through a small
 * direct-mapped cache: the sites and a benchmark's one size hit it. */
static uint32_t body_checksum(tvl__ds *s, uint64_t n)
{
    unsigned i = (unsigned)((n * UINT64_C(0x9e3779b97f4a7c15)) >> 58) % CKSUM_CACHE;
    if (s->cksum[i].n == n + 1)
        return s->cksum[i].sum;
    uint32_t sum = tvl__body_checksum_prefix(n);
    s->cksum[i].n = n + 1;
    s->cksum[i].sum = sum;
    return sum;
}

typedef struct response {
    unsigned status;
    bool head;             /* HEAD: headers only */
    tvl__route_kind kind;
    const char *text;      /* TVL__ROUTE_TEXT */
    uint64_t bytes;        /* TVL__ROUTE_BODY */
    uint64_t delay_ns;
} response;

/* Formats the response head (and a text body) into c->out and sets up the
 * body range to send. Returns false on allocation failure. */
static bool build_response(tvl__ds *s, conn *c, const response *r)
{
    char stats[512];
    const char *text = r->text;
    if (r->kind == TVL__ROUTE_STATS) {
        tvl__ds_stats st;
        tvl__ds_get_stats(s, &st);
        snprintf(stats, sizeof stats,
                 "requests=%llu connections=%llu active=%u max_active=%u cpu_us=%llu "
                 "delayed=%llu late_mean_us=%.1f late_max_us=%.1f tls_handshakes=%llu "
                 "tls_resumed=%llu timer_arms=%llu stamped=%llu\n",
                 (unsigned long long)st.requests, (unsigned long long)st.connections,
                 st.active, st.max_active, (unsigned long long)st.cpu_us,
                 (unsigned long long)st.delayed,
                 st.delayed ? (double)st.late_sum_ns / (double)st.delayed / 1e3 : 0.0,
                 (double)st.late_max_ns / 1e3, (unsigned long long)st.tls_handshakes,
                 (unsigned long long)st.tls_resumed, (unsigned long long)st.timer_arms,
                 (unsigned long long)st.stamped);
        text = stats;
    }
    size_t tlen = r->kind == TVL__ROUTE_BODY ? 0 : strlen(text);
    uint64_t clen = r->kind == TVL__ROUTE_BODY ? r->bytes : tlen;
    bool no_body = r->status == 204 || r->status == 304;
    char head[512];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %u %s\r\nServer: tvl-delay-server\r\n",
                     r->status, reason_phrase(r->status));
    if (!no_body) {
        uint32_t sum = r->kind == TVL__ROUTE_BODY
                           ? body_checksum(s, clen)
                           : tvl_body_checksum(text, tlen, TVL_BODY_CHECKSUM_INIT);
        n += snprintf(head + n, sizeof head - (size_t)n,
                      "Content-Type: text/plain\r\nContent-Length: %llu\r\n"
                      TVL_BODY_CHECKSUM_HEADER ": %08" PRIx32 "\r\n",
                      (unsigned long long)clen, sum);
    }
    n += snprintf(head + n, sizeof head - (size_t)n, "X-Delay-Us: %llu\r\nConnection: %s\r\n\r\n",
                  (unsigned long long)(r->delay_ns / 1000), c->keep_alive ? "keep-alive" : "close");
    bool send_text = !r->head && !no_body && r->kind != TVL__ROUTE_BODY;
    size_t total = (size_t)n + (send_text ? tlen : 0);
    char *out = malloc(total);
    if (out == NULL)
        return false;
    /* Bytes for the socket, not C strings: no terminator wanted. */
    memcpy(out, head, (size_t)n); /* NOLINT(bugprone-not-null-terminated-result) */
    if (send_text)
        memcpy(out + n, text, tlen); /* NOLINT(bugprone-not-null-terminated-result) */
    free(c->out);
    c->out = out;
    c->out_len = (uint32_t)total;
    c->out_off = 0;
    c->body_off = 0;
    uint64_t stop = (r->head || no_body || r->kind != TVL__ROUTE_BODY) ? 0 : r->bytes;
    if (c->fault == TVL__FAULT_RESET || c->fault == TVL__FAULT_SHORT)
        stop /= 2;
    c->body_stop = stop;
    c->body_end = c->fault == TVL__FAULT_TRICKLE && stop > c->chunk ? c->chunk : stop;
    return true;
}

typedef enum step { STEP_CONTINUE, STEP_WAIT, STEP_CLOSED } step;

static step conn_fail(tvl__ds *s, conn *c)
{
    conn_close(s, c, false);
    return STEP_CLOSED;
}

/* Shuts our side down and drains the peer for a while, so that a response
 * followed by close is not destroyed by an RST for unread input. */
static step conn_linger(tvl__ds *s, conn *c)
{
    if (c->peer_eof)
        return conn_fail(s, c);
    if (c->ssl != NULL) {
        ERR_clear_error();
        SSL_shutdown(c->ssl); /* close_notify, best effort */
        ERR_clear_error();
    }
    shutdown(c->fd, SHUT_WR);
    c->want_out = false;
    if (tvl__timer_set(&s->heap, &c->timer, now_ns() + LINGER_NS) != 0)
        return conn_fail(s, c);
    conn_set_state(s, c, CS_LINGER);
    return STEP_CONTINUE;
}

static step start_response(tvl__ds *s, conn *c);

/* Sending starts; a client that stops reading is dropped after the idle
 * timeout. */
static step enter_write(tvl__ds *s, conn *c)
{
    if (tvl__timer_set(&s->heap, &c->timer, now_ns() + s->idle_ns) != 0)
        return conn_fail(s, c);
    conn_set_state(s, c, CS_WRITE);
    return STEP_CONTINUE;
}

/* A complete head is at c->in: route it and start its response. */
static step begin_request(tvl__ds *s, conn *c, const tvl__http_request *req)
{
    tvl__route rt;
    tvl__route_parse(req->target, req->target_len, s->scale, &rt);
    conn_consume(c, req->length);
    s->st.requests++;
    if (c->answered)
        conn_nodelay(c);
    c->keep_alive = req->keep_alive && rt.fault != TVL__FAULT_RESET &&
                    rt.fault != TVL__FAULT_SHORT && rt.fault != TVL__FAULT_CLOSE;
    c->fault = (uint8_t)rt.fault;
    c->chunk = rt.chunk;
    c->every_ns = rt.every_ns;
    response r = {rt.status, req->method == TVL__HTTP_HEAD, rt.kind, rt.text, rt.bytes,
                  rt.delay_ns};
    /* Built now, sent later: the delay is the only thing left to wait for. */
    if (rt.fault != TVL__FAULT_CLOSE && rt.fault != TVL__FAULT_STALL && !build_response(s, c, &r))
        return conn_fail(s, c);
    /* From the stamp, but a request pipelined behind an answer waits its
     * delay after that answer, as if read then (requests are strictly in
     * order), whichever read happened to take it. A request that arrived
     * after the answer's last write began was not pipelined (a client that
     * waits for the answer cannot send sooner), even if it arrived before
     * this thread noted the answer sent: preempted in between, it would
     * otherwise hold a waiting client's request as pipelined, late by the
     * preemption. */
    uint64_t now = now_ns(), from = now;
    if (c->arrived != 0 && rt.delay_ns != 0) {
        if (c->arrived >= c->write_began)
            from = c->arrived;
        else
            from = c->arrived > c->answered_at ? c->arrived : c->answered_at;
        if (from > now)
            from = now;
        s->st.stamped += from == c->arrived;
    }
    c->arrived = 0;
    if (rt.delay_ns == 0)
        return start_response(s, c);
    if (tvl__timer_set(&s->heap, &c->timer, from + rt.delay_ns) != 0)
        return conn_fail(s, c);
    conn_set_state(s, c, CS_DELAY);
    return STEP_CONTINUE;
}

/* The delay is over: answer (or misbehave). */
static step start_response(tvl__ds *s, conn *c)
{
    tvl__timer_cancel(&s->heap, &c->timer);
    if (c->fault == TVL__FAULT_CLOSE)
        return conn_fail(s, c);
    if (c->fault == TVL__FAULT_STALL) {
        conn_set_state(s, c, CS_STALL);
        return STEP_CONTINUE;
    }
    return enter_write(s, c);
}

static step refuse_request(tvl__ds *s, conn *c, const tvl__http_request *req)
{
    s->st.requests++;
    c->keep_alive = false;
    c->refused = true;
    c->fault = TVL__FAULT_NONE;
    free(c->in); /* nothing after a bad head can be trusted */
    c->in = NULL;
    c->in_len = c->in_cap = 0;
    char text[128];
    snprintf(text, sizeof text, "%u %s: %s\n", (unsigned)req->status,
             reason_phrase((unsigned)req->status), req->reason);
    response r = {(unsigned)req->status, false, TVL__ROUTE_TEXT, text, 0, 0};
    if (!build_response(s, c, &r))
        return conn_fail(s, c);
    return enter_write(s, c);
}

/* Writes the head and the current burst. STEP_CONTINUE when all is sent. */
static step conn_flush(tvl__ds *s, conn *c)
{
    /* The last write before a graceful close is corked (MSG_MORE): close()
     * then sends the tail and the FIN in one segment, which saves the
     * kernel a packet each way on loopback. A reset must not be corked:
     * it would drop the held tail. Nor can a close that finds unread input
     * (the kernel resets then): input already read sends us to linger
     * instead (after_flush), but bytes that arrive after our last read, from
     * a client that said "Connection: close" and sent more anyway (which
     * HTTP/1.1 forbids), make close() reset and lose the corked tail. */
    bool closing = !c->keep_alive && c->fault == TVL__FAULT_NONE && !c->refused &&
                   c->body_end == c->body_stop;
    while (c->out_off < c->out_len || c->body_off < c->body_end) {
        /* Kept-alive: when the last write began tells a request that
         * waited for this answer from one pipelined behind it (see
         * begin_request). */
        if (c->keep_alive)
            c->write_began = now_ns();
        size_t hlen = c->out_len - c->out_off, blen = 0;
        const unsigned char *body = NULL;
        if (c->body_off < c->body_end)
            body = tvl__body_at(c->body_off, (size_t)(c->body_end - c->body_off), &blen);
        size_t n;
        if (c->ssl == NULL) {
            struct iovec iov[2];
            int cnt = 0;
            if (hlen)
                iov[cnt++] = (struct iovec){c->out + c->out_off, hlen};
            if (blen)
                iov[cnt++] = (struct iovec){(void *)body, blen};
            struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
            ssize_t w = sendmsg(c->fd, &msg, closing ? MSG_NOSIGNAL | MSG_MORE : MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN) {
                    conn_nodelay(c);
                    c->want_out = true;
                    return STEP_WAIT;
                }
                return conn_fail(s, c);
            }
            n = (size_t)w;
        } else {
            const void *p = hlen ? (const void *)(c->out + c->out_off) : (const void *)body;
            size_t len = hlen ? hlen : blen;
            ERR_clear_error();
            int w = SSL_write(c->ssl, p, (int)(len > INT32_MAX ? INT32_MAX : len));
            if (w <= 0) {
                int e = SSL_get_error(c->ssl, w);
                if (e == SSL_ERROR_WANT_WRITE) {
                    c->want_out = true;
                    return STEP_WAIT;
                }
                if (e == SSL_ERROR_WANT_READ)
                    return STEP_WAIT;
                return conn_fail(s, c);
            }
            n = (size_t)w;
        }
        size_t h = n < hlen ? n : hlen;
        c->out_off += (uint32_t)h;
        c->body_off += n - h;
    }
    return STEP_CONTINUE;
}

/* The current burst is out: tick, finish the fault, or take the next request. */
static step after_flush(tvl__ds *s, conn *c)
{
    if (c->body_off < c->body_stop) { /* trickle */
        conn_nodelay(c);
        uint64_t next = c->body_off + c->chunk;
        c->body_end = next < c->body_stop ? next : c->body_stop;
        if (tvl__timer_set(&s->heap, &c->timer, now_ns() + c->every_ns) != 0)
            return conn_fail(s, c);
        conn_set_state(s, c, CS_TICK);
        return STEP_CONTINUE;
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    c->answered = true;
    c->answered_at = now_ns();
    if (c->fault == TVL__FAULT_RESET) {
        conn_close(s, c, true);
        return STEP_CLOSED;
    }
    if (!c->keep_alive) {
        /* After a refusal, or with input unread, a plain close could send
         * an RST that destroys the response in flight: shut down and
         * drain instead. Otherwise the close sends FIN (and TLS gets its
         * close_notify first). */
        if (c->refused || c->in_len > 0 || c->fault == TVL__FAULT_SHORT)
            return conn_linger(s, c);
        if (c->ssl != NULL) {
            ERR_clear_error();
            SSL_shutdown(c->ssl);
            ERR_clear_error();
        }
        return conn_fail(s, c);
    }
    c->fault = TVL__FAULT_NONE;
    if (tvl__timer_set(&s->heap, &c->timer, now_ns() + s->idle_ns) != 0)
        return conn_fail(s, c);
    conn_set_state(s, c, CS_READ);
    return STEP_CONTINUE;
}

/* Runs c's state machine as far as it goes without waiting. `readable`:
 * epoll said the socket has input (or a hang-up). */
static void conn_drive(tvl__ds *s, conn *c, bool readable)
{
    if (readable)
        c->maybe_more = true;
    for (;;) {
        step st = STEP_WAIT;
        io_result r;
        switch ((conn_state)c->state) {
        case CS_HANDSHAKE: {
            ERR_clear_error();
            int rc = SSL_accept(c->ssl);
            c->hs_want_in = false;
            if (rc == 1) {
                s->st.tls_handshakes++;
                s->st.tls_resumed += SSL_session_reused(c->ssl) == 1;
                conn_set_state(s, c, CS_READ);
                st = STEP_CONTINUE;
                break;
            }
            int e = SSL_get_error(c->ssl, rc);
            if (e == SSL_ERROR_WANT_READ)
                c->hs_want_in = true;
            else if (e == SSL_ERROR_WANT_WRITE)
                c->want_out = true;
            else {
                ERR_clear_error();
                st = conn_fail(s, c);
            }
            break;
        }
        case CS_READ: {
            tvl__http_request req;
            tvl__http_result pr =
                c->in_len ? tvl__http_parse(c->in, c->in_len, &req) : TVL__HTTP_NEED_MORE;
            if (pr == TVL__HTTP_DONE) {
                st = begin_request(s, c, &req);
                break;
            }
            if (pr == TVL__HTTP_BAD) {
                st = refuse_request(s, c, &req);
                break;
            }
            if (c->peer_eof) {
                st = conn_fail(s, c);
                break;
            }
            r = conn_fill(s, c);
            if (r == IO_OK)
                st = STEP_CONTINUE;
            else if (r == IO_EOF) {
                c->peer_eof = true;
                st = STEP_CONTINUE;
            } else if (r == IO_ERR)
                st = conn_fail(s, c);
            break;
        }
        case CS_DELAY:
        case CS_TICK:
            if (readable && !c->peer_eof) {
                readable = false;
                r = conn_fill(s, c);
                if (r == IO_EOF)
                    c->peer_eof = true;
                else if (r == IO_ERR)
                    st = conn_fail(s, c);
            }
            break;
        case CS_STALL:
        case CS_LINGER:
            if (readable) {
                readable = false;
                r = conn_discard(s, c);
                if (r != IO_AGAIN)
                    st = conn_fail(s, c);
            }
            break;
        case CS_WRITE:
            if (readable && !c->peer_eof) {
                readable = false;
                r = conn_fill(s, c);
                if (r == IO_EOF)
                    c->peer_eof = true;
                else if (r == IO_ERR) {
                    st = conn_fail(s, c);
                    break;
                }
            }
            st = conn_flush(s, c);
            if (st == STEP_CONTINUE)
                st = after_flush(s, c);
            break;
        }
        if (st == STEP_CLOSED)
            return;
        if (st == STEP_WAIT)
            break;
    }
    conn_update_events(s, c);
}

static void conn_on_timer(tvl__ds *s, conn *c)
{
    switch ((conn_state)c->state) {
    case CS_DELAY: {
        uint64_t late = now_ns() - c->timer.when; /* `when` survives the pop */
        s->st.delayed++;
        s->st.late_sum_ns += late;
        if (late > s->st.late_max_ns)
            s->st.late_max_ns = late;
        if (start_response(s, c) == STEP_CLOSED)
            return;
        break;
    }
    case CS_TICK:
        if (enter_write(s, c) == STEP_CLOSED)
            return;
        break;
    default: /* idle, handshake or linger timeout */
        conn_close(s, c, false);
        return;
    }
    conn_drive(s, c, false);
}

static void conn_on_event(tvl__ds *s, conn *c, uint32_t ev)
{
    if (ev & EPOLLERR) {
        conn_close(s, c, false);
        return;
    }
    if ((ev & EPOLLHUP) && c->peer_eof) { /* nobody left to answer */
        conn_close(s, c, false);
        return;
    }
    if (ev & EPOLLOUT)
        c->want_out = false;
    conn_drive(s, c, (ev & (EPOLLIN | EPOLLHUP)) != 0);
}

/* --- listener, timers, loop ------------------------------------------------ */

static void set_listen_events(tvl__ds *s, uint32_t ev)
{
    struct epoll_event e = {.events = ev, .data.ptr = &tag_listen};
    epoll_ctl(s->ep, EPOLL_CTL_MOD, s->lfd, &e);
}

static void on_accept(tvl__ds *s)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: stop accepting for a moment rather
                 * than spin on a listener that stays readable. */
                if (tvl__timer_set(&s->heap, &s->accept_timer, now_ns() + ACCEPT_PAUSE_NS) == 0) {
                    set_listen_events(s, 0);
                    s->accept_paused = true;
                }
            }
            return;
        }
        conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->nodelay = s->listen_nodelay; /* inherited from the listener */
        tvl__timer_init(&c->timer);
        if (!s->plain) {
            c->ssl = SSL_new(s->tls.ctx);
            if (c->ssl == NULL || !SSL_set_fd(c->ssl, fd)) {
                ERR_clear_error();
                SSL_free(c->ssl);
                free(c);
                close(fd);
                continue;
            }
            c->state = CS_HANDSHAKE;
        } else {
            c->state = CS_READ;
        }
        if (tvl__timer_set(&s->heap, &c->timer, now_ns() + s->idle_ns) != 0) {
            SSL_free(c->ssl);
            free(c);
            close(fd);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->st.connections++;
        if (++s->st.active > s->st.max_active)
            s->st.max_active = s->st.active;
        /* With TCP_DEFER_ACCEPT the request (or the ClientHello) is
         * already there; conn_drive registers the socket if it must wait. */
        conn_drive(s, c, true);
    }
}

static void run_timers(tvl__ds *s)
{
    uint64_t now = now_ns();
    tvl__timer *t;
    while ((t = tvl__timer_min(&s->heap)) != NULL && t->when <= now) {
        tvl__timer_cancel(&s->heap, t);
        if (t == &s->accept_timer) {
            s->accept_paused = false;
            set_listen_events(s, EPOLLIN);
            continue;
        }
        conn_on_timer(s, (conn *)((char *)t - offsetof(conn, timer)));
    }
}

static void arm_timerfd(tvl__ds *s)
{
    tvl__timer *t = tvl__timer_min(&s->heap);
    uint64_t when = t ? (t->when > s->spin_ns ? t->when - s->spin_ns : 1) : 0;
    /* Inside the spin window the loop polls (tvl__ds_run) and the timerfd
     * stays disarmed: armed in the past it would fire on every pass and
     * make each pass a read, a timerfd_settime and a timer interrupt
     * instead of one epoll_wait. */
    if (s->spin_ns && when != 0 && when <= now_ns())
        when = 0;
    if (when == s->armed)
        return;
    struct itimerspec its = {{0, 0},
                             {(time_t)(when / 1000000000u), (long)(when % 1000000000u)}};
    if (timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0) {
        s->armed = when;
        s->st.timer_arms++;
    }
}

int tvl__ds_run(tvl__ds *s, int stop_fd)
{
    /* The default 50 us of timer slack is a twentieth of the 1 ms accuracy
     * the sites promise; this thread's timers need none. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &tag_stop};
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, stop_fd, &e) != 0)
        return -errno;
    struct epoll_event evs[MAX_EVENTS];
    int rc = 0;
    bool stop = false;
    while (!stop) {
        /* Within spin_ns of the next deadline: poll instead of sleeping. */
        tvl__timer *next = tvl__timer_min(&s->heap);
        int wait = s->spin_ns && next && next->when <= now_ns() + s->spin_ns ? 0 : -1;
        int n = epoll_wait(s->ep, evs, MAX_EVENTS, wait);
        if (s->rx_stamps)
            tvl__rx_clock_watch(&s->rx_clock);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &tag_listen) {
                on_accept(s);
            } else if (p == &tag_timer) {
                uint64_t ticks;
                if (read(s->tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
                    rc = -errno;
                s->armed = 0; /* it fired: disarmed */
            } else if (p == &tag_stop) {
                stop = true;
            } else {
                conn_on_event(s, (conn *)p, evs[i].events);
            }
        }
        run_timers(s);
        arm_timerfd(s);
    }
    epoll_ctl(s->ep, EPOLL_CTL_DEL, stop_fd, NULL);
    return rc;
}

/* --- creation ---------------------------------------------------------------- */

/* Parses a loopback address; false (with a message) for anything else. */
static bool loopback_addr(const char *a, struct sockaddr_storage *ss, socklen_t *len, char *url_host,
                          size_t hostlen, char *err, size_t errlen)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (strcmp(a, "localhost") == 0)
        a = "127.0.0.1";
    if (inet_pton(AF_INET, a, &v4->sin_addr) == 1) {
        if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127) {
            snprintf(err, errlen, "refusing to bind %s: not a loopback address (127.0.0.0/8 or ::1)", a);
            return false;
        }
        v4->sin_family = AF_INET;
        *len = sizeof *v4;
        snprintf(url_host, hostlen, "%s", a);
        return true;
    }
    if (inet_pton(AF_INET6, a, &v6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) {
            snprintf(err, errlen, "refusing to bind %s: not a loopback address (127.0.0.0/8 or ::1)", a);
            return false;
        }
        v6->sin6_family = AF_INET6;
        *len = sizeof *v6;
        snprintf(url_host, hostlen, "[::1]");
        return true;
    }
    snprintf(err, errlen, "bad bind address '%s': give an IPv4 or IPv6 loopback address", a);
    return false;
}

int tvl__ds_create(const tvl__ds_config *cfg, tvl__ds **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!(cfg->scale >= 0 && cfg->scale <= TVL__ROUTE_MAX_SCALE)) {
        snprintf(err, errlen, "bad scale: give a number from 0 to %g", TVL__ROUTE_MAX_SCALE);
        return -EINVAL;
    }
    if (cfg->port > 65535) {
        snprintf(err, errlen, "bad port %u", cfg->port);
        return -EINVAL;
    }
    struct sockaddr_storage ss;
    socklen_t sslen;
    char host[64];
    if (!loopback_addr(cfg->bind_addr ? cfg->bind_addr : "127.0.0.1", &ss, &sslen, host,
                       sizeof host, err, errlen))
        return -EINVAL;

    tvl__body_init();
    tvl__ds *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    s->ep = s->lfd = s->tfd = -1;
    s->plain = cfg->plain_http;
    s->scale = cfg->scale;
    s->spin_ns = (uint64_t)cfg->spin_us * 1000u;
    s->idle_ns = (uint64_t)(cfg->idle_timeout_ms ? cfg->idle_timeout_ms : 60000) * 1000000u;
    tvl__timer_init(&s->accept_timer);
    int rc;
    int one = 1;
    s->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
        rc = -errno;
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)cfg->port);
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)cfg->port);
    if (bind(s->lfd, (struct sockaddr *)&ss, sslen) != 0 || listen(s->lfd, 65535) != 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot listen on %s port %u: %s", host, cfg->port, strerror(errno));
        goto fail;
    }
    /* Both best effort, for CPU only. TCP_DEFER_ACCEPT: the kernel queues a
     * connection for accept() once its first data has arrived (a silent
     * client is queued after about a second anyway), so the read that
     * follows accept() finds the request instead of EAGAIN and an epoll
     * round trip. TCP_NODELAY is inherited by accepted sockets: TLS needs
     * it for the handshake's small writes, and setting it here saves a
     * setsockopt per connection. */
    int defer_s = 1;
    setsockopt(s->lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s, sizeof defer_s);
    /* Best effort too: accepted sockets inherit it, and begin_request starts
     * a delay from the kernel's receive stamp of the request (conn_fill). */
    s->rx_stamps = tvl__rx_stamp_enable(s->lfd);
    if (!s->plain)
        s->listen_nodelay =
            setsockopt(s->lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0;
    if (getsockname(s->lfd, (struct sockaddr *)&ss, &sslen) != 0) {
        rc = -errno;
        snprintf(err, errlen, "getsockname: %s", strerror(errno));
        goto fail;
    }
    s->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)&ss)->sin6_port);
    snprintf(s->url, sizeof s->url, "%s://%s:%u", s->plain ? "http" : "https", host, s->port);

    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (s->ep < 0 || s->tfd < 0) {
        rc = -errno;
        snprintf(err, errlen, "epoll/timerfd: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event el = {.events = EPOLLIN, .data.ptr = &tag_listen};
    struct epoll_event et = {.events = EPOLLIN, .data.ptr = &tag_timer};
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &el) != 0 ||
        epoll_ctl(s->ep, EPOLL_CTL_ADD, s->tfd, &et) != 0) {
        rc = -errno;
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        goto fail;
    }
    if (!s->plain && (rc = tvl__tls_init(&s->tls, err, errlen)) != 0)
        goto fail;
    for (size_t i = 0; i < TVL_DELAY_SITE_COUNT; i++) /* warm the checksum cache */
        (void)body_checksum(s, tvl_delay_sites[i].bytes);
    *out = s;
    return 0;
fail:
    tvl__ds_destroy(s);
    return rc;
}

const char *tvl__ds_url(const tvl__ds *s) { return s->url; }
const char *tvl__ds_ca_file(const tvl__ds *s) { return s->plain ? NULL : s->tls.ca_file; }
unsigned tvl__ds_port(const tvl__ds *s) { return s->port; }

void tvl__ds_get_stats(const tvl__ds *s, tvl__ds_stats *st)
{
    *st = s->st;
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) == 0)
        st->cpu_us = (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
                     (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
}

void tvl__ds_destroy(tvl__ds *s)
{
    if (s == NULL)
        return;
    while (s->conns)
        conn_close(s, s->conns, false);
    tvl__timer_heap_free(&s->heap);
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->tfd >= 0)
        close(s->tfd);
    if (s->ep >= 0)
        close(s->ep);
    tvl__tls_cleanup(&s->tls);
    free(s);
}
