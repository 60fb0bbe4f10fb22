/* The load generator: N plain-HTTP requests at once, one connection each,
 * every answer checked for status, length and checksum. */
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
    int fd;
    uint8_t state;
    bool in_body, has_sum;
    int status;
    uint16_t hlen;
    uint64_t clen, got, sum, want_sum;
    double t0;
    char head[512];
} lg_conn;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses the response head in c->head[0..hlen) ending at `end`. */
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
        memcpy(c->head + c->hlen, buf, k);
        c->hlen = (uint16_t)(c->hlen + k);
        c->head[c->hlen] = '\0';
        char *end = strstr(c->head, "\r\n\r\n");
        if (end == NULL)
            return c->hlen < sizeof c->head - 1;
        if (!parse_head(c, end))
            return false;
        size_t head_len = (size_t)(end + 4 - c->head);
        size_t before = c->hlen - k; /* bytes of head already held before this call */
        size_t used = head_len - before;
        c->in_body = true;
        c->sum = TVL_BODY_CHECKSUM_INIT;
        buf += used;
        n -= used;
    }
    c->sum = tvl_body_checksum(buf, n, c->sum);
    c->got += n;
    return c->got <= c->clen;
}

int tvl__loadgen_run(const tvl__loadgen_options *o, tvl__loadgen_result *r)
{
    memset(r, 0, sizeof *r);
    if (o->connections == 0 || o->path == NULL || o->port == 0 || o->port > 65535)
        return -EINVAL;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    if (inet_pton(AF_INET, o->ip ? o->ip : "127.0.0.1", &sa.sin_addr) != 1 ||
        (ntohl(sa.sin_addr.s_addr) >> 24) != 127)
        return -EINVAL;
    if (tvl__raise_nofile() < o->connections + 64)
        return -EMFILE;
    char req[600];
    int reqlen = snprintf(req, sizeof req,
                          "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", o->path);
    if (reqlen <= 0 || (size_t)reqlen >= sizeof req)
        return -EINVAL;
    unsigned n = o->connections;
    unsigned max_connecting = o->max_connecting ? o->max_connecting : 512;
    double deadline = now_s() + (o->timeout_ms ? o->timeout_ms : 60000) / 1000.0;
    lg_conn *cs = calloc(n, sizeof *cs);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (cs == NULL || ep < 0) {
        free(cs);
        if (ep >= 0)
            close(ep);
        return -ENOMEM;
    }
    unsigned next = 0, connecting = 0, finished = 0;
    double lat_sum = 0, start = now_s();
    r->lat_min = 1e9;
    char buf[65536];
    struct epoll_event evs[256];

    while (finished < n && now_s() < deadline) {
        /* Open more connections while few are still connecting. */
        while (next < n && connecting < max_connecting) {
            lg_conn *c = &cs[next];
            c->t0 = now_s();
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            int rc = c->fd < 0 ? -1 : connect(c->fd, (struct sockaddr *)&sa, sizeof sa);
            struct epoll_event e = {.events = EPOLLOUT, .data.u32 = next};
            if (c->fd < 0 || (rc != 0 && errno != EINPROGRESS) ||
                epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e) != 0) {
                if (c->fd >= 0)
                    close(c->fd);
                c->state = LG_DONE;
                r->failed++;
                finished++;
            } else {
                c->state = LG_CONNECTING;
                connecting++;
            }
            next++;
        }
        int k = epoll_wait(ep, evs, 256, 50);
        for (int i = 0; i < k; i++) {
            lg_conn *c = &cs[evs[i].data.u32];
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
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
                    c->state = LG_READING;
                }
            } else if (c->state == LG_READING) {
                ssize_t got = read(c->fd, buf, sizeof buf);
                if (got > 0)
                    ok = take(c, buf, (size_t)got);
                else if (got == 0)
                    done = true;
                else if (errno != EAGAIN && errno != EINTR)
                    ok = false;
            }
            if (!ok || done) {
                close(c->fd);
                c->state = LG_DONE;
                finished++;
                bool good = ok && c->in_body && c->status == 200 && c->got == c->clen &&
                            (!c->has_sum || c->sum == c->want_sum);
                if (good) {
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
        if (cs[i].state == LG_CONNECTING || cs[i].state == LG_READING) {
            close(cs[i].fd);
            r->failed++;
        } else if (cs[i].state == LG_IDLE) {
            r->failed++;
        }
    }
    r->lat_mean = r->ok ? lat_sum / r->ok : 0;
    if (r->ok == 0)
        r->lat_min = 0;
    close(ep);
    free(cs);
    return 0;
}
