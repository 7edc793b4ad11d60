/* The network process's side of the cas vault (vault/vault.h): starting it,
 * and one request at a time over the socketpair (a mutex: the vault answers
 * in order). A vault that does not answer within CLIENT_TIMEOUT_MS, or whose
 * socket fails, is gone for good: every later request fails with
 * CELLA_E_UNAVAILABLE (503), and cas keeps serving what needs no secret. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vault/vault.h"
#include "core/encoding.h"
#include "core/keyfile.h"
#include "core/confine.h"
#include "core/privsep.h"
#include "core/secure.h"

#define CLIENT_TIMEOUT_MS 5000

struct cella_vault {
    int fd;
    pid_t pid;
    pthread_mutex_t lock;
    bool dead;
};

/* ---- the child ------------------------------------------------------------------------ */

/* Start-up report, before the message protocol: code (1 byte), length (1), text. */
static void report(int fd, cella_res r)
{
    uint8_t b[2 + 255];
    const char *what = cella_ok(r) ? "" : cella_error_what();
    size_t n = strlen(what) > 255 ? 255 : strlen(what);
    b[0] = (uint8_t)r.code;
    b[1] = (uint8_t)n;
    memcpy(b + 2, what, n);
    (void)!send(fd, b, 2 + n, MSG_NOSIGNAL);
}

static _Noreturn void child(int fd, pid_t parent, const char *key_path, cella_vault_limits lim)
{
    /* As the worker's signer child (core/privsep.h): dies with the network
     * process, not dumpable (no ptrace or /proc/PID/mem by the same user),
     * ^C and SIGTERM left to the network process (the vault exits when its
     * socket closes), the listening socket and every other descriptor closed. */
    cella_privsep_child_harden(fd, parent);
    uint8_t *master = cella_secure_alloc(32);
    bool made;
    int abi;
    cella_res r = master ? cella_keyfile_load_or_create(key_path, master, &made)
                         : cella_fail(CELLA_E_NOMEM, NULL, "out of memory");
    /* After the key, the vault needs no file and no new socket, and runs nothing. */
    if (cella_ok(r))
        r = cella_landlock_no_files(&abi);
    if (cella_ok(r))
        r = cella_seccomp_deny(true);
    report(fd, r);
    if (!cella_ok(r))
        _exit(1);
    cella_vault_main(fd, master, lim);
}

cella_res cella_vault_start(const char *key_path, cella_vault **out)
{
    return cella_vault_start_limited(key_path, CELLA_VAULT_DEFAULT_LIMITS, out);
}

cella_res cella_vault_start_limited(const char *key_path, cella_vault_limits lim,
                                    cella_vault **out)
{
    int sv[2];
    CELLA_ENSURE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, CELLA_E_IO,
                 "vault", "socketpair: %s", strerror(errno));
    pid_t parent = getpid();
    fflush(NULL); /* nothing buffered is written twice */
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return cella_fail(CELLA_E_IO, "vault", "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(sv[0]);
        child(sv[1], parent, key_path, lim);
    }
    close(sv[1]);
    uint8_t hdr[2];
    char what[256] = "";
    ssize_t n = recv(sv[0], hdr, 2, MSG_WAITALL);
    if (n == 2 && hdr[1])
        n = recv(sv[0], what, hdr[1], MSG_WAITALL) == hdr[1] ? 2 : -1;
    cella_res r = CELLA_OK_RES;
    if (n != 2)
        r = cella_fail(CELLA_E_IO, "vault", "the vault did not start");
    else if (hdr[0])
        r = cella_fail((cella_code)hdr[0], "vault", "%s", what);
    cella_vault *v = cella_ok(r) ? calloc(1, sizeof *v) : NULL;
    if (cella_ok(r) && !v)
        r = cella_fail(CELLA_E_NOMEM, NULL, "out of memory");
    if (!cella_ok(r)) {
        close(sv[0]);
        waitpid(pid, NULL, 0);
        return r;
    }
    v->fd = sv[0];
    v->pid = pid;
    pthread_mutex_init(&v->lock, NULL);
    *out = v;
    return CELLA_OK_RES;
}

void cella_vault_stop(cella_vault *v)
{
    if (!v)
        return;
    close(v->fd);
    waitpid(v->pid, NULL, 0);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

pid_t cella_vault_pid(const cella_vault *v) { return v->pid; }

/* ---- requests ------------------------------------------------------------------------- */

/* One request and its reply; `out` receives the reply's data, `arg` its argument. */
static cella_res call(cella_vault *v, const cella_vault_msg *req, cella_buf *out,
                      uint8_t arg[CELLA_VAULT_ARG])
{
    CELLA_ENSURE(req->ctx.len <= CELLA_VAULT_MAX_CTX && req->data.len <= CELLA_VAULT_MAX_DATA,
                 CELLA_E_TOOBIG, "vault", "name or value too long to seal");
    cella_buf in;
    cella_buf_init(&in, true);
    cella_vault_msg rep;
    pthread_mutex_lock(&v->lock);
    cella_res r = v->dead ? cella_fail(CELLA_E_IO, "vault", "gone") : cella_vault_send(v->fd, req);
    if (cella_ok(r))
        r = cella_vault_recv(v->fd, true, CLIENT_TIMEOUT_MS, &in, &rep);
    if (cella_ok(r) && rep.op != (req->op | CELLA_VAULT_REPLY))
        r = cella_fail(CELLA_E_PARSE, "vault", "a reply to another request");
    if (!cella_ok(r))
        v->dead = true; /* out of step or gone: never trusted again */
    pthread_mutex_unlock(&v->lock);
    if (!cella_ok(r)) {
        cella_buf_free(&in);
        return cella_fail(CELLA_E_UNAVAILABLE, "vault",
                          "the cas key vault is not available; try again later");
    }
    if (rep.status) {
        char why[CELLA_VAULT_MAX_ERR + 1];
        snprintf(why, sizeof why, "%.*s", (int)rep.data.len, (const char *)rep.data.p);
        r = cella_fail(rep.status <= CELLA_E_INTERNAL ? (cella_code)rep.status : CELLA_E_INTERNAL,
                       "vault", "%s", why);
    } else {
        cella_buf_append(out, rep.data.p, rep.data.len);
        r = cella_buf_result(out);
        if (arg)
            memcpy(arg, rep.arg, CELLA_VAULT_ARG);
    }
    cella_buf_free(&in);
    return r;
}

static cella_vault_msg request(cella_vault_op op, const char *ctx, cella_slice data)
{
    cella_vault_msg m;
    memset(&m, 0, sizeof m);
    m.op = (uint8_t)op;
    m.ctx = cella_slice_of(ctx, strlen(ctx));
    m.data = data;
    return m;
}

cella_res cella_vault_seal(cella_vault *v, const char *ctx, cella_slice plain, cella_buf *out)
{
    cella_vault_msg m = request(CELLA_VAULT_SEAL, ctx, plain);
    return call(v, &m, out, NULL);
}

cella_res cella_vault_create(cella_vault *v, const char *ctx, cella_vault_form form, uint16_t size,
                           cella_buf *sealed)
{
    cella_vault_msg m = request(CELLA_VAULT_CREATE, ctx, cella_slice_of(NULL, 0));
    m.arg[0] = (uint8_t)form;
    cella_put_u16le(m.arg + 1, size);
    return call(v, &m, sealed, NULL);
}

/* A request whose answer is its reply's argument (VERIFIED, TAG): `in` (32
 * bytes) goes in the request's argument, the reply's first `n` bytes to `out`. */
static cella_res call_arg(cella_vault *v, cella_vault_op op, const char *ctx,
                          const uint8_t in[32], uint8_t *out, size_t n)
{
    cella_vault_msg m = request(op, ctx, cella_slice_of(NULL, 0));
    memcpy(m.arg, in, 32);
    uint8_t arg[CELLA_VAULT_ARG];
    cella_buf none;
    cella_buf_init(&none, false);
    cella_res r = call(v, &m, &none, arg);
    cella_buf_free(&none);
    if (cella_ok(r))
        memcpy(out, arg, n);
    return r;
}

cella_res cella_vault_verified(cella_vault *v, const char *session, const uint8_t evidence[32],
                             uint8_t ticket[CELLA_VAULT_TICKET])
{
    return call_arg(v, CELLA_VAULT_VERIFIED, session, evidence, ticket, CELLA_VAULT_TICKET);
}

cella_res cella_vault_tag(cella_vault *v, const char *domain, const uint8_t in[32],
                         uint8_t out[32])
{
    return call_arg(v, CELLA_VAULT_TAG, domain, in, out, 32);
}

/* ---- grants ----------------------------------------------------------------------------- */

static _Thread_local uint8_t g_grant[CELLA_VAULT_ARG];

void cella_vault_grant_clear(void) { cella_wipe(g_grant, sizeof g_grant); }

void cella_vault_grant_ticket(const uint8_t ticket[CELLA_VAULT_TICKET])
{
    cella_vault_grant_clear();
    g_grant[0] = CELLA_VAULT_GRANT_TICKET;
    memcpy(g_grant + 1, ticket, CELLA_VAULT_TICKET);
}

void cella_vault_grant_owner(const char *address)
{
    cella_vault_grant_clear();
    if (address && strlen(address) == 42 &&
        cella_ok(cella_hex_decode(g_grant + 1, 20, address + 2, 40, "owner")))
        g_grant[0] = CELLA_VAULT_GRANT_OWNER;
}

void cella_vault_grant_instance(void)
{
    cella_vault_grant_clear();
    g_grant[0] = CELLA_VAULT_GRANT_INSTANCE;
}

void cella_vault_grant_task(void)
{
    cella_vault_grant_clear();
    g_grant[0] = CELLA_VAULT_GRANT_TASK;
}

cella_res cella_vault_unseal(cella_vault *v, const char *ctx, cella_slice sealed, cella_buf *out)
{
    CELLA_ENSURE(g_grant[0], CELLA_E_PERM, "vault", "nothing may be unsealed for this request");
    CELLA_ENSURE(sealed.len >= CELLA_VAULT_SEAL_OVERHEAD, CELLA_E_AUTH, "database",
                 "sealed value is truncated");
    cella_vault_msg m = request(CELLA_VAULT_UNSEAL, ctx, sealed);
    memcpy(m.arg, g_grant, CELLA_VAULT_ARG);
    return call(v, &m, out, NULL);
}
