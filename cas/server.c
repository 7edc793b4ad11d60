/* The cas server: routing, the request handlers (owners, attestation, tags, volume
 * reads), and start-up (the vault first, then confinement, then threads). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cas/attest.h"
#include "cas/cas.h"
#include "cas/internal.h"
#include "cas/metrics.h"
#include "cas/task_policy.h"
#include "vault/vault.h"
#include "casapi/casapi.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/log.h"
#include "crypto/aead.h"
#include "core/confine.h"
#include "core/secure.h"
#include "evidence/ossl.h"
#include "identity/eth.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "policy/session.h"
#include "store/cas_store.h"
#include "tee/ratls.h"
#include "tee/sim.h"

#define CAS_MAX_BODY (256u * 1024u)
#define INSTANCE_TTL (24 * 3600)

#define now_s cas_now

/* ---- small helpers -------------------------------------------------------------- */

static cella_res parse_json_body(cella_http_req *req, json_t **out)
{
    cella_slice b = cella_http_body(req);
    json_error_t je;
    *out = json_loadb((const char *)b.p, b.len, JSON_REJECT_DUPLICATES, &je);
    CELLA_ENSURE(*out && json_is_object(*out), CELLA_E_PARSE, "body",
                 "request body is not a JSON object: %s (line %d)", *out ? "not an object" : je.text,
                 je.line);
    return CELLA_OK_RES;
}

static cella_res get_str(const json_t *o, const char *key, const char **out)
{
    const json_t *v = json_object_get(o, key);
    CELLA_ENSURE(v && json_is_string(v), CELLA_E_PARSE, key, "missing or not a string");
    *out = json_string_value(v);
    return CELLA_OK_RES;
}

static cella_res get_hex(const json_t *o, const char *key, uint8_t *out, size_t n)
{
    const char *s = NULL;
    CELLA_TRY(get_str(o, key, &s));
    return cella_hex_decode(out, n, s, strlen(s), key);
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
    return cas_hex_json(p, n);
}

/* Challenges are stateless and each is accepted once (net/signed_request.h):
 * in memory with SQLite (one process), in the database with PostgreSQL,
 * where a replica consumes what another issued. */
static cella_res nonce_consume(cas_thread *t, const uint8_t nonce[32],
                               cella_challenge_purpose purpose)
{
    return cella_sigreq_consume(t->app->auth, cella_cas_store_db(t->st), nonce, purpose, now_s());
}

/* ---- owner authentication ----------------------------------------------------------- */

/* Authorization: CELLA-EIP191 <0xaddress> <challenge hex> <0xsignature>.
 * The challenge is consumed once the signature verified, so a replayed
 * request is refused and garbage cannot burn someone else's challenge. */
static cella_res authenticate(cas_thread *t, cella_http_req *req, char who[43])
{
    uint8_t addr[20];
    CELLA_TRY(cella_sigreq_authenticate(t->app->auth, cella_cas_store_db(t->st), req, now_s(),
                                        addr));
    cella_eth_address_checksum(who, addr);
    return CELLA_OK_RES;
}

/* access_policy list check: CREATOR, ANY, NONE or addresses. */
static bool policy_allows(const json_t *session, const char *which, const char *owner,
                          const char *who)
{
    const json_t *list = json_object_get(json_object_get(session, "access_policy"), which);
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v) {
        const char *e = json_string_value(v);
        if (!e)
            continue;
        if (!strcmp(e, "ANY"))
            return true;
        if (!strcmp(e, "CREATOR") && !strcasecmp(owner, who))
            return true;
        if (!strcasecmp(e, who))
            return true;
    }
    return false;
}

/* ---- sessions ---------------------------------------------------------------------------- */

/* Parses a body that is YAML, or JSON if it starts with '{'. */
static cella_res session_from_body(cella_http_req *req, json_t **doc)
{
    cella_slice b = cella_http_body(req);
    size_t i = 0;
    while (i < b.len && (b.p[i] == ' ' || b.p[i] == '\n' || b.p[i] == '\r' || b.p[i] == '\t'))
        i++;
    if (i < b.len && b.p[i] == '{') {
        json_t *raw;
        CELLA_TRY(parse_json_body(req, &raw));
        cella_res r = cella_session_normalize(raw, doc);
        json_decref(raw);
        return r;
    }
    return cella_session_from_yaml((const char *)b.p, b.len, doc);
}


static void sessions_create(cas_thread *t, cella_http_req *req)
{
    char who[43];
    json_t *doc = NULL;
    cella_cas_session_row row = {0};
    cella_buf_init(&row.sealed, false);
    cella_res r = authenticate(t, req, who);
    if (!cella_ok(r)) {
        cas_audit(t, "?", "session.create", "-", "refused", cella_error_what());
        cas_reply_err(req, r);
        return;
    }
    r = session_from_body(req, &doc);
    const char *name = doc ? json_string_value(json_object_get(doc, "name")) : "-";
    if (cella_ok(r) && !json_is_null(json_object_get(doc, "predecessor")))
        r = cella_fail(CELLA_E_POLICY, "predecessor",
                       "a new session must not name a predecessor (use update)");
    if (cella_ok(r) && !strncmp(name, CAS_TASK_SESSION_PREFIX, strlen(CAS_TASK_SESSION_PREFIX)))
        r = cella_fail(CELLA_E_PERM, name, "session names starting with \"%s\" are reserved for "
                       "the task sessions cas makes itself", CAS_TASK_SESSION_PREFIX);
    if (cella_ok(r))
        r = cas_store_row(t, name, doc, who, &row);
    if (cella_ok(r))
        r = cella_cas_session_create(t->st, name, &row);
    if (!cella_ok(r)) {
        cas_audit(t, who, "session.create", name ? name : "-", "refused", cella_error_what());
        cas_reply_err(req, r);
    } else {
        cas_audit(t, who, "session.create", name, "ok", "");
        cella_http_reply(req, 201, json_pack("{s:s, s:o, s:s}", "name", name, "hash",
                                             hex_json(row.hash, 32), "owner", who));
    }
    cella_buf_free(&row.sealed);
    json_decref(doc);
}

static void sessions_update(cas_thread *t, cella_http_req *req, const char *name)
{
    char who[43];
    json_t *doc = NULL, *cur = NULL;
    cella_cas_session_row row = {0}, old = {0};
    cella_buf_init(&row.sealed, false);
    cella_buf_init(&old.sealed, false);
    uint8_t pred[32];
    cella_res r = authenticate(t, req, who);
    if (cella_ok(r)) {
        cella_vault_grant_owner(who);
        r = session_from_body(req, &doc);
    }
    if (cella_ok(r) && strcmp(json_string_value(json_object_get(doc, "name")), name))
        r = cella_fail(CELLA_E_USAGE, "name", "the session name does not match the URL");
    if (cella_ok(r) && json_is_null(json_object_get(doc, "predecessor")))
        r = cella_fail(CELLA_E_POLICY, "predecessor",
                       "an update must name its predecessor (the current session hash)");
    if (cella_ok(r))
        r = get_hex(doc, "predecessor", pred, 32);
    if (cella_ok(r))
        r = cas_load_session(t, name, &old, &cur);
    if (cella_ok(r) && !policy_allows(cur, "update", old.owner, who))
        r = cella_fail(CELLA_E_PERM, name, "%s may not update this session", who);
    if (cella_ok(r))
        r = cas_store_row(t, name, doc, old.owner, &row);
    if (cella_ok(r))
        r = cella_cas_session_update(t->st, name, pred, &row);
    if (!cella_ok(r)) {
        cas_audit(t, who, "session.update", name, "refused", cella_error_what());
        cas_reply_err(req, r);
    } else {
        cas_audit(t, who, "session.update", name, "ok", "");
        cella_http_reply(req, 200, json_pack("{s:s, s:o}", "name", name, "hash",
                                             hex_json(row.hash, 32)));
    }
    cella_buf_free(&row.sealed);
    cella_buf_free(&old.sealed);
    json_decref(doc);
    json_decref(cur);
}

static void sessions_show(cas_thread *t, cella_http_req *req, const char *name)
{
    char who[43];
    json_t *cur = NULL;
    cella_cas_session_row row = {0};
    cella_buf_init(&row.sealed, false);
    const char *reveal_q = cella_http_query(req, "reveal");
    bool reveal = reveal_q && !strcmp(reveal_q, "1");
    cella_res r = authenticate(t, req, who);
    if (cella_ok(r)) {
        cella_vault_grant_owner(who);
        r = cas_load_session(t, name, &row, &cur);
    }
    if (cella_ok(r) && !policy_allows(cur, "read", row.owner, who))
        r = cella_fail(CELLA_E_PERM, name, "%s may not read this session", who);
    if (cella_ok(r) && reveal && strcasecmp(row.owner, who))
        r = cella_fail(CELLA_E_PERM, name, "only the owner may reveal secrets");
    if (!cella_ok(r)) {
        cas_audit(t, who[0] ? who : "?", "session.show", name, "refused", cella_error_what());
        cas_reply_err(req, r);
    } else {
        cas_audit(t, who, "session.show", name, "ok", reveal ? "secrets revealed" : "redacted");
        json_t *body = reveal ? json_incref(cur) : cella_session_redact(cur);
        cella_http_reply(req, 200, json_pack("{s:s, s:o, s:s, s:I, s:o}", "name", name, "hash",
                                             hex_json(row.hash, 32), "owner", row.owner, "version",
                                             (json_int_t)row.version, "session", body));
    }
    cella_buf_free(&row.sealed);
    json_decref(cur);
}

static void attest(cas_thread *t, cella_http_req *req)
{
    json_t *body = NULL, *doc = NULL, *cfg = NULL;
    cella_cas_session_row row = {0};
    cella_buf_init(&row.sealed, false);
    cella_buf ev;
    cella_buf_init(&ev, false);
    const char *session = "-", *service = "-";
    char who[128] = "enclave";
    uint8_t nonce[32], spki[32], token[32], token_hash[32], ev_hash[32];
    uint8_t ticket[CELLA_VAULT_TICKET];
    cella_tee_kind kind = CELLA_TEE_SIM;
    cas_claims c;
    memset(&c, 0, sizeof c);
    X509 *peer = cella_http_peer_cert(req);
    cella_res r = peer ? CELLA_OK_RES
                       : cella_fail(CELLA_E_AUTH, "TLS", "attestation needs an RA-TLS client "
                                                         "certificate");
    if (cella_ok(r))
        r = parse_json_body(req, &body);
    if (cella_ok(r))
        r = get_str(body, "session", &session);
    if (cella_ok(r))
        r = get_str(body, "service", &service);
    /* "nonce" is optional: without it the evidence must be bound to this
     * connection's handshake (below). */
    bool has_nonce = cella_ok(r) && json_object_get(body, "nonce");
    if (has_nonce)
        r = get_hex(body, "nonce", nonce, 32);
    if (cella_ok(r))
        r = cella_ratls_extract(peer, &kind, &ev, spki);
    cella_evidence_claims *cl = calloc(1, sizeof *cl);
    if (cella_ok(r) && !cl)
        r = cella_fail(CELLA_E_NOMEM, NULL, "out of memory");
    if (cella_ok(r)) {
        char fp[17];
        cella_hex_encode(fp, spki, 8, false);
        snprintf(who, sizeof who, "%s enclave key %s", cella_tee_kind_name(kind), fp);
        /* Verify, then unseal: no session is read before the evidence has
         * verified, and the vault unseals this session's values only with the
         * ticket it gives for that report. */
        r = kind == CELLA_TEE_SIM ? cas_verify_sim(t, cella_slice_of(ev.p, ev.len), &c)
                                  : cas_verify_hardware(t, kind, cella_slice_of(ev.p, ev.len), cl, &c);
    }
    if (cella_ok(r))
        r = cella_sha256(ev_hash, ev.p, ev.len);
    if (cella_ok(r))
        r = cella_vault_verified(t->app->vault, session, ev_hash, ticket);
    if (cella_ok(r))
        cella_vault_grant_ticket(ticket);
    if (cella_ok(r) && kind != CELLA_TEE_SIM) {
        /* The session's security section is the policy for hardware evidence. */
        r = cas_load_session(t, session, &row, &doc);
        if (cella_ok(r))
            r = cas_hardware_policy(doc, cl);
    }
    /* The evidence must name this TLS key, and be fresh: bound to this
     * handshake (our server random is the nonce), or to a nonce we issued
     * from GET /v1/attest/nonce, used once. */
    if (cella_ok(r) && !cella_ct_eq(c.report_data, spki, 32))
        r = cella_fail(CELLA_E_AUTH, "evidence",
                       "evidence is bound to another TLS key (relayed evidence?)");
    if (cella_ok(r) && !has_nonce) {
        uint8_t cr[32], sr[32], binding[32];
        r = cella_http_tls_randoms(req, cr, sr)
                ? cella_ratls_handshake_binding(cr, sr, binding)
                : cella_fail(CELLA_E_AUTH, "TLS", "attestation needs TLS");
        if (cella_ok(r) && !cella_ct_eq(c.report_data + 32, binding, 32))
            r = cella_fail(CELLA_E_AUTH, "evidence",
                           "evidence is bound to another TLS handshake and names no nonce "
                           "(replayed evidence?)");
        /* Single use, as a nonce is: one attestation per handshake. */
        if (cella_ok(r) && !cella_http_tls_claim_once(req))
            r = cella_fail(CELLA_E_AUTH, "evidence",
                           "this connection's handshake-bound evidence was already used "
                           "(one attestation per TLS handshake)");
    } else if (cella_ok(r)) {
        if (!cella_ct_eq(c.report_data + 32, nonce, 32))
            r = cella_fail(CELLA_E_AUTH, "evidence",
                           "evidence is bound to another nonce (relayed evidence?)");
        if (cella_ok(r))
            r = nonce_consume(t, nonce, CELLA_CHALLENGE_ATTEST);
    }
    if (cella_ok(r) && !doc)
        r = cas_load_session(t, session, &row, &doc);
    const json_t *svc = cella_ok(r) ? cella_session_service(doc, service) : NULL;
    if (cella_ok(r) && !svc)
        r = cella_fail(CELLA_E_NOTFOUND, service, "the session has no such service");
    if (cella_ok(r))
        r = cas_check_policy(doc, svc, &c);
    if (cella_ok(r))
        r = cas_task_session_live(t, session);
    if (cella_ok(r))
        r = cas_build_config(t, session, doc, svc, &cfg);
    if (cella_ok(r))
        r = cella_random(token, 32);
    if (cella_ok(r))
        r = cella_sha256(token_hash, token, 32);
    char object[600], why[256];
    snprintf(object, sizeof object, "%s/%s", session, service);
    if (cella_ok(r)) {
        char m[97];
        cella_hex_encode(m, c.measurement, c.measurement_len, false);
        snprintf(why, sizeof why, "measurement %s%s%s%s; keys released", m,
                 c.debug ? " (debug)" : "", c.tcb[0] ? ", TCB " : "", c.tcb);
        /* The instance and its audit row commit together, in one commit
         * with the attestations that arrive meanwhile (cas/commit.c). */
        cella_cas_attested row_a = {token_hash, session, service, spki,
                                    now_s() + INSTANCE_TTL, now_s(), who, why};
        r = cas_commit_attested(t, &row_a);
    }
    if (!cella_ok(r)) {
        cas_audit(t, who, "attest", object, "refused", cella_error_what());
        /* Every refusal is 403 with its reason, and says nothing about the
         * session's secrets (not even whether an unknown name exists). */
        if (r.code == CELLA_E_NOTFOUND)
            r = cella_fail(CELLA_E_POLICY, object, "no such session or service");
        else if (r.code == CELLA_E_AUTH) {
            char what[512], where[256];
            snprintf(what, sizeof what, "%s", cella_error_what());
            snprintf(where, sizeof where, "%s", cella_error_where());
            r = cella_fail(CELLA_E_POLICY, where, "%s", what);
        }
        cas_reply_err(req, r);
    } else {
        cas_metrics_audited("attest", "ok"); /* audited with the instance, in one commit */
        cella_info("audit: %s attest %s ok: %s", who, object, why);
        json_object_set_new(cfg, "instance", hex_json(token, 32));
        json_object_set_new(cfg, "session", json_string(session));
        json_object_set_new(cfg, "service", json_string(service));
        cella_http_reply(req, 200, cfg);
    }
    cella_wipe(token, 32);
    cella_wipe(ticket, sizeof ticket);
    cella_vault_grant_clear();
    free(cl);
    cella_buf_free(&ev);
    cella_buf_free(&row.sealed);
    json_decref(body);
    json_decref(doc);
}

/* An attested instance pushes a volume's new tag, with compare-and-swap. */
static void push_tag(cas_thread *t, cella_http_req *req)
{
    json_t *body = NULL;
    char session[256] = "-", service[256] = "-";
    uint8_t token[32], token_hash[32], spki[32], bound[32], old[16], new_tag[16];
    const char *volume = "-";
    bool has_old = false;
    cella_buf ev;
    cella_buf_init(&ev, false);
    cella_tee_kind kind;
    X509 *peer = cella_http_peer_cert(req);
    cella_res r = peer ? CELLA_OK_RES
                       : cella_fail(CELLA_E_AUTH, "TLS", "tag updates need the attested "
                                                         "instance's TLS certificate");
    if (cella_ok(r))
        r = parse_json_body(req, &body);
    if (cella_ok(r))
        r = get_hex(body, "instance", token, 32);
    if (cella_ok(r))
        r = get_str(body, "volume", &volume);
    if (cella_ok(r))
        r = get_hex(body, "new_tag", new_tag, 16);
    if (cella_ok(r) && !json_is_null(json_object_get(body, "old_tag"))) {
        r = get_hex(body, "old_tag", old, 16);
        has_old = true;
    }
    if (cella_ok(r))
        r = cella_ratls_extract(peer, &kind, &ev, spki);
    if (cella_ok(r))
        r = cella_sha256(token_hash, token, 32);
    if (cella_ok(r))
        r = cella_cas_instance_get(t->st, token_hash, now_s(), session, service, bound);
    if (cella_ok(r) && !cella_ct_eq(bound, spki, 32))
        r = cella_fail(CELLA_E_AUTH, "instance",
                       "the instance token belongs to another attested key");
    if (cella_ok(r))
        cella_vault_grant_instance();
    json_t *doc = NULL;
    cella_cas_session_row row = {0};
    cella_buf_init(&row.sealed, false);
    if (cella_ok(r))
        r = cas_load_session(t, session, &row, &doc);
    if (cella_ok(r) && !cella_session_volume(doc, volume))
        r = cella_fail(CELLA_E_NOTFOUND, volume, "the session has no such volume");
    if (cella_ok(r) && !has_old) {
        /* "No tag pushed yet" also means "still the session's initial tag". */
        const char *init = json_string_value(
            json_object_get(cella_session_volume(doc, volume), "fspf_tag"));
        uint8_t cur[16];
        bool has;
        r = cella_cas_tag_get(t->st, session, volume, cur, &has);
        if (cella_ok(r) && !has && init)
            r = cella_fail(CELLA_E_ROLLBACK, volume, "stale tag: the volume has a tag");
    }
    if (cella_ok(r) && has_old) {
        /* old_tag may be the session's initial tag when nothing was pushed yet. */
        uint8_t cur[16];
        bool has;
        r = cella_cas_tag_get(t->st, session, volume, cur, &has);
        const char *init = json_string_value(
            json_object_get(cella_session_volume(doc, volume), "fspf_tag"));
        uint8_t init_b[16];
        if (cella_ok(r) && !has) {
            bool match = init && cella_ok(cella_hex_decode(init_b, 16, init, strlen(init), volume)) &&
                         !memcmp(init_b, old, 16);
            if (!match)
                r = cella_fail(CELLA_E_ROLLBACK, volume,
                               "stale tag: old_tag is not the volume's current tag");
            else
                has_old = false; /* swap from "no tag" */
        }
    }
    char object[600];
    snprintf(object, sizeof object, "%s/%s", session, volume);
    if (cella_ok(r))
        r = cella_cas_tag_swap(t->st, session, volume, has_old ? old : NULL, new_tag);
    char who[600];
    snprintf(who, sizeof who, "instance of %s/%s", session, service);
    if (!cella_ok(r)) {
        cas_audit(t, who, "tag.push", object, "refused", cella_error_what());
        cas_reply_err(req, r);
    } else {
        char hx[33];
        cella_hex_encode(hx, new_tag, 16, false);
        cas_audit(t, who, "tag.push", object, "ok", hx);
        cella_http_reply(req, 200, json_pack("{s:s, s:s}", "volume", volume, "tag", hx));
    }
    cella_buf_free(&ev);
    cella_buf_free(&row.sealed);
    json_decref(doc);
    json_decref(body);
}

/* A client with read access fetches an output volume's key and tag (the seed's decrypt). */
static void volume_read(cas_thread *t, cella_http_req *req, const char *name, const char *volume)
{
    char who[43] = "?";
    json_t *doc = NULL, *tag = NULL;
    cella_cas_session_row row = {0};
    cella_buf_init(&row.sealed, false);
    uint8_t key[32];
    cella_res r = authenticate(t, req, who);
    if (cella_ok(r)) {
        cella_vault_grant_owner(who);
        r = cas_load_session(t, name, &row, &doc);
    }
    if (cella_ok(r) && !policy_allows(doc, "read", row.owner, who))
        r = cella_fail(CELLA_E_PERM, name, "%s may not read this session", who);
    if (cella_ok(r))
        r = cas_volume_key(t, name, doc, volume, key);
    if (cella_ok(r))
        r = cas_volume_tag(t, name, doc, volume, &tag);
    char object[600];
    snprintf(object, sizeof object, "%s/%s", name, volume);
    if (!cella_ok(r)) {
        cas_audit(t, who, "volume.read", object, "refused", cella_error_what());
        cas_reply_err(req, r);
    } else {
        cas_audit(t, who, "volume.read", object, "ok", "key released to reader");
        cella_http_reply(req, 200, json_pack("{s:s, s:o, s:o}", "volume", volume, "key",
                                             hex_json(key, 32), "tag", tag));
    }
    cella_wipe(key, 32);
    cella_buf_free(&row.sealed);
    json_decref(doc);
}

/* Stateless: costs one HMAC and stores nothing (net/signed_request.h). */
static void issue_nonce(cas_thread *t, cella_http_req *req, cella_challenge_purpose purpose)
{
    uint8_t n[CELLA_CHALLENGE_LEN];
    int64_t exp;
    cella_res r = cella_sigreq_issue(t->app->auth, purpose, now_s(), n, &exp);
    if (!cella_ok(r)) {
        cas_reply_err(req, r);
        return;
    }
    cella_http_reply(req, 200, json_pack("{s:o, s:I}", "nonce", hex_json(n, sizeof n), "expires",
                                         (json_int_t)exp));
}

/* ---- routing ------------------------------------------------------------------------------- */

/* iExec's routes, whose values the vault opens for the task flows. */
static bool task_route(cas_thread *t, cella_http_req *req)
{
    cella_vault_grant_task();
    if (cas_tee_route(t, req) || cas_sms_route(t, req))
        return true;
    cella_vault_grant_clear();
    return false;
}

/* TESTS ONLY (CELLA_TEST_HOOKS=1): tries to open DATA/master.key from this,
 * the network process, and says what the kernel answered. It never reads:
 * a successful open is closed at once and reported as a failure of the test. */
static void test_open_master_key(cas_thread *t, cella_http_req *req)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/master.key", t->app->opt.data_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int err = fd < 0 ? errno : 0;
    if (fd >= 0)
        close(fd);
    cella_http_reply(req, 200, json_pack("{s:b, s:i, s:s}", "opened", fd >= 0, "errno", err,
                                         "error", err ? strerror(err) : "none"));
}

static void handle(cella_http_req *req, void *tctx)
{
    cas_thread *t = tctx;
    cella_vault_grant_clear(); /* each request earns its own */
    const char *m = cella_http_method(req), *p = cella_http_path(req);
    char a[256], b[256];
    bool get = !strcmp(m, "GET"), post = !strcmp(m, "POST"), put = !strcmp(m, "PUT");
    if (get && !strcmp(p, "/v1/health")) {
        cella_http_reply(req, 200, json_pack("{s:b, s:s}", "ok", 1, "fingerprint", t->app->fingerprint));
    } else if (get && !strcmp(p, "/v1/challenge")) {
        issue_nonce(t, req, CELLA_CHALLENGE_OWNER);
    } else if (get && !strcmp(p, "/v1/attest/nonce")) {
        issue_nonce(t, req, CELLA_CHALLENGE_ATTEST);
    } else if (post && !strcmp(p, "/v1/attest")) {
        attest(t, req);
    } else if (post && !strcmp(p, "/v1/volumes/tag")) {
        push_tag(t, req);
    } else if (post && !strcmp(p, "/v1/sessions")) {
        sessions_create(t, req);
    } else if (sscanf(p, "/v1/sessions/%255[^/]/volumes/%255[^/]", a, b) == 2 && get &&
               strlen(p) == 22 + strlen(a) + strlen(b)) {
        char na[256], nb[256];
        cella_res r = cella_http_unescape(a, na, sizeof na);
        if (cella_ok(r))
            r = cella_http_unescape(b, nb, sizeof nb);
        if (cella_ok(r))
            volume_read(t, req, na, nb);
        else
            cas_reply_err(req, r);
    } else if (sscanf(p, "/v1/sessions/%255[^/]", a) == 1 && strlen(p) == 13 + strlen(a)) {
        char na[256];
        cella_res r = cella_http_unescape(a, na, sizeof na);
        if (!cella_ok(r))
            cas_reply_err(req, r);
        else if (get)
            sessions_show(t, req, na);
        else if (put)
            sessions_update(t, req, na);
        else
            cella_http_error(req, 405, "method", "method %s not allowed on %s", m, p);
    } else if (get && t->app->test_hooks && !strcmp(p, "/v1/test/open-master-key")) {
        test_open_master_key(t, req);
    } else if (task_route(t, req)) {
        /* iExec's per-task TEE sessions (cas/tee_task.c), SMS endpoints (cas/sms.c) */
    } else {
        cella_http_error(req, 404, "not_found", "no such endpoint: %s %s", m, p);
    }
    cella_vault_grant_clear(); /* a grant never outlives its request */
}

/* ---- startup -------------------------------------------------------------------------------- */

static void *thread_init(void *app)
{
    cas_app *a = app;
    cas_thread *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->app = a;
    if (a->opt.hub_url && !(t->hub_pool = cella_http_pool_new())) {
        free(t);
        return NULL;
    }
    if (!cella_ok(cella_cas_store_open(a->db_path, &t->st))) {
        cella_http_pool_free(t->hub_pool);
        free(t);
        return NULL;
    }
    return t;
}

static void thread_fini(void *tctx)
{
    cas_thread *t = tctx;
    cella_cas_store_close(t->st);
    cella_http_pool_free(t->hub_pool);
    free(t);
}

static void write_metrics(cella_buf *out, void *app, void *tctx)
{
    (void)app;
    (void)tctx;
    cas_metrics_write(out);
}

static void on_ready(void *app)
{
    cas_app *a = app;
    printf("cas listening on https://%s\nfingerprint %s\n", a->bound, a->fingerprint);
    if (a->opt.allow_sim)
        printf("WARNING: sim evidence accepted (--allow-sim): sim enclaves protect nothing\n");
    if (a->evidence_now)
        printf("WARNING: hardware evidence is verified at %s (--evidence-time), not at the "
               "current time: for tests only, never in production\n",
               a->opt.evidence_time);
    if (a->opt.collateral_dir)
        printf("hardware evidence collateral: %s\n", a->opt.collateral_dir);
    if (a->opt.pccs_url)
        printf("hardware evidence collateral: PCCS %s (cache %s)\n", a->opt.pccs_url,
               a->pccs_cache);
    fflush(stdout);
}

/* Key files are *.key in DATA (master.key, tls.key): the network process
 * never opens them after start-up. */
static bool key_file(const char *name)
{
    size_t n = strlen(name);
    return n >= 4 && !strcmp(name + n - 4, ".key");
}

/* After start-up the network process can no longer open DATA's key files
 * (Landlock) nor run, trace or read another process (seccomp). */
static cella_res confine(const cas_app *a)
{
    int abi;
    CELLA_TRY(cella_landlock_hide(a->opt.data_dir, key_file, &abi));
    CELLA_TRY(cella_seccomp_deny(false));
    if (!abi)
        cella_warn("this kernel has no Landlock: cas's network process is not kept from "
                   "DATA's key files (seccomp still forbids exec and ptrace)");
    else
        cella_info("network process confined: Landlock ABI %d hides %s/*.key; seccomp "
                   "forbids exec, ptrace and process_vm_*",
                   abi, a->opt.data_dir);
    return CELLA_OK_RES;
}

cella_res cas_serve(const cas_options *o)
{
    cas_app a;
    memset(&a, 0, sizeof a);
    a.opt = *o;
    if (!a.opt.listen)
        a.opt.listen = "127.0.0.1:8081";
    CELLA_ENSURE(o->data_dir, CELLA_E_USAGE, "--data", "a data directory is required");
    const char *hooks = getenv("CELLA_TEST_HOOKS");
    a.test_hooks = hooks && !strcmp(hooks, "1");
    /* The port first: a taken one leaves --data as it was (no key made). */
    int fd;
    CELLA_TRY(cella_http_listen(a.opt.listen, "cas serve --listen", &fd, a.bound));
    cas_commits_init(&a.commits);
    cella_res r = cella_mkdir_private(o->data_dir);
    if (o->db)
        snprintf(a.db_path, sizeof a.db_path, "%s", o->db);
    else
        snprintf(a.db_path, sizeof a.db_path, "%s/cas.db", o->data_dir);
    /* The vault first, while this process has one thread. */
    char kpath[4200];
    snprintf(kpath, sizeof kpath, "%s/master.key", o->data_dir);
    if (cella_ok(r))
        r = cella_vault_start(kpath, &a.vault);
    int created = 0;
    if (cella_ok(r))
        r = cella_tls_server_ctx(o->data_dir, &a.ssl, a.fingerprint, &created);
    if (cella_ok(r) && o->allow_sim) {
        char dir[4096], pub[4200];
        const char *path = o->sim_platform;
        if (!path) {
            r = cella_sim_default_dir(dir, sizeof dir);
            snprintf(pub, sizeof pub, "%s/sim-platform.pub", dir);
            path = pub;
        }
        if (cella_ok(r))
            r = cella_sim_load_public(path, &a.sim_pub);
        if (cella_ok(r))
            r = cella_sim_platform_id(a.sim_pub, a.sim_id);
    }
    if (cella_ok(r) && o->evidence_time)
        r = cella_ev_parse_time(o->evidence_time, &a.evidence_now, "--evidence-time");
    if (cella_ok(r) && o->collateral_dir) {
        struct stat st;
        if (stat(o->collateral_dir, &st) != 0 || !S_ISDIR(st.st_mode))
            r = cella_fail(CELLA_E_USAGE, o->collateral_dir,
                           "--collateral must name a directory");
        a.collateral.dir = o->collateral_dir;
    }
    if (cella_ok(r) && o->pccs_url) {
        if (strncmp(o->pccs_url, "https://", 8) && strncmp(o->pccs_url, "http://", 7))
            r = cella_fail(CELLA_E_USAGE, "--pccs", "must be an http:// or https:// URL");
        snprintf(a.pccs_cache, sizeof a.pccs_cache, "%s/pccs-cache", o->data_dir);
        a.pccs = (cella_pccs){.url = o->pccs_url,
                              .cache_dir = a.pccs_cache,
                              .insecure_tls = o->pccs_insecure_tls};
        a.collateral.pccs = &a.pccs;
    }
    /* Create the schema once before the threads start. The connection stays
     * open while cas serves: SQLite's -wal and -shm files then exist when the
     * network process is confined, and stay (it cannot create files in DATA). */
    cella_cas_store *st = NULL;
    if (cella_ok(r))
        r = cella_cas_store_open(a.db_path, &st);
    if (cella_ok(r))
        r = cella_sigreq_new("cas", cella_cas_store_db(st), &a.auth);
    if (cella_ok(r) && o->pccs_url && mkdir(a.pccs_cache, 0700) != 0 && errno != EEXIST)
        r = cella_fail(CELLA_E_IO, a.pccs_cache, "cannot create the PCCS cache: %s",
                       strerror(errno));
    if (cella_ok(r))
        r = confine(&a);
    if (cella_ok(r)) {
        if (created)
            printf("created TLS identity in %s; clients pin fingerprint %s\n", o->data_dir,
                   a.fingerprint);
        cella_http_config cfg = {
            .fd = fd,
            .ssl = a.ssl,
            .max_body = CAS_MAX_BODY,
            /* Writes block their loop for an fsync: more loops than cores
             * keep the CPUs busy meanwhile. */
            .threads = o->threads ? o->threads : 4 * (unsigned)sysconf(_SC_NPROCESSORS_ONLN),
            .handler = handle,
            .app = &a,
            .thread_init = thread_init,
            .thread_fini = thread_fini,
            .on_ready = on_ready,
            .name = "cas",
            .routes = cas_routes,
            .metrics = write_metrics,
        };
        r = cella_http_serve(&cfg);
    }
    close(fd);
    if (st)
        cella_cas_store_close(st);
    cella_vault_stop(a.vault);
    cella_sigreq_free(a.auth);
    EVP_PKEY_free(a.sim_pub);
    SSL_CTX_free(a.ssl);
    cas_commits_destroy(&a.commits);
    return r;
}
