/* HTTP transfers in the threads runtime: one reused easy handle per
 * thread (its own connection cache, so keep-alive works per worker), DNS
 * and TLS sessions shared across threads, and a blocking
 * curl_easy_perform inside a blocking region of the pool.
 *
 * Cancelling a transfer that is blocked in poll(): the cancel hook shuts
 * down the handle's sockets, which wakes the poll at once; the progress
 * callback alone would notice only at curl's next wake-up (up to a
 * second). Lock rule: a handle's socket list is guarded by its own mutex,
 * taken by curl's open/close callbacks (on the owning thread) and by the
 * cancel hook (on the cancelling thread); nothing else is held inside it.
 */
#include "rt_threads/easy.h"
#include "rt/backend.h"
#include "tvl/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX_TRACKED_SOCKETS = 16 };

typedef struct thread_easy {
    CURL *easy;
    pthread_mutex_t mu;  /* the socket list (see the top of the file) */
    curl_socket_t socks[MAX_TRACKED_SOCKETS];
    int nsocks;
    /* Under use_mu: whether the owner is between acquire and release, and
     * the session its connections belong to. Another thread replaces an
     * idle handle only under it (tvl__easy_forget_connections). */
    pthread_mutex_t use_mu;
    bool busy;
    unsigned session;
    struct thread_easy *next, *prev; /* the registry, under registry_mu */
} thread_easy;

static pthread_key_t easy_key;
static pthread_once_t easy_once = PTHREAD_ONCE_INIT;
static CURLSH *share;
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

/* Every thread's handle, so that a new session can close the connections
 * of idle threads before the next way's clock starts. Lock order:
 * registry_mu, then a handle's use_mu, then (inside curl's close-socket
 * callback) its mu. */
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static thread_easy *registry;

/* Bumped by tvl_http_new_session(), under registry_mu. A handle of an older
 * session is replaced before its next request (its connections closed).
 * Relaxed loads: a thread that reads a stale value only renews its handle
 * once more than needed, under use_mu, where the real check is made. */
static _Atomic unsigned session_generation;

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userp)
{
    (void)h, (void)access, (void)userp;
    pthread_mutex_lock(&share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
    (void)h, (void)userp;
    pthread_mutex_unlock(&share_locks[data]);
}

static void thread_easy_free(void *p)
{
    thread_easy *te = p;
    if (te == NULL)
        return;
    pthread_mutex_lock(&registry_mu);
    if (te->prev != NULL)
        te->prev->next = te->next;
    else
        registry = te->next;
    if (te->next != NULL)
        te->next->prev = te->prev;
    pthread_mutex_unlock(&registry_mu);
    curl_easy_cleanup(te->easy);
    pthread_mutex_destroy(&te->use_mu);
    pthread_mutex_destroy(&te->mu);
    free(te);
}

/* A new handle for te, closing the old one's connections (through
 * close_socket, so the socket list stays right). use_mu held. Keeps the old
 * handle if a new one cannot be made. */
static bool renew_locked(thread_easy *te, unsigned session)
{
    CURL *fresh = curl_easy_init();
    if (fresh == NULL)
        return false;
    curl_easy_cleanup(te->easy);
    te->easy = fresh;
    te->session = session;
    return true;
}

int tvl__easy_forget_connections(void)
{
    pthread_mutex_lock(&registry_mu);
    unsigned session = atomic_load_explicit(&session_generation, memory_order_relaxed) + 1;
    atomic_store_explicit(&session_generation, session, memory_order_relaxed);
    /* Idle threads' handles are renewed here, so that closing their
     * connections is not paid inside the next way; a thread that is busy
     * renews its own before its next request. */
    for (thread_easy *te = registry; te != NULL; te = te->next) {
        pthread_mutex_lock(&te->use_mu);
        if (!te->busy)
            (void)renew_locked(te, session);
        pthread_mutex_unlock(&te->use_mu);
    }
    pthread_mutex_unlock(&registry_mu);
    return 0;
}

static void easy_global_init(void)
{
    pthread_key_create(&easy_key, thread_easy_free);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&share_locks[i], NULL);
}

/* The share (DNS answers, TLS sessions) belongs to one runtime. A TLS
 * session was verified against that runtime's CA store (rt/ca_store.c)
 * and resuming it skips verification, so a runtime started again with
 * another --cacert must not find it. Made when the runtime starts, before
 * any task runs: workers read `share` only inside tasks, after the
 * submission that publishes them. */
void tvl__threads_easy_open(void)
{
    pthread_once(&easy_once, easy_global_init);
    share = curl_share_init();
    if (share != NULL) {
        curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
}

/* This thread's handle, marked busy until tvl__easy_release(). */
static thread_easy *thread_easy_get(void)
{
    pthread_once(&easy_once, easy_global_init);
    thread_easy *te = pthread_getspecific(easy_key);
    if (te == NULL) {
        te = calloc(1, sizeof *te);
        if (te == NULL)
            return NULL;
        te->easy = curl_easy_init();
        if (te->easy == NULL) {
            free(te);
            return NULL;
        }
        pthread_mutex_init(&te->mu, NULL);
        pthread_mutex_init(&te->use_mu, NULL);
        pthread_mutex_lock(&registry_mu);
        te->session = atomic_load_explicit(&session_generation, memory_order_relaxed);
        te->next = registry;
        if (registry != NULL)
            registry->prev = te;
        registry = te;
        pthread_mutex_unlock(&registry_mu);
        pthread_setspecific(easy_key, te);
    }
    unsigned session = atomic_load_explicit(&session_generation, memory_order_relaxed);
    pthread_mutex_lock(&te->use_mu);
    if (te->session != session && !renew_locked(te, session)) {
        pthread_mutex_unlock(&te->use_mu);
        return NULL;
    }
    te->busy = true;
    pthread_mutex_unlock(&te->use_mu);
    return te;
}

/* At the runtime's end, when the pool has joined every worker (their
 * handles went with them): the caller's handle, for which no thread-exit
 * destructor runs, then the share. A share still attached to a handle of
 * some other thread cannot be cleaned up; it is left to that handle. */
void tvl__threads_easy_close(void)
{
    pthread_once(&easy_once, easy_global_init);
    thread_easy *te = pthread_getspecific(easy_key);
    pthread_setspecific(easy_key, NULL);
    thread_easy_free(te);
    if (share != NULL)
        (void)curl_share_cleanup(share);
    share = NULL;
}

CURL *tvl__easy_acquire(void)
{
    thread_easy *te = thread_easy_get();
    return te != NULL ? te->easy : NULL;
}

void tvl__easy_release(CURL *easy)
{
    (void)easy; /* stays with its thread, connections and all */
    thread_easy *te = pthread_getspecific(easy_key);
    if (te == NULL)
        return;
    pthread_mutex_lock(&te->use_mu);
    te->busy = false;
    pthread_mutex_unlock(&te->use_mu);
}

static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)purpose;
    thread_easy *te = clientp;
    curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd == CURL_SOCKET_BAD)
        return fd;
    pthread_mutex_lock(&te->mu);
    if (te->nsocks < MAX_TRACKED_SOCKETS)
        te->socks[te->nsocks++] = fd;
    pthread_mutex_unlock(&te->mu);
    return fd;
}

static int close_socket(void *clientp, curl_socket_t fd)
{
    thread_easy *te = clientp;
    /* Forget it before closing, so that the hook never shuts down a number
     * the kernel has already given to another socket. */
    pthread_mutex_lock(&te->mu);
    for (int i = 0; i < te->nsocks; i++) {
        if (te->socks[i] == fd) {
            te->socks[i] = te->socks[--te->nsocks];
            break;
        }
    }
    pthread_mutex_unlock(&te->mu);
    return close(fd);
}

static void interrupt_transfer(void *arg)
{
    thread_easy *te = arg;
    pthread_mutex_lock(&te->mu);
    for (int i = 0; i < te->nsocks; i++)
        shutdown(te->socks[i], SHUT_RDWR);
    pthread_mutex_unlock(&te->mu);
}

CURLcode tvl__easy_perform(CURL *easy)
{
    thread_easy *te = pthread_getspecific(easy_key);
    if (te == NULL || te->easy != easy)
        return CURLE_BAD_FUNCTION_ARGUMENT;
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, te);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, te);
    if (share != NULL)
        curl_easy_setopt(easy, CURLOPT_SHARE, share);

    tvl_future *self = tvl_current();
    if (self != NULL && tvl_future_set_cancel_hook(self, interrupt_transfer, te) != 0)
        return CURLE_ABORTED_BY_CALLBACK;
    tvl_blocking_begin();
    CURLcode rc = curl_easy_perform(easy);
    tvl_blocking_end();
    if (self != NULL) {
        tvl_future_clear_cancel_hook(self);
        if (rc != CURLE_OK && tvl_future_cancel_requested(self))
            rc = CURLE_ABORTED_BY_CALLBACK; /* the hook broke the socket */
    }
    return rc;
}
