/* The worker's side of the standby runtime: worker/standby.h. */
#include "worker/standby.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/standby.h"
#include "worker/spawn.h"

cella_res cella_standby_start(const char *exe, int log_fd, cella_standby *sb)
{
    *sb = CELLA_STANDBY_NONE;
    int sp[2];
    CELLA_ENSURE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0, CELLA_E_IO,
                 "standby", "socketpair: %s", strerror(errno));
    const char *argv[] = {exe, "run-task", "--standby", NULL};
    cella_res r = cella_child_spawn_in(argv, sp[1], log_fd, "standby", &sb->child);
    close(sp[1]);
    if (!cella_ok(r)) {
        close(sp[0]);
        return r;
    }
    sb->fd = sp[0];
    return CELLA_OK_RES;
}

/* Gives up the process: *sb empty. */
static cella_child release(cella_standby *sb)
{
    cella_child c = sb->child;
    if (sb->fd >= 0)
        close(sb->fd); /* the end of its stdin: the one message is all it gets */
    *sb = CELLA_STANDBY_NONE;
    return c;
}

static void reap(cella_child *c)
{
    int st;
    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        cella_child_wait(c, -1, &st);
    }
}

cella_res cella_standby_hand(cella_standby *sb, const char *log_path, const char *const *args,
                             cella_child *child)
{
    CELLA_ENSURE(sb->child.pid > 0 && sb->fd >= 0, CELLA_E_NOTFOUND, "standby", "no standby runtime");
    uint8_t *msg = malloc(CELLA_STANDBY_MSG_MAX + 4);
    size_t len = 0;
    cella_res r = msg ? cella_standby_encode(log_path, args, msg, CELLA_STANDBY_MSG_MAX + 4, &len)
                      : cella_fail(CELLA_E_NOMEM, "standby", "out of memory");
    /* a standby that died meanwhile: EPIPE (no SIGPIPE), and it is reaped */
    for (size_t off = 0; cella_ok(r) && off < len;) {
        ssize_t w = send(sb->fd, msg + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            r = cella_fail(CELLA_E_IO, "standby", "the standby runtime is gone: %s", strerror(errno));
        else
            off += (size_t)w;
    }
    free(msg);
    cella_child c = release(sb);
    if (!cella_ok(r)) {
        reap(&c);
        return r;
    }
    *child = c;
    return CELLA_OK_RES;
}

void cella_standby_stop(cella_standby *sb)
{
    if (sb->child.pid <= 0) {
        release(sb);
        return;
    }
    cella_child c = release(sb);
    int st;
    if (!cella_child_wait(&c, 5000, &st))
        reap(&c);
}
