/* The worker's enclave process: see spawn.h. */
#include "worker/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

cella_res cella_child_spawn(const char *const *argv, int log_fd, const char *where,
                            cella_child *c)
{
    c->pid = -1;
    c->pidfd = -1;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    CELLA_ENSURE(posix_spawn_file_actions_init(&fa) == 0, CELLA_E_NOMEM, where, "out of memory");
    if (posix_spawnattr_init(&at) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return cella_fail(CELLA_E_NOMEM, where, "out of memory");
    }
    sigset_t none;
    sigemptyset(&none);
    /* its own process group (see spawn.h); no signal blocked, whatever the
     * slot thread that starts it blocks */
    int rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(&fa, log_fd, 1);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(&fa, log_fd, 2);
    if (!rc)
        rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    if (!rc)
        rc = posix_spawnattr_setpgroup(&at, 0);
    if (!rc)
        rc = posix_spawnattr_setsigmask(&at, &none);
    pid_t pid = -1;
    if (!rc)
        rc = posix_spawn(&pid, argv[0], &fa, &at, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    CELLA_ENSURE(rc == 0, CELLA_E_IO, where, "cannot start %s: %s", argv[0], strerror(rc));
    c->pid = pid;
    /* Not reaped before we wait for it: the pid cannot name another process. */
    c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    return CELLA_OK_RES;
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
    } else { /* no pidfd: look every 5 ms */
        for (int waited = 0;; waited += 5) {
            pid_t w = waitpid(c->pid, status, WNOHANG);
            if (w == c->pid)
                return true;
            if (w < 0 && errno != EINTR) {
                *status = -1; /* lost track of it: not a success */
                return true;
            }
            if (waited >= timeout_ms)
                return false;
            struct timespec t = {0, 5 * 1000 * 1000};
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
