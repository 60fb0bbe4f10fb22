/* The benchmark's command line: parsed into plain data, with no side
 * effects, so that it can be tested and fuzzed on its own. */
#ifndef TVL_BENCH_CLI_H
#define TVL_BENCH_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "patterns/job.h"

typedef struct tvl_cli {
    tvl_workload workload;
    double scale;           /* multiplies every delay (sleeps, sites) */
    bool ways[TVL_WAY_COUNT]; /* --pattern selection, in table order */
    size_t n;               /* 0: the demo's own count (4 sleeps, 6 sites, or the URLs given) */
    long delay_ms;          /* -1: the demo's delays */
    bool plain_http;
    unsigned threads;       /* 0: compensating pool */
    unsigned max_threads;   /* 0: default */
    unsigned connections;   /* 0: no limit */
    long timeout_ms;        /* 0: none */
    unsigned repeat;
    bool keep_connections;  /* one client session for every way */
    const char *url_file;
    const char *cacert;
    bool insecure;
    bool quiet;
    const char *export_json;
    const char *trace;
    bool help;
    bool version;
    const char **urls;      /* positional URLs, pointing into argv */
    size_t n_urls;
} tvl_cli;

/* Parses argv[1..argc). On success fills *cli and returns 0. On a usage
 * error returns TVL_E_USAGE with a one-line reason in err (no newline).
 * cli->urls is allocated; free it with tvl_cli_free(). */
int tvl_cli_parse(int argc, char **argv, tvl_cli *cli, char *err, size_t errlen);
void tvl_cli_free(tvl_cli *cli);

/* True when url is an absolute http:// or https:// URL with a host and no
 * spaces or control characters. */
bool tvl_url_is_valid(const char *url);

/* The --help text. */
extern const char tvl_cli_usage[];

#endif
