/* Running one way over a job and measuring it: wall time, CPU, memory,
 * threads, and the outcome of every item. */
#ifndef TVL_BENCH_HARNESS_H
#define TVL_BENCH_HARNESS_H

#include <stdint.h>

#include "patterns/job.h"

typedef struct tvl_way_run {
    const tvl_way *way;
    unsigned repeat;        /* 0-based */
    double t0;              /* tvl_now() at the start */
    double wall_s;          /* the way's own time, stragglers excluded */
    double cpu_user_s;
    double cpu_sys_s;
    long max_rss_kib;       /* peak resident set during the way */
    long ctx_voluntary;     /* context switches (every thread): blocked */
    long ctx_involuntary;   /* ... and preempted */
    uint64_t threads_started;
    uint64_t peak_threads;
    size_t ok;
    size_t failed;
    uint64_t bytes;
    int way_error;          /* what the way returned (gather raised, ...) */
    char way_message[200];
} tvl_way_run;

/* Runs `way` over job as the runtime's main task, then waits for every
 * task it left running (outside the timing) so that each item has an
 * outcome, and fills *run. Items are reset first. */
void tvl_harness_run(const tvl_way *way, tvl_job *job, unsigned repeat, tvl_way_run *run);

#endif
