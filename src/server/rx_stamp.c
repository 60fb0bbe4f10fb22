/* Receive stamps on the server's clock (see rx_stamp.h). */
#include "server/rx_stamp.h"

#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

static int64_t ns_of(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000 + (int64_t)t->tv_nsec;
}

bool tvl__rx_stamp_enable(int listen_fd)
{
    int flags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
    return setsockopt(listen_fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags) == 0;
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC, the real clock read between two
 * monotonic reads. The thread can be preempted between two reads (on a busy
 * machine, for milliseconds), and a difference taken across that gap would
 * look like a wall-clock step of its length: so the narrowest of a few
 * brackets is kept, and its error is at most half its width. Sets *width
 * and *mono (the later monotonic read). */
static int64_t read_offset(int64_t *width, uint64_t *mono)
{
    int64_t best = 0;
    *width = INT64_MAX;
    for (int i = 0; i < 4 && *width > TVL__RX_BRACKET_NS; i++) {
        struct timespec m0, real, m1;
        clock_gettime(CLOCK_MONOTONIC, &m0);
        clock_gettime(CLOCK_REALTIME, &real);
        clock_gettime(CLOCK_MONOTONIC, &m1);
        int64_t w = ns_of(&m1) - ns_of(&m0);
        if (w < *width) {
            *width = w;
            best = ns_of(&real) - (ns_of(&m0) + w / 2);
            *mono = (uint64_t)ns_of(&m1);
        }
    }
    return best;
}

/* Measures the clocks' difference; notes a step if it moved. A reading too
 * wide to tell a step from a preemption (every try interrupted) changes
 * nothing but marks the clock unsure until the next good reading: stamps
 * are not used meanwhile (a request is then timed from its read, late
 * rather than early). Returns the monotonic reading. */
static uint64_t watch(tvl__rx_clock *k)
{
    int64_t width;
    uint64_t mono = 0;
    int64_t offset = read_offset(&width, &mono);
    k->unsure = width > TVL__RX_STEP_NS / 2;
    if (k->unsure)
        return mono;
    int64_t moved = offset - k->offset;
    if (k->known && (moved > TVL__RX_STEP_NS || moved < -TVL__RX_STEP_NS))
        k->stepped_at = mono;
    k->offset = offset;
    k->known = true;
    return mono;
}

void tvl__rx_clock_watch(tvl__rx_clock *k)
{
    (void)watch(k);
}

ssize_t tvl__rx_recv(tvl__rx_clock *k, int fd, void *buf, size_t cap, int flags,
                     uint64_t *arrived)
{
    union {
        char buf[CMSG_SPACE(sizeof(struct scm_timestamping))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {buf, cap};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                       .msg_controllen = sizeof ctl.buf};
    *arrived = 0;
    ssize_t n = recvmsg(fd, &m, flags | MSG_DONTWAIT);
    if (n <= 0)
        return n;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm != NULL; cm = CMSG_NXTHDR(&m, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SO_TIMESTAMPING ||
            cm->cmsg_len < CMSG_LEN(sizeof(struct scm_timestamping)))
            continue;
        struct scm_timestamping st;
        memcpy(&st, CMSG_DATA(cm), sizeof st);
        if (st.ts[0].tv_sec <= 0)
            break;
        /* The difference now; a step since the last pass shows here too. */
        uint64_t now = watch(k);
        if (k->unsure || !k->known)
            break; /* no difference to trust this pass */
        int64_t at = ns_of(&st.ts[0]) - k->offset;
        if (at <= 0 || (uint64_t)at < k->stepped_at)
            break; /* stamped before a step: not comparable with now */
        *arrived = (uint64_t)at < now ? (uint64_t)at : now;
        break;
    }
    return n;
}
