/* Internal: what a request target asks of the delay server, decided by a
 * pure function (no I/O), so it can be tested and fuzzed alone. */
#ifndef TVL_SERVER_ROUTE_H
#define TVL_SERVER_ROUTE_H

#include <stddef.h>
#include <stdint.h>

typedef enum tvl__fault {
    TVL__FAULT_NONE,
    TVL__FAULT_CLOSE,   /* close without answering */
    TVL__FAULT_RESET,   /* head + half the body, then RST */
    TVL__FAULT_SHORT,   /* head + half the body, then FIN */
    TVL__FAULT_STALL,   /* never answer */
    TVL__FAULT_TRICKLE  /* `chunk` body bytes every `every_ns` */
} tvl__fault;

typedef enum tvl__route_kind {
    TVL__ROUTE_BODY,  /* a generated body of `bytes` bytes */
    TVL__ROUTE_TEXT,  /* the static text `text` (health, errors) */
    TVL__ROUTE_STATS  /* the server's counters, as text */
} tvl__route_kind;

#define TVL__ROUTE_MAX_DELAY_MS 3600000.0    /* one hour, before scale */
#define TVL__ROUTE_MAX_BYTES (UINT64_C(1) << 30)
#define TVL__ROUTE_MAX_SCALE 1000.0

typedef struct tvl__route {
    tvl__route_kind kind;
    unsigned status;     /* 200..599 */
    uint64_t delay_ns;   /* scaled */
    uint64_t bytes;      /* generated body length */
    tvl__fault fault;
    uint32_t chunk;      /* trickle: bytes per tick, >= 1 */
    uint64_t every_ns;   /* trickle: tick, scaled */
    const char *text;    /* TVL__ROUTE_TEXT: static NUL-terminated body */
} tvl__route;

/* Decides the route of target[0..len) (origin-form, query included) for a
 * server whose delay scale is `scale`. Never fails: a target it does not
 * know gives a 404 text route, bad values a 400 text route. */
void tvl__route_parse(const char *target, size_t len, double scale, tvl__route *r);

#endif
