/* HTTP transfers in the event-loop runtime: one libcurl multi handle driven
 * by the loop through the multi_socket interface (curl tells us which
 * sockets to watch and when to call it back; we never poll it), easy
 * handles kept on a free list for reuse, and a transfer that suspends its
 * fiber until curl reports it done.
 *
 * The multi handle owns the connection cache, so keep-alive connections
 * and the DNS cache are shared by every transfer; a share object adds TLS
 * session reuse across easy handles. The runtime sets no connection limit
 * in curl: the runtime-neutral code bounds transfers in flight with a
 * semaphore (--connections), which admits a new transfer the moment a slot
 * frees (measured 3x faster than queueing thousands of handles behind
 * CURLMOPT_MAX_TOTAL_CONNECTIONS).
 *
 * Cancelling a transfer: the cancel hook of the park wakes the fiber with
 * -ECANCELED; the fiber removes its handle from the multi (which drops the
 * connection mid-transfer) and returns CURLE_ABORTED_BY_CALLBACK.
 *
 * Threads: loop thread only. curl's callbacks run inside
 * curl_multi_socket_action() and curl_multi_add/remove_handle(), which the
 * loop and the fibers call on this thread; they only change epoll interest,
 * the curl timer and the state of a transfer, never switch fibers.
 */
#include "rt_loop/loop.h"
#include "rt/http.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connections kept alive in the multi's cache. Enough for every transfer
 * of a large burst to keep its connection for the next one; each idle
 * connection costs a socket and a few KiB. */
enum { MAX_CACHED_CONNECTIONS = 65536 };

/* One transfer in flight: lives on the performing context's stack. */
typedef struct transfer {
    tvl__task *owner;
    bool done;
    CURLcode result;
} transfer;

static CURLM *multi;
static CURLSH *share;
static tvl__timer curl_timer;
static unsigned in_flight;
static unsigned open_sockets; /* opened by curl through us, not yet closed */

static CURL **free_easy; /* the free list, as a stack */
static size_t n_free, cap_free;

unsigned tvl__http_in_flight(void)
{
    return in_flight;
}

/* Counting sockets tells us whether the cache can hold an idle connection
 * (see tvl__easy_perform). The callbacks stay with a connection after its
 * easy handle is reset, so every close is counted. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)clientp, (void)purpose;
    curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd == CURL_SOCKET_BAD)
        return fd;
    if (tvl__loop_fd_owned(fd) != 0) {
        close(fd);
        return CURL_SOCKET_BAD; /* out of memory: curl reports it */
    }
    open_sockets++;
    return fd;
}

static int close_socket(void *clientp, curl_socket_t fd)
{
    (void)clientp;
    open_sockets--;
    tvl__loop_fd_closing(fd);
    return close(fd);
}

/* ---- curl's callbacks ---------------------------------------------------- */

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy, (void)userp, (void)socketp;
    uint32_t events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= EPOLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= EPOLLOUT;
    /* CURL_POLL_REMOVE leaves events 0. A failure here (out of memory)
     * leaves the socket unwatched; curl's own timeouts still end it. */
    (void)tvl__loop_fd_set(s, events);
    return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
    (void)m, (void)userp;
    if (timeout_ms < 0)
        tvl__timer_disarm(&curl_timer);
    else
        (void)tvl__timer_arm(&curl_timer, tvl__now_ns() + (int64_t)timeout_ms * 1000000);
    return 0;
}

/* Hands each finished transfer back to its owner. */
static void collect_done(void)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode result = msg->data.result;
        transfer *t = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
        /* Its connection is back in the cache already (libcurl returns it
         * when the transfer is done). The handle stays attached, done:
         * libcurl 7.88's curl_multi_remove_handle walks every cached
         * connection (to close CONNECT_ONLY ones) whenever the transfer
         * kept its connection, so removing each handle here made a burst
         * of n transfers cost O(n^2): 20 % of the CPU of 10,000. It is
         * removed when it is taken for its next transfer (a walk over what
         * is cached then), or by curl_multi_cleanup at the end of the
         * session, which detaches every handle still attached in one pass
         * and closes the connections. */
        in_flight--;
        if (t != NULL) {
            t->done = true;
            t->result = result;
            tvl__sched_wake(t->owner, 0);
        }
    }
}

static void on_curl_timeout(tvl__timer *tm)
{
    (void)tm;
    int running;
    curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_done();
}

void tvl__http_on_socket(int fd, uint32_t events)
{
    int action = 0;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
        action |= CURL_CSELECT_IN;
    if (events & EPOLLOUT)
        action |= CURL_CSELECT_OUT;
    if (events & EPOLLERR)
        action |= CURL_CSELECT_ERR;
    int running;
    curl_multi_socket_action(multi, fd, action, &running);
}

void tvl__http_after_events(void)
{
    collect_done();
}

/* ---- set-up ------------------------------------------------------------ */

/* The multi handle, which holds the connection cache and the DNS cache. */
static CURLM *multi_create(void)
{
    CURLM *m = curl_multi_init();
    if (m == NULL)
        return NULL;
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)MAX_CACHED_CONNECTIONS);
    return m;
}

int tvl__http_multi_open(const tvl_rt_options *opts)
{
    (void)opts;
    in_flight = 0;
    open_sockets = 0;
    n_free = cap_free = 0;
    free_easy = NULL;
    tvl__timer_init(&curl_timer, on_curl_timeout);
    if (tvl__curl_global_init() != 0)
        return -ENOMEM;
    multi = multi_create();
    if (multi == NULL)
        return -ENOMEM;
    /* Single-threaded: the share needs no lock functions. It outlives the
     * multi handle (tvl_http_new_session), so it holds the DNS cache too. */
    share = curl_share_init();
    if (share != NULL) {
        curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    }
    return 0;
}

/* A new session: libcurl has no call that closes a multi handle's idle
 * connections, so the multi handle itself is replaced. Its cleanup closes
 * them (through close_socket, which keeps the loop's descriptor table
 * right) and detaches the finished easy handles still attached to it (see
 * collect_done), so that tvl__easy_acquire's remove is a no-op for them. */
int tvl__easy_forget_connections(void)
{
    if (in_flight > 0)
        return -EBUSY;
    CURLM *fresh = multi_create();
    if (fresh == NULL)
        return -ENOMEM;
    curl_multi_cleanup(multi);
    multi = fresh;
    tvl__timer_disarm(&curl_timer);
    return 0;
}

void tvl__http_multi_close(void)
{
    /* The multi handle first: it detaches the handles still attached (see
     * collect_done) without a walk each, and closes the cached connections,
     * which calls on_socket (REMOVE), so the loop must still be open here.
     * Then the easy handles, detached, cost no walk either. */
    curl_multi_cleanup(multi);
    multi = NULL;
    for (size_t i = 0; i < n_free; i++)
        curl_easy_cleanup(free_easy[i]);
    free(free_easy);
    free_easy = NULL;
    n_free = cap_free = 0;
    curl_share_cleanup(share);
    share = NULL;
    tvl__timer_disarm(&curl_timer);
}

/* ---- the backend primitives ------------------------------------------------ */

CURL *tvl__easy_acquire(void)
{
    if (n_free == 0)
        return curl_easy_init();
    CURL *easy = free_easy[--n_free];
    /* Still attached if its last transfer ended in this session (see
     * collect_done); a no-op for a detached handle. */
    curl_multi_remove_handle(multi, easy);
    return easy;
}

void tvl__easy_release(CURL *easy)
{
    if (easy == NULL)
        return;
    if (n_free == cap_free) {
        size_t cap = cap_free ? cap_free * 2 : 64;
        CURL **grown = realloc(free_easy, cap * sizeof *grown);
        if (grown == NULL) {
            curl_easy_cleanup(easy);
            return;
        }
        free_easy = grown;
        cap_free = cap;
    }
    free_easy[n_free++] = easy;
}

CURLcode tvl__easy_perform(CURL *easy)
{
    tvl__task *self = tvl__sched_current();
    tvl_future *task = self->future;
    if (task != NULL && tvl_future_cancel_requested(task))
        return CURLE_ABORTED_BY_CALLBACK;
    transfer t = {.owner = self, .done = false, .result = CURLE_OK};
    curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)&t);
    if (share != NULL)
        curl_easy_setopt(easy, CURLOPT_SHARE, share);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
    /* libcurl (7.88) looks for a reusable connection by walking every
     * connection to the host, in use or not: O(n) per transfer, O(n^2) for a
     * burst of n (measured: 1 s of 1.6 for 5,000 transfers). When every
     * open socket belongs to a transfer in flight, no idle connection can be
     * found, so skip the walk and connect. */
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, open_sockets > in_flight ? 0L : 1L);
    CURLMcode mrc = curl_multi_add_handle(multi, easy);
    if (mrc != CURLM_OK)
        return mrc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
    in_flight++;
    while (!t.done) {
        if (tvl__sched_park(INT64_MAX, true) == -ECANCELED)
            break;
    }
    if (!t.done) {
        /* Cancelled: take it out at once; the connection is closed, not
         * cached, since the transfer did not finish. */
        curl_multi_remove_handle(multi, easy);
        in_flight--;
        t.result = CURLE_ABORTED_BY_CALLBACK;
    }
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    return t.result;
}
