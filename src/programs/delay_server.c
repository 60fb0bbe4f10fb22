/* delay-server: the loopback HTTPS delay server as a program; prints one
 * READY line on stdout and serves until SIGTERM or SIGINT. */
#include "server/server.h"
#include "tvl/delay_server.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static const char usage[] =
    "usage: delay-server [OPTIONS]\n"
    "A loopback HTTP(S) server that answers after a delay, for benchmarks and tests.\n"
    "\n"
    "Options:\n"
    "  --bind ADDR           loopback address to listen on (default 127.0.0.1;\n"
    "                        any 127.0.0.0/8 address, ::1 or localhost; others refused)\n"
    "  --port N              TCP port (default 0: a free port chosen by the kernel)\n"
    "  --plain-http          serve HTTP without TLS\n"
    "  --scale F             multiply every delay by F, 0..1000 (default 1)\n"
    "  --idle-timeout-ms N   close connections idle (or not reading) this long (default 60000)\n"
    "  --spin-us N           wake N us before each deadline and poll until it: delays\n"
    "                        accurate to a few us on a busy machine, for CPU (default 0)\n"
    "  --stats               at exit, print requests and CPU time per request to stderr\n"
    "  --help                print this and exit\n"
    "  --version             print the version and exit\n"
    "\n"
    "On start it prints one line on stdout and flushes it:\n"
    "  READY url=https://127.0.0.1:PORT ca=/tmp/tvl-ds-XXXXXX/ca.pem pid=PID\n"
    "(ca=- with --plain-http). The CA file lives in a private directory that is\n"
    "removed at exit; point the client at it and keep verification on.\n"
    "\n"
    "Endpoints (GET or HEAD; a path is a sequence of KEY/VALUE pairs):\n"
    "  /delay/MS             answer after MS milliseconds (decimals allowed), empty body\n"
    "  /bytes/N              a generated body of N bytes (at most 2^30)\n"
    "  /delay/MS/bytes/N     both (pairs combine in any order)\n"
    "  /status/CODE          answer with status CODE (200..599)\n"
    "  /site/NAME            one of the six emulated sites, with its latency and size:\n"
    "                        blog 310 ms 96000 B, securityheaders 240 ms 38000 B,\n"
    "                        hstspreload 215 ms 17000 B, isc2 430 ms 245000 B,\n"
    "                        sans 370 ms 190000 B, scotthelme 95 ms 72000 B\n"
    "  /fault/close          close the connection instead of answering\n"
    "  /fault/reset          send the head and half the body, then reset (RST)\n"
    "                        (body 65536 B unless /bytes/N is given)\n"
    "  /fault/short          announce N bytes (default 4096), send half, then close\n"
    "  /fault/stall          never answer; wait until the client gives up\n"
    "  /fault/trickle        send the body (default 64 B) CHUNK bytes every EVERY ms\n"
    "                        (?chunk=1&every_ms=100 by default)\n"
    "  /, /health            200 \"ok\"\n"
    "  /stats                the server's counters and CPU time\n"
    "  Query overrides: delay_ms=MS bytes=N status=CODE scale=F chunk=N every_ms=MS\n"
    "Every response with a body has Content-Length and X-Body-Checksum (8 hex digits\n"
    "of the body's CRC-32, as zlib's crc32); X-Delay-Us gives the delay applied.\n"
    "Malformed requests get 400, oversized heads 431, methods other than GET and\n"
    "HEAD and request bodies 501, HTTP versions other than 1.x 505; then the\n"
    "connection is closed.\n";

static int bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "delay-server: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (try --help)\n");
    return 2;
}

static int parse_unsigned(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    enum { OPT_BIND = 1, OPT_PORT, OPT_PLAIN, OPT_SCALE, OPT_IDLE, OPT_SPIN, OPT_STATS, OPT_HELP,
           OPT_VERSION };
    static const struct option longopts[] = {
        {"bind", required_argument, NULL, OPT_BIND},
        {"port", required_argument, NULL, OPT_PORT},
        {"plain-http", no_argument, NULL, OPT_PLAIN},
        {"scale", required_argument, NULL, OPT_SCALE},
        {"idle-timeout-ms", required_argument, NULL, OPT_IDLE},
        {"spin-us", required_argument, NULL, OPT_SPIN},
        {"stats", no_argument, NULL, OPT_STATS},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    tvl__ds_config cfg = {.scale = 1.0};
    bool stats = false;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        unsigned long v;
        char *end;
        switch (opt) {
        case OPT_BIND:
            cfg.bind_addr = optarg;
            break;
        case OPT_PORT:
            if (parse_unsigned(optarg, 65535, &v) != 0)
                return bad_usage("bad --port '%s': give 0..65535", optarg);
            cfg.port = (unsigned)v;
            break;
        case OPT_PLAIN:
            cfg.plain_http = true;
            break;
        case OPT_SCALE:
            errno = 0;
            cfg.scale = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !(cfg.scale >= 0 && cfg.scale <= 1000))
                return bad_usage("bad --scale '%s': give a number from 0 to 1000", optarg);
            break;
        case OPT_IDLE:
            if (parse_unsigned(optarg, 86400000, &v) != 0 || v == 0)
                return bad_usage("bad --idle-timeout-ms '%s': give 1..86400000", optarg);
            cfg.idle_timeout_ms = (unsigned)v;
            break;
        case OPT_SPIN:
            if (parse_unsigned(optarg, 100000, &v) != 0)
                return bad_usage("bad --spin-us '%s': give 0..100000", optarg);
            cfg.spin_us = (unsigned)v;
            break;
        case OPT_STATS:
            stats = true;
            break;
        case OPT_HELP:
            fputs(usage, stdout);
            return 0;
        case OPT_VERSION:
            printf("delay-server (tvl) %s\n", TVL_DELAY_SERVER_VERSION);
            return 0;
        default:
            if (opt == ':')
                return bad_usage("option '%s' needs a value", argv[optind - 1]);
            return bad_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad_usage("unexpected argument '%s'", argv[optind]);

    /* Signals arrive through a signalfd in the loop; SIGPIPE is ignored so
     * that a write to a vanished client is an EPIPE, not a death. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
        perror("delay-server: sigprocmask");
        return 1;
    }
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        perror("delay-server: signalfd");
        return 1;
    }
    tvl__raise_nofile();

    char err[512];
    tvl__ds *s;
    int rc = tvl__ds_create(&cfg, &s, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "delay-server: %s\n", err);
        close(sfd);
        return 1;
    }
    const char *ca = tvl__ds_ca_file(s);
    printf("READY url=%s ca=%s pid=%ld\n", tvl__ds_url(s), ca ? ca : "-", (long)getpid());
    if (fflush(stdout) != 0) {
        tvl__ds_destroy(s);
        close(sfd);
        return 1;
    }
    rc = tvl__ds_run(s, sfd);
    if (rc != 0)
        fprintf(stderr, "delay-server: event loop: %s\n", strerror(-rc));
    if (stats) {
        tvl__ds_stats st;
        tvl__ds_get_stats(s, &st);
        fprintf(stderr,
                "delay-server stats: requests=%llu connections=%llu max_active=%u cpu_us=%llu "
                "cpu_us_per_request=%.2f tls_handshakes=%llu tls_resumed=%llu timer_arms=%llu\n",
                (unsigned long long)st.requests, (unsigned long long)st.connections,
                st.max_active, (unsigned long long)st.cpu_us,
                st.requests ? (double)st.cpu_us / (double)st.requests : 0.0,
                (unsigned long long)st.tls_handshakes, (unsigned long long)st.tls_resumed,
                (unsigned long long)st.timer_arms);
    }
    tvl__ds_destroy(s);
    close(sfd);
    return rc == 0 ? 0 : 1;
}
