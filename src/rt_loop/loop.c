/* The event loop: one epoll instance, a FIFO run queue of ready contexts,
 * the timer heap's deadline as epoll_wait's timeout, and an eventfd through
 * which other threads post wakes.
 *
 * One iteration (as asyncio's _run_once): run the contexts that were ready
 * when it began (those made ready meanwhile wait for the next one, so I/O is
 * polled between bursts of work), wait for I/O no longer than until the
 * earliest timer (not at all if something is ready), hand socket events to
 * curl, then fire the timers that are due.
 *
 * Costs: a timer change is a heap operation, never a system call; the only
 * system calls per iteration are epoll_wait and whatever curl does on its
 * sockets (an epoll_ctl when it changes interest in one).
 *
 * Lock rule: post_mu guards only the posted-wakes array; it is taken by
 * posting threads and by the loop when it drains the array, and nothing is
 * called while it is held.
 */
#include "rt_loop/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

enum { MAX_EVENTS = 256 };

typedef struct posted_wake {
    tvl__task *task;
    int reason;
} posted_wake;

static int epfd = -1;
static int wakefd = -1;
static tvl__task *ready_head, *ready_tail;

/* Per fd: the events registered in epoll (0: not registered), and the
 * FD_OWNED / FD_IDLE flags (see tvl__loop_fd_set in loop.h). */
enum { FD_OWNED = 1, FD_IDLE = 2 };
typedef struct fd_entry {
    uint32_t events;
    uint32_t flags;
} fd_entry;
static fd_entry *fds;
static size_t fd_cap;

static pthread_mutex_t post_mu = PTHREAD_MUTEX_INITIALIZER;
static posted_wake *posts; /* under post_mu */
static size_t n_posts, cap_posts;

static _Thread_local bool tls_loop_thread;

bool tvl__loop_on_thread(void)
{
    return tls_loop_thread;
}

int tvl__loop_open(void)
{
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return -errno;
    wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wakefd < 0) {
        int err = -errno;
        close(epfd);
        epfd = -1;
        return err;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = wakefd};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &ev) != 0) {
        int err = -errno;
        close(wakefd);
        close(epfd);
        wakefd = epfd = -1;
        return err;
    }
    ready_head = ready_tail = NULL;
    tls_loop_thread = true;
    return 0;
}

void tvl__loop_close(void)
{
    if (wakefd >= 0)
        close(wakefd);
    if (epfd >= 0)
        close(epfd);
    wakefd = epfd = -1;
    free(fds);
    fds = NULL;
    fd_cap = 0;
    pthread_mutex_lock(&post_mu);
    free(posts);
    posts = NULL;
    n_posts = cap_posts = 0;
    pthread_mutex_unlock(&post_mu);
    tvl__timers_free();
    tls_loop_thread = false;
}

void tvl__loop_ready(tvl__task *t)
{
    if (t->queued)
        return;
    t->queued = true;
    t->next = NULL;
    if (ready_tail != NULL)
        ready_tail->next = t;
    else
        ready_head = t;
    ready_tail = t;
}

int tvl__loop_post(tvl__task *t, int reason)
{
    pthread_mutex_lock(&post_mu);
    if (n_posts == cap_posts) {
        size_t cap = cap_posts ? cap_posts * 2 : 16;
        posted_wake *grown = realloc(posts, cap * sizeof *grown);
        if (grown == NULL) {
            pthread_mutex_unlock(&post_mu);
            return -ENOMEM;
        }
        posts = grown;
        cap_posts = cap;
    }
    posts[n_posts++] = (posted_wake){t, reason};
    pthread_mutex_unlock(&post_mu);
    uint64_t one = 1;
    /* A full counter (EAGAIN) already means "wake up"; nothing to do. */
    ssize_t w = write(wakefd, &one, sizeof one);
    (void)w;
    return 0;
}

static void drain_posts(void)
{
    uint64_t count;
    ssize_t r = read(wakefd, &count, sizeof count);
    (void)r;
    pthread_mutex_lock(&post_mu);
    posted_wake *batch = posts;
    size_t n = n_posts;
    posts = NULL;
    n_posts = cap_posts = 0;
    pthread_mutex_unlock(&post_mu);
    for (size_t i = 0; i < n; i++)
        tvl__sched_wake(batch[i].task, batch[i].reason);
    free(batch);
}

/* Grows the table to hold fd. */
static int fd_reserve(int fd)
{
    if ((size_t)fd < fd_cap)
        return 0;
    size_t cap = fd_cap ? fd_cap : 256;
    while (cap <= (size_t)fd)
        cap *= 2;
    fd_entry *grown = realloc(fds, cap * sizeof *grown);
    if (grown == NULL)
        return -ENOMEM;
    for (size_t i = fd_cap; i < cap; i++)
        grown[i] = (fd_entry){0, 0};
    fds = grown;
    fd_cap = cap;
    return 0;
}

int tvl__loop_fd_owned(int fd)
{
    if (fd < 0)
        return -EBADF;
    int rc = fd_reserve(fd);
    if (rc == 0)
        fds[fd] = (fd_entry){0, FD_OWNED};
    return rc;
}

void tvl__loop_fd_closing(int fd)
{
    /* close() takes the socket out of the epoll set. */
    if (fd >= 0 && (size_t)fd < fd_cap)
        fds[fd] = (fd_entry){0, 0};
}

int tvl__loop_fd_set(int fd, uint32_t events)
{
    if (fd < 0)
        return -EBADF;
    if ((size_t)fd >= fd_cap && events == 0)
        return 0;
    int rc = fd_reserve(fd);
    if (rc != 0)
        return rc;
    fd_entry *e = &fds[fd];
    if (events == 0 && (e->flags & FD_OWNED) && e->events != 0) {
        e->flags |= FD_IDLE;
        return 0;
    }
    e->flags &= ~(uint32_t)FD_IDLE;
    uint32_t old = e->events;
    if (old == events)
        return 0;
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (events == 0) {
        /* curl says REMOVE before it closes a socket; if it was closed
         * already the kernel dropped it (EBADF/ENOENT), which is fine. */
        rc = epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
        if (rc != 0 && (errno == EBADF || errno == ENOENT))
            rc = 0;
    } else if (old == 0) {
        rc = epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
        if (rc != 0 && errno == EEXIST) /* a number reused behind our back */
            rc = epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
    } else {
        rc = epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
        if (rc != 0 && errno == ENOENT) /* closed and reopened meanwhile */
            rc = epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
    if (rc != 0)
        return -errno;
    e->events = events;
    return 0;
}

/* An event on an idle socket: nobody wants it (a kept-alive connection the
 * server closed, say). Take it out of the set now, since a level-triggered
 * event would come back every iteration; curl finds the connection dead
 * when it next looks. Returns whether the event was for an idle socket. */
static bool drop_if_idle(int fd)
{
    if ((size_t)fd >= fd_cap || !(fds[fd].flags & FD_IDLE))
        return false;
    if (epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL) == 0 || errno == ENOENT || errno == EBADF)
        fds[fd].events = 0;
    fds[fd].flags &= ~(uint32_t)FD_IDLE;
    return true;
}

/* epoll_pwait2 takes a timespec, so a sleep ends on its deadline instead of
 * the next whole millisecond. Kernels before 5.11 (and valgrind) lack it:
 * then epoll_wait, its timeout rounded up to whole milliseconds so that a
 * timer is never polled for before it is due. */
static bool have_pwait2 = true;

static int poll_events(struct epoll_event *evs, int64_t timeout_ns)
{
    if (have_pwait2) {
        struct timespec ts = {.tv_sec = timeout_ns / 1000000000,
                              .tv_nsec = timeout_ns % 1000000000};
        int n = epoll_pwait2(epfd, evs, MAX_EVENTS, timeout_ns < 0 ? NULL : &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        have_pwait2 = false;
    }
    int ms = -1;
    if (timeout_ns >= 0) {
        int64_t up = (timeout_ns + 999999) / 1000000;
        ms = up > INT32_MAX ? INT32_MAX : (int)up;
    }
    return epoll_wait(epfd, evs, MAX_EVENTS, ms);
}

void tvl__loop_iterate(const bool *block_while)
{
    tvl__sched_admit();
    /* Run what is ready now; what becomes ready meanwhile waits a turn. */
    tvl__task *batch = ready_head;
    ready_head = ready_tail = NULL;
    while (batch != NULL) {
        tvl__task *t = batch;
        batch = t->next;
        t->next = NULL;
        t->queued = false;
        tvl__sched_run(t);
    }

    /* The batch may have ended the caller's wait (a task woke the main
     * context): then poll without blocking. */
    int64_t timeout = -1;
    if (ready_head != NULL || block_while == NULL || !*block_while || tvl__sched_admissible()) {
        timeout = 0;
    } else {
        int64_t next = tvl__timers_next();
        if (next != INT64_MAX) {
            int64_t now = tvl__now_ns();
            timeout = next > now ? next - now : 0;
        }
    }
    struct epoll_event evs[MAX_EVENTS];
    int n = poll_events(evs, timeout);
    bool socket_events = false;
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        if (fd == wakefd) {
            drain_posts();
        } else if (!drop_if_idle(fd)) {
            tvl__http_on_socket(fd, evs[i].events);
            socket_events = true;
        }
    }
    if (socket_events)
        tvl__http_after_events();
    if (tvl__timers_next() != INT64_MAX)
        tvl__timers_run(tvl__now_ns());
}
