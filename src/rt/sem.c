/* asyncio.Semaphore: a counting semaphore with FIFO waiters. */
#include "rt/backend.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct sem_waiter {
    tvl__waiter waiter;
    bool granted; /* set by release, under the lock */
    struct sem_waiter *next;
} sem_waiter;

struct tvl_sem {
    pthread_mutex_t mu;
    unsigned value;
    sem_waiter *head, *tail;
};

int tvl_sem_create(unsigned value, tvl_sem **out)
{
    tvl_sem *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    pthread_mutex_init(&s->mu, NULL);
    s->value = value;
    *out = s;
    return 0;
}

static void unlink_waiter(tvl_sem *s, sem_waiter *w)
{
    sem_waiter **pp = &s->head;
    sem_waiter *prev = NULL;
    while (*pp != NULL && *pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == NULL)
        return;
    *pp = w->next;
    if (s->tail == w)
        s->tail = prev;
}

/* Gives one permit to the first waiter, or back to the count. Lock held.
 * The wake happens under the lock: a woken waiter re-takes the lock before
 * it returns, so its node outlives the wake. */
static void hand_on(tvl_sem *s)
{
    sem_waiter *w = s->head;
    if (w == NULL) {
        s->value++;
        return;
    }
    s->head = w->next;
    if (s->head == NULL)
        s->tail = NULL;
    w->granted = true;
    tvl__waiter_wake(&w->waiter);
}

int tvl_sem_acquire(tvl_sem *s)
{
    return tvl__sem_acquire_until(s, INT64_MAX);
}

int tvl__sem_acquire_until(tvl_sem *s, int64_t deadline_ns)
{
    pthread_mutex_lock(&s->mu);
    if (s->value > 0 && s->head == NULL) {
        s->value--;
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    sem_waiter me = {.granted = false, .next = NULL};
    tvl__waiter_init(&me.waiter);
    /* `me` lives on this stack until it is unlinked below (granted: by
     * hand_on; cancelled: by unlink_waiter), always before we return. */
    if (s->tail != NULL)
        s->tail->next = &me;
    else
        s->head = &me; /* cppcheck-suppress autoVariables */
    s->tail = &me;     /* cppcheck-suppress autoVariables */
    int rc = 0;
    while (!me.granted) {
        pthread_mutex_unlock(&s->mu);
        rc = tvl__waiter_wait(&me.waiter, deadline_ns, true);
        pthread_mutex_lock(&s->mu);
        if (rc == -ECANCELED) {
            if (me.granted)
                hand_on(s); /* granted as we were cancelled: pass it on */
            else
                unlink_waiter(s, &me);
            break;
        }
        if (rc == -ETIMEDOUT) {
            if (me.granted) { /* granted just as the deadline passed: keep it */
                rc = 0;
                break;
            }
            unlink_waiter(s, &me);
            break;
        }
        rc = 0;
    }
    pthread_mutex_unlock(&s->mu);
    tvl__waiter_destroy(&me.waiter);
    return rc;
}

void tvl_sem_release(tvl_sem *s)
{
    pthread_mutex_lock(&s->mu);
    hand_on(s);
    pthread_mutex_unlock(&s->mu);
}

unsigned tvl_sem_value(const tvl_sem *s)
{
    tvl_sem *m = (tvl_sem *)s; /* the lock is not part of the value */
    pthread_mutex_lock(&m->mu);
    unsigned v = m->value;
    pthread_mutex_unlock(&m->mu);
    return v;
}

void tvl_sem_destroy(tvl_sem *s)
{
    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s);
}
