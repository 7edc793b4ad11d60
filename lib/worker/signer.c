#include "worker/signer.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "casapi/casapi.h"
#include "core/secure.h"
#include "hub/task.h"
#include "identity/eth.h"
#include "identity/keccak.h"

/* ---- the codec (pure) ------------------------------------------------------------ */

static bool all_in(const char *s, size_t n, int (*ok)(int))
{
    for (size_t i = 0; i < n; i++)
        if (!ok((unsigned char)s[i]))
            return false;
    return true;
}

static int is_upper(int c) { return c >= 'A' && c <= 'Z'; }
static int is_path_byte(int c) { return c >= 0x21 && c <= 0x7e; }
static int is_hex(int c) { return isxdigit(c); }

cella_res cella_signer_req_encode(const cella_signer_req *q, uint8_t *out, size_t cap, size_t *len)
{
    cella_buf b;
    cella_buf_init(&b, false);
    switch (q->op) {
    case CELLA_SIGNER_ADDRESS:
        break;
    case CELLA_SIGNER_SIGN_REQUEST: {
        size_t m = strlen(q->method), n = strlen(q->path);
        CELLA_ENSURE(m >= 1 && m <= CELLA_SIGNER_MAX_METHOD && n >= 1 && n <= CELLA_SIGNER_MAX_PATH &&
                         strlen(q->nonce_hex) == 64,
                     CELLA_E_TOOBIG, "signer request", "method, path or nonce out of range");
        cella_buf_u8(&b, (uint8_t)m);
        cella_buf_append(&b, q->method, m);
        cella_buf_u16le(&b, (uint16_t)n);
        cella_buf_append(&b, q->path, n);
        cella_buf_append(&b, q->nonce_hex, 64);
        cella_buf_append(&b, q->body_sha256, 32);
        break;
    }
    case CELLA_SIGNER_SIGN_TASK_CHALLENGE:
        cella_buf_append(&b, q->taskid, 32);
        break;
    case CELLA_SIGNER_SIGN_AUTHORIZATION:
        cella_buf_append(&b, q->taskid, 32);
        cella_buf_append(&b, q->challenge, 20);
        cella_buf_append(&b, q->worker, 20);
        break;
    default:
        return cella_fail(CELLA_E_USAGE, "signer request", "unknown op %u", q->op);
    }
    cella_res r = cella_buf_result(&b);
    if (cella_ok(r) && b.len > cap)
        r = cella_fail(CELLA_E_TOOBIG, "signer request", "does not fit");
    if (cella_ok(r)) {
        if (b.len)
            memcpy(out, b.p, b.len);
        *len = b.len;
    }
    cella_buf_free(&b);
    return r;
}

static cella_res read_text(cella_reader *r, size_t n, size_t min, size_t max, int (*ok)(int),
                           char *out, const char *what)
{
    cella_slice s;
    CELLA_ENSURE(n >= min && n <= max, CELLA_E_PARSE, "signer request", "%s of %zu bytes", what, n);
    CELLA_TRY(cella_read_bytes(r, n, &s));
    CELLA_ENSURE(all_in((const char *)s.p, n, ok), CELLA_E_PARSE, "signer request",
                 "%s has a byte outside its alphabet", what);
    memcpy(out, s.p, n);
    out[n] = '\0';
    return CELLA_OK_RES;
}

cella_res cella_signer_req_parse(uint16_t op, cella_slice payload, cella_signer_req *q)
{
    memset(q, 0, sizeof *q);
    q->op = op;
    cella_reader r = cella_reader_of(payload, "signer request");
    switch (op) {
    case CELLA_SIGNER_ADDRESS:
        break;
    case CELLA_SIGNER_SIGN_REQUEST: {
        uint8_t m;
        uint16_t n;
        CELLA_TRY(cella_read_u8(&r, &m));
        CELLA_TRY(read_text(&r, m, 1, CELLA_SIGNER_MAX_METHOD, is_upper, q->method, "method"));
        CELLA_TRY(cella_read_u16le(&r, &n));
        CELLA_TRY(read_text(&r, n, 1, CELLA_SIGNER_MAX_PATH, is_path_byte, q->path, "path"));
        CELLA_TRY(read_text(&r, 64, 64, 64, is_hex, q->nonce_hex, "nonce"));
        CELLA_TRY(cella_read_copy(&r, q->body_sha256, 32));
        break;
    }
    case CELLA_SIGNER_SIGN_TASK_CHALLENGE:
        CELLA_TRY(cella_read_copy(&r, q->taskid, 32));
        break;
    case CELLA_SIGNER_SIGN_AUTHORIZATION:
        CELLA_TRY(cella_read_copy(&r, q->taskid, 32));
        CELLA_TRY(cella_read_copy(&r, q->challenge, 20));
        CELLA_TRY(cella_read_copy(&r, q->worker, 20));
        break;
    default:
        return cella_fail(CELLA_E_PARSE, "signer request", "unknown op %u", op);
    }
    return cella_read_end(&r);
}

#define TASKS_PREFIX "/v1/tasks/"

static const struct {
    const char *method, *verb;
} task_routes[CELLA_SIGNER_TASK__COUNT] = {
    [CELLA_SIGNER_TASK_LEASE] = {"POST", "lease"},
    [CELLA_SIGNER_TASK_REPORT] = {"POST", "report"},
    [CELLA_SIGNER_TASK_CONTRIBUTE] = {"POST", "contribute-and-finalize"},
    [CELLA_SIGNER_TASK_LOGS] = {"PUT", "logs"},
    [CELLA_SIGNER_TASK_CONTRIBUTE_SEALED] = {"POST", "contribute"},
    [CELLA_SIGNER_TASK_REVEAL] = {"POST", "reveal"},
    [CELLA_SIGNER_TASK_FINALIZE] = {"POST", "finalize"},
};

const char *cella_signer_task_path(cella_signer_task_route route, const char *tid, char *path,
                                   size_t cap)
{
    snprintf(path, cap, TASKS_PREFIX "%s/%s", tid, task_routes[route].verb);
    return task_routes[route].method;
}

/* TASKS_PREFIX "0x" + 64 hex digits + "/" + verb, exactly. */
static bool task_path(const char *path, const char *verb)
{
    static const char pre[] = TASKS_PREFIX "0x";
    size_t np = sizeof pre - 1;
    if (strncmp(path, pre, np) != 0 || strlen(path) != np + 64 + 1 + strlen(verb))
        return false;
    return all_in(path + np, 64, is_hex) && path[np + 64] == '/' && !strcmp(path + np + 65, verb);
}

bool cella_signer_path_allowed(const char *method, const char *path)
{
    if (!strcmp(method, "POST") && !strcmp(path, CELLA_SIGNER_LEASE_NEXT))
        return true;
    for (size_t i = 0; i < CELLA_SIGNER_TASK__COUNT; i++)
        if (!strcmp(method, task_routes[i].method) && task_path(path, task_routes[i].verb))
            return true;
    return false;
}

/* ---- the child ------------------------------------------------------------------- */

typedef struct {
    cella_signer_load_fn load;
    void *load_ctx;
    uint8_t *priv; /* secure memory, the child's only */
    uint8_t addr[20];
} signer_child;

static cella_res child_init(void *ctx)
{
    signer_child *c = ctx;
    c->priv = cella_secure_alloc(32);
    CELLA_ENSURE(c->priv, CELLA_E_NOMEM, "signer", "out of secure memory");
    CELLA_TRY(c->load(c->load_ctx, c->priv));
    return cella_eth_address_from_privkey(c->priv, c->addr);
}

static void child_wipe(void *ctx)
{
    signer_child *c = ctx;
    if (c->priv)
        cella_secure_free(c->priv, 32);
    c->priv = NULL;
}

/* The one message a request may be signed over, built here from its parts. */
static cella_res sign_request(const signer_child *c, const cella_signer_req *q, uint8_t sig[65])
{
    CELLA_ENSURE(cella_signer_path_allowed(q->method, q->path), CELLA_E_POLICY, "signer",
                 "the signer signs only the worker's own hub requests, not %s %s", q->method,
                 q->path);
    char msg[CELLA_SIGNER_MAX_PATH + 256];
    CELLA_TRY(cella_cas_auth_message_sha(msg, sizeof msg, q->method, q->path, q->nonce_hex,
                                         q->body_sha256));
    return cella_eth_personal_sign(c->priv, msg, strlen(msg), sig);
}

static cella_res child_serve(void *ctx, uint16_t op, cella_slice payload, uint16_t *reply_op,
                             uint8_t *out, size_t cap, size_t *len)
{
    signer_child *c = ctx;
    cella_signer_req q;
    uint8_t h[32];
    CELLA_TRY(cella_signer_req_parse(op, payload, &q));
    CELLA_ENSURE(cap >= 65, CELLA_E_INTERNAL, "signer", "reply buffer too small");
    *reply_op = op;
    *len = 65;
    switch (op) {
    case CELLA_SIGNER_ADDRESS:
        memcpy(out, c->addr, 20);
        *len = 20;
        return CELLA_OK_RES;
    case CELLA_SIGNER_SIGN_REQUEST:
        return sign_request(c, &q, out);
    case CELLA_SIGNER_SIGN_TASK_CHALLENGE:
        cella_keccak256(h, q.taskid, 32);
        return cella_eth_personal_sign(c->priv, h, 32, out);
    default: /* CELLA_SIGNER_SIGN_AUTHORIZATION: parse refused any other op */
        hub_authorization_hash(q.worker, q.taskid, q.challenge, h);
        return cella_eth_personal_sign(c->priv, h, 32, out);
    }
}

static const cella_privsep_ops signer_ops = {child_init, child_serve, child_wipe};

/* ---- the worker's side ----------------------------------------------------------- */

static cella_res ask(cella_signer *s, const cella_signer_req *q, uint8_t *out, size_t want)
{
    uint8_t payload[CELLA_PRIVSEP_MAX_PAYLOAD], reply[65];
    size_t n, got;
    CELLA_TRY(cella_signer_req_encode(q, payload, sizeof payload, &n));
    CELLA_TRY(cella_privsep_call(&s->ps, q->op, cella_slice_of(payload, n), q->op, reply,
                                 sizeof reply, &got));
    CELLA_ENSURE(got == want, CELLA_E_PARSE, "signer", "a reply of %zu bytes (want %zu)", got, want);
    memcpy(out, reply, want);
    return CELLA_OK_RES;
}

cella_res cella_signer_start(cella_signer *s, cella_signer_load_fn load, void *load_ctx)
{
    memset(s, 0, sizeof *s);
    signer_child child = {load, load_ctx, NULL, {0}}; /* the child's copy is the one used */
    CELLA_TRY(cella_privsep_start(&s->ps, "signer", CELLA_SIGNER_MAGIC, CELLA_SIGNER_VERSION,
                                  &signer_ops, &child));
    cella_signer_req q = {.op = CELLA_SIGNER_ADDRESS};
    cella_res r = ask(s, &q, s->addr, 20);
    if (!cella_ok(r))
        cella_signer_stop(s);
    return r;
}

void cella_signer_stop(cella_signer *s) { cella_privsep_stop(&s->ps); }

bool cella_signer_alive(cella_signer *s) { return cella_privsep_alive(&s->ps); }

cella_res cella_signer_check(cella_signer *s) { return cella_privsep_check(&s->ps); }

cella_res cella_signer_sign_request(cella_signer *s, const char *method, const char *path,
                                    const char *nonce_hex, const uint8_t body_sha256[32],
                                    uint8_t sig[65])
{
    cella_signer_req q = {.op = CELLA_SIGNER_SIGN_REQUEST};
    CELLA_ENSURE(strlen(method) < sizeof q.method && strlen(path) < sizeof q.path &&
                     strlen(nonce_hex) < sizeof q.nonce_hex,
                 CELLA_E_TOOBIG, path, "request too long for the signer");
    snprintf(q.method, sizeof q.method, "%s", method);
    snprintf(q.path, sizeof q.path, "%s", path);
    snprintf(q.nonce_hex, sizeof q.nonce_hex, "%s", nonce_hex);
    memcpy(q.body_sha256, body_sha256, 32);
    return ask(s, &q, sig, 65);
}

cella_res cella_signer_sign_task_challenge(cella_signer *s, const uint8_t taskid[32], uint8_t sig[65])
{
    cella_signer_req q = {.op = CELLA_SIGNER_SIGN_TASK_CHALLENGE};
    memcpy(q.taskid, taskid, 32);
    return ask(s, &q, sig, 65);
}

cella_res cella_signer_sign_authorization(cella_signer *s, const uint8_t taskid[32],
                                          const uint8_t challenge[20], const uint8_t worker[20],
                                          uint8_t sig[65])
{
    cella_signer_req q = {.op = CELLA_SIGNER_SIGN_AUTHORIZATION};
    memcpy(q.taskid, taskid, 32);
    memcpy(q.challenge, challenge, 20);
    memcpy(q.worker, worker, 20);
    return ask(s, &q, sig, 65);
}
