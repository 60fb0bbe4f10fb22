/* What an OS thread costs on this machine, for RESULTS.md: creating and
 * joining one, the memory of one parked (as a worker blocked in a transfer
 * is), and a context switch between two threads; and the two costs under
 * every thread and fiber, a system call and the first touch of a page
 * (faulted in, or populated in bulk beforehand), which differ by an order
 * of magnitude between machines. Prints one JSON object.
 * Usage: thread-cost [--threads N] (default 1000). */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    long kib = -1;
    char line[256];
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kib;
}

static void *nothing(void *arg)
{
    return arg;
}

/* Parked threads wait on this futex word until it becomes 1. */
static _Atomic uint32_t release_word;
static _Atomic int parked;

static void *park(void *arg)
{
    (void)arg;
    /* A little stack in use, as a worker in curl_easy_perform has. */
    volatile char frame[8192];
    memset((char *)frame, 1, sizeof frame);
    atomic_fetch_add_explicit(&parked, 1, memory_order_release);
    while (atomic_load_explicit(&release_word, memory_order_acquire) == 0)
        syscall(SYS_futex, &release_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    return NULL;
}

/* Ping-pong: each side waits for its turn on a futex and hands it over. */
static _Atomic uint32_t turn;
enum { ROUNDS = 100000 };

static void pass(uint32_t mine, uint32_t next)
{
    while (atomic_load_explicit(&turn, memory_order_acquire) != mine)
        syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, next, NULL, NULL, 0);
    atomic_store_explicit(&turn, next, memory_order_release);
    syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *pong(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++)
        pass(1, 0);
    return NULL;
}

/* ---- memory and system calls ------------------------------------------------ */

enum { PAGES = 4096, SYSCALLS = 100000 };

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* A system call that does nothing: its cost is the entry and exit. */
static double syscall_ns(void)
{
    double t0 = now_s();
    for (int i = 0; i < SYSCALLS; i++)
        syscall(SYS_getppid);
    return (now_s() - t0) / SYSCALLS * 1e9;
}

/* The first write to each of PAGES new anonymous pages: *fault_ns when
 * each one faults in; *populate_ns for MADV_POPULATE_WRITE on all of them
 * at once and *touch_ns for the first write afterwards (per page; both 0
 * where the kernel lacks the advice). */
static void page_costs(double *fault_ns, double *populate_ns, double *touch_ns)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t len = (size_t)PAGES * (size_t)(page > 0 ? page : 4096);
    *fault_ns = *populate_ns = *touch_ns = 0;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    /* Where transparent huge pages are always on, a fault would map 2 MiB
     * and the per-page figures would be 512 times too small. */
    (void)madvise(p, len, MADV_NOHUGEPAGE);
    double t0 = now_s();
    for (size_t off = 0; off < len; off += (size_t)page)
        ((volatile char *)p)[off] = 1;
    *fault_ns = (now_s() - t0) / PAGES * 1e9;
    munmap(p, len);
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    (void)madvise(p, len, MADV_NOHUGEPAGE);
    t0 = now_s();
    if (madvise(p, len, MADV_POPULATE_WRITE) == 0) {
        double t1 = now_s();
        for (size_t off = 0; off < len; off += (size_t)page)
            ((volatile char *)p)[off] = 1;
        *populate_ns = (t1 - t0) / PAGES * 1e9;
        *touch_ns = (now_s() - t1) / PAGES * 1e9;
    }
    munmap(p, len);
}

int main(int argc, char **argv)
{
    long n = 1000;
    if (argc == 3 && strcmp(argv[1], "--threads") == 0)
        n = strtol(argv[2], NULL, 10);
    if (n < 1 || n > 100000 || (argc != 1 && argc != 3)) {
        fprintf(stderr, "usage: thread-cost [--threads N]   (N from 1 to 100000)\n");
        return 2;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024); /* the pool's stack size */

    /* Create + join, one at a time. */
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        pthread_t th;
        if (pthread_create(&th, &attr, nothing, NULL) != 0)
            return 1;
        pthread_join(th, NULL);
    }
    double create_ns = (now_s() - t0) / (double)n * 1e9;

    /* N threads parked at once: resident memory per thread. */
    long before = rss_kib();
    pthread_t *ths = calloc((size_t)n, sizeof *ths);
    long started = 0;
    for (; started < n; started++)
        if (pthread_create(&ths[started], &attr, park, NULL) != 0)
            break;
    while (atomic_load_explicit(&parked, memory_order_acquire) < started)
        usleep(1000);
    long during = rss_kib();
    atomic_store_explicit(&release_word, 1, memory_order_release);
    syscall(SYS_futex, &release_word, FUTEX_WAKE_PRIVATE, 1 << 30, NULL, NULL, 0);
    for (long i = 0; i < started; i++)
        pthread_join(ths[i], NULL);
    free(ths);

    /* Context switches: a futex ping-pong, two switches a round. */
    pthread_t other;
    pthread_create(&other, &attr, pong, NULL);
    t0 = now_s();
    for (int i = 0; i < ROUNDS; i++)
        pass(0, 1);
    double switch_ns = (now_s() - t0) / (2.0 * ROUNDS) * 1e9;
    pthread_join(other, NULL);

    double fault_ns, populate_ns, touch_ns;
    page_costs(&fault_ns, &populate_ns, &touch_ns);
    printf("{\"threads\":%ld,\"create_join_ns\":%.0f,\"parked_threads\":%ld,"
           "\"rss_per_parked_thread_kib\":%.1f,\"context_switch_ns\":%.0f,"
           "\"stack_size_kib\":256,\"syscall_ns\":%.0f,\"page_fault_ns\":%.0f,"
           "\"page_populate_ns\":%.0f,\"populated_page_touch_ns\":%.0f}\n",
           n, create_ns, started, started ? (double)(during - before) / (double)started : 0.0,
           switch_ns, syscall_ns(), fault_ns, populate_ns, touch_ns);
    pthread_attr_destroy(&attr);
    return 0;
}
