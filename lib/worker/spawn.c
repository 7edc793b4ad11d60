/* The worker's enclave process: see spawn.h. */
#include "worker/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

cella_res cella_child_spawn(const char *const *argv, int log_fd, const char *where,
                            cella_child *c)
{
    c->pid = -1;
    c->pidfd = -1;
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CELLA_ENSURE(in >= 0, CELLA_E_IO, "/dev/null", "open: %s", strerror(errno));
    cella_res r = cella_child_spawn_in(argv, in, log_fd, where, c);
    close(in);
    return r;
}

cella_res cella_child_spawn_in(const char *const *argv, int in, int log_fd, const char *where,
                               cella_child *c)
{
    c->pid = -1;
    c->pidfd = -1;
    /* The child reports why it could not exec through this pipe: closed by
     * a successful exec (O_CLOEXEC), so the parent reads EOF then, and an
     * errno otherwise. It works whether vfork shares memory or copies it
     * (as valgrind's does). */
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) != 0) {
        int e = errno;
        return cella_fail(CELLA_E_IO, where, "pipe: %s", strerror(e));
    }
    /* Every signal blocked across vfork: no handler of the worker runs in
     * the child, which shares the worker's memory until it execs. */
    sigset_t all, old, none;
    sigfillset(&all);
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = vfork();
    if (pid == 0) {
        /* Only system calls here. SIGINT ignored (see spawn.h), kept so by exec. */
        struct sigaction ign = {.sa_handler = SIG_IGN};
        sigaction(SIGINT, &ign, NULL);
        if (dup2(in, 0) >= 0 && dup2(log_fd, 1) >= 0 && dup2(log_fd, 2) >= 0) {
            sigprocmask(SIG_SETMASK, &none, NULL);
            execv(argv[0], (char *const *)argv);
        }
        int e = errno;
        (void)!write(ep[1], &e, sizeof e);
        _exit(127);
    }
    int err = pid < 0 ? errno : 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(ep[1]);
    if (pid > 0) {
        ssize_t got;
        do
            got = read(ep[0], &err, sizeof err);
        while (got < 0 && errno == EINTR);
        if (got != (ssize_t)sizeof err)
            err = 0; /* EOF: it execed */
        else
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) { /* reap it */
            }
    }
    close(ep[0]);
    CELLA_ENSURE(pid > 0 && !err, CELLA_E_IO, where, "cannot start %s: %s", argv[0],
                 strerror(err));
    *c = cella_child_watch(pid);
    return CELLA_OK_RES;
}

double cella_cpu_ms(bool children)
{
    struct rusage u;
    if (getrusage(children ? RUSAGE_CHILDREN : RUSAGE_SELF, &u) != 0)
        return 0;
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
           (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}
