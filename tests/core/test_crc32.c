/* CRC-32 (core/crc32.h): the published check values, the sliced loop
 * against the definition, bit by bit, at every length and alignment, and
 * the folding loop against the tables. */
#include "core/crc32.h"
#include "test_util.h"

#include <string.h>

/* The definition, one bit at a time: what the tables must reproduce. */
static uint32_t crc32_bitwise(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 1u) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
    }
    return ~crc;
}

static void known_check_values(void)
{
    /* The catalogue's check value (CRC-32/ISO-HDLC), and what Python's
     * zlib.crc32 gives for the others. */
    CU_ASSERT_EQUAL(tvl__crc32(0, NULL, 0), 0u);
    CU_ASSERT_EQUAL(tvl__crc32(0, "a", 1), 0xe8b7be43u);
    CU_ASSERT_EQUAL(tvl__crc32(0, "123456789", 9), 0xcbf43926u);
    CU_ASSERT_EQUAL(tvl__crc32(0, "foobar", 6), 0x9ef61f95u);
    const char *fox = "The quick brown fox jumps over the lazy dog";
    CU_ASSERT_EQUAL(tvl__crc32(0, fox, strlen(fox)), 0x414fa339u);
}

static void matches_the_bitwise_definition_at_every_length_and_alignment(void)
{
    unsigned char buf[300];
    uint32_t x = 2463534242u; /* xorshift: bytes with no pattern */
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[i] = (unsigned char)x;
    }
    int bad = 0;
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; off + n <= sizeof buf; n++)
            bad += tvl__crc32(0, buf + off, n) != crc32_bitwise(0, buf + off, n);
    CU_ASSERT_EQUAL(bad, 0);
}

static void pieces_give_the_same_crc_as_the_whole(void)
{
    unsigned char buf[200];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 7 + 3);
    uint32_t whole = tvl__crc32(0, buf, sizeof buf);
    int bad = 0;
    for (size_t cut = 0; cut <= sizeof buf; cut++)
        bad += tvl__crc32(tvl__crc32(0, buf, cut), buf + cut, sizeof buf - cut) != whole;
    CU_ASSERT_EQUAL(bad, 0);
}

/* Long buffers go through the folding loop where the CPU has one: every
 * length from 0 to 1,100 bytes (each count of 64-byte steps, 16-byte
 * steps and tail bytes) at each of 16 alignments, from initial values
 * that are not 0, against the tables; and a 245 kB body in the pieces a
 * client reads it in. */
static void long_buffers_give_the_tables_crc(void)
{
    static unsigned char buf[245000];
    uint32_t x = 88172645u;
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[i] = (unsigned char)x;
    }
    int bad = 0;
    for (size_t off = 0; off < 16; off++)
        for (size_t n = 0; n <= 1100; n++) {
            uint32_t init = (uint32_t)(n * 2654435761u + off);
            bad += tvl__crc32(init, buf + off, n) != tvl__crc32_tables(init, buf + off, n);
        }
    CU_ASSERT_EQUAL(bad, 0);
    uint32_t whole = tvl__crc32(0, buf, sizeof buf);
    CU_ASSERT_EQUAL(whole, tvl__crc32_tables(0, buf, sizeof buf));
    CU_ASSERT_EQUAL(whole, crc32_bitwise(0, buf, sizeof buf));
    size_t pieces[] = {16384, 1000, 63, 65};
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        uint32_t h = 0;
        for (size_t o = 0; o < sizeof buf; o += pieces[k])
            h = tvl__crc32(h, buf + o, sizeof buf - o < pieces[k] ? sizeof buf - o : pieces[k]);
        CU_ASSERT_EQUAL(h, whole);
    }
}

/* On x86-64 the folding loop is what runs when the CPU can do it, so
 * that the test above tests it. */
static void folds_where_the_cpu_can(void)
{
#if defined(__x86_64__)
    CU_ASSERT_EQUAL(tvl__crc32_folds(), __builtin_cpu_supports("pclmul") != 0);
#else
    CU_ASSERT_FALSE(tvl__crc32_folds());
#endif
}

void test_crc32_register(void)
{
    static CU_TestInfo tests[] = {
        {"known_check_values", known_check_values},
        {"matches_the_bitwise_definition_at_every_length_and_alignment",
         matches_the_bitwise_definition_at_every_length_and_alignment},
        {"pieces_give_the_same_crc_as_the_whole", pieces_give_the_same_crc_as_the_whole},
        {"long_buffers_give_the_tables_crc", long_buffers_give_the_tables_crc},
        {"folds_where_the_cpu_can", folds_where_the_cpu_can},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("crc32", tests);
}
