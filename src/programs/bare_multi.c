/* The baseline the loop build is measured against: N transfers on one
 * libcurl multi handle driven by epoll through the multi_socket interface,
 * with no fibers, futures or runtime. Usage: bare-multi N URL [C] (C: at
 * most C transfers in flight, admitted as slots free; 0 or absent: all at
 * once). Prints one JSON line: wall seconds, max RSS, CPU. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int epfd;
static long timeout_ms = -1; /* what curl asked for last; -1: none */

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p, (void)u;
    return s * n;
}

/* curl tells us which events it wants on a socket. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
    (void)e, (void)userp;
    struct epoll_event ev = {.data.fd = fd};
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    (void)sockp;
    return 0;
}

/* curl's single timer: the epoll_wait timeout, no system call. */
static int on_timer(CURLM *m, long ms, void *userp)
{
    (void)m, (void)userp;
    timeout_ms = ms;
    return 0;
}

static CURL *new_transfer(const char *url)
{
    CURL *e = curl_easy_init();
    if (e == NULL)
        return NULL;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* direct, as the runtimes (rt/http.c) */
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    return e;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4 || atoi(argv[1]) <= 0) {
        fprintf(stderr, "usage: bare-multi N URL [MAX_IN_FLIGHT]\n");
        return 2;
    }
    int n = atoi(argv[1]);
    const char *url = argv[2];
    int cap = argc == 4 ? atoi(argv[3]) : 0;
    if (cap <= 0 || cap > n)
        cap = n;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)cap);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int added = 0, done = 0, ok = 0, running = 0;
    for (; added < cap; added++)
        curl_multi_add_handle(m, new_transfer(url));
    struct epoll_event evs[256];
    while (done < n) {
        int k = epoll_wait(epfd, evs, 256, timeout_ms < 0 ? 1000 : (int)timeout_ms);
        if (k == 0) {
            timeout_ms = -1;
            curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        for (int i = 0; i < k; i++) {
            int flags = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                        (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                        (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(m, evs[i].data.fd, flags, &running);
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            ok += msg->data.result == CURLE_OK && status == 200;
            done++;
            CURL *e = msg->easy_handle;
            curl_multi_remove_handle(m, e);
            curl_easy_cleanup(e);
            if (added < n) { /* a slot is free: admit the next one */
                curl_multi_add_handle(m, new_transfer(url));
                added++;
            }
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("{\"n\":%d,\"in_flight\":%d,\"ok\":%d,\"wall_s\":%.6f,\"requests_per_s\":%.0f,"
           "\"max_rss_kib\":%ld,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f}\n",
           n, cap, ok, wall, n / wall, ru.ru_maxrss,
           (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    curl_multi_cleanup(m);
    close(epfd);
    curl_global_cleanup();
    return ok == n ? 0 : 1;
}
