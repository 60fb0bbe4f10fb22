/* The load generator: N plain-HTTP requests at once, one connection each
 * (fresh, or kept alive across rounds), every answer checked for status,
 * length and checksum. */
#include "server/loadgen.h"
#include "server/server.h"
#include "tvl/delay_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { LG_IDLE, LG_CONNECTING, LG_READING, LG_DONE };

typedef struct lg_conn {
    int fd;          /* -1: not connected */
    uint8_t state;
    bool in_body, has_sum;
    int status;
    uint16_t hlen;
    uint64_t clen, got, want_sum;
    uint32_t sum;
    double t0;
    char head[512];
} lg_conn;

struct tvl__loadgen {
    lg_conn *cs;
    unsigned n, max_connecting, timeout_ms;
    bool keep_alive;
    int ep;
    struct sockaddr_in sa;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses the response head in c->head up to `end`. */
static bool parse_head(lg_conn *c, const char *end)
{
    if (sscanf(c->head, "HTTP/1.%*d %d", &c->status) != 1)
        return false;
    c->clen = UINT64_MAX;
    for (const char *p = strstr(c->head, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            c->clen = strtoull(line + 15, NULL, 10);
        else if (strncasecmp(line, TVL_BODY_CHECKSUM_HEADER ":", sizeof TVL_BODY_CHECKSUM_HEADER) == 0) {
            c->want_sum = strtoull(line + sizeof TVL_BODY_CHECKSUM_HEADER, NULL, 16);
            c->has_sum = true;
        }
    }
    return c->clen != UINT64_MAX;
}

/* Consumes n received bytes; false if the response is malformed. */
static bool take(lg_conn *c, const char *buf, size_t n)
{
    if (!c->in_body) {
        size_t room = sizeof c->head - 1 - c->hlen;
        size_t k = n < room ? n : room;
        size_t before = c->hlen;
        memcpy(c->head + c->hlen, buf, k);
        c->hlen = (uint16_t)(c->hlen + k);
        c->head[c->hlen] = '\0';
        char *end = strstr(c->head, "\r\n\r\n");
        if (end == NULL)
            return c->hlen < sizeof c->head - 1;
        if (!parse_head(c, end))
            return false;
        size_t used = (size_t)(end + 4 - c->head) - before;
        c->in_body = true;
        c->sum = TVL_BODY_CHECKSUM_INIT;
        buf += used;
        n -= used;
    }
    c->sum = tvl_body_checksum(buf, n, c->sum);
    c->got += n;
    return c->got <= c->clen;
}

static bool answer_good(const lg_conn *c)
{
    return c->in_body && c->status == 200 && c->got == c->clen &&
           (!c->has_sum || c->sum == c->want_sum);
}

static void drop(lg_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

int tvl__loadgen_open(const tvl__loadgen_options *o, tvl__loadgen **out)
{
    *out = NULL;
    if (o->connections == 0 || o->port == 0 || o->port > 65535)
        return -EINVAL;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    if (inet_pton(AF_INET, o->ip ? o->ip : "127.0.0.1", &sa.sin_addr) != 1 ||
        (ntohl(sa.sin_addr.s_addr) >> 24) != 127)
        return -EINVAL;
    if (tvl__raise_nofile() < o->connections + 64)
        return -EMFILE;
    tvl__loadgen *lg = calloc(1, sizeof *lg);
    if (lg == NULL || (lg->cs = calloc(o->connections, sizeof *lg->cs)) == NULL) {
        free(lg);
        return -ENOMEM;
    }
    lg->ep = epoll_create1(EPOLL_CLOEXEC);
    if (lg->ep < 0) {
        free(lg->cs);
        free(lg);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < o->connections; i++)
        lg->cs[i].fd = -1;
    lg->n = o->connections;
    lg->sa = sa;
    lg->keep_alive = true;
    lg->max_connecting = o->max_connecting ? o->max_connecting : 512;
    lg->timeout_ms = o->timeout_ms ? o->timeout_ms : 60000;
    *out = lg;
    return 0;
}

void tvl__loadgen_close(tvl__loadgen *lg)
{
    if (lg == NULL)
        return;
    for (unsigned i = 0; i < lg->n; i++)
        drop(&lg->cs[i]);
    close(lg->ep);
    free(lg->cs);
    free(lg);
}

int tvl__loadgen_round(tvl__loadgen *lg, const char *path, tvl__loadgen_result *r)
{
    memset(r, 0, sizeof *r);
    char req[600];
    int reqlen = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", path,
                          lg->keep_alive ? "" : "Connection: close\r\n");
    if (reqlen <= 0 || (size_t)reqlen >= sizeof req)
        return -EINVAL;
    unsigned n = lg->n, next = 0, connecting = 0, finished = 0;
    double start = now_s(), deadline = start + lg->timeout_ms / 1000.0, lat_sum = 0;
    r->lat_min = 1e9;
    char buf[65536];
    struct epoll_event evs[256];

    for (unsigned i = 0; i < n; i++) {
        lg_conn *c = &lg->cs[i];
        int fd = c->fd;
        memset(c, 0, sizeof *c);
        c->fd = fd;
        c->state = LG_IDLE;
    }
    /* Connected ones send at once. */
    for (unsigned i = 0; i < n; i++) {
        lg_conn *c = &lg->cs[i];
        if (c->fd < 0)
            continue;
        c->t0 = now_s();
        if (write(c->fd, req, (size_t)reqlen) != reqlen) {
            drop(c);
            c->state = LG_DONE;
            r->failed++;
            finished++;
            continue;
        }
        c->state = LG_READING;
    }
    while (finished < n && now_s() < deadline) {
        /* Connect the others while few are still connecting. */
        for (; next < n && connecting < lg->max_connecting; next++) {
            lg_conn *c = &lg->cs[next];
            if (c->state != LG_IDLE)
                continue;
            c->t0 = now_s();
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            int rc = c->fd < 0 ? -1 : connect(c->fd, (struct sockaddr *)&lg->sa, sizeof lg->sa);
            struct epoll_event e = {.events = EPOLLOUT, .data.u32 = next};
            if (c->fd < 0 || (rc != 0 && errno != EINPROGRESS) ||
                epoll_ctl(lg->ep, EPOLL_CTL_ADD, c->fd, &e) != 0) {
                drop(c);
                c->state = LG_DONE;
                r->failed++;
                finished++;
            } else {
                c->state = LG_CONNECTING;
                connecting++;
            }
        }
        int k = epoll_wait(lg->ep, evs, 256, 50);
        for (int i = 0; i < k; i++) {
            lg_conn *c = &lg->cs[evs[i].data.u32];
            bool ok = true, done = false;
            if (c->state == LG_CONNECTING) {
                connecting--;
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                /* The request is small: one write fits the empty buffer. */
                if (err != 0 || write(c->fd, req, (size_t)reqlen) != reqlen) {
                    ok = false;
                } else {
                    struct epoll_event e = {.events = EPOLLIN, .data.u32 = evs[i].data.u32};
                    epoll_ctl(lg->ep, EPOLL_CTL_MOD, c->fd, &e);
                    c->state = LG_READING;
                }
            } else if (c->state == LG_READING) {
                ssize_t got = read(c->fd, buf, sizeof buf);
                if (got > 0) {
                    ok = take(c, buf, (size_t)got);
                    done = ok && lg->keep_alive && c->in_body && c->got == c->clen;
                } else if (got == 0) {
                    done = true;
                    ok = !lg->keep_alive;
                } else if (errno != EAGAIN && errno != EINTR) {
                    ok = false;
                }
            } else {
                continue; /* an idle kept-alive connection: EOF comes next round */
            }
            if (!ok || done) {
                if (!ok || !lg->keep_alive)
                    drop(c);
                c->state = LG_DONE;
                finished++;
                if (ok && answer_good(c)) {
                    double lat = now_s() - c->t0;
                    r->ok++;
                    lat_sum += lat;
                    if (lat < r->lat_min)
                        r->lat_min = lat;
                    if (lat > r->lat_max)
                        r->lat_max = lat;
                } else {
                    r->failed++;
                }
            }
        }
    }
    r->seconds = now_s() - start;
    for (unsigned i = 0; i < n; i++) {
        lg_conn *c = &lg->cs[i];
        if (c->state != LG_DONE) {
            drop(c);
            r->failed++;
        }
    }
    r->lat_mean = r->ok ? lat_sum / r->ok : 0;
    if (r->ok == 0)
        r->lat_min = 0;
    return 0;
}

int tvl__loadgen_run(const tvl__loadgen_options *o, tvl__loadgen_result *r)
{
    memset(r, 0, sizeof *r);
    if (o->path == NULL)
        return -EINVAL;
    tvl__loadgen *lg;
    int rc = tvl__loadgen_open(o, &lg);
    if (rc != 0)
        return rc;
    lg->keep_alive = false;
    rc = tvl__loadgen_round(lg, o->path, r);
    tvl__loadgen_close(lg);
    return rc;
}
