/* Total lines, JSON records and Chrome traces of the benchmark. */
#include "bench/report.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

typedef struct record {
    tvl_way_run run;
    size_t n;
    tvl_item *items; /* copies; url pointers stay valid for the program */
} record;

struct tvl_report {
    const tvl_cli *cli;
    record *records;
    size_t n, cap;
};

void tvl_report_total(FILE *out, const tvl_way_run *run, bool color)
{
    const char *on = color ? "\033[1m" : "", *off = color ? "\033[0m" : "";
    fprintf(out, "%s%s : [%.6f sec]%s", on, run->way->label, run->wall_s, off);
    if (run->failed > 0)
        fprintf(out, "  (%zu ok, %zu failed)", run->ok, run->failed);
    if (run->way_error != 0)
        fprintf(out, "  raised: %s", run->way_message);
    fputc('\n', out);
}

const char *tvl_report_curl_version(void)
{
    return curl_version();
}

tvl_report *tvl_report_create(const tvl_cli *cli)
{
    tvl_report *r = calloc(1, sizeof *r);
    if (r != NULL)
        r->cli = cli;
    return r;
}

int tvl_report_add(tvl_report *r, const tvl_way_run *run, const tvl_job *job)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        record *grown = realloc(r->records, cap * sizeof *grown);
        if (grown == NULL)
            return -ENOMEM;
        r->records = grown;
        r->cap = cap;
    }
    record *rec = &r->records[r->n];
    rec->run = *run;
    rec->n = job->n;
    rec->items = malloc((job->n ? job->n : 1) * sizeof *rec->items);
    if (rec->items == NULL)
        return -ENOMEM;
    memcpy(rec->items, job->items, job->n * sizeof *rec->items);
    r->n++;
    return 0;
}

void tvl_report_destroy(tvl_report *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->records[i].items);
    free(r->records);
    free(r);
}

/* A JSON string, escaped. */
static void json_str(FILE *f, const char *s)
{
    if (s == NULL) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*c < 0x20)
                fprintf(f, "\\u%04x", *c);
            else
                fputc(*c, f);
        }
    }
    fputc('"', f);
}

static const char *workload_name(tvl_workload w)
{
    switch (w) {
    case TVL_WORKLOAD_SLEEP:
        return "sleep";
    case TVL_WORKLOAD_CPU:
        return "cpu";
    case TVL_WORKLOAD_HTTP:
        break;
    }
    return "http";
}

static void json_env(FILE *f)
{
    struct utsname u;
    uname(&u);
    curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    fprintf(f, "\"env\":{\"cpus\":%ld,\"kernel\":", sysconf(_SC_NPROCESSORS_ONLN));
    json_str(f, u.release);
    fputs(",\"machine\":", f);
    json_str(f, u.machine);
    fputs(",\"libcurl\":", f);
    json_str(f, cv->version);
    fputs(",\"tls\":", f);
    json_str(f, cv->ssl_version);
    fputc('}', f);
}

/* ,"name":T with T in seconds from t0, or null for a phase never reached
 * (0: a sleep, or a request that failed before it). */
static void json_time_or_null(FILE *f, const char *name, double t, double t0)
{
    if (t > 0)
        fprintf(f, ",\"%s\":%.6f", name, t - t0);
    else
        fprintf(f, ",\"%s\":null", name);
}

static void json_record(FILE *f, const tvl_cli *cli, const record *rec)
{
    const tvl_way_run *run = &rec->run;
    const char *backend = tvl_rt_backend();
    fputs("{\"backend\":", f);
    json_str(f, backend);
    fputs(",\"workload\":", f);
    json_str(f, workload_name(cli->workload));
    fputs(",\"pattern\":", f);
    json_str(f, run->way->name);
    fputs(",\"label\":", f);
    json_str(f, run->way->label);
    fprintf(f,
            ",\"repeat\":%u,\"n\":%zu,\"wall_s\":%.6f,\"cpu_user_s\":%.6f,\"cpu_sys_s\":%.6f,"
            "\"max_rss_kib\":%ld,\"ctx_switches_voluntary\":%ld,\"ctx_switches_involuntary\":%ld,"
            "\"threads_started\":%llu,\"peak_threads\":%llu,"
            "\"ok\":%zu,\"failed\":%zu,\"bytes\":%llu,\"error\":",
            run->repeat, rec->n, run->wall_s, run->cpu_user_s, run->cpu_sys_s, run->max_rss_kib,
            run->ctx_voluntary, run->ctx_involuntary, (unsigned long long)run->threads_started, (unsigned long long)run->peak_threads,
            run->ok, run->failed, (unsigned long long)run->bytes);
    json_str(f, run->way_error ? run->way_message : NULL);
    fprintf(f,
            ",\"config\":{\"threads\":%u,\"max_threads\":%u,\"connections\":%u,\"scale\":%g,"
            "\"delay_ms\":%ld,\"timeout_ms\":%ld,\"plain_http\":%s,\"keep_connections\":%s},",
            cli->threads, cli->max_threads, cli->connections, cli->scale, cli->delay_ms,
            cli->timeout_ms, cli->plain_http ? "true" : "false",
            cli->keep_connections ? "true" : "false");
    json_env(f);
    fputs(",\"requests\":[", f);
    for (size_t i = 0; i < rec->n; i++) {
        const tvl_item *it = &rec->items[i];
        const tvl_http_result *o = &it->out;
        fprintf(f, "%s{\"index\":%zu,\"url\":", i ? "," : "", i);
        json_str(f, cli->workload == TVL_WORKLOAD_HTTP ? it->url : NULL);
        if (cli->workload != TVL_WORKLOAD_HTTP)
            fprintf(f, ",\"delay_s\":%g", it->delay_s);
        fprintf(f, ",\"status\":%ld,\"error\":", o->status);
        json_str(f, o->error ? (o->message[0] ? o->message : tvl_strerror(o->error)) : NULL);
        double s = o->start_s > 0 ? o->start_s - run->t0 : 0;
        double e = o->end_s > 0 ? o->end_s - run->t0 : 0;
        fprintf(f, ",\"start_s\":%.6f", s);
        json_time_or_null(f, "sent_s", o->sent_s, run->t0);
        json_time_or_null(f, "first_byte_s", o->first_byte_s, run->t0);
        fprintf(f, ",\"end_s\":%.6f,\"thread\":%lld,\"fiber\":", e, (long long)o->thread);
        if (o->fiber >= 0)
            fprintf(f, "%lld", (long long)o->fiber);
        else
            fputs("null", f);
        fprintf(f, ",\"bytes\":%llu,\"checksum_verified\":%s}", (unsigned long long)o->bytes,
                o->checksum_verified ? "true" : "false");
    }
    fputs("]}", f);
}

/* A slice nested in a request's, for one of its phases (if both ends are
 * known): the viewer draws it under the request, on the same lane. */
static void trace_phase(FILE *f, const char *name, int pid, long long tid, double from,
                        double to, double t0)
{
    if (from <= 0 || to <= 0 || to < from)
        return;
    fprintf(f,
            ",\n{\"ph\":\"X\",\"cat\":\"phase\",\"name\":\"%s\",\"pid\":%d,\"tid\":%lld,"
            "\"ts\":%.3f,\"dur\":%.3f}",
            name, pid, tid, (from - t0) * 1e6, (to - from) * 1e6);
}

static int finish(FILE *f)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return -EIO;
    return 0;
}

int tvl_report_write_json(const tvl_report *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    fputs("[\n", f);
    for (size_t i = 0; i < r->n; i++) {
        json_record(f, r->cli, &r->records[i]);
        fputs(i + 1 < r->n ? ",\n" : "\n", f);
    }
    fputs("]\n", f);
    return finish(f);
}

/* One process per (way, repeat) in the viewer, one lane per OS thread or
 * fiber, one complete event per way and per request. */
int tvl_report_write_trace(const tvl_report *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    bool fibers = false;
    fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n", f);
    bool first = true;
    for (size_t k = 0; k < r->n; k++) {
        const record *rec = &r->records[k];
        const tvl_way_run *run = &rec->run;
        int pid = (int)k + 1;
        char pname[160];
        snprintf(pname, sizeof pname, "%s %s #%u", tvl_rt_backend(), run->way->name,
                 run->repeat + 1);
        fprintf(f, "%s{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,\"args\":{\"name\":",
                first ? "" : ",\n", pid);
        json_str(f, pname);
        fputs("}}", f);
        first = false;
        fprintf(f,
                ",\n{\"ph\":\"X\",\"cat\":\"way\",\"name\":\"%s\",\"pid\":%d,\"tid\":0,"
                "\"ts\":0,\"dur\":%.3f,\"args\":{\"ok\":%zu,\"failed\":%zu}}",
                run->way->name, pid, run->wall_s * 1e6, run->ok, run->failed);
        for (size_t i = 0; i < rec->n; i++) {
            const tvl_item *it = &rec->items[i];
            const tvl_http_result *o = &it->out;
            if (o->start_s <= 0)
                continue; /* never started */
            long long tid = o->fiber >= 0 ? o->fiber : o->thread;
            fibers |= o->fiber >= 0;
            char name[96];
            if (it->url != NULL && r->cli->workload == TVL_WORKLOAD_HTTP)
                snprintf(name, sizeof name, "GET %.80s", it->url);
            else
                snprintf(name, sizeof name, "work(%g)", it->delay_s);
            fprintf(f, ",\n{\"ph\":\"X\",\"cat\":\"request\",\"name\":");
            json_str(f, name);
            fprintf(f,
                    ",\"pid\":%d,\"tid\":%lld,\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"index\":%zu,"
                    "\"status\":%ld,\"thread\":%lld,\"error\":",
                    pid, tid, (o->start_s - run->t0) * 1e6, (o->end_s - o->start_s) * 1e6, i,
                    o->status, (long long)o->thread);
            json_str(f, o->error ? o->message : NULL);
            fputs("}}", f);
            trace_phase(f, "connecting", pid, tid, o->start_s, o->sent_s, run->t0);
            trace_phase(f, "waiting for the server", pid, tid, o->sent_s, o->first_byte_s,
                        run->t0);
            trace_phase(f, "reading the body", pid, tid, o->first_byte_s, o->end_s, run->t0);
        }
    }
    fprintf(f, "\n],\"otherData\":{\"backend\":\"%s\",\"lanes\":\"%s\"}}\n", tvl_rt_backend(),
            fibers ? "fiber" : "os thread");
    return finish(f);
}
