/* One HTTP GET, written once for both runtimes: set up the easy handle,
 * count and check the body, map libcurl's outcome to a tvl error; and what
 * every GET shares: the connection slots (with their stall valve), the
 * receive-buffer budget, the CA settings and new sessions. */
#include "rt/http.h"
#include "core/crc32.h"
#include "rt/backend.h"
#include "rt/ca_store.h"
#include "rt/tls_ctx.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static tvl_sem *connection_slots; /* NULL: no connection limit */

/* A wait for a connection slot this long means the slots may be stuck
 * (see tvl__slots_stalled in backend.h). Far longer than a slot is held in
 * any healthy run we make, short enough that a task queued behind stalled
 * transfers starts within about a second. */
#define SLOT_PATIENCE_NS ((int64_t)1000 * 1000000)

/* Relaxed: a count read as a hint by the loop's admission, which runs on
 * the same thread as every task of its runtime; it orders nothing. */
static atomic_uint slot_waiters;

bool tvl__http_connection_limit(void)
{
    return connection_slots != NULL;
}

unsigned tvl__http_slot_waiters(void)
{
    return atomic_load_explicit(&slot_waiters, memory_order_relaxed);
}

/* Transfers between setup and the end of their perform, across the
 * process. Relaxed: it only sizes receive buffers (below). */
static atomic_uint transfers_in_flight;

/* curl's receive buffer (16 KiB unless told otherwise) belongs to the easy
 * handle. A few transfers want it big: on a 1 MB body a 1 KiB buffer costs
 * 2.7 times the CPU of 16 KiB, in recv calls. Thousands in flight want it
 * small: 5,000 buffers of 16 KiB were 15 MiB of the loop build's 106 MiB
 * (and all 80 MiB of them once the heap is prefaulted, rt/prefault.h). So
 * the transfers in flight share RECV_BUFFER_BUDGET: each new one gets its
 * share, between curl's minimum and its default. A burst of 5,000 ends up
 * with 64 buffers of 16 KiB, a thousand between, the rest of 1 KiB: about
 * 7 MiB in all. */
#define RECV_BUFFER_BUDGET (1L << 20)
#define RECV_BUFFER_MIN 1024L
#define RECV_BUFFER_MAX 16384L

int tvl_http_new_session(void)
{
    if (atomic_load_explicit(&transfers_in_flight, memory_order_relaxed) > 0)
        return -EBUSY;
    return tvl__easy_forget_connections();
}

static long recv_buffer_size(unsigned in_flight)
{
    long share = RECV_BUFFER_BUDGET / (long)(in_flight ? in_flight : 1);
    if (share >= RECV_BUFFER_MAX)
        return RECV_BUFFER_MAX;
    return share <= RECV_BUFFER_MIN ? RECV_BUFFER_MIN : share & ~(RECV_BUFFER_MIN - 1);
}
static const tvl_rt_options *http_options;

int tvl__http_init(const tvl_rt_options *opts)
{
    if (tvl__curl_global_init() != 0 || tvl__ca_store_init(opts->cacert) != 0)
        return -ENOMEM;
    http_options = opts;
    connection_slots = NULL;
    if (opts->connections > 0)
        return tvl_sem_create(opts->connections, &connection_slots);
    return 0;
}

void tvl__http_shutdown(void)
{
    tvl__ca_store_shutdown();
    tvl_sem_destroy(connection_slots);
    connection_slots = NULL;
    http_options = NULL;
}

typedef struct transfer {
    tvl_http_result *res;
    uint32_t checksum; /* CRC-32, what the delay server sends as X-Body-Checksum */
    bool has_expected;
    uint64_t expected; /* as parsed: a value beyond 32 bits never matches */
    char errbuf[CURL_ERROR_SIZE];
} transfer;

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    transfer *t = userp;
    size_t len = size * nmemb;
    t->res->bytes += len;
    t->checksum = tvl__crc32(t->checksum, data, len);
    return len;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *userp)
{
    transfer *t = userp;
    size_t len = size * nitems;
    static const char name[] = "x-body-checksum:";
    if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* The status line: the answer has begun (libcurl hands it over as
         * soon as the first read has it). A new response after a redirect
         * also forgets the previous one's body. */
        if (t->res->first_byte_s == 0)
            t->res->first_byte_s = tvl_now();
        t->has_expected = false;
        t->res->bytes = 0;
        t->checksum = 0;
    } else if (len > sizeof name - 1 && strncasecmp(line, name, sizeof name - 1) == 0) {
        char value[32];
        size_t vlen = len - (sizeof name - 1);
        if (vlen >= sizeof value)
            vlen = sizeof value - 1;
        memcpy(value, line + sizeof name - 1, vlen);
        value[vlen] = '\0';
        char *end;
        const char *p = value;
        while (isspace((unsigned char)*p))
            p++;
        unsigned long long v = strtoull(p, &end, 16);
        if (end != p) {
            t->has_expected = true;
            t->expected = v;
        }
    }
    return len;
}

/* The progress callback is libcurl's only way to stop a transfer from
 * inside; the backends also interrupt a blocked transfer at once, this is
 * the backstop that turns a cancel request into CURLE_ABORTED_BY_CALLBACK. */
static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    tvl_future *self = clientp;
    return self != NULL && tvl_future_cancel_requested(self);
}

static int fail(tvl_http_result *res, int err, const char *fmt, const char *detail)
{
    res->error = err;
    snprintf(res->message, sizeof res->message, fmt, detail);
    return err;
}

/* Maps libcurl's result to a tvl code and a one-line reason. */
static int map_curl_error(transfer *t, CURL *easy, CURLcode rc)
{
    tvl_http_result *res = t->res;
    const char *detail = t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc);
    long os_errno = 0;
    curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return fail(res, TVL_E_RESOLVE, "could not resolve host: %.160s", detail);
    case CURLE_COULDNT_CONNECT:
        return fail(res, os_errno > 0 ? -(int)os_errno : -ECONNREFUSED, "could not connect: %.160s",
                    detail);
    case CURLE_OPERATION_TIMEDOUT:
        return fail(res, -ETIMEDOUT, "timed out: %.160s", detail);
    case CURLE_ABORTED_BY_CALLBACK:
        return fail(res, -ECANCELED, "%s", "cancelled");
    case CURLE_SSL_CACERT_BADFILE:
        if (tvl__ca_store_file() != NULL) /* our store (rt/ca_store.c) */
            return fail(res, TVL_E_TLS, "TLS: no CA certificate could be read from %.150s",
                        tvl__ca_store_file());
        return fail(res, TVL_E_TLS, "TLS: %.160s", detail);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
        return fail(res, TVL_E_TLS, "TLS: %.160s", detail);
    case CURLE_PARTIAL_FILE:
        return fail(res, TVL_E_SHORT_BODY, "short body: %.160s", detail);
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
        return fail(res, os_errno > 0 ? -(int)os_errno : -ECONNRESET, "connection lost: %.160s",
                    detail);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return fail(res, TVL_E_URL, "bad URL: %.160s", detail);
    case CURLE_OUT_OF_MEMORY:
        return fail(res, -ENOMEM, "%.160s", detail);
    default:
        return fail(res, TVL_E_TRANSFER, "transfer failed: %.160s", detail);
    }
}

/* When the request went out: libcurl calls this once the connection is
 * ready (connected, TLS done, or reused) and just before it sends the
 * request, again for each request after a redirect, so the phases are the
 * last request's. Both phases are read on our clock at the moment they
 * happen. libcurl's own timers (CURLINFO_PRETRANSFER_TIME and
 * STARTTRANSFER_TIME) count from when the multi handle first runs the
 * transfer, not from when it was added: in the loop build a burst of
 * thousands waits there for up to 0.2 s, and phases anchored at the add
 * came out that much early. */
static int on_prereq(void *userp, char *primary_ip, char *local_ip, int primary_port,
                     int local_port)
{
    (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
    transfer *t = userp;
    t->res->sent_s = tvl_now();
    t->res->first_byte_s = 0;
    return CURL_PREREQFUNC_OK;
}

static void setup(CURL *easy, const char *url, transfer *t, unsigned in_flight)
{
    const tvl_rt_options *o = http_options;
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, recv_buffer_size(in_flight));
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L); /* we are threaded */
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(easy, CURLOPT_PREREQDATA, t);
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, tvl_current());
    /* Like aiohttp: HTTP/1.1, redirects followed, a body read in full. */
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "tvl/" TVL_VERSION_STRING);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    /* No proxy, whatever http_proxy, https_proxy or ALL_PROXY say: aiohttp's
     * ClientSession ignores them unless told to trust the environment, and
     * libcurl would otherwise send even the loopback delay server's
     * requests to a proxy that cannot reach it. */
    curl_easy_setopt(easy, CURLOPT_PROXY, "");
    if (o != NULL) {
        if (o->timeout_ms > 0)
            curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, o->timeout_ms);
        /* The --cacert file or the system's, unless --insecure. */
        tvl__tls_ctx_apply(easy, !o->insecure);
        if (o->insecure) {
            curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
}

int tvl_http_get(const char *url, tvl_http_result *res)
{
    memset(res, 0, sizeof *res);
    res->thread = tvl_rt_thread_id();
    res->fiber = tvl_rt_fiber_id();
    res->start_s = tvl_now();
    transfer t = {.res = res, .checksum = 0};

    if (connection_slots != NULL) {
        atomic_fetch_add_explicit(&slot_waiters, 1, memory_order_relaxed);
        int rc = tvl__sem_acquire_until(connection_slots, tvl__deadline(SLOT_PATIENCE_NS));
        if (rc == -ETIMEDOUT) {
            tvl__slots_stalled();
            rc = tvl_sem_acquire(connection_slots);
        }
        atomic_fetch_sub_explicit(&slot_waiters, 1, memory_order_relaxed);
        if (rc != 0) {
            res->end_s = tvl_now();
            return fail(res, -ECANCELED, "%s", "cancelled while waiting for a connection");
        }
    }
    CURL *easy = tvl__easy_acquire();
    if (easy == NULL) {
        if (connection_slots != NULL)
            tvl_sem_release(connection_slots);
        res->end_s = tvl_now();
        return fail(res, -ENOMEM, "%s", "out of memory");
    }
    curl_easy_reset(easy);
    unsigned in_flight =
        atomic_fetch_add_explicit(&transfers_in_flight, 1, memory_order_relaxed) + 1;
    setup(easy, url, &t, in_flight);
    CURLcode rc = tvl__easy_perform(easy);
    atomic_fetch_sub_explicit(&transfers_in_flight, 1, memory_order_relaxed);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &res->status);
    if (rc != CURLE_OK) {
        map_curl_error(&t, easy, rc);
    } else if (res->status >= 400) {
        res->error = TVL_E_HTTP_STATUS;
        snprintf(res->message, sizeof res->message, "HTTP status %ld", res->status);
    } else if (t.has_expected && t.expected != t.checksum) {
        res->error = TVL_E_CHECKSUM;
        snprintf(res->message, sizeof res->message,
                 "body checksum %08" PRIx32 ", server sent %08" PRIx64, t.checksum, t.expected);
    } else {
        res->checksum_verified = t.has_expected;
    }
    /* Our handles must not keep pointers into this frame. */
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
    tvl__easy_release(easy);
    if (connection_slots != NULL)
        tvl_sem_release(connection_slots);
    res->end_s = tvl_now();
    return res->error;
}
