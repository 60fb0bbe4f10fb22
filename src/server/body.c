/* The body bytes, their checksum and the six emulated sites. */
#include "server/body.h"
#include "core/crc32.h"
#include "tvl/delay_server.h"

#include <pthread.h>
#include <string.h>

const tvl_delay_site tvl_delay_sites[TVL_DELAY_SITE_COUNT] = {
    {"blog", "the tutorial author's blog", 310, 96000},
    {"securityheaders", "https://securityheaders.com/", 240, 38000},
    {"hstspreload", "https://hstspreload.org/", 215, 17000},
    {"isc2", "https://www.isc2.org/", 430, 245000},
    {"sans", "https://www.sans.org/", 370, 190000},
    {"scotthelme", "https://scotthelme.co.uk/", 95, 72000},
};

const tvl_delay_site *tvl_delay_site_find(const char *name)
{
    for (size_t i = 0; i < TVL_DELAY_SITE_COUNT; i++)
        if (strcmp(tvl_delay_sites[i].name, name) == 0)
            return &tvl_delay_sites[i];
    return NULL;
}

uint32_t tvl_body_checksum(const void *p, size_t n, uint32_t state)
{
    return tvl__crc32(state, p, n);
}

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

unsigned char tvl_body_byte(uint64_t i)
{
    unsigned col = (unsigned)(i % 64), row = (unsigned)((i / 64) % 64);
    return col == 63 ? '\n' : (unsigned char)alphabet[(col + row) % 64];
}

/* 16 periods, so that a chunk of up to 60 KiB starts anywhere in the first
 * period and is contiguous: fewer writes per large body. */
#define PATTERN_SIZE (16u * TVL__BODY_PERIOD)
#define CHUNK_MAX (PATTERN_SIZE - TVL__BODY_PERIOD)
static unsigned char pattern[PATTERN_SIZE];
static pthread_once_t pattern_once = PTHREAD_ONCE_INIT;

static void make_pattern(void)
{
    for (unsigned i = 0; i < PATTERN_SIZE; i++)
        pattern[i] = tvl_body_byte(i);
}

void tvl__body_init(void)
{
    pthread_once(&pattern_once, make_pattern);
}

const unsigned char *tvl__body_at(uint64_t off, size_t max, size_t *len)
{
    *len = max < CHUNK_MAX ? max : CHUNK_MAX;
    return pattern + off % TVL__BODY_PERIOD;
}

uint32_t tvl__body_checksum_prefix(uint64_t n)
{
    uint32_t h = TVL_BODY_CHECKSUM_INIT;
    uint64_t off = 0;
    while (off < n) {
        size_t len;
        const unsigned char *p = tvl__body_at(off, (size_t)(n - off), &len);
        h = tvl_body_checksum(p, len, h);
        off += len;
    }
    return h;
}
