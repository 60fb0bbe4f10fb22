/* What the benchmark prints and writes: each way's total line, the JSON
 * records, the Chrome trace. */
#ifndef TVL_BENCH_REPORT_H
#define TVL_BENCH_REPORT_H

#include <stdio.h>

#include "bench/cli.h"
#include "bench/harness.h"

/* `Async for-loop with asyncio.gather() (tvl_gather) : [0.451234 sec]`,
 * with the failures, if any, on the same line. */
void tvl_report_total(FILE *out, const tvl_way_run *run, bool color);

/* Accumulates records, then writes them. */
typedef struct tvl_report tvl_report;

tvl_report *tvl_report_create(const tvl_cli *cli);
/* Copies what it needs of run and job (items' outcomes). -ENOMEM on
 * failure. */
int tvl_report_add(tvl_report *r, const tvl_way_run *run, const tvl_job *job);
/* Writes the JSON array (--export-json) to path. 0 or -errno. */
int tvl_report_write_json(const tvl_report *r, const char *path);
/* Writes the Chrome trace-event file (--trace) to path. 0 or -errno. */
int tvl_report_write_trace(const tvl_report *r, const char *path);
void tvl_report_destroy(tvl_report *r);

/* "libcurl/7.88.1 OpenSSL/3.0.11 ..." */
const char *tvl_report_curl_version(void);

#endif
