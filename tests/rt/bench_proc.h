/* Running this runtime's bench binary from a test, as a user would. */
#ifndef TVL_TESTS_BENCH_PROC_H
#define TVL_TESTS_BENCH_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* Starts build/bench-<runtime> (next to the test binary) with the
 * NULL-terminated args, stdout to /dev/null, stderr to a pipe whose read
 * end is stored in *err_fd. Returns the child's pid, or -1. */
pid_t bench_start(const char *const *args, int *err_fd);

/* Reads the child's stderr into err (NUL-terminated), waits for it for at
 * most timeout_s seconds (then kills it and returns -1), and returns its
 * exit status (128 + signal if it died of a signal). */
int bench_finish(pid_t pid, int err_fd, char *err, size_t errlen, double timeout_s);

/* bench_start + bench_finish with a 60 s bound. */
int bench_run(const char *const *args, char *err, size_t errlen);

#endif
