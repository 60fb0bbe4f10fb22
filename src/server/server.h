/* Internal: the delay server's event loop, used by the delay-server program
 * (with a signalfd as its stop descriptor) and by tvl_delay_server_start()
 * (with an eventfd). */
#ifndef TVL_SERVER_SERVER_H
#define TVL_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tvl__ds_config {
    const char *bind_addr;    /* loopback only; NULL: 127.0.0.1 */
    unsigned port;            /* 0: any free port */
    bool plain_http;
    double scale;             /* >= 0; multiplies every delay */
    unsigned idle_timeout_ms; /* 0: 60000 */
    unsigned spin_us;         /* wake this early before a deadline and poll */
} tvl__ds_config;

typedef struct tvl__ds_stats {
    uint64_t requests;    /* request heads answered or refused */
    uint64_t connections; /* accepted */
    uint32_t active, max_active;
    uint64_t cpu_us;      /* user + system CPU of the loop thread */
    uint64_t delayed;     /* responses that waited on a delay */
    uint64_t late_sum_ns, late_max_ns; /* how late their timers fired */
    uint64_t tls_handshakes; /* TLS handshakes completed */
    uint64_t tls_resumed;    /* of which resumed a client's earlier session */
    uint64_t timer_arms;     /* timerfd_settime calls (arming and disarming) */
    uint64_t stamped;        /* requests whose delay ran from the kernel's receive stamp */
} tvl__ds_stats;

typedef struct tvl__ds tvl__ds;

/* Binds and listens, makes the TLS identity (unless plain), and prepares
 * the loop; serves nothing until tvl__ds_run(). Returns 0, -EINVAL (a bad
 * or non-loopback address, a bad scale), -EADDRINUSE, -ENOMEM, -EIO (TLS)
 * or another negated errno, with one line in err. */
int tvl__ds_create(const tvl__ds_config *cfg, tvl__ds **out, char *err, size_t errlen);

/* Serves until stop_fd becomes readable (it is not read). Returns 0, or a
 * negated errno if epoll itself failed. Call from one thread at a time. */
int tvl__ds_run(tvl__ds *s, int stop_fd);

const char *tvl__ds_url(const tvl__ds *s);
const char *tvl__ds_ca_file(const tvl__ds *s); /* NULL when plain */
unsigned tvl__ds_port(const tvl__ds *s);
void tvl__ds_get_stats(const tvl__ds *s, tvl__ds_stats *st);

/* Closes every connection, removes the temporary files, frees s.
 * destroy(NULL) does nothing. */
void tvl__ds_destroy(tvl__ds *s);

/* Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the new soft
 * limit (or the old one if raising failed). */
unsigned long tvl__raise_nofile(void);

#endif
