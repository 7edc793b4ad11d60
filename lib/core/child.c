/* Waiting for a child process: see child.h. */
#include "core/child.h"

#include <errno.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

cella_child cella_child_watch(pid_t pid)
{
    return (cella_child){.pid = pid, .pidfd = (int)syscall(SYS_pidfd_open, pid, 0)};
}

bool cella_child_wait(cella_child *c, int timeout_ms, int *status)
{
    if (c->pidfd >= 0) {
        struct pollfd p = {c->pidfd, POLLIN, 0};
        int n = poll(&p, 1, timeout_ms);
        if (n == 0 || (n < 0 && errno == EINTR))
            return false;
        if (n < 0) { /* cannot happen with a valid pidfd: fall back to looking */
            close(c->pidfd);
            c->pidfd = -1;
            return false;
        }
    } else { /* no pidfd: look every millisecond */
        for (int waited = 0;; waited++) {
            pid_t w = waitpid(c->pid, status, WNOHANG);
            if (w == c->pid)
                return true;
            if (w < 0 && errno != EINTR) {
                *status = -1; /* lost track of it: not a success */
                return true;
            }
            if (timeout_ms >= 0 && waited >= timeout_ms)
                return false;
            struct timespec t = {0, 1000 * 1000};
            nanosleep(&t, NULL);
        }
    }
    pid_t w;
    do
        w = waitpid(c->pid, status, 0);
    while (w < 0 && errno == EINTR);
    if (w != c->pid)
        *status = -1;
    close(c->pidfd);
    c->pidfd = -1;
    return true;
}
