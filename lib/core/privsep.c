#include "core/privsep.h"

#include <errno.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/secure.h"

#define DEFAULT_TIMEOUT_MS 10000
#define ERROR_TEXT_MAX 512

/* ---- frames ---------------------------------------------------------------------- */

cella_res cella_frame_parse(cella_slice in, uint32_t magic, uint16_t version, cella_frame *out)
{
    cella_reader r = cella_reader_of(in, "privsep frame");
    uint32_t m, len;
    uint16_t v;
    memset(out, 0, sizeof *out);
    CELLA_TRY(cella_read_u32le(&r, &m));
    CELLA_ENSURE(m == magic, CELLA_E_PARSE, "privsep frame", "wrong magic");
    CELLA_TRY(cella_read_u16le(&r, &v));
    CELLA_ENSURE(v == version, CELLA_E_PARSE, "privsep frame", "unsupported version %u", v);
    CELLA_TRY(cella_read_u16le(&r, &out->op));
    CELLA_TRY(cella_read_u32le(&r, &out->id));
    CELLA_TRY(cella_read_u32le(&r, &len));
    CELLA_ENSURE(len <= CELLA_PRIVSEP_MAX_PAYLOAD, CELLA_E_TOOBIG, "privsep frame",
                 "payload of %u bytes (at most %d)", len, CELLA_PRIVSEP_MAX_PAYLOAD);
    CELLA_ENSURE(len == cella_reader_left(&r), CELLA_E_PARSE, "privsep frame",
                 "length field %u, but %zu payload bytes", len, cella_reader_left(&r));
    return cella_read_bytes(&r, len, &out->payload);
}

cella_res cella_frame_build(uint8_t *out, size_t cap, uint32_t magic, uint16_t version, uint16_t op,
                            uint32_t id, cella_slice payload, size_t *len)
{
    CELLA_ENSURE(payload.len <= CELLA_PRIVSEP_MAX_PAYLOAD && cap >= CELLA_PRIVSEP_HEADER + payload.len,
                 CELLA_E_TOOBIG, "privsep frame", "payload of %zu bytes does not fit", payload.len);
    cella_put_u32le(out, magic);
    cella_put_u16le(out + 4, version);
    cella_put_u16le(out + 6, op);
    cella_put_u32le(out + 8, id);
    cella_put_u32le(out + 12, (uint32_t)payload.len);
    if (payload.len)
        memcpy(out + CELLA_PRIVSEP_HEADER, payload.p, payload.len);
    *len = CELLA_PRIVSEP_HEADER + payload.len;
    return CELLA_OK_RES;
}

static size_t put_text(uint8_t *out, size_t cap, size_t at, const char *s)
{
    size_t n = strnlen(s ? s : "", ERROR_TEXT_MAX);
    if (at + 2 + n > cap)
        n = cap > at + 2 ? cap - at - 2 : 0;
    cella_put_u16le(out + at, (uint16_t)n);
    if (n)
        memcpy(out + at + 2, s, n);
    return at + 2 + n;
}

size_t cella_frame_error_payload(uint8_t *out, size_t cap, cella_code code, const char *what,
                                 const char *where)
{
    if (cap < 6)
        return 0;
    cella_put_u16le(out, (uint16_t)code);
    size_t at = put_text(out, cap - 2, 2, what); /* leaves room for where's length */
    return put_text(out, cap, at, where);
}

/* A text field of an error reply, made printable for the parent's error line. */
static cella_res read_text(cella_reader *r, char *out, size_t cap)
{
    uint16_t n;
    cella_slice s;
    CELLA_TRY(cella_read_u16le(r, &n));
    CELLA_ENSURE(n < cap, CELLA_E_PARSE, "privsep error", "text too long");
    CELLA_TRY(cella_read_bytes(r, n, &s));
    for (size_t i = 0; i < n; i++)
        out[i] = s.p[i] >= 0x20 && s.p[i] < 0x7f ? (char)s.p[i] : '?';
    out[n] = '\0';
    return CELLA_OK_RES;
}

cella_res cella_frame_error_raise(cella_slice payload, const char *who)
{
    cella_reader r = cella_reader_of(payload, "privsep error");
    uint16_t code;
    char what[ERROR_TEXT_MAX + 1], where[ERROR_TEXT_MAX + 1];
    cella_res ok = cella_read_u16le(&r, &code);
    if (cella_ok(ok))
        ok = read_text(&r, what, sizeof what);
    if (cella_ok(ok))
        ok = read_text(&r, where, sizeof where);
    if (cella_ok(ok))
        ok = cella_read_end(&r);
    if (!cella_ok(ok))
        return cella_fail(CELLA_E_PARSE, who, "malformed error reply from the %s process", who);
    if (code == CELLA_OK || code >= CELLA_E__COUNT)
        code = CELLA_E_INTERNAL;
    return cella_fail((cella_code)code, where[0] ? where : who, "%s", what);
}

/* ---- the child ------------------------------------------------------------------- */

/* Only what answering needs: its socket (recv and send are recvfrom and
 * sendto), stderr (write), memory that is never executable, a lock and
 * randomness (OpenSSL: getpid is its fork check), signal masks and exit.
 * Anything else kills the child. */
static cella_res confine(void)
{
    scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
    CELLA_ENSURE(f, CELLA_E_INTERNAL, "seccomp", "seccomp_init failed");
    static const int plain[] = {
        SCMP_SYS(recvfrom),      SCMP_SYS(sendto),    SCMP_SYS(write),        SCMP_SYS(brk),
        SCMP_SYS(munmap),        SCMP_SYS(mremap),    SCMP_SYS(madvise),      SCMP_SYS(futex),
        SCMP_SYS(getpid),        SCMP_SYS(gettid),    SCMP_SYS(clock_gettime), SCMP_SYS(getrandom),
        SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(exit),     SCMP_SYS(exit_group),
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0] && rc == 0; i++)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, plain[i], 0);
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    if (rc == 0)
        rc = seccomp_load(f);
    seccomp_release(f);
    CELLA_ENSURE(rc == 0, CELLA_E_INTERNAL, "seccomp", "cannot load the filter: %s", strerror(-rc));
    return CELLA_OK_RES;
}

static bool send_frame(int fd, uint32_t magic, uint16_t version, uint16_t op, uint32_t id,
                       cella_slice payload)
{
    uint8_t buf[CELLA_PRIVSEP_MAX_FRAME];
    size_t n;
    bool ok = cella_ok(cella_frame_build(buf, sizeof buf, magic, version, op, id, payload, &n)) &&
              send(fd, buf, n, MSG_NOSIGNAL) == (ssize_t)n;
    cella_wipe(buf, sizeof buf);
    return ok;
}

static bool send_error(int fd, uint32_t magic, uint16_t version, uint32_t id)
{
    uint8_t e[CELLA_PRIVSEP_MAX_PAYLOAD];
    size_t n = cella_frame_error_payload(e, sizeof e, cella_error_code(), cella_error_what(),
                                         cella_error_where());
    return send_frame(fd, magic, version, CELLA_PRIVSEP_OP_ERROR, id, cella_slice_of(e, n));
}

/* The child's setting: what it inherited beyond its socket is closed. */
static void child_setup(int fd, pid_t parent)
{
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent)
        _exit(1); /* the parent died before the line above */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    /* 0-2 stay (a password prompt reads the terminal; warnings go to stderr) */
    if (fd > 3)
        (void)close_range(3, (unsigned)fd - 1, 0);
    (void)close_range((unsigned)fd + 1, ~0u, 0);
}

void cella_privsep_child_harden(int fd, pid_t parent) { child_setup(fd, parent); }

static void serve_loop(int fd, uint32_t magic, uint16_t version, const cella_privsep_ops *ops,
                       void *ctx)
{
    uint8_t in[CELLA_PRIVSEP_MAX_FRAME + 1], out[CELLA_PRIVSEP_MAX_PAYLOAD];
    for (;;) {
        ssize_t n = recv(fd, in, sizeof in, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* the parent closed the channel */
        cella_frame f;
        /* a parent that sends a malformed frame is not answered again */
        if (!cella_ok(cella_frame_parse(cella_slice_of(in, (size_t)n), magic, version, &f)))
            return;
        uint16_t op = 0;
        size_t len = 0;
        cella_error_clear();
        cella_res r = ops->serve(ctx, f.op, f.payload, &op, out, sizeof out, &len);
        bool sent = cella_ok(r) ? send_frame(fd, magic, version, op, f.id, cella_slice_of(out, len))
                                : send_error(fd, magic, version, f.id);
        cella_wipe(in, sizeof in);
        cella_wipe(out, sizeof out);
        if (!sent)
            return;
    }
}

static _Noreturn void child_main(int fd, pid_t parent, uint32_t magic, uint16_t version,
                                 const cella_privsep_ops *ops, void *ctx)
{
    child_setup(fd, parent);
    cella_res r = ops->init(ctx);
    if (cella_ok(r))
        r = confine();
    if (!cella_ok(r)) {
        (void)send_error(fd, magic, version, 0);
        ops->wipe(ctx);
        _exit(1);
    }
    if (send_frame(fd, magic, version, CELLA_PRIVSEP_OP_READY, 0, cella_slice_of("", 0)))
        serve_loop(fd, magic, version, ops, ctx);
    ops->wipe(ctx);
    _exit(0); /* no atexit handlers: they belong to the parent */
}

/* ---- the parent ------------------------------------------------------------------ */

/* The child is not to be trusted again: kill it (if it is stuck), reap it
 * and remember how it ended. */
static void lose(cella_privsep *p, const char *why)
{
    if (p->gone)
        return;
    p->gone = true;
    int st = 0;
    pid_t w = waitpid(p->pid, &st, WNOHANG);
    if (w == 0) {
        kill(p->pid, SIGKILL);
        w = waitpid(p->pid, &st, 0);
    }
    if (w == p->pid && WIFSIGNALED(st))
        snprintf(p->why, sizeof p->why, "%s; killed by signal %d", why, WTERMSIG(st));
    else if (w == p->pid && WIFEXITED(st))
        snprintf(p->why, sizeof p->why, "%s; exited with status %d", why, WEXITSTATUS(st));
    else
        snprintf(p->why, sizeof p->why, "%s", why);
}

static cella_res gone_error(const cella_privsep *p)
{
    return cella_fail(CELLA_E_UNAVAILABLE, p->name, "the %s process (pid %d) has stopped (%s)",
                      p->name, (int)p->pid, p->why);
}

/* Waits for one frame (timeout_ms < 0: no limit) and parses it into f,
 * whose payload points into buf. */
static cella_res receive(cella_privsep *p, int timeout_ms, uint8_t *buf, size_t cap, cella_frame *f)
{
    struct pollfd pf = {.fd = p->fd, .events = POLLIN};
    int pr;
    do
        pr = poll(&pf, 1, timeout_ms);
    while (pr < 0 && errno == EINTR);
    if (pr == 0) {
        lose(p, "no answer in time");
        return gone_error(p);
    }
    ssize_t n;
    do
        n = recv(p->fd, buf, cap, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        lose(p, "its channel closed");
        return gone_error(p);
    }
    if (!cella_ok(cella_frame_parse(cella_slice_of(buf, (size_t)n), p->magic, p->version, f))) {
        lose(p, "it sent a malformed reply");
        return gone_error(p);
    }
    return CELLA_OK_RES;
}

cella_res cella_privsep_start(cella_privsep *p, const char *name, uint32_t magic, uint16_t version,
                              const cella_privsep_ops *ops, void *ctx)
{
    memset(p, 0, sizeof *p);
    p->fd = -1;
    p->magic = magic;
    p->version = version;
    snprintf(p->name, sizeof p->name, "%s", name);
    int sv[2];
    CELLA_ENSURE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0, CELLA_E_IO, name,
                 "socketpair: %s", strerror(errno));
    pid_t parent = getpid();
    fflush(NULL); /* nothing buffered is written twice */
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        child_main(sv[1], parent, magic, version, ops, ctx);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return cella_fail(CELLA_E_IO, name, "fork: %s", strerror(errno));
    }
    p->pid = pid;
    p->fd = sv[0];
    pthread_mutex_init(&p->lock, NULL);
    uint8_t buf[CELLA_PRIVSEP_MAX_FRAME + 1];
    cella_frame f;
    cella_res r = receive(p, -1, buf, sizeof buf, &f);
    if (cella_ok(r) && f.op == CELLA_PRIVSEP_OP_ERROR) {
        r = cella_frame_error_raise(f.payload, name);
        lose(p, "its start failed");
    } else if (cella_ok(r) && f.op != CELLA_PRIVSEP_OP_READY) {
        lose(p, "it sent no ready frame");
        r = gone_error(p);
    }
    if (!cella_ok(r)) {
        /* keep the child's error, not the one of the cleanup */
        close(p->fd);
        p->fd = -1;
        pthread_mutex_destroy(&p->lock);
    }
    return r;
}

/* One exchange through buf (CELLA_PRIVSEP_MAX_FRAME + 1 bytes). */
static cella_res call_locked(cella_privsep *p, uint16_t op, cella_slice req, uint16_t want_op,
                             uint8_t *buf, uint8_t *reply, size_t cap, size_t *len)
{
    if (p->gone)
        return gone_error(p);
    size_t n;
    uint32_t id = ++p->seq;
    CELLA_TRY(cella_frame_build(buf, CELLA_PRIVSEP_MAX_FRAME + 1, p->magic, p->version, op, id,
                                req, &n));
    if (send(p->fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n) {
        lose(p, errno == EPIPE ? "its channel closed" : "a request could not be sent");
        return gone_error(p);
    }
    cella_frame f;
    CELLA_TRY(receive(p, (int)(p->timeout_ms ? p->timeout_ms : DEFAULT_TIMEOUT_MS), buf,
                      CELLA_PRIVSEP_MAX_FRAME + 1, &f));
    if (f.id != id) {
        lose(p, "it answered another request");
        return gone_error(p);
    }
    if (f.op == CELLA_PRIVSEP_OP_ERROR)
        return cella_frame_error_raise(f.payload, p->name);
    if (f.op != want_op || f.payload.len > cap) {
        lose(p, "it sent an unexpected reply");
        return gone_error(p);
    }
    memcpy(reply, f.payload.p, f.payload.len);
    *len = f.payload.len;
    return CELLA_OK_RES;
}

cella_res cella_privsep_call(cella_privsep *p, uint16_t op, cella_slice req, uint16_t want_op,
                             uint8_t *reply, size_t cap, size_t *len)
{
    uint8_t buf[CELLA_PRIVSEP_MAX_FRAME + 1];
    *len = 0;
    pthread_mutex_lock(&p->lock);
    cella_res r = call_locked(p, op, req, want_op, buf, reply, cap, len);
    pthread_mutex_unlock(&p->lock);
    cella_wipe(buf, sizeof buf); /* a request or reply may carry a secret (a vault's) */
    return r;
}

bool cella_privsep_alive(cella_privsep *p)
{
    pthread_mutex_lock(&p->lock);
    bool alive = !p->gone;
    pthread_mutex_unlock(&p->lock);
    return alive;
}

cella_res cella_privsep_check(cella_privsep *p)
{
    pthread_mutex_lock(&p->lock);
    cella_res r = p->gone ? gone_error(p) : CELLA_OK_RES;
    pthread_mutex_unlock(&p->lock);
    return r;
}

void cella_privsep_stop(cella_privsep *p)
{
    if (p->fd < 0)
        return;
    close(p->fd); /* the child sees the end of its channel, wipes and exits */
    p->fd = -1;
    if (!p->gone) {
        int st;
        while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
            ;
        p->gone = true;
        snprintf(p->why, sizeof p->why, "stopped");
    }
    pthread_mutex_destroy(&p->lock);
}
