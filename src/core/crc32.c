/* CRC-32 by "slicing by 8" (see crc32.h for which CRC and why).
 *
 * table[0] is the classic byte-at-a-time table: table[0][b] is the CRC
 * register after shifting byte b through eight polynomial steps. table[k]
 * advances a byte that sits k bytes ahead of the register's end, so eight
 * lookups XORed together consume eight bytes at once, and the eight loads
 * do not depend on one another. */
#include "core/crc32.h"

#include <pthread.h>
#include <string.h>

#define CRC32_POLY 0xEDB88320u /* bit-reversed 0x04C11DB7 */

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void make_tables(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int bit = 0; bit < 8; bit++)
            c = (c >> 1) ^ (CRC32_POLY & (0u - (c & 1u)));
        table[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++)
            table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xffu];
}

static inline uint32_t step_byte(uint32_t crc, unsigned char byte)
{
    return (crc >> 8) ^ table[0][(crc ^ byte) & 0xffu];
}

uint32_t tvl__crc32(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&table_once, make_tables);
    const unsigned char *b = p;
    crc = ~crc;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The eight-byte step reads a word whose first byte is its low byte. */
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, b, sizeof w);
        w ^= crc;
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
              table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^
              table[2][(w >> 40) & 0xff] ^ table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        b += 8;
        n -= 8;
    }
#endif
    while (n-- > 0)
        crc = step_byte(crc, *b++);
    return ~crc;
}
