/* Internal: when received bytes reached the kernel, on the server's clock.
 *
 * A socket with software receive stamps (SO_TIMESTAMPING, set on the
 * listener and inherited by accepted sockets) carries, for every segment,
 * the wall-clock instant it was received. A recvmsg reports the stamp of
 * the LAST segment it copies (or, with MSG_PEEK, looks at): the newest of
 * the bytes it read. The server times a delay from that instant, not from
 * when its one thread got to the bytes.
 *
 * The stamps are on CLOCK_REALTIME and the server's timers on
 * CLOCK_MONOTONIC. The difference of the two clocks is watched once per
 * loop pass; a step of the wall clock (settimeofday, a jump by NTP) makes
 * every stamp taken before it unusable, and those bytes count as arrived
 * "now", as without stamps. Slewing (at most 0.5 ms a second) is below
 * what matters here. */
#ifndef TVL_SERVER_RX_STAMP_H
#define TVL_SERVER_RX_STAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A change of the clocks' difference larger than this is a step. */
#define TVL__RX_STEP_NS (100 * INT64_C(1000))
/* Reading the difference is retried (up to four times) while the two
 * monotonic reads around the real one are further apart than this. */
#define TVL__RX_BRACKET_NS (10 * INT64_C(1000))

typedef struct tvl__rx_clock {
    int64_t offset;      /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns, when last watched */
    uint64_t stepped_at; /* CLOCK_MONOTONIC ns of the last step seen; 0: none */
    bool known;          /* offset has been measured */
    bool unsure;         /* the latest reading was too wide to trust */
} tvl__rx_clock;

/* Asks the kernel to stamp what listen_fd's accepted sockets receive.
 * False if it cannot (then no stamps are ever found). */
bool tvl__rx_stamp_enable(int listen_fd);

/* Measures the clocks' difference and notes a step since the last call.
 * Call once per loop pass (three vDSO clock reads, more if preempted). */
void tvl__rx_clock_watch(tvl__rx_clock *k);

/* recvmsg(fd, buf, cap, flags | MSG_DONTWAIT) that also returns, in
 * *arrived, when the newest byte it read (or peeked at) reached the kernel,
 * on CLOCK_MONOTONIC; 0 when that is not known (no stamp, a stamp from
 * before a clock step, nothing read). Never later than now. Returns what
 * recvmsg returns (errno set on -1). */
ssize_t tvl__rx_recv(tvl__rx_clock *k, int fd, void *buf, size_t cap, int flags,
                     uint64_t *arrived);

#endif
