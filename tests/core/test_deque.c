/* The Chase-Lev deque: LIFO for its owner, FIFO for thieves, growth, and
 * every item taken exactly once under concurrent pops and steals. */
#include "core/deque.h"
#include "test_util.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#define ITEM(i) ((void *)(uintptr_t)((i) + 1))
#define INDEX(p) ((size_t)(uintptr_t)(p) - 1)

static void owner_pops_lifo(void)
{
    tvl__deque q;
    CU_ASSERT_EQUAL_FATAL(tvl__deque_init(&q, 4), 0);
    CU_ASSERT_PTR_NULL(tvl__deque_owner_pop(&q));
    for (size_t i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(tvl__deque_owner_push(&q, ITEM(i)), 0);
    CU_ASSERT_EQUAL(tvl__deque_size_estimate(&q), 10);
    for (size_t i = 10; i-- > 0;)
        CU_ASSERT_PTR_EQUAL(tvl__deque_owner_pop(&q), ITEM(i));
    CU_ASSERT_PTR_NULL(tvl__deque_owner_pop(&q));
    CU_ASSERT_EQUAL(tvl__deque_size_estimate(&q), 0);
    tvl__deque_destroy(&q);
}

static void thief_steals_fifo(void)
{
    tvl__deque q;
    void *x = NULL;
    CU_ASSERT_EQUAL_FATAL(tvl__deque_init(&q, 4), 0);
    CU_ASSERT_EQUAL(tvl__deque_thief_steal(&q, &x), TVL__STEAL_EMPTY);
    for (size_t i = 0; i < 10; i++)
        tvl__deque_owner_push(&q, ITEM(i));
    for (size_t i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(tvl__deque_thief_steal(&q, &x), TVL__STEAL_OK);
        CU_ASSERT_PTR_EQUAL(x, ITEM(i));
    }
    /* The owner still pops its newest; the two ends meet in the middle. */
    CU_ASSERT_PTR_EQUAL(tvl__deque_owner_pop(&q), ITEM(9));
    CU_ASSERT_EQUAL(tvl__deque_thief_steal(&q, &x), TVL__STEAL_OK);
    CU_ASSERT_PTR_EQUAL(x, ITEM(5));
    for (size_t i = 8; i >= 6; i--)
        CU_ASSERT_PTR_EQUAL(tvl__deque_owner_pop(&q), ITEM(i));
    CU_ASSERT_PTR_NULL(tvl__deque_owner_pop(&q));
    CU_ASSERT_EQUAL(tvl__deque_thief_steal(&q, &x), TVL__STEAL_EMPTY);
    tvl__deque_destroy(&q);
}

static void grows_and_keeps_order_across_wraparound(void)
{
    tvl__deque q;
    void *x = NULL;
    CU_ASSERT_EQUAL_FATAL(tvl__deque_init(&q, 1), 0); /* room for 2 */
    /* Move the indices away from 0 so that the copy must handle wrap. */
    for (size_t i = 0; i < 3; i++) {
        tvl__deque_owner_push(&q, ITEM(i));
        CU_ASSERT_EQUAL(tvl__deque_thief_steal(&q, &x), TVL__STEAL_OK);
    }
    const size_t n = 5000;
    for (size_t i = 0; i < n; i++)
        CU_ASSERT_EQUAL_FATAL(tvl__deque_owner_push(&q, ITEM(i)), 0);
    CU_ASSERT_EQUAL(tvl__deque_size_estimate(&q), (int64_t)n);
    for (size_t i = 0; i < n / 2; i++) {
        CU_ASSERT_EQUAL(tvl__deque_thief_steal(&q, &x), TVL__STEAL_OK);
        CU_ASSERT_PTR_EQUAL(x, ITEM(i));
    }
    for (size_t i = n; i-- > n / 2;)
        CU_ASSERT_PTR_EQUAL(tvl__deque_owner_pop(&q), ITEM(i));
    CU_ASSERT_PTR_NULL(tvl__deque_owner_pop(&q));
    tvl__deque_destroy(&q);
    tvl__deque_destroy(NULL);
}

/* ---- concurrent: one owner pushing and popping, several thieves -------- */

enum { THIEVES = 3 };

typedef struct stress {
    tvl__deque q;
    size_t n;
    _Atomic unsigned char *taken; /* times each item was taken */
    atomic_bool owner_done;
    _Atomic size_t stolen, lost, bad;
} stress;

static void take(stress *s, void *x)
{
    size_t i = INDEX(x);
    if (i >= s->n) { /* CUnit asserts are for the main thread only */
        atomic_fetch_add_explicit(&s->bad, 1, memory_order_relaxed);
        return;
    }
    /* Relaxed: a counter checked after the threads are joined. */
    atomic_fetch_add_explicit(&s->taken[i], 1, memory_order_relaxed);
}

static void *thief_main(void *arg)
{
    stress *s = arg;
    size_t got = 0, lost = 0;
    for (;;) {
        void *x;
        int r = tvl__deque_thief_steal(&s->q, &x);
        if (r == TVL__STEAL_OK) {
            take(s, x);
            got++;
            /* Counted as it happens: the owner waits for a first steal. */
            atomic_fetch_add_explicit(&s->stolen, 1, memory_order_relaxed);
        } else if (r == TVL__STEAL_LOST) {
            lost++;
        } else if (atomic_load_explicit(&s->owner_done, memory_order_acquire)) {
            /* Acquire: pairs with the owner's release store after its last
             * pop; an empty deque then stays empty. */
            break;
        }
    }
    (void)got;
    atomic_fetch_add_explicit(&s->lost, lost, memory_order_relaxed);
    return NULL;
}

static void every_item_is_taken_exactly_once_under_steals(void)
{
    stress s;
    s.n = tvl_test_slow_env() ? 200000 : 2000000;
    s.taken = calloc(s.n, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s.taken);
    CU_ASSERT_EQUAL_FATAL(tvl__deque_init(&s.q, 2), 0); /* small: force growth under steals */
    atomic_init(&s.owner_done, false);
    atomic_init(&s.stolen, 0);
    atomic_init(&s.lost, 0);
    atomic_init(&s.bad, 0);
    pthread_t th[THIEVES];
    for (int i = 0; i < THIEVES; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, thief_main, &s), 0);

    unsigned seed = 12345;
    size_t popped = 0;
    for (size_t i = 0; i < s.n; i++) {
        CU_ASSERT_EQUAL_FATAL(tvl__deque_owner_push(&s.q, ITEM(i)), 0);
        if (i % 4096 == 4095)
            sched_yield(); /* valgrind runs one thread at a time: let thieves in */
        seed = seed * 1103515245u + 12345u;
        /* Pop about a third of the time, sometimes in bursts, so that the
         * deque runs empty often (the last-item race) and grows too. */
        unsigned r = (seed >> 16) % 16;
        for (unsigned k = 0; k < (r < 5 ? 1u : r == 15 ? 8u : 0u); k++) {
            void *x = tvl__deque_owner_pop(&s.q);
            if (x == NULL)
                break;
            take(&s, x);
            popped++;
        }
    }
    /* Where threads run one at a time (valgrind), the thieves may not have
     * run yet: give them up to 5 s to steal from what is left, so that the
     * test always exercises steals. */
    for (int w = 0; w < 5000 && atomic_load_explicit(&s.stolen, memory_order_relaxed) == 0; w++)
        usleep(1000);
    for (void *x; (x = tvl__deque_owner_pop(&s.q)) != NULL; popped++)
        take(&s, x);
    atomic_store_explicit(&s.owner_done, true, memory_order_release);
    for (int i = 0; i < THIEVES; i++)
        pthread_join(th[i], NULL);

    size_t once = 0;
    for (size_t i = 0; i < s.n; i++)
        once += atomic_load_explicit(&s.taken[i], memory_order_relaxed) == 1;
    CU_ASSERT_EQUAL(atomic_load(&s.bad), 0);
    CU_ASSERT_EQUAL(once, s.n);
    CU_ASSERT_EQUAL(popped + atomic_load(&s.stolen), s.n);
    CU_ASSERT(atomic_load(&s.stolen) > 0); /* the thieves did take part */
    if (getenv("TVL_TEST_VERBOSE"))
        printf("\n    popped %zu stolen %zu lost races %zu\n", popped, atomic_load(&s.stolen),
               atomic_load(&s.lost));
    tvl__deque_destroy(&s.q);
    free(s.taken);
}

void test_deque_register(void)
{
    static CU_TestInfo tests[] = {
        {"owner_pops_lifo", owner_pops_lifo},
        {"thief_steals_fifo", thief_steals_fifo},
        {"grows_and_keeps_order_across_wraparound", grows_and_keeps_order_across_wraparound},
        {"every_item_is_taken_exactly_once_under_steals",
         every_item_is_taken_exactly_once_under_steals},
        CU_TEST_INFO_NULL,
    };
    tvl_test_add_suite("deque", tests);
}
