/* The public handle of the delay server: a child process started with fork
 * and exec (and reaped by stop), or a thread of the caller's process. */
#include "tvl/delay_server.h"
#include "server/server.h"
#include "tvl/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct tvl_delay_server {
    pid_t pid;        /* child; 0 for a thread server */
    char url[96];
    char ca_file[PATH_MAX];
    char ca_dir[PATH_MAX];
    unsigned port;
    /* thread server */
    tvl__ds *ds;
    pthread_t thread;
    int stop_fd;
    int run_rc;
};

void tvl_delay_server_options_init(tvl_delay_server_options *o)
{
    memset(o, 0, sizeof *o);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Finds the delay-server binary: o->program, $TVL_DELAY_SERVER, or the
 * directory of the running executable. */
static int find_program(const tvl_delay_server_options *o, char *path, size_t len)
{
    const char *p = o->program ? o->program : getenv("TVL_DELAY_SERVER");
    if (p != NULL && p[0] != '\0') {
        if ((size_t)snprintf(path, len, "%s", p) >= len)
            return -ENAMETOOLONG;
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n < 0)
            return -errno;
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash == NULL)
            return -ENOENT;
        *slash = '\0';
        if ((size_t)snprintf(path, len, "%s/delay-server", self) >= len)
            return -ENAMETOOLONG;
    }
    return access(path, X_OK) == 0 ? 0 : -ENOENT;
}

/* Parses "READY url=U ca=C pid=P". */
static int parse_ready(tvl_delay_server *s, char *line)
{
    if (strncmp(line, "READY url=", 10) != 0)
        return -EPROTO;
    char *url = line + 10;
    char *ca = strstr(url, " ca=");
    char *pid = ca ? strstr(ca, " pid=") : NULL;
    if (ca == NULL || pid == NULL)
        return -EPROTO;
    *ca = '\0';
    ca += 4;
    *pid = '\0';
    if (strlen(url) >= sizeof s->url || strlen(ca) >= sizeof s->ca_file)
        return -EPROTO;
    strcpy(s->url, url);
    if (strcmp(ca, "-") != 0) {
        strcpy(s->ca_file, ca);
        strcpy(s->ca_dir, ca);
        char *slash = strrchr(s->ca_dir, '/');
        if (slash == NULL)
            return -EPROTO;
        *slash = '\0';
    }
    char *colon = strrchr(s->url, ':');
    unsigned long port = colon ? strtoul(colon + 1, NULL, 10) : 0;
    if (port == 0 || port > 65535)
        return -EPROTO;
    s->port = (unsigned)port;
    return 0;
}

/* Waits for the child; returns its status code or -ETIMEDOUT. */
static int reap(pid_t pid, unsigned timeout_ms, int *status)
{
    uint64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
        if (mono_ms() >= deadline)
            return -ETIMEDOUT;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void remove_files(tvl_delay_server *s)
{
    if (s->ca_file[0] != '\0')
        unlink(s->ca_file); /* ENOENT after a clean exit: the server did it */
    if (s->ca_dir[0] != '\0')
        rmdir(s->ca_dir);
}

/* Stops a child: SIGTERM, then SIGKILL after 10 s. */
static int stop_child(tvl_delay_server *s)
{
    int status = 0;
    kill(s->pid, SIGTERM);
    int rc = reap(s->pid, 10000, &status);
    if (rc == -ETIMEDOUT) {
        kill(s->pid, SIGKILL);
        reap(s->pid, 10000, &status);
    } else if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        rc = -EPROTO;
    }
    remove_files(s);
    return rc;
}

int tvl_delay_server_spawn(const tvl_delay_server_options *o, tvl_delay_server **out)
{
    tvl_delay_server_options defaults;
    if (o == NULL) {
        tvl_delay_server_options_init(&defaults);
        o = &defaults;
    }
    *out = NULL;
    if (!(o->scale >= 0 && o->scale <= 1000) || o->port > 65535)
        return -EINVAL;
    char prog[PATH_MAX];
    int rc = find_program(o, prog, sizeof prog);
    if (rc != 0)
        return rc;

    /* Everything the child needs is made before fork: after it, only
     * async-signal-safe calls. */
    char port[16], scale[32], idle[16], spin[16];
    snprintf(spin, sizeof spin, "%u", o->spin_us);
    snprintf(port, sizeof port, "%u", o->port);
    snprintf(scale, sizeof scale, "%.17g", o->scale > 0 ? o->scale : 1.0);
    snprintf(idle, sizeof idle, "%u", o->idle_timeout_ms ? o->idle_timeout_ms : 60000);
    char *argv[16];
    int argc = 0;
    argv[argc++] = prog;
    argv[argc++] = "--bind";
    argv[argc++] = (char *)(o->bind_addr ? o->bind_addr : "127.0.0.1");
    argv[argc++] = "--port";
    argv[argc++] = port;
    argv[argc++] = "--scale";
    argv[argc++] = scale;
    argv[argc++] = "--idle-timeout-ms";
    argv[argc++] = idle;
    argv[argc++] = "--spin-us";
    argv[argc++] = spin;
    if (o->plain_http)
        argv[argc++] = "--plain-http";
    if (o->stats)
        argv[argc++] = "--stats";
    argv[argc] = NULL;

    tvl_delay_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->stop_fd = -1;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        rc = -errno;
        free(s);
        return rc;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        rc = -errno;
        close(pfd[0]);
        close(pfd[1]);
        free(s);
        return rc;
    }
    if (pid == 0) {
        /* Die with the parent; if it already died, do not linger. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigaction(SIGTERM, &dfl, NULL);
        sigaction(SIGINT, &dfl, NULL);
        if (dup2(pfd[1], STDOUT_FILENO) < 0)
            _exit(127);
        execv(prog, argv);
        _exit(127);
    }
    close(pfd[1]);
    s->pid = pid;

    /* Read the READY line. */
    char line[PATH_MAX + 200];
    size_t len = 0;
    unsigned timeout = o->ready_timeout_ms ? o->ready_timeout_ms : 20000;
    uint64_t deadline = mono_ms() + timeout;
    rc = -EPROTO;
    for (;;) {
        uint64_t now = mono_ms();
        if (now >= deadline) {
            rc = -ETIMEDOUT;
            break;
        }
        struct pollfd p = {pfd[0], POLLIN, 0};
        int pr = poll(&p, 1, (int)(deadline - now));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            rc = pr == 0 ? -ETIMEDOUT : -errno;
            break;
        }
        ssize_t n = read(pfd[0], line + len, sizeof line - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the child exited (or closed stdout) without READY */
        len += (size_t)n;
        line[len] = '\0';
        char *nl = strchr(line, '\n');
        if (nl != NULL) {
            *nl = '\0';
            rc = parse_ready(s, line);
            break;
        }
        if (len == sizeof line - 1)
            break;
    }
    close(pfd[0]);
    if (rc != 0) {
        stop_child(s);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static void *serve_thread(void *arg)
{
    tvl_delay_server *s = arg;
    s->run_rc = tvl__ds_run(s->ds, s->stop_fd);
    return NULL;
}

int tvl_delay_server_start(const tvl_delay_server_options *o, tvl_delay_server **out)
{
    tvl_delay_server_options defaults;
    if (o == NULL) {
        tvl_delay_server_options_init(&defaults);
        o = &defaults;
    }
    *out = NULL;
    tvl__ds_config cfg = {o->bind_addr, o->port, o->plain_http, o->scale > 0 ? o->scale : 1.0,
                          o->idle_timeout_ms, o->spin_us};
    tvl_delay_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    char err[512];
    int rc = tvl__ds_create(&cfg, &s->ds, err, sizeof err);
    if (rc != 0) {
        free(s);
        return rc;
    }
    s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->stop_fd < 0) {
        rc = -errno;
        goto fail;
    }
    snprintf(s->url, sizeof s->url, "%s", tvl__ds_url(s->ds));
    const char *ca = tvl__ds_ca_file(s->ds);
    if (ca != NULL)
        snprintf(s->ca_file, sizeof s->ca_file, "%s", ca);
    s->port = tvl__ds_port(s->ds);
    /* Every signal blocked on the server thread: a SIGPIPE from writing to
     * a vanished TLS client stays pending there instead of killing us. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = -pthread_create(&s->thread, NULL, serve_thread, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        goto fail;
    *out = s;
    return 0;
fail:
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    tvl__ds_destroy(s->ds);
    free(s);
    return rc;
}

const char *tvl_delay_server_url(const tvl_delay_server *s) { return s->url; }

const char *tvl_delay_server_ca_file(const tvl_delay_server *s)
{
    return s->ca_file[0] ? s->ca_file : NULL;
}

unsigned tvl_delay_server_port(const tvl_delay_server *s) { return s->port; }

pid_t tvl_delay_server_pid(const tvl_delay_server *s) { return s->pid ? s->pid : getpid(); }

int tvl_delay_server_stop(tvl_delay_server *s)
{
    if (s == NULL)
        return 0;
    int rc;
    if (s->pid != 0) {
        rc = stop_child(s);
    } else {
        uint64_t one = 1;
        rc = write(s->stop_fd, &one, sizeof one) == sizeof one ? 0 : -errno;
        pthread_join(s->thread, NULL);
        if (rc == 0)
            rc = s->run_rc;
        close(s->stop_fd);
        tvl__ds_destroy(s->ds);
    }
    free(s);
    return rc;
}
