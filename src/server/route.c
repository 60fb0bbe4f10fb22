/* The URL grammar of the delay server: a path of KEY/VALUE pairs
 * (/delay/MS, /bytes/N, /status/CODE, /site/NAME, /fault/KIND) plus query
 * overrides, or one of the fixed paths /, /health, /stats. */
#include "server/route.h"
#include "tvl/delay_server.h"

#include <stdbool.h>
#include <string.h>

typedef struct span {
    const char *p;
    size_t n;
} span;

static bool span_is(span s, const char *lit)
{
    return strlen(lit) == s.n && memcmp(s.p, lit, s.n) == 0;
}

/* Decimal "123" or "123.456" (at most 3 fraction digits count) into
 * thousandths, at most `max` (in units); false if malformed or too big. */
static bool parse_milli(span s, double max, uint64_t *out)
{
    uint64_t whole = 0, frac = 0;
    size_t i = 0;
    if (s.n == 0 || s.n > 20)
        return false;
    for (; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++)
        whole = whole * 10 + (uint64_t)(s.p[i] - '0');
    if (i == 0)
        return false;
    if (i < s.n) {
        if (s.p[i] != '.' || i + 1 == s.n)
            return false;
        unsigned digits = 0;
        for (i++; i < s.n; i++, digits++) {
            if (s.p[i] < '0' || s.p[i] > '9')
                return false;
            if (digits < 3)
                frac = frac * 10 + (uint64_t)(s.p[i] - '0');
        }
        for (; digits < 3; digits++)
            frac *= 10;
    }
    if ((double)whole > max)
        return false;
    *out = whole * 1000 + frac;
    return *out <= (uint64_t)(max * 1000.0);
}

static bool parse_uint(span s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (s.n == 0 || s.n > 19)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s.p[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static void text(tvl__route *r, unsigned status, const char *body)
{
    memset(r, 0, sizeof *r);
    r->kind = TVL__ROUTE_TEXT;
    r->status = status;
    r->text = body;
}

/* Cuts the next piece of [*p, end) up to `sep` (exclusive). */
static span next_piece(const char **p, const char *end, char sep)
{
    const char *s = *p;
    while (*p < end && **p != sep)
        (*p)++;
    span out = {s, (size_t)(*p - s)};
    if (*p < end)
        (*p)++;
    return out;
}

void tvl__route_parse(const char *target, size_t len, double scale, tvl__route *r)
{
    const char *end = target + len, *q = memchr(target, '?', len);
    const char *path_end = q ? q : end;
    span path = {target, (size_t)(path_end - target)};

    if (span_is(path, "/") || span_is(path, "/health")) {
        text(r, 200, "ok\n");
        return;
    }
    if (span_is(path, "/stats")) {
        text(r, 200, NULL);
        r->kind = TVL__ROUTE_STATS;
        return;
    }

    memset(r, 0, sizeof *r);
    r->kind = TVL__ROUTE_BODY;
    r->status = 200;
    uint64_t delay_milli = 0, bytes = 0, status = 200, chunk = 1, every_milli = 100000;
    bool have_bytes = false;

    /* The path: pairs after the leading slash. */
    const char *p = target + 1;
    while (p < path_end) {
        span key = next_piece(&p, path_end, '/');
        if (p >= path_end && (key.n == 0 || path_end[-1] != '/')) {
            /* a key without a value */
            text(r, 404, "not found: see --help for the endpoints\n");
            return;
        }
        span val = next_piece(&p, path_end, '/');
        bool ok = true;
        if (span_is(key, "delay")) {
            ok = parse_milli(val, TVL__ROUTE_MAX_DELAY_MS, &delay_milli);
        } else if (span_is(key, "bytes")) {
            ok = parse_uint(val, TVL__ROUTE_MAX_BYTES, &bytes);
            have_bytes = true;
        } else if (span_is(key, "status")) {
            ok = parse_uint(val, 599, &status) && status >= 200;
        } else if (span_is(key, "site")) {
            const tvl_delay_site *site = NULL;
            for (size_t i = 0; i < TVL_DELAY_SITE_COUNT; i++)
                if (span_is(val, tvl_delay_sites[i].name))
                    site = &tvl_delay_sites[i];
            if (site == NULL) {
                text(r, 404, "no such site: blog securityheaders hstspreload isc2 sans scotthelme\n");
                return;
            }
            delay_milli = (uint64_t)site->delay_ms * 1000;
            bytes = site->bytes;
            have_bytes = true;
        } else if (span_is(key, "fault")) {
            if (span_is(val, "close"))
                r->fault = TVL__FAULT_CLOSE;
            else if (span_is(val, "reset"))
                r->fault = TVL__FAULT_RESET;
            else if (span_is(val, "short"))
                r->fault = TVL__FAULT_SHORT;
            else if (span_is(val, "stall"))
                r->fault = TVL__FAULT_STALL;
            else if (span_is(val, "trickle"))
                r->fault = TVL__FAULT_TRICKLE;
            else {
                text(r, 404, "no such fault: close reset short stall trickle\n");
                return;
            }
        } else {
            text(r, 404, "not found: see --help for the endpoints\n");
            return;
        }
        if (!ok) {
            text(r, 400, "bad value in path\n");
            return;
        }
    }
    if (!have_bytes) {
        if (r->fault == TVL__FAULT_RESET)
            bytes = 65536;
        else if (r->fault == TVL__FAULT_SHORT)
            bytes = 4096;
        else if (r->fault == TVL__FAULT_TRICKLE)
            bytes = 64;
    }

    /* The query overrides. Unknown keys are ignored. */
    uint64_t scale_milli = 0;
    bool have_scale = false;
    for (p = q ? q + 1 : end; p < end;) {
        span kv = next_piece(&p, end, '&');
        const char *eq = memchr(kv.p, '=', kv.n);
        if (eq == NULL)
            continue;
        span key = {kv.p, (size_t)(eq - kv.p)};
        span val = {eq + 1, kv.n - key.n - 1};
        bool ok = true;
        if (span_is(key, "delay_ms"))
            ok = parse_milli(val, TVL__ROUTE_MAX_DELAY_MS, &delay_milli);
        else if (span_is(key, "bytes"))
            ok = parse_uint(val, TVL__ROUTE_MAX_BYTES, &bytes);
        else if (span_is(key, "status"))
            ok = parse_uint(val, 599, &status) && status >= 200;
        else if (span_is(key, "scale"))
            ok = have_scale = parse_milli(val, TVL__ROUTE_MAX_SCALE, &scale_milli);
        else if (span_is(key, "chunk"))
            ok = parse_uint(val, 1u << 20, &chunk) && chunk >= 1;
        else if (span_is(key, "every_ms"))
            ok = parse_milli(val, TVL__ROUTE_MAX_DELAY_MS, &every_milli);
        if (!ok) {
            text(r, 400, "bad value in query\n");
            return;
        }
    }
    double f = have_scale ? (double)scale_milli / 1000.0 : scale;
    r->status = (unsigned)status;
    r->bytes = bytes;
    r->chunk = (uint32_t)chunk;
    r->delay_ns = (uint64_t)((double)delay_milli * 1000.0 * f + 0.5);
    r->every_ns = (uint64_t)((double)every_milli * 1000.0 * f + 0.5);
    if (r->status == 204 || r->status == 304)
        r->bytes = 0;
}
