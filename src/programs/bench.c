/* The benchmark: the seven ways over the sleep demo or the HTTP demo, on
 * whichever runtime this binary was linked with (bench-threads or
 * bench-loop; the source is the same). */
#include <errno.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/cli.h"
#include "bench/harness.h"
#include "bench/report.h"
#include "bench/urlfile.h"
#include "patterns/job.h"
#include "tvl/delay_server.h"
#include "tvl/rt.h"

static const char *program_name = "bench";

static void die_usage(const char *msg)
{
    fprintf(stderr, "%s: %s\n", program_name, msg);
    exit(2);
}

/* Every request holds a socket; let N go as far as the hard limit allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Transfers in flight that the open-file limit allows: each holds a socket
 * (the embedded server runs in another process, with its own limit). */
static unsigned transfer_budget(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 100000;
    return rl.rlim_cur > 256 ? (unsigned)(rl.rlim_cur - 128) : 64;
}

static void print_version(void)
{
    printf("%s (tvl %s, %s runtime)\n", program_name, TVL_VERSION_STRING, tvl_rt_backend());
    printf("%s\n", tvl_report_curl_version());
    printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
}

typedef struct target {
    tvl_url_list urls;         /* the URLs items cycle through */
    tvl_delay_server *server;  /* the embedded server, or NULL */
    const char *cacert;        /* what the client trusts */
} target;

static int build_urls(const tvl_cli *cli, target *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->cacert = cli->cacert;
    if (cli->cacert != NULL) {
        /* Checked once here: a CA file that cannot be read would fail
         * every TLS request, each with the same reason. */
        struct stat st;
        int e = stat(cli->cacert, &st) != 0      ? errno
                : S_ISDIR(st.st_mode)            ? EISDIR
                : access(cli->cacert, R_OK) != 0 ? errno
                                                 : 0;
        if (e != 0) {
            snprintf(err, errlen, "--cacert %.200s: %s", cli->cacert, strerror(e));
            return -e;
        }
    }
    if (cli->url_file != NULL) {
        int rc = tvl_url_list_read_file(cli->url_file, &t->urls, err, errlen);
        if (rc != 0)
            return rc;
    }
    char one[4200];
    /* Arguments were checked by the parser; this copies them. */
    for (size_t i = 0; i < cli->n_urls; i++) {
        size_t len = strlen(cli->urls[i]);
        int rc = tvl_url_list_parse(cli->urls[i], len, "argument", &t->urls, err, errlen);
        if (rc != 0)
            return rc;
    }
    if (t->urls.n > 0 || cli->workload != TVL_WORKLOAD_HTTP)
        return 0; /* the sleep and cpu demos need no server */

    /* No URL given: the embedded delay server, on a free loopback port. */
    tvl_delay_server_options so;
    tvl_delay_server_options_init(&so);
    so.plain_http = cli->plain_http;
    so.scale = cli->scale;
    /* The demo's six requests get delays precise to a fraction of a
     * millisecond: the server polls for the last 2 ms before a deadline
     * instead of trusting the scheduler to wake it (which, on a busy
     * 2-core machine, can be 4 ms late). Under load (-n, --delay-ms) that
     * polling would take a core from the client, so it is off. */
    if (cli->delay_ms < 0 && (cli->n == 0 || cli->n <= 64))
        so.spin_us = 2000;
    int rc = tvl_delay_server_spawn(&so, &t->server);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the embedded delay server: %s", tvl_strerror(rc));
        return rc;
    }
    if (cli->cacert == NULL)
        t->cacert = tvl_delay_server_ca_file(t->server);
    const char *base = tvl_delay_server_url(t->server);
    if (cli->delay_ms >= 0) {
        snprintf(one, sizeof one, "%s/delay/%ld", base, cli->delay_ms);
        return tvl_url_list_parse(one, strlen(one), "embedded", &t->urls, err, errlen);
    }
    for (size_t i = 0; i < TVL_DELAY_SITE_COUNT; i++) {
        snprintf(one, sizeof one, "%s/site/%s", base, tvl_delay_sites[i].name);
        rc = tvl_url_list_parse(one, strlen(one), "embedded", &t->urls, err, errlen);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void target_free(target *t)
{
    tvl_url_list_free(&t->urls);
    int rc = tvl_delay_server_stop(t->server);
    if (rc != 0)
        fprintf(stderr, "%s: the embedded delay server did not stop cleanly: %s\n", program_name,
                tvl_strerror(rc));
    t->server = NULL;
}

/* The demo's sleeps (or CPU seconds): 0, 1, 2, 3, cycled to n. */
static double sleep_delay(const tvl_cli *cli, size_t i)
{
    double base = cli->delay_ms >= 0 ? (double)cli->delay_ms / 1000.0 : (double)(i % 4);
    return base * cli->scale;
}

int main(int argc, char **argv)
{
    const char *slash = strrchr(argv[0], '/');
    program_name = slash ? slash + 1 : argv[0];
    signal(SIGPIPE, SIG_IGN); /* CURLOPT_NOSIGNAL leaves SIGPIPE to us */

    tvl_cli cli;
    char err[512];
    if (tvl_cli_parse(argc, argv, &cli, err, sizeof err) != 0)
        die_usage(err);
    if (cli.help) {
        fputs(tvl_cli_usage, stdout);
        tvl_cli_free(&cli);
        return 0;
    }
    if (cli.version) {
        print_version();
        tvl_cli_free(&cli);
        return 0;
    }
    raise_fd_limit();

    target tgt;
    int rc = build_urls(&cli, &tgt, err, sizeof err);
    if (rc != 0) {
        target_free(&tgt);
        tvl_cli_free(&cli);
        fprintf(stderr, "%s: %s\n", program_name, err);
        return rc == TVL_E_USAGE || rc == -ENOENT || rc == -EACCES || rc == -EISDIR ? 2 : 1;
    }
    size_t n = cli.n;
    if (n == 0)
        n = cli.workload != TVL_WORKLOAD_HTTP ? 4 : tgt.urls.n;
    if (n == 0 || (cli.workload == TVL_WORKLOAD_HTTP && tgt.urls.n == 0)) {
        /* Cannot happen (without URLs the embedded server gives six),
         * but every item needs a URL to cycle through. */
        target_free(&tgt);
        tvl_cli_free(&cli);
        fprintf(stderr, "%s: nothing to run\n", program_name);
        return 2;
    }
    unsigned budget = transfer_budget();
    if (cli.workload == TVL_WORKLOAD_HTTP && n > budget &&
        (cli.connections == 0 || cli.connections > budget)) {
        /* Degrade by queueing rather than fail with EMFILE half-way. */
        fprintf(stderr,
                "%s: -n %zu is more than the open-file limit lets run at once; at most %u "
                "transfers will be in flight and the rest will queue (raise ulimit -n to "
                "avoid this)\n",
                program_name, n, budget);
        cli.connections = budget;
    }

    tvl_rt_options ro = {
        .threads = cli.threads,
        .max_threads = cli.max_threads,
        .connections = cli.connections,
        .timeout_ms = cli.timeout_ms,
        .cacert = tgt.cacert,
        .insecure = cli.insecure,
    };
    rc = tvl_rt_init(&ro, err, sizeof err);
    if (rc != 0) {
        target_free(&tgt);
        tvl_cli_free(&cli);
        fprintf(stderr, "%s: %s\n", program_name, err);
        return rc == -EINVAL ? 2 : 1;
    }
    if (cli.insecure)
        fprintf(stderr, "%s: warning: --insecure: TLS certificates are NOT verified\n",
                program_name);

    tvl_output output = {
        .quiet = cli.quiet,
        .color = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL,
    };
    tvl_job job = {.workload = cli.workload, .n = n, .output = &output,
                   .keep_connections = cli.keep_connections};
    job.items = calloc(n, sizeof *job.items);
    job.tasks = calloc(n, sizeof *job.tasks);
    tvl_report *report = tvl_report_create(&cli);
    if (job.items == NULL || job.tasks == NULL || report == NULL) {
        fprintf(stderr, "%s: out of memory for %zu items\n", program_name, n);
        free(job.items);
        free(job.tasks);
        tvl_report_destroy(report);
        tvl_rt_shutdown();
        target_free(&tgt);
        tvl_cli_free(&cli);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        job.items[i].job = &job;
        job.items[i].index = i;
        if (cli.workload != TVL_WORKLOAD_HTTP)
            job.items[i].delay_s = sleep_delay(&cli, i);
        else
            job.items[i].url = tgt.urls.urls[i % tgt.urls.n];
    }

    size_t total_failed = 0;
    for (unsigned r = 0; r < cli.repeat; r++) {
        for (size_t w = 0; w < TVL_WAY_COUNT; w++) {
            if (!cli.ways[w])
                continue;
            tvl_way_run run;
            tvl_harness_run(&tvl_ways[w], &job, r, &run);
            tvl_report_total(stdout, &run, output.color);
            fflush(stdout);
            total_failed += run.failed;
            if (run.failed > 0 && !cli.quiet) {
                /* Every failure with its reason, once per way. */
                for (size_t i = 0; i < n; i++)
                    if (job.items[i].out.error != 0)
                        fprintf(stderr, "  failed: %s: %s\n",
                                job.items[i].url ? job.items[i].url : "work",
                                job.items[i].out.message[0] ? job.items[i].out.message
                                                            : tvl_strerror(job.items[i].out.error));
            }
            if (tvl_report_add(report, &run, &job) != 0) {
                fprintf(stderr, "%s: out of memory for the report\n", program_name);
                return 1;
            }
        }
    }

    int exit_code = total_failed > 0 ? 1 : 0;
    if (cli.export_json != NULL && (rc = tvl_report_write_json(report, cli.export_json)) != 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", program_name, cli.export_json,
                tvl_strerror(rc));
        exit_code = 1;
    }
    if (cli.trace != NULL && (rc = tvl_report_write_trace(report, cli.trace)) != 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", program_name, cli.trace, tvl_strerror(rc));
        exit_code = 1;
    }

    tvl_report_destroy(report);
    free(job.tasks);
    free(job.items);
    tvl_rt_shutdown();
    target_free(&tgt);
    tvl_cli_free(&cli);
    return exit_code;
}
