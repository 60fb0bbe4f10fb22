/* The threads runtime's per-thread easy handles (easy.c): what its
 * runtime.c calls at start and end. */
#ifndef TVL_RT_THREADS_EASY_H
#define TVL_RT_THREADS_EASY_H

/* At the runtime's start, before any task runs: the share of DNS answers
 * and TLS sessions, one per runtime. */
void tvl__threads_easy_open(void);

/* At its end, after the pool has joined every worker: the caller's own
 * handle and the share. */
void tvl__threads_easy_close(void);

#endif
