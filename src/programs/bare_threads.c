/* The baseline the threads build is measured against: N bare pthreads, each
 * doing one blocking curl_easy_perform, with no pool, no futures and no
 * runtime. Usage: bare-threads N URL  (prints wall seconds, max RSS). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static const char *url;

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p, (void)u;
    return s * n;
}

static void *fetch(void *arg)
{
    long *status = arg;
    CURL *e = curl_easy_init();
    if (e == NULL)
        return NULL;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* direct, as the runtimes (rt/http.c) */
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    if (curl_easy_perform(e) == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(e);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3 || atoi(argv[1]) <= 0) {
        fprintf(stderr, "usage: bare-threads N URL\n");
        return 2;
    }
    int n = atoi(argv[1]);
    url = argv[2];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    long *status = calloc((size_t)n, sizeof *status);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int started = 0;
    for (int i = 0; i < n; i++)
        if (pthread_create(&th[i], NULL, fetch, &status[i]) == 0)
            started++;
        else
            th[i] = 0;
    for (int i = 0; i < n; i++)
        if (th[i])
            pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += status[i] == 200;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"n\":%d,\"started\":%d,\"ok\":%d,\"wall_s\":%.6f,\"max_rss_kib\":%ld,"
           "\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f}\n",
           n, started, ok, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
           ru.ru_maxrss, (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    free(th);
    free(status);
    curl_global_cleanup();
    return ok == n ? 0 : 1;
}
