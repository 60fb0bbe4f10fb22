/* CRC-32 (see crc32.h for which CRC and why): slicing by 8 everywhere, and
 * on x86-64 CPUs with carry-less multiplication (PCLMULQDQ) a folding loop
 * for buffers of 64 bytes and more.
 *
 * Slicing by 8: table[0] is the classic byte-at-a-time table: table[0][b]
 * is the CRC register after shifting byte b through eight polynomial
 * steps. table[k] advances a byte that sits k bytes ahead of the
 * register's end, so eight lookups XORed together consume eight bytes at
 * once, and the eight loads do not depend on one another.
 *
 * Folding, the idea: the CRC of a message depends only on the message,
 * read as a polynomial over GF(2), modulo P (the CRC polynomial). So a
 * 16-byte block B followed by D more bits of message can be replaced by
 * B * x^D mod P, lined up with the block D bits later and XORed into it,
 * without changing the CRC; and B * x^D splits into its two 64-bit halves
 * times x^(D+64) mod P and x^D mod P, two carry-less multiplications of
 * 64 by 32 bits. Four 16-byte lanes are folded 64 bytes ahead at a time
 * (their multiplications are independent, so they overlap), then into one
 * lane, then 16 bytes ahead at a time. The one lane left is congruent to
 * everything read so far, so running the table over its 16 bytes from a
 * zero register gives the register the whole prefix would have given.
 *
 * Bit order: this CRC is reflected (the first byte's bit 0 is the highest
 * power of x), and so is a little-endian load: bit k of a 128-bit lane is
 * the coefficient of x^(127-k). A carry-less product of two such 64-bit
 * halves lands one place short (bit k holds x^(126-k)), so each constant
 * is x^(D+63) or x^(D-1) mod P rather than x^(D+64) or x^D, reflected into
 * 64 bits. The four constants below were computed from that definition
 * (square-and-multiply modulo P) and the loop checked against zlib.crc32
 * before it was written in C; tests/core/test_crc32.c checks it against
 * the bit-by-bit definition and against the tables. */
#include "core/crc32.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#define CRC32_POLY 0xEDB88320u /* bit-reversed 0x04C11DB7 */

static uint32_t table[8][256];
static bool use_folding;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

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

/* The register (not inverted) carried over n bytes by the tables. */
static uint32_t sliced(uint32_t crc, const unsigned char *b, size_t n)
{
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
    return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* Folding constants: the low half of each vector multiplies a lane's low
 * 64 bits (its first eight bytes), the high half its high 64 bits. */
#define FOLD_512_LO UINT64_C(0x653d982200000000) /* x^575 mod P, reflected */
#define FOLD_512_HI UINT64_C(0xcad38e8f00000000) /* x^511 mod P */
#define FOLD_128_LO UINT64_C(0x65673b4600000000) /* x^191 mod P */
#define FOLD_128_HI UINT64_C(0x9ba54c6f00000000) /* x^127 mod P */

__attribute__((target("pclmul,sse2"))) static inline __m128i fold(__m128i lane, __m128i k,
                                                                  __m128i next)
{
    __m128i lo = _mm_clmulepi64_si128(lane, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(lane, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* The register carried over the first (n / 16) * 16 bytes; n >= 64.
 * *used tells how many bytes that was. */
__attribute__((target("pclmul,sse2"))) static uint32_t folded(uint32_t crc,
                                                             const unsigned char *b, size_t n,
                                                             size_t *used)
{
    const __m128i k512 = _mm_set_epi64x((long long)FOLD_512_HI, (long long)FOLD_512_LO);
    const __m128i k128 = _mm_set_epi64x((long long)FOLD_128_HI, (long long)FOLD_128_LO);
    __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)b);
    __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(b + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(b + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(const void *)(b + 48));
    /* The register so far is XORed into the next four bytes, as the
     * byte loop does one byte at a time. */
    x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)crc));
    size_t off = 64;
    for (; n - off >= 64; off += 64) {
        const unsigned char *q = b + off;
        x0 = fold(x0, k512, _mm_loadu_si128((const __m128i *)(const void *)q));
        x1 = fold(x1, k512, _mm_loadu_si128((const __m128i *)(const void *)(q + 16)));
        x2 = fold(x2, k512, _mm_loadu_si128((const __m128i *)(const void *)(q + 32)));
        x3 = fold(x3, k512, _mm_loadu_si128((const __m128i *)(const void *)(q + 48)));
    }
    x0 = fold(x0, k128, x1);
    x0 = fold(x0, k128, x2);
    x0 = fold(x0, k128, x3);
    for (; n - off >= 16; off += 16)
        x0 = fold(x0, k128, _mm_loadu_si128((const __m128i *)(const void *)(b + off)));
    unsigned char last[16];
    _mm_storeu_si128((__m128i *)(void *)last, x0);
    *used = off;
    return sliced(0, last, sizeof last);
}

static bool cpu_can_fold(void)
{
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
}
#else
static uint32_t folded(uint32_t crc, const unsigned char *b, size_t n, size_t *used)
{
    (void)b, (void)n;
    *used = 0;
    return crc;
}

static bool cpu_can_fold(void)
{
    return false;
}
#endif

/* Below this many bytes the tables are as fast: folding has a fixed cost
 * (the final 16 bytes go through the tables anyway). */
#define FOLD_MIN 64

static void init(void)
{
    make_tables();
    use_folding = cpu_can_fold();
}

uint32_t tvl__crc32(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&init_once, init);
    const unsigned char *b = p;
    crc = ~crc;
    if (use_folding && n >= FOLD_MIN) {
        size_t used;
        crc = folded(crc, b, n, &used);
        b += used;
        n -= used;
    }
    return ~sliced(crc, b, n);
}

uint32_t tvl__crc32_tables(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&init_once, init);
    return ~sliced(~crc, p, n);
}

bool tvl__crc32_folds(void)
{
    pthread_once(&init_once, init);
    return use_folding;
}
