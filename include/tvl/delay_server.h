/* The loopback HTTPS delay server: started as a child process (or a thread)
 * by the benchmark and the tests, it answers after a chosen delay with a
 * deterministic, checksummed body, emulates the six sites of the original
 * HTTP demo, and injects faults on request.
 *
 * The full description of endpoints, options and the READY line is in
 * docs/delay-server.md; the parts a client must agree on (the checksum, the
 * body bytes, the six sites) are specified here, exactly.
 *
 * Threads: tvl_body_checksum(), tvl_body_byte(), tvl_delay_site_find() may
 * be called from any thread. A tvl_delay_server handle belongs to the thread
 * that created it: call spawn/start and stop from the same thread, and for a
 * child process, from a thread that lives as long as the server should
 * (PR_SET_PDEATHSIG fires when the *thread* that forked exits).
 */
#ifndef TVL_DELAY_SERVER_H
#define TVL_DELAY_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the delay server; equal to the project's VERSION file (a
 * test checks). */
#define TVL_DELAY_SERVER_VERSION "0.1.0"

/* --- body checksum -----------------------------------------------------
 *
 * Every response that has a body carries `Content-Length` and
 * `X-Body-Checksum: H`, where H is exactly 8 lowercase hex digits of the
 * CRC-32 of the body bytes: the CRC of zlib, PNG and Ethernet (reflected,
 * polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF), which is
 * Python's zlib.crc32(body). "123456789" gives cbf43926.
 *
 * The checksum of an empty body is 0 (TVL_BODY_CHECKSUM_INIT). */
#define TVL_BODY_CHECKSUM_INIT UINT32_C(0)
#define TVL_BODY_CHECKSUM_HEADER "X-Body-Checksum"

/* Continues the CRC-32 `state` over n bytes at p and returns it; start
 * with TVL_BODY_CHECKSUM_INIT. Feeding a body in pieces gives the same
 * result as feeding it whole (as zlib's crc32(state, p, n)). p may be NULL
 * when n is 0. */
uint32_t tvl_body_checksum(const void *p, size_t n, uint32_t state);

/* Byte i of every generated body (/bytes/N, the sites, the faults): a
 * printable pattern with period 4096,
 *
 *     i % 64 == 63 ? '\n' : A[(i % 64 + (i / 64) % 64) % 64]
 *
 * where A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".
 * Clients need not generate bodies; the checksum header is what they check. */
unsigned char tvl_body_byte(uint64_t i);

/* --- the six emulated sites --------------------------------------------
 *
 * GET /site/NAME waits `delay_ms` (times the server's --scale) and then
 * sends a generated body of `bytes` bytes. The values are chosen to look
 * like the real home pages seen from Europe over a good link:
 *
 *     name             delay_ms  bytes    stands for
 *     blog                  310   96000   the tutorial author's blog
 *     securityheaders       240   38000   https://securityheaders.com/
 *     hstspreload           215   17000   https://hstspreload.org/
 *     isc2                  430  245000   https://www.isc2.org/
 *     sans                  370  190000   https://www.sans.org/
 *     scotthelme             95   72000   https://scotthelme.co.uk/
 */
typedef struct tvl_delay_site {
    const char *name;      /* path segment after /site/ */
    const char *original;  /* the page it stands for */
    unsigned delay_ms;     /* before --scale */
    size_t bytes;          /* body length */
} tvl_delay_site;

#define TVL_DELAY_SITE_COUNT 6
extern const tvl_delay_site tvl_delay_sites[TVL_DELAY_SITE_COUNT];

/* The site named `name`, or NULL. */
const tvl_delay_site *tvl_delay_site_find(const char *name);

/* --- running a server --------------------------------------------------- */

typedef struct tvl_delay_server tvl_delay_server;

typedef struct tvl_delay_server_options {
    const char *bind_addr;   /* a loopback address; NULL: "127.0.0.1" */
    unsigned port;           /* 0: the kernel picks a free port */
    bool plain_http;         /* true: HTTP without TLS */
    double scale;            /* multiplies every delay; 0: 1.0 */
    unsigned idle_timeout_ms;/* close connections idle this long; 0: 60000 */
    unsigned spin_us;        /* wake this long before each deadline and poll
                                until it (precision on a loaded machine, at
                                the cost of CPU); 0: sleep until it */
    bool stats;              /* child: print rusage per request to stderr at exit */
    const char *program;     /* spawn only: the delay-server binary; NULL:
                                $TVL_DELAY_SERVER, else "delay-server" in the
                                directory of /proc/self/exe */
    unsigned ready_timeout_ms; /* spawn only: wait this long for READY; 0: 20000 */
} tvl_delay_server_options;

/* Fills *o with the defaults (all zero: TLS on 127.0.0.1, a free port). */
void tvl_delay_server_options_init(tvl_delay_server_options *o);

/* Starts the server as a child process (fork + exec of the delay-server
 * binary) and waits for its READY line. The child gets SIGTERM if the
 * calling thread dies. o may be NULL for the defaults. On success stores the
 * handle in *out and returns 0. Fails with -EINVAL (bad options), -ENOENT
 * (no binary), -ETIMEDOUT (no READY line in time), -EPROTO (the child exited
 * or printed something else), -ENOMEM, or a negated errno of fork/pipe; the
 * child is then killed and reaped. */
int tvl_delay_server_spawn(const tvl_delay_server_options *o, tvl_delay_server **out);

/* Starts the server on a thread of the calling process (for tests). All
 * signals are blocked on that thread. Same results as spawn, without the
 * child-process ones; `program`, `stats` and `ready_timeout_ms` are ignored. */
int tvl_delay_server_start(const tvl_delay_server_options *o, tvl_delay_server **out);

/* The base URL without a trailing slash, "https://127.0.0.1:PORT" (or
 * "http://..." or "https://[::1]:PORT"). Owned by the handle. */
const char *tvl_delay_server_url(const tvl_delay_server *s);

/* The PEM file of the CA that signed the server certificate, to give to the
 * client (CURLOPT_CAINFO); NULL in plain HTTP mode. Owned by the handle; the
 * file is removed by tvl_delay_server_stop(). */
const char *tvl_delay_server_ca_file(const tvl_delay_server *s);

/* The TCP port the server listens on. */
unsigned tvl_delay_server_port(const tvl_delay_server *s);

/* The server's process id: the child's, or getpid() for a thread server. */
pid_t tvl_delay_server_pid(const tvl_delay_server *s);

/* Stops the server (SIGTERM to a child, a wake-up to a thread), waits for
 * it, removes its temporary files and frees the handle. Returns 0 if the
 * server exited cleanly, -EPROTO if the child exited with another status or
 * a signal (e.g. a sanitizer report), or a negated errno of waitpid. If the
 * child is still alive after 10 s it is killed with SIGKILL (-ETIMEDOUT).
 * stop(NULL) does nothing and returns 0. */
int tvl_delay_server_stop(tvl_delay_server *s);

#ifdef __cplusplus
}
#endif

#endif
