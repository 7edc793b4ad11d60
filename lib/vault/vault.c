/* The cas vault's side: the only process that holds the master key. It
 * answers SEAL, CREATE, VERIFIED, UNSEAL and TAG (lib/vault/vault_msg.h) from the
 * network process, one at a time, and checks every UNSEAL against its grant
 * (may_open below), a rate limit and, for attestation, a live ticket. Each
 * unseal, allowed or refused, is one audit line on stderr ("vault: unseal"),
 * never with a secret in it. What this does and does not stop:
 * docs/threat-model.md, "The cas vault". */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vault/vault.h"
#include "core/encoding.h"
#include "core/log.h"
#include "core/secure.h"
#include "crypto/aead.h"

#include <openssl/evp.h>

typedef struct {
    bool live;
    char session[256];
    uint8_t ticket[CELLA_VAULT_TICKET];
    uint8_t evidence[32];
    int64_t expires_ns;
    unsigned uses;
} ticket;

typedef struct {
    const uint8_t *master;
    cella_gcm *seal, *open;
    uint8_t mac_key[32]; /* TAG's key, derived from the master key */
    cella_vault_limits lim;
    double tokens;
    int64_t refilled_ns;
    ticket tickets[CELLA_VAULT_TICKETS];
    uint64_t unseals, refusals;
} vault;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- sealing: nonce(12) || AES-256-GCM(master, AAD = context)(plain) || tag(16) ---- */

static cella_res seal(vault *v, cella_slice ctx, cella_slice plain, cella_buf *out)
{
    uint8_t nonce[12], tag[16];
    CELLA_TRY(cella_random(nonce, sizeof nonce));
    cella_buf_append(out, nonce, 12);
    size_t at = out->len;
    cella_buf_append(out, plain.p, plain.len); /* encrypted in place below */
    CELLA_TRY(cella_buf_result(out));
    CELLA_TRY(cella_gcm_seal(v->seal, nonce, ctx.p, ctx.len, out->p + at, plain.len,
                             out->p + at, tag));
    cella_buf_append(out, tag, 16);
    return cella_buf_result(out);
}

static cella_res open_sealed(vault *v, cella_slice ctx, cella_slice in, cella_buf *out)
{
    size_t n = in.len - CELLA_VAULT_SEAL_OVERHEAD; /* the parser checked in.len */
    cella_buf_append(out, in.p + 12, n);
    CELLA_TRY(cella_buf_result(out));
    cella_res r = cella_gcm_open(v->open, in.p, ctx.p, ctx.len, out->p, n, out->p,
                                 in.p + 12 + n);
    if (r.code == CELLA_E_AUTH)
        r = cella_fail(CELLA_E_AUTH, "database",
                       "a sealed value failed authentication (tampered database or wrong "
                       "master key)");
    return r;
}

static cella_res create(vault *v, cella_slice ctx, const uint8_t arg[CELLA_VAULT_ARG],
                        cella_buf *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t size = cella_get_u16le(arg + 1), n = arg[0] == CELLA_VAULT_FORM_HEX ? 2 * size : size;
    uint8_t *rnd = cella_secure_alloc(size);
    char *fresh = cella_secure_alloc(n + 1);
    cella_res r = rnd && fresh ? cella_random(rnd, size)
                               : cella_fail(CELLA_E_NOMEM, "vault", "out of memory");
    if (cella_ok(r)) {
        if (arg[0] == CELLA_VAULT_FORM_RAW)
            memcpy(fresh, rnd, size);
        else if (arg[0] == CELLA_VAULT_FORM_HEX)
            cella_hex_encode(fresh, rnd, size, false);
        else
            for (size_t i = 0; i < size; i++)
                fresh[i] = alphabet[rnd[i] % 62]; /* bias < 1/4: fine for a password */
        r = seal(v, ctx, cella_slice_of(fresh, n), out);
    }
    if (rnd)
        cella_secure_free(rnd, size);
    if (fresh)
        cella_secure_free(fresh, n + 1);
    return r;
}

/* ---- tickets and grants --------------------------------------------------------------- */

static cella_res verified(vault *v, cella_slice session, const uint8_t evidence[32],
                          uint8_t out[CELLA_VAULT_TICKET])
{
    int64_t now = mono_ns();
    ticket *slot = &v->tickets[0];
    for (size_t i = 0; i < CELLA_VAULT_TICKETS; i++) {
        ticket *t = &v->tickets[i];
        if (!t->live || t->expires_ns <= now || !t->uses) {
            slot = t;
            break;
        }
        if (t->expires_ns < slot->expires_ns)
            slot = t; /* all live: the one closest to expiry goes */
    }
    memset(slot, 0, sizeof *slot);
    CELLA_TRY(cella_random(slot->ticket, CELLA_VAULT_TICKET));
    memcpy(slot->session, session.p, session.len);
    memcpy(slot->evidence, evidence, 32);
    slot->expires_ns = now + (int64_t)CELLA_VAULT_TICKET_TTL_S * 1000000000;
    slot->uses = CELLA_VAULT_TICKET_USES;
    slot->live = true;
    memcpy(out, slot->ticket, CELLA_VAULT_TICKET);
    char ev[17];
    cella_hex_encode(ev, evidence, 8, false);
    cella_info("vault: ticket for session %s (evidence %s)", slot->session, ev);
    return CELLA_OK_RES;
}

/* A context is "cella-cas KIND v1|SESSION|NAME" (cas makes them; session names hold no '|'). */
typedef struct {
    char kind[32];
    char session[256];
} ctx_parts;

static bool split_ctx(cella_slice ctx, ctx_parts *p)
{
    char s[CELLA_VAULT_MAX_CTX + 1];
    memcpy(s, ctx.p, ctx.len);
    s[ctx.len] = '\0';
    const char *k = s + 10, *v1 = strstr(s, " v1|");
    if (strncmp(s, "cella-cas ", 10) || !v1 || v1 <= k || (size_t)(v1 - k) >= sizeof p->kind)
        return false;
    const char *sess = v1 + 4, *bar = strchr(sess, '|');
    if (!bar || (size_t)(bar - sess) >= sizeof p->session)
        return false;
    snprintf(p->kind, sizeof p->kind, "%.*s", (int)(v1 - k), k);
    snprintf(p->session, sizeof p->session, "%.*s", (int)(bar - sess), sess);
    return true;
}

static bool is(const char *a, const char *b) { return !strcmp(a, b); }

/* What each grant may open (docs/threat-model.md, "The cas vault"). */
static cella_res may_open(vault *v, const uint8_t arg[CELLA_VAULT_ARG], const ctx_parts *c,
                          char *who, size_t cap)
{
    static const char *const W = "vault";
    bool session_value = is(c->kind, "session") || is(c->kind, "volume-key") ||
                         is(c->kind, "secret");
    switch ((cella_vault_grant)arg[0]) {
    case CELLA_VAULT_GRANT_TICKET: {
        char hx[9];
        cella_hex_encode(hx, arg + 1, 4, false);
        snprintf(who, cap, "attested (ticket %s)", hx);
        int64_t now = mono_ns();
        for (size_t i = 0; i < CELLA_VAULT_TICKETS; i++) {
            ticket *t = &v->tickets[i];
            if (!t->live || !cella_ct_eq(t->ticket, arg + 1, CELLA_VAULT_TICKET))
                continue;
            CELLA_ENSURE(t->expires_ns > now && t->uses, CELLA_E_PERM, W, "the ticket expired");
            CELLA_ENSURE(session_value && is(t->session, c->session), CELLA_E_PERM, W,
                         "the ticket is for another session");
            t->uses--;
            return CELLA_OK_RES;
        }
        return cella_fail(CELLA_E_PERM, W, "no such ticket (attestation not verified)");
    }
    case CELLA_VAULT_GRANT_OWNER: {
        char a[41];
        cella_hex_encode(a, arg + 1, 20, false);
        snprintf(who, cap, "owner 0x%s", a);
        CELLA_ENSURE(is(c->kind, "session") || is(c->kind, "volume-key"), CELLA_E_PERM, W,
                     "an owner request cannot open a %s", c->kind);
        return CELLA_OK_RES;
    }
    case CELLA_VAULT_GRANT_INSTANCE:
        snprintf(who, cap, "attested instance");
        CELLA_ENSURE(is(c->kind, "session"), CELLA_E_PERM, W,
                     "an instance request cannot open a %s", c->kind);
        return CELLA_OK_RES;
    case CELLA_VAULT_GRANT_TASK:
        snprintf(who, cap, "task flow");
        CELLA_ENSURE(!strncmp(c->kind, "sms-", 4) || is(c->kind, "tee-challenge") ||
                         (is(c->kind, "session") && !strncmp(c->session, "iexec-0x", 8)),
                     CELLA_E_PERM, W, "a task flow cannot open a %s of %s", c->kind,
                     c->session);
        return CELLA_OK_RES;
    }
    return cella_fail(CELLA_E_PERM, W, "unknown grant");
}

/* The token bucket: lim.rate a second, lim.burst at most. */
static bool take_token(vault *v)
{
    int64_t now = mono_ns();
    v->tokens += (double)(now - v->refilled_ns) * v->lim.rate / 1e9;
    if (v->tokens > v->lim.burst)
        v->tokens = v->lim.burst;
    v->refilled_ns = now;
    if (v->tokens < 1)
        return false;
    v->tokens -= 1;
    return true;
}

static cella_res unseal(vault *v, const cella_vault_msg *m, cella_buf *out)
{
    ctx_parts c = {{0}, {0}};
    char who[64] = "?";
    cella_res r = split_ctx(m->ctx, &c)
                      ? may_open(v, m->arg, &c, who, sizeof who)
                      : cella_fail(CELLA_E_PERM, "vault", "not a cas context");
    if (cella_ok(r) && !take_token(v))
        r = cella_fail(CELLA_E_UNAVAILABLE, "vault", "unseal rate limit reached (%u a second)",
                       v->lim.rate);
    if (cella_ok(r))
        r = open_sealed(v, m->ctx, m->data, out);
    if (cella_ok(r))
        v->unseals++;
    else
        v->refusals++;
    /* The audit line: what was opened for whom, never the value. */
    cella_info("vault: unseal %s of %s for %s: %s%s%s (%llu unsealed, %llu refused)", c.kind,
               c.session[0] ? c.session : "-", who, cella_ok(r) ? "ok" : "refused",
               cella_ok(r) ? "" : ": ", cella_ok(r) ? "" : cella_error_what(),
               (unsigned long long)v->unseals, (unsigned long long)v->refusals);
    return r;
}

/* ---- keyed tags: HMAC-SHA256(mac key, domain || 0 || input) ---------------------------- */

/* For values the network process must recognise but must not be able to
 * test guesses against (SMS replay records: a challenge is an unsalted hash
 * of the secret pushed). The key never leaves the vault. */
static cella_res keyed_tag(vault *v, cella_slice domain, const uint8_t in[32], uint8_t out[32])
{
    uint8_t msg[256 + 1 + 32];
    memcpy(msg, domain.p, domain.len);
    msg[domain.len] = 0;
    memcpy(msg + domain.len + 1, in, 32);
    size_t n = 0;
    bool ok = EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, v->mac_key, 32, msg,
                        domain.len + 1 + 32, out, 32, &n) && n == 32;
    CELLA_ENSURE(ok, CELLA_E_CRYPTO, "vault", "HMAC-SHA256 failed");
    return CELLA_OK_RES;
}

static bool derive_mac_key(const uint8_t master[32], uint8_t out[32])
{
    static const char label[] = "cella-cas vault tag key v1";
    size_t n = 0;
    return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, master, 32,
                     (const unsigned char *)label, sizeof label - 1,
                     out, 32, &n) && n == 32;
}

/* ---- the loop ------------------------------------------------------------------------- */

static cella_res serve_one(vault *v, const cella_vault_msg *m, cella_vault_msg *reply,
                           cella_buf *out)
{
    switch ((cella_vault_op)m->op) {
    case CELLA_VAULT_SEAL:
        return seal(v, m->ctx, m->data, out);
    case CELLA_VAULT_CREATE:
        return create(v, m->ctx, m->arg, out);
    case CELLA_VAULT_VERIFIED:
        return verified(v, m->ctx, m->arg, reply->arg);
    case CELLA_VAULT_UNSEAL:
        return unseal(v, m, out);
    case CELLA_VAULT_TAG:
        return keyed_tag(v, m->ctx, m->arg, reply->arg);
    }
    return cella_fail(CELLA_E_USAGE, "vault", "unknown op");
}

_Noreturn void cella_vault_main(int fd, uint8_t *master, cella_vault_limits lim)
{
    vault v = {.master = master, .lim = lim, .tokens = lim.burst, .refilled_ns = mono_ns()};
    v.seal = cella_gcm_new();
    v.open = cella_gcm_new();
    if (!v.seal || !v.open || !cella_ok(cella_gcm_set_key(v.seal, master, true)) ||
        !cella_ok(cella_gcm_set_key(v.open, master, false)) || !derive_mac_key(master, v.mac_key))
        _exit(70);
    cella_wipe(master, 32); /* the GCM contexts hold it now */
    for (;;) {
        cella_buf in, out;
        cella_buf_init(&in, true);
        cella_buf_init(&out, true);
        cella_vault_msg m, reply;
        cella_res r = cella_vault_recv(fd, false, -1, &in, &m);
        if (r.code == CELLA_E_IO) {
            /* The network process is gone, or out of step: so is the vault. */
            cella_info("vault: stopping: %s", cella_error_what());
            _exit(0);
        }
        memset(&reply, 0, sizeof reply);
        /* A body that breaks its op's rules is refused; the header gave its op. */
        reply.op = in.p[5] | CELLA_VAULT_REPLY;
        if (cella_ok(r))
            r = serve_one(&v, &m, &reply, &out);
        char why[CELLA_VAULT_MAX_ERR + 1] = "";
        if (!cella_ok(r)) {
            snprintf(why, sizeof why, "%s", cella_error_what());
            for (char *c = why; *c; c++)
                if (*c < 0x20 || *c > 0x7e)
                    *c = '?'; /* the reply's reason is printable ASCII */
            uint8_t op = reply.op;
            memset(&reply, 0, sizeof reply);
            reply.op = op;
            reply.status = (uint16_t)r.code;
            reply.data = cella_slice_of(why, strlen(why));
        } else {
            reply.data = cella_slice_of(out.p, out.len);
        }
        cella_res s = cella_vault_send(fd, &reply);
        cella_buf_free(&in);
        cella_buf_free(&out);
        if (!cella_ok(s))
            _exit(0);
    }
}
