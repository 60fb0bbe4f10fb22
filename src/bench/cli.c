/* Parsing the benchmark's command line. */
#include "bench/cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char tvl_cli_usage[] =
    "Usage: bench-threads|bench-loop [OPTIONS] [URL...]\n"
    "\n"
    "Runs the same job seven ways (async iterator, sequential awaits, gather,\n"
    "wait, as_completed, a list of tasks, TaskGroup) and prints how long each\n"
    "way took. With no URL, the job is the HTTP demo against an embedded\n"
    "loopback HTTPS delay server that emulates the six sites of the original.\n"
    "\n"
    "Workload:\n"
    "  --workload http|sleep|cpu\n"
    "                          the HTTP demo (default), the sleep demo (four\n"
    "                          tasks sleeping 0, 1, 2 and 3 s), or the same four\n"
    "                          tasks computing for that much CPU time instead\n"
    "  --scale F               multiply every delay: sleeps (or CPU time) and the\n"
    "                          emulated sites' latencies (default 1; real sites\n"
    "                          are not scaled)\n"
    "  --pattern LIST          comma-separated subset of iterator,sequential,\n"
    "                          gather,wait,as_completed,tasks,taskgroup\n"
    "  -n N                    N requests or tasks (cycling through the demo's\n"
    "                          sites, sleeps or the URLs given)\n"
    "  --delay-ms MS           the same delay for every generated request or sleep\n"
    "                          (or the same CPU time for every cpu task)\n"
    "  --plain-http            the embedded server speaks plain HTTP, not HTTPS\n"
    "  --url-file FILE         URLs to fetch, one a line; '#' starts a comment\n"
    "  URL...                  URLs to fetch instead of the embedded server\n"
    "\n"
    "Runtime:\n"
    "  --threads W             threads build: a fixed pool of W workers\n"
    "                          (default: the compensating pool)\n"
    "  --max-threads M         threads build: ceiling of the compensating pool\n"
    "  --connections C         at most C transfers in flight (default 0: no limit)\n"
    "  --timeout-ms MS         per-request timeout (default 0: none)\n"
    "  --repeat R              run each way R times (default 1)\n"
    "  --keep-connections      one client session for the whole run: each way\n"
    "                          reuses the connections of the ways before it\n"
    "                          (default: a new session per way, as the original)\n"
    "\n"
    "TLS:\n"
    "  --cacert FILE           trust the CAs in FILE (PEM) instead of the system's\n"
    "  --insecure              do not verify certificates (prints a warning)\n"
    "  Requests go direct: http_proxy, https_proxy and ALL_PROXY are ignored,\n"
    "  as by aiohttp's default session.\n"
    "\n"
    "Output:\n"
    "  --quiet                 no per-request lines, only each way's total\n"
    "  --export-json FILE      one JSON object per (way, repeat), with every request\n"
    "  --trace FILE            Chrome trace-event JSON (Perfetto, chrome://tracing)\n"
    "  --help, --version\n"
    "\n"
    "Exit status: 0 when every request succeeded, 1 when some failed (each is\n"
    "reported with its reason), 2 on a usage error.\n";

static int usage_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int usage_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return TVL_E_USAGE;
}

/* A whole-string integer in [lo, hi]. */
static bool parse_long(const char *s, long lo, long hi, long *out)
{
    if (s == NULL || *s == '\0')
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_scale(const char *s, double *out)
{
    if (s == NULL || *s == '\0')
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v) || v <= 0 || v > 1000)
        return false;
    *out = v;
    return true;
}

/* The options that take a whole number: their range and where it goes. */
typedef enum { AS_SIZE, AS_LONG, AS_UNSIGNED } number_kind;
typedef struct number_option {
    const char *name;
    long lo, hi;
    number_kind kind;
    size_t offset; /* in tvl_cli */
} number_option;

static const number_option number_options[] = {
    {"-n", 1, 1000000, AS_SIZE, offsetof(tvl_cli, n)},
    {"--delay-ms", 0, 3600000, AS_LONG, offsetof(tvl_cli, delay_ms)},
    {"--threads", 1, 100000, AS_UNSIGNED, offsetof(tvl_cli, threads)},
    {"--max-threads", 1, 100000, AS_UNSIGNED, offsetof(tvl_cli, max_threads)},
    {"--connections", 0, 100000, AS_UNSIGNED, offsetof(tvl_cli, connections)},
    {"--timeout-ms", 0, 86400000, AS_LONG, offsetof(tvl_cli, timeout_ms)},
    {"--repeat", 1, 1000, AS_UNSIGNED, offsetof(tvl_cli, repeat)},
};

static const number_option *find_number_option(const char *name)
{
    for (size_t i = 0; i < sizeof number_options / sizeof number_options[0]; i++)
        if (strcmp(number_options[i].name, name) == 0)
            return &number_options[i];
    return NULL;
}

/* v is within the option's range, which fits every field type. */
static void set_number(tvl_cli *cli, const number_option *o, long v)
{
    char *field = (char *)cli + o->offset;
    switch (o->kind) {
    case AS_SIZE:
        *(size_t *)(void *)field = (size_t)v;
        break;
    case AS_LONG:
        *(long *)(void *)field = v;
        break;
    case AS_UNSIGNED:
        *(unsigned *)(void *)field = (unsigned)v;
        break;
    }
}

static int parse_patterns(const char *list, bool *ways, char *err, size_t errlen)
{
    memset(ways, 0, TVL_WAY_COUNT * sizeof *ways);
    const char *p = list;
    bool any = false;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        bool found = false;
        for (size_t i = 0; i < TVL_WAY_COUNT; i++) {
            if (strlen(tvl_ways[i].name) == len && strncmp(tvl_ways[i].name, p, len) == 0) {
                ways[i] = found = any = true;
                break;
            }
        }
        if (!found)
            return usage_error(err, errlen,
                               "unknown pattern '%.*s' (choose from iterator,sequential,gather,"
                               "wait,as_completed,tasks,taskgroup)",
                               (int)(len > 64 ? 64 : len), p);
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return any ? 0 : usage_error(err, errlen, "--pattern needs at least one pattern");
}

bool tvl_url_is_valid(const char *url)
{
    const char *rest;
    if (strncmp(url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        rest = url + 8;
    else
        return false;
    size_t host = strcspn(rest, "/?#");
    if (host == 0 || rest[0] == ':' || rest[0] == '@')
        return false;
    for (const unsigned char *c = (const unsigned char *)url; *c; c++)
        if (*c <= 0x20 || *c == 0x7f)
            return false;
    return strlen(url) < 4096;
}

int tvl_cli_parse(int argc, char **argv, tvl_cli *cli, char *err, size_t errlen)
{
    memset(cli, 0, sizeof *cli);
    cli->workload = TVL_WORKLOAD_HTTP;
    cli->scale = 1.0;
    cli->delay_ms = -1;
    cli->repeat = 1;
    for (size_t i = 0; i < TVL_WAY_COUNT; i++)
        cli->ways[i] = true;
    cli->urls = calloc(argc > 0 ? (size_t)argc : 1, sizeof *cli->urls);
    if (cli->urls == NULL)
        return usage_error(err, errlen, "out of memory");

    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (!tvl_url_is_valid(arg)) {
                tvl_cli_free(cli);
                return usage_error(err, errlen,
                                   "malformed URL '%.200s' (expected http://HOST/... or "
                                   "https://HOST/...)",
                                   arg);
            }
            cli->urls[cli->n_urls++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        /* --name=value or --name value */
        char name[48];
        const char *value = NULL;
        const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nlen >= sizeof name) {
            tvl_cli_free(cli);
            return usage_error(err, errlen, "unknown option '%.60s' (see --help)", arg);
        }
        memcpy(name, arg, nlen);
        name[nlen] = '\0';
        if (eq)
            value = eq + 1;

        static const char *const flags[] = {"--plain-http", "--insecure", "--quiet", "--help",
                                            "-h", "--version", "--keep-connections"};
        bool is_flag = false;
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++)
            is_flag |= strcmp(name, flags[f]) == 0;
        if (is_flag && value != NULL) {
            tvl_cli_free(cli);
            return usage_error(err, errlen, "option %s takes no value", name);
        }
        if (!is_flag && value == NULL) {
            if (i + 1 >= argc) {
                tvl_cli_free(cli);
                return usage_error(err, errlen, "option %s needs a value", name);
            }
            value = argv[++i];
        }

        long v;
        int rc = 0;
        const number_option *num;
        if (strcmp(name, "--plain-http") == 0) {
            cli->plain_http = true;
        } else if (strcmp(name, "--insecure") == 0) {
            cli->insecure = true;
        } else if (strcmp(name, "--keep-connections") == 0) {
            cli->keep_connections = true;
        } else if (strcmp(name, "--quiet") == 0) {
            cli->quiet = true;
        } else if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
            cli->help = true;
        } else if (strcmp(name, "--version") == 0) {
            cli->version = true;
        } else if (strcmp(name, "--workload") == 0) {
            if (strcmp(value, "http") == 0)
                cli->workload = TVL_WORKLOAD_HTTP;
            else if (strcmp(value, "sleep") == 0)
                cli->workload = TVL_WORKLOAD_SLEEP;
            else if (strcmp(value, "cpu") == 0)
                cli->workload = TVL_WORKLOAD_CPU;
            else
                rc = usage_error(err, errlen,
                                 "--workload must be http, sleep or cpu, not '%.40s'", value);
        } else if (strcmp(name, "--scale") == 0) {
            if (!parse_scale(value, &cli->scale))
                rc = usage_error(err, errlen, "--scale needs a number in (0, 1000], not '%.40s'",
                                 value);
        } else if (strcmp(name, "--pattern") == 0) {
            rc = parse_patterns(value, cli->ways, err, errlen);
        } else if ((num = find_number_option(name)) != NULL) {
            if (parse_long(value, num->lo, num->hi, &v))
                set_number(cli, num, v);
            else
                rc = usage_error(err, errlen, "%s needs a whole number from %ld to %ld, not '%.40s'",
                                 num->name, num->lo, num->hi, value);
        } else if (strcmp(name, "--url-file") == 0) {
            cli->url_file = value;
        } else if (strcmp(name, "--cacert") == 0) {
            cli->cacert = value;
        } else if (strcmp(name, "--export-json") == 0) {
            cli->export_json = value;
        } else if (strcmp(name, "--trace") == 0) {
            cli->trace = value;
        } else {
            rc = usage_error(err, errlen, "unknown option '%.60s' (see --help)", name);
        }
        if (rc != 0) {
            tvl_cli_free(cli);
            return rc;
        }
    }
    if (cli->help || cli->version)
        return 0;
    if (cli->workload != TVL_WORKLOAD_HTTP && (cli->n_urls > 0 || cli->url_file != NULL)) {
        tvl_cli_free(cli);
        return usage_error(err, errlen, "the %s workload takes no URLs",
                           cli->workload == TVL_WORKLOAD_CPU ? "cpu" : "sleep");
    }
    if ((cli->n_urls > 0 || cli->url_file != NULL) && cli->plain_http) {
        tvl_cli_free(cli);
        return usage_error(err, errlen, "--plain-http is for the embedded server; give http:// URLs instead");
    }
    if ((cli->n_urls > 0 || cli->url_file != NULL) && cli->delay_ms >= 0) {
        tvl_cli_free(cli);
        return usage_error(err, errlen, "--delay-ms is for the embedded server or sleeps, not for URLs given");
    }
    return 0;
}

void tvl_cli_free(tvl_cli *cli)
{
    free(cli->urls);
    cli->urls = NULL;
    cli->n_urls = 0;
}
