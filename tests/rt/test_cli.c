/* The benchmark's command line: the parser on its own, and the binary of
 * this runtime ending bad input with exit 2 and one clear line. */
#include "bench/cli.h"
#include "bench/urlfile.h"
#include "bench_proc.h"
#include "rt_test.h"

#include <string.h>

static int parse(tvl_cli *cli, char *err, size_t errlen, const char *const *args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"bench";
    for (; args[argc - 1] != NULL && argc < 31; argc++)
        argv[argc] = (char *)args[argc - 1];
    argv[argc] = NULL;
    return tvl_cli_parse(argc, argv, cli, err, errlen);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void parser_reads_every_option(void)
{
    tvl_cli cli;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(parse(&cli, err, sizeof err,
                                ARGS("--workload", "sleep", "--scale=0.1", "--pattern",
                                     "gather,taskgroup", "-n", "12", "--delay-ms", "200",
                                     "--threads", "16", "--connections=100", "--timeout-ms",
                                     "5000", "--repeat", "3", "--quiet", "--export-json",
                                     "out.json", "--trace", "t.json", "--keep-connections")),
                          0);
    CU_ASSERT_EQUAL(cli.workload, TVL_WORKLOAD_SLEEP);
    CU_ASSERT_DOUBLE_EQUAL(cli.scale, 0.1, 1e-12);
    CU_ASSERT_FALSE(cli.ways[0]);
    CU_ASSERT_TRUE(cli.ways[2]);
    CU_ASSERT_TRUE(cli.ways[6]);
    CU_ASSERT_EQUAL(cli.n, 12);
    CU_ASSERT_EQUAL(cli.delay_ms, 200);
    CU_ASSERT_EQUAL(cli.threads, 16);
    CU_ASSERT_EQUAL(cli.connections, 100);
    CU_ASSERT_EQUAL(cli.timeout_ms, 5000);
    CU_ASSERT_EQUAL(cli.repeat, 3);
    CU_ASSERT_TRUE(cli.quiet);
    CU_ASSERT_TRUE(cli.keep_connections);
    CU_ASSERT_STRING_EQUAL(cli.export_json, "out.json");
    CU_ASSERT_STRING_EQUAL(cli.trace, "t.json");
    tvl_cli_free(&cli);

    CU_ASSERT_EQUAL_FATAL(parse(&cli, err, sizeof err,
                                ARGS("https://example.org/", "--", "http://a.test:8080/x?y")),
                          0);
    CU_ASSERT_EQUAL(cli.n_urls, 2);
    CU_ASSERT_EQUAL(cli.workload, TVL_WORKLOAD_HTTP);
    tvl_cli_free(&cli);

    CU_ASSERT_EQUAL_FATAL(parse(&cli, err, sizeof err, ARGS("--workload", "cpu")), 0);
    CU_ASSERT_EQUAL(cli.workload, TVL_WORKLOAD_CPU);
    tvl_cli_free(&cli);

    CU_ASSERT_EQUAL_FATAL(parse(&cli, err, sizeof err,
                                ARGS("https://example.org/", "--", "http://a.test:8080/x?y")),
                          0);
    CU_ASSERT_EQUAL(cli.delay_ms, -1);
    CU_ASSERT_FALSE(cli.keep_connections); /* a session per way by default */
    for (size_t i = 0; i < TVL_WAY_COUNT; i++)
        CU_ASSERT_TRUE(cli.ways[i]);
    tvl_cli_free(&cli);
}

static void parser_refuses_bad_input_with_one_line(void)
{
    const char *const *cases[] = {
        ARGS("--frobnicate"),        ARGS("-n", "0"),
        ARGS("-n", "12x"),           ARGS("-n"),
        ARGS("--scale", "-1"),       ARGS("--scale", "nan"),
        ARGS("--pattern", "gathr"),  ARGS("--pattern", ""),
        ARGS("--pattern", "gather,"), ARGS("--workload", "tcp"),
        ARGS("--threads", "0"),      ARGS("--repeat", "99999999999999999999"),
        ARGS("ftp://x/"),            ARGS("https://"),
        ARGS("http://a b/"),         ARGS("--quiet=yes"),
        ARGS("--keep-connections=1"),
        ARGS("--workload", "sleep", "https://x.test/"),
        ARGS("--workload", "cpu", "https://x.test/"),
        ARGS("--workload", "cpu", "--url-file", "urls.txt"),
        ARGS("--plain-http", "https://x.test/"),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tvl_cli cli;
        char err[256] = "";
        CU_ASSERT_EQUAL(parse(&cli, err, sizeof err, cases[i]), TVL_E_USAGE);
        CU_ASSERT(strlen(err) > 10);
        CU_ASSERT_PTR_NULL(strchr(err, '\n'));
    }
}

static void url_lists_skip_comments_and_name_the_bad_line(void)
{
    tvl_url_list list = {0};
    char err[256];
    const char text[] = "# the six sites\n"
                        "https://a.test/  # first\n"
                        "\n"
                        "   http://b.test:81/p?q=1\r\n"
                        "https://c.test/";
    CU_ASSERT_EQUAL(tvl_url_list_parse(text, sizeof text - 1, "f", &list, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(list.n, 3);
    CU_ASSERT_STRING_EQUAL(list.urls[0], "https://a.test/");
    CU_ASSERT_STRING_EQUAL(list.urls[1], "http://b.test:81/p?q=1");
    CU_ASSERT_STRING_EQUAL(list.urls[2], "https://c.test/");
    tvl_url_list_free(&list);

    const char bad[] = "https://a.test/\nnot a url\n";
    CU_ASSERT_EQUAL(tvl_url_list_parse(bad, sizeof bad - 1, "urls.txt", &list, err, sizeof err),
                    TVL_E_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "urls.txt:2:"));
    tvl_url_list_free(&list);

    CU_ASSERT(tvl_url_list_read_file("/nonexistent/urls.txt", &list, err, sizeof err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/urls.txt"));
    tvl_url_list_free(&list);
}

static void binary_exits_2_with_one_line_on_usage_errors(void)
{
    const char *const *cases[] = {
        ARGS("--no-such-option"),     ARGS("-n", "many"),
        ARGS("--pattern", "gatherr"), ARGS("--url-file", "/nonexistent/urls.txt"),
        ARGS("not-a-url"),            ARGS("--cacert", "/nonexistent/ca.pem"),
        ARGS("--cacert", "/"),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[1024];
        CU_ASSERT_EQUAL(bench_run(cases[i], err, sizeof err), 2);
        char *nl = strchr(err, '\n');
        CU_ASSERT(nl != NULL && nl[1] == '\0'); /* exactly one line */
        CU_ASSERT(strlen(err) > 20);
    }
    char err[4096];
    CU_ASSERT_EQUAL(bench_run(ARGS("--help"), err, sizeof err), 0);
    CU_ASSERT_EQUAL(bench_run(ARGS("--version"), err, sizeof err), 0);
}

void test_cli_register(void)
{
    static CU_TestInfo tests[] = {
        {"parser_reads_every_option", parser_reads_every_option},
        {"parser_refuses_bad_input_with_one_line", parser_refuses_bad_input_with_one_line},
        {"url_lists_skip_comments_and_name_the_bad_line",
         url_lists_skip_comments_and_name_the_bad_line},
        {"binary_exits_2_with_one_line_on_usage_errors",
         binary_exits_2_with_one_line_on_usage_errors},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("cli", tests);
}
