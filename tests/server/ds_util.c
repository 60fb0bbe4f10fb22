/* The helpers of the delay server suites. */
#include "ds_util.h"
#include "test_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

double ds_slack(void)
{
    return tvl_test_slow_env() ? 1.0 : 0.15;
}

tvl_delay_server *ds_spawn(bool plain, double scale)
{
    tvl_delay_server_options o;
    tvl_delay_server_options_init(&o);
    o.plain_http = plain;
    o.scale = scale;
    tvl_delay_server *s = NULL;
    int rc = tvl_delay_server_spawn(&o, &s);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc != 0)
        fprintf(stderr, "spawn: %s\n", rc ? strerror(-rc) : "");
    return s;
}

tvl_delay_server *ds_spawn_plain(unsigned idle_timeout_ms, unsigned spin_us)
{
    tvl_delay_server_options o;
    tvl_delay_server_options_init(&o);
    o.plain_http = true;
    o.idle_timeout_ms = idle_timeout_ms;
    o.spin_us = spin_us;
    tvl_delay_server *s = NULL;
    CU_ASSERT_EQUAL_FATAL(tvl_delay_server_spawn(&o, &s), 0);
    return s;
}

void ds_stop(tvl_delay_server *s)
{
    CU_ASSERT_EQUAL(tvl_delay_server_stop(s), 0);
}

const char *ds_url(const tvl_delay_server *s, const char *path)
{
    static char url[512];
    snprintf(url, sizeof url, "%s%s", tvl_delay_server_url(s), path);
    return url;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    ds_fetch *f = ud;
    size_t len = size * n;
    f->body_sum = tvl_body_checksum(p, len, f->body_sum);
    if (f->body_len < sizeof f->body - 1) {
        size_t k = sizeof f->body - 1 - f->body_len;
        memcpy(f->body + f->body_len, p, len < k ? len : k);
    }
    f->body_len += len;
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    ds_fetch *f = ud;
    size_t len = size * n;
    char line[256];
    size_t k = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, p, k);
    line[k] = '\0';
    if (strncasecmp(line, TVL_BODY_CHECKSUM_HEADER ":", strlen(TVL_BODY_CHECKSUM_HEADER) + 1) == 0) {
        f->has_sum = true;
        f->header_sum = strtoull(line + strlen(TVL_BODY_CHECKSUM_HEADER) + 1, NULL, 16);
    } else if (strncasecmp(line, "Content-Length:", 15) == 0) {
        f->content_length = strtoll(line + 15, NULL, 10);
    } else if (strncasecmp(line, "X-Delay-Us:", 11) == 0) {
        f->delay_us = strtoll(line + 11, NULL, 10);
    }
    return len;
}

void ds_get(CURL *h, const tvl_delay_server *s, const char *path, const char *ca,
            long timeout_ms, bool head, ds_fetch *f)
{
    memset(f, 0, sizeof *f);
    f->body_sum = TVL_BODY_CHECKSUM_INIT;
    f->content_length = -1;
    f->delay_us = -1;
    CURL *own = NULL;
    if (h == NULL)
        h = own = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, ds_url(s, path));
    const char *cafile = ca ? ca : tvl_delay_server_ca_file(s);
    if (cafile)
        curl_easy_setopt(h, CURLOPT_CAINFO, cafile);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* a loopback server: never a proxy */
    curl_easy_setopt(h, CURLOPT_NOBODY, head ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, f);
    f->code = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &f->status);
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &f->total_s);
    curl_easy_getinfo(h, CURLINFO_STARTTRANSFER_TIME, &f->ttfb_s);
    /* The request is sent after the connection (and the TLS handshake) is
     * up; curl may stamp PRETRANSFER only after sending it, so the wait is
     * measured from the handshake, which is certainly before. */
    double connect_s = 0, appconnect_s = 0;
    curl_easy_getinfo(h, CURLINFO_CONNECT_TIME, &connect_s);
    curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME, &appconnect_s);
    f->pretransfer_s = appconnect_s > connect_s ? appconnect_s : connect_s;
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &f->num_connects);
    if (f->body_len >= sizeof f->body)
        f->body[sizeof f->body - 1] = '\0';
    else
        f->body[f->body_len] = '\0';
    if (own)
        curl_easy_cleanup(own);
}

size_t ds_raw(unsigned port, const char *req, size_t len, char *resp, size_t cap, int timeout_ms,
              bool *closed)
{
    *closed = false;
    resp[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        CU_FAIL("connect");
        if (fd >= 0)
            close(fd);
        return 0;
    }
    /* The server may answer and close before all is sent (431). */
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    size_t got = 0;
    double deadline = tvl_test_now() + timeout_ms / 1000.0;
    for (;;) {
        int left = (int)((deadline - tvl_test_now()) * 1000);
        if (left <= 0)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, left) <= 0)
            break;
        char tmp[4096];
        ssize_t n = recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0) {
            *closed = true;
            break;
        }
        size_t k = (size_t)n < cap - 1 - got ? (size_t)n : cap - 1 - got;
        memcpy(resp + got, tmp, k);
        got += k;
    }
    resp[got] = '\0';
    close(fd);
    return got;
}

int ds_status_of(const char *resp)
{
    int st = 0;
    if (sscanf(resp, "HTTP/1.1 %d", &st) != 1)
        return 0;
    return st;
}
