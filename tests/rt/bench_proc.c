/* Running the bench binary as a child process, with a bound on its time. */
#include "bench_proc.h"
#include "tvl/rt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

pid_t bench_start(const char *const *args, int *err_fd)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 64);
    if (len <= 0)
        return -1;
    self[len] = '\0';
    char *slash = strrchr(self, '/');
    snprintf(slash + 1, 64, "bench-%s", tvl_rt_backend());
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(pipefd[1], STDERR_FILENO);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, STDOUT_FILENO);
        char *argv[40];
        int argc = 0;
        argv[argc++] = self;
        for (; args[argc - 1] != NULL && argc < 39; argc++)
            argv[argc] = (char *)args[argc - 1];
        argv[argc] = NULL;
        execv(self, argv);
        _exit(127);
    }
    close(pipefd[1]);
    *err_fd = pipefd[0];
    return pid;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int bench_finish(pid_t pid, int err_fd, char *err, size_t errlen, double timeout_s)
{
    double deadline = now_s() + timeout_s;
    size_t got = 0;
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0)
            break;
        struct pollfd p = {.fd = err_fd, .events = POLLIN};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        char sink[512];
        char *dst = got + 1 < errlen ? err + got : sink;
        size_t room = got + 1 < errlen ? errlen - 1 - got : sizeof sink;
        ssize_t n = read(err_fd, dst, room);
        if (n <= 0)
            break; /* EOF: the child has closed stderr (exited) */
        if (dst != sink)
            got += (size_t)n;
    }
    err[got < errlen ? got : errlen - 1] = '\0';
    close(err_fd);
    int status;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (now_s() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(10000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int bench_run(const char *const *args, char *err, size_t errlen)
{
    int fd;
    pid_t pid = bench_start(args, &fd);
    if (pid < 0)
        return -1;
    return bench_finish(pid, fd, err, errlen, 60.0);
}
