/* Preparing the loop thread's heap (src/rt/prefault.c): whatever is
 * collapsed into huge pages or populated keeps its contents, and where the
 * kernel has transparent huge pages and malloc uses the brk heap, a burst
 * of allocations ends up on huge pages when TVL_PREFAULT=huge asks. */
#include "test_util.h"
#include "rt/prefault.h"

#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

enum { BLOCKS = 4000, BLOCK_BYTES = 5000 }; /* about 20 MB, like 2,000 transfers */

static long anon_huge_kib(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "re");
    long kib = -1;
    if (f == NULL)
        return -1;
    char line[256];
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "AnonHugePages: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static void fill(unsigned char *p, size_t i)
{
    for (size_t k = 0; k < BLOCK_BYTES; k++)
        p[k] = (unsigned char)(i * 31 + k);
}

static bool intact(const unsigned char *p, size_t i)
{
    for (size_t k = 0; k < BLOCK_BYTES; k++)
        if (p[k] != (unsigned char)(i * 31 + k))
            return false;
    return true;
}

static size_t damaged(unsigned char **blocks, size_t from, size_t to)
{
    size_t bad = 0;
    for (size_t i = from; i < to; i++)
        bad += !intact(blocks[i], i);
    return bad;
}

/* Allocates blocks [from, to) as libcurl's hooks do: malloc, then check. */
static void allocate(unsigned char **blocks, size_t from, size_t to, bool check)
{
    for (size_t i = from; i < to; i++) {
        blocks[i] = malloc(BLOCK_BYTES);
        CU_ASSERT_PTR_NOT_NULL_FATAL(blocks[i]);
        if (check)
            tvl__prefault_check(blocks[i], BLOCK_BYTES);
        fill(blocks[i], i);
    }
}

/* TVL_PREFAULT as the test runs, put back by restore_env(). */
static char *saved_env;
static bool had_env;

static void save_env(void)
{
    const char *env = getenv("TVL_PREFAULT");
    had_env = env != NULL;
    saved_env = had_env ? strdup(env) : NULL;
}

static void restore_env(void)
{
    if (had_env && saved_env != NULL)
        setenv("TVL_PREFAULT", saved_env, 1);
    else
        unsetenv("TVL_PREFAULT");
    free(saved_env);
    saved_env = NULL;
}

/* Blocks written before prefaulting starts share their huge-page block
 * with the first ones prepared: collapsing it copies them. */
static void the_heap_keeps_its_contents_while_it_is_prepared(void)
{
    static unsigned char *blocks[BLOCKS];
    save_env();
    setenv("TVL_PREFAULT", "huge", 1); /* a collapse copies; small pages cannot lose */
    allocate(blocks, 0, BLOCKS / 4, false);
    tvl__prefault_enable(true);
    allocate(blocks, BLOCKS / 4, BLOCKS, true);
    tvl__prefault_enable(false);
    restore_env();
    CU_ASSERT_EQUAL(damaged(blocks, 0, BLOCKS), 0);
    for (size_t i = 0; i < BLOCKS; i++)
        free(blocks[i]);
}

/* Whether this process can have huge pages on its brk heap: the kernel
 * has THP and MADV_COLLAPSE, and malloc is glibc's on the brk heap (not a
 * sanitizer's or valgrind's). */
static bool huge_heap_possible(void)
{
    size_t huge = tvl__prefault_huge_page_size();
    if (huge == 0)
        return false;
    char *region = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED)
        return false;
    char *aligned = (char *)(((uintptr_t)region + huge - 1) & ~(uintptr_t)(huge - 1));
    aligned[0] = 1;
    bool collapses = madvise(aligned, huge, MADV_COLLAPSE) == 0;
    munmap(region, 2 * huge);
    void *probe = malloc(64);
    bool on_brk = probe != NULL && (uintptr_t)probe < (uintptr_t)sbrk(0);
    free(probe);
    return collapses && on_brk;
}

/* Two bursts, both kept: the second must come from new heap above the
 * first (freed memory would be reused as it is, already populated). */
static void a_burst_lands_on_huge_pages_only_when_asked(void)
{
    if (!huge_heap_possible()) {
        fprintf(stderr, "\n  (no transparent huge pages for the brk heap here: not checked) ");
        return;
    }
    static unsigned char *blocks[2 * BLOCKS];
    save_env();
    /* By default, small pages. */
    unsetenv("TVL_PREFAULT");
    long before = anon_huge_kib();
    tvl__prefault_enable(true);
    allocate(blocks, 0, BLOCKS, true);
    tvl__prefault_enable(false);
    long after = anon_huge_kib();
    CU_ASSERT(before >= 0 && after <= before);
    /* Asked for: most of the next 20 MB on huge pages. */
    setenv("TVL_PREFAULT", "huge", 1);
    before = anon_huge_kib();
    tvl__prefault_enable(true);
    allocate(blocks, BLOCKS, 2 * BLOCKS, true);
    tvl__prefault_enable(false);
    after = anon_huge_kib();
    CU_ASSERT(after - before >= (long)BLOCKS * BLOCK_BYTES / 1024 / 2);
    CU_ASSERT_EQUAL(damaged(blocks, 0, 2 * BLOCKS), 0);
    for (size_t i = 0; i < 2 * BLOCKS; i++)
        free(blocks[i]);
    restore_env();
}

/* An allocation of several huge pages' worth from the heap leaves blocks
 * no page of which was touched yet, which MADV_COLLAPSE refuses with
 * EINVAL, as it does when the kernel cannot collapse at all: that must
 * not turn huge pages off for the bursts that follow. */
static void a_large_untouched_allocation_keeps_huge_pages_on(void)
{
    if (!huge_heap_possible()) {
        fprintf(stderr, "\n  (no transparent huge pages for the brk heap here: not checked) ");
        return;
    }
    static unsigned char *blocks[BLOCKS], *absorb[3 * BLOCKS];
    enum { LARGE = 7 << 20 };
    /* What the tests before freed is taken first, so that what follows
     * comes from heap that nothing prepared yet. */
    allocate(absorb, 0, 3 * BLOCKS, false);
    /* Served from the heap, not by a mapping of its own. Setting it ends
     * glibc's dynamic threshold for this test process only. */
    mallopt(M_MMAP_THRESHOLD, 2 * LARGE);
    save_env();
    setenv("TVL_PREFAULT", "huge", 1);
    tvl__prefault_enable(true);
    unsigned char *large = malloc(LARGE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(large);
    tvl__prefault_check(large, LARGE);
    long before = anon_huge_kib();
    allocate(blocks, 0, BLOCKS, true);
    tvl__prefault_enable(false);
    restore_env();
    long after = anon_huge_kib();
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    CU_ASSERT(after - before >= (long)BLOCKS * BLOCK_BYTES / 1024 / 2);
    CU_ASSERT_EQUAL(damaged(blocks, 0, BLOCKS), 0);
    for (size_t i = 0; i < BLOCKS; i++)
        free(blocks[i]);
    for (size_t i = 0; i < 3 * BLOCKS; i++)
        free(absorb[i]);
    free(large);
}

void test_prefault_register(void)
{
    static CU_TestInfo tests[] = {
        {"the_heap_keeps_its_contents_while_it_is_prepared",
         the_heap_keeps_its_contents_while_it_is_prepared},
        {"a_burst_lands_on_huge_pages_only_when_asked",
         a_burst_lands_on_huge_pages_only_when_asked},
        {"a_large_untouched_allocation_keeps_huge_pages_on",
         a_large_untouched_allocation_keeps_huge_pages_on},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("loop_prefault", tests);
}
