/* The cas server: routes, authentication, attestation, key release, tags. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cas/cas.h"
#include "cas/internal.h"
#include "cas/metrics.h"
#include "cas/task_policy.h"
#include "casapi/casapi.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/keyfile.h"
#include "core/log.h"
#include "core/secure.h"
#include "evidence/ossl.h"
#include "crypto/aead.h"
#include "identity/eth.h"
#include "net/http_server.h"
#include "policy/session.h"
#include "store/cas_store.h"
#include "tee/ratls.h"
#include "tee/sim.h"

#define CAS_MAX_BODY (256u * 1024u)
#define INSTANCE_TTL (24 * 3600)

int64_t cas_now(void) { return (int64_t)time(NULL); }
#define now_s cas_now

/* ---- sealing at rest ------------------------------------------------------------ */

/* out = nonce(12) || AES-256-GCM(master, AAD = context)(plain) || tag(16) */
cella_res cas_seal(const cas_app *a, const char *context, cella_slice plain, cella_buf *out)
{
    uint8_t nonce[12], tag[16];
    CELLA_TRY(cella_random(nonce, sizeof nonce));
    uint8_t *ct = malloc(plain.len ? plain.len : 1);
    cella_gcm *g = cella_gcm_new();
    cella_res r = ct && g ? cella_gcm_set_key(g, a->master, true)
                          : cella_fail(CELLA_E_NOMEM, NULL, "out of memory");
    if (cella_ok(r))
        r = cella_gcm_seal(g, nonce, (const uint8_t *)context, strlen(context), plain.p, plain.len,
                           ct, tag);
    if (cella_ok(r)) {
        cella_buf_append(out, nonce, 12);
        cella_buf_append(out, ct, plain.len);
        cella_buf_append(out, tag, 16);
        r = cella_buf_result(out);
    }
    cella_gcm_free(g);
    free(ct);
    return r;
}

/* Unseals into secure memory (out must be a secret buffer). */
cella_res cas_unseal(const cas_app *a, const char *context, cella_slice in, cella_buf *out)
{
    CELLA_ENSURE(in.len >= 28, CELLA_E_AUTH, "database", "sealed value is truncated");
    size_t n = in.len - 28;
    uint8_t *pt = cella_secure_alloc(n ? n : 1);
    cella_gcm *g = cella_gcm_new();
    cella_res r = pt && g ? cella_gcm_set_key(g, a->master, false)
                          : cella_fail(CELLA_E_NOMEM, NULL, "out of memory");
    if (cella_ok(r))
        r = cella_gcm_open(g, in.p, (const uint8_t *)context, strlen(context), in.p + 12, n, pt,
                           in.p + 12 + n);
    if (r.code == CELLA_E_AUTH)
        r = cella_fail(CELLA_E_AUTH, "database",
                       "a sealed value failed authentication (tampered database or wrong "
                       "master key)");
    if (cella_ok(r)) {
        cella_buf_append(out, pt, n);
        r = cella_buf_result(out);
    }
    cella_gcm_free(g);
    if (pt)
        cella_secure_free(pt, n ? n : 1);
    return r;
}

static void ctx_name(char *out, size_t cap, const char *kind, const char *a, const char *b)
{
    snprintf(out, cap, "cella-cas %s v1|%s|%s", kind, a, b ? b : "");
}

/* ---- small helpers -------------------------------------------------------------- */

void cas_audit(cas_thread *t, const char *who, const char *action, const char *object,
                  const char *outcome, const char *why)
{
    cas_metrics_audited(action, outcome);
    /* A refusal is audited before it is answered: a failed audit write must
     * not replace the refusal's message in the thread's error context (with
     * the database down, a 401 would read as the audit's failure). */
    cella_code code = cella_error_code();
    char what[1024], where[1024];
    snprintf(what, sizeof what, "%s", cella_error_what());
    snprintf(where, sizeof where, "%s", cella_error_where());
    if (!cella_ok(cella_cas_audit(t->st, now_s(), who, action, object, outcome, why ? why : ""))) {
        cella_warn("audit log write failed: %s", cella_error_what());
        (void)cella_fail(code, where, "%s", what);
    }
    cella_info("audit: %s %s %s %s%s%s", who, action, object, outcome, why && *why ? ": " : "",
               why ? why : "");
}

void cas_reply_err(cella_http_req *req, cella_res r) { cella_http_reply_failure(req, r); }

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
    char buf[257];
    cella_hex_encode(buf, p, n, false);
    return json_string(buf);
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

cella_res cas_load_session(cas_thread *t, const char *name, cella_cas_session_row *row,
                           json_t **doc)
{
    cella_buf_init(&row->sealed, false);
    CELLA_TRY(cella_cas_session_get(t->st, name, row));
    char ctx[512];
    ctx_name(ctx, sizeof ctx, "session", name, NULL);
    cella_buf plain;
    cella_buf_init(&plain, true);
    cella_res r = cas_unseal(t->app, ctx, cella_slice_of(row->sealed.p, row->sealed.len), &plain);
    json_error_t je;
    if (cella_ok(r)) {
        *doc = json_loadb((const char *)plain.p, plain.len, 0, &je);
        if (!*doc)
            r = cella_fail(CELLA_E_INTERNAL, name, "stored session is not JSON");
    }
    cella_buf_free(&plain);
    if (!cella_ok(r))
        cella_buf_free(&row->sealed);
    return r;
}

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

cella_res cas_store_row(cas_thread *t, const char *name, const json_t *doc, const char *owner,
                        cella_cas_session_row *row)
{
    memset(row, 0, sizeof *row);
    snprintf(row->owner, sizeof row->owner, "%s", owner);
    CELLA_TRY(cella_session_hash(doc, row->hash));
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    CELLA_ENSURE(text, CELLA_E_NOMEM, name, "out of memory");
    char ctx[512];
    ctx_name(ctx, sizeof ctx, "session", name, NULL);
    cella_buf_init(&row->sealed, false);
    cella_res r = cas_seal(t->app, ctx, cella_slice_of(text, strlen(text)), &row->sealed);
    cella_wipe(text, strlen(text));
    free(text);
    return r;
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
    if (cella_ok(r))
        r = session_from_body(req, &doc);
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
    if (cella_ok(r))
        r = cas_load_session(t, name, &row, &cur);
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

/* ---- volume keys, tags and secrets --------------------------------------------------------- */

/* The key of a session volume: given in the session, else generated once. */
static cella_res volume_key(cas_thread *t, const char *session, const json_t *doc,
                            const char *volume, uint8_t key[32])
{
    const json_t *v = cella_session_volume(doc, volume);
    CELLA_ENSURE(v, CELLA_E_NOTFOUND, volume, "the session has no such volume");
    const char *given = json_string_value(json_object_get(v, "fspf_key"));
    if (given)
        return cella_hex_decode(key, 32, given, strlen(given), volume);
    uint8_t fresh[32];
    char ctx[512];
    ctx_name(ctx, sizeof ctx, "volume-key", session, volume);
    cella_buf cand, stored, plain;
    cella_buf_init(&cand, false);
    cella_buf_init(&stored, false);
    cella_buf_init(&plain, true);
    cella_res r = cella_random(fresh, 32);
    if (cella_ok(r))
        r = cas_seal(t->app, ctx, cella_slice_of(fresh, 32), &cand);
    cella_wipe(fresh, 32);
    if (cella_ok(r))
        r = cella_cas_sealed_get_or_put(t->st, session, "volume", volume,
                                        cella_slice_of(cand.p, cand.len), &stored);
    if (cella_ok(r))
        r = cas_unseal(t->app, ctx, cella_slice_of(stored.p, stored.len), &plain);
    if (cella_ok(r) && plain.len != 32)
        r = cella_fail(CELLA_E_INTERNAL, volume, "stored volume key has the wrong size");
    if (cella_ok(r))
        memcpy(key, plain.p, 32);
    cella_buf_free(&cand);
    cella_buf_free(&stored);
    cella_buf_free(&plain);
    return r;
}

/* The current tag: the last one pushed, else the session's initial tag. */
static cella_res volume_tag(cas_thread *t, const char *session, const json_t *doc,
                            const char *volume, json_t **tag_json)
{
    uint8_t tag[16];
    bool has;
    CELLA_TRY(cella_cas_tag_get(t->st, session, volume, tag, &has));
    if (has) {
        *tag_json = hex_json(tag, 16);
        return CELLA_OK_RES;
    }
    const char *init = json_string_value(json_object_get(cella_session_volume(doc, volume), "fspf_tag"));
    *tag_json = init ? json_string(init) : json_null();
    return CELLA_OK_RES;
}

/* A generated secret: printable for ascii, random bytes (as hex) for binary. */
static cella_res secret_value(cas_thread *t, const char *session, const json_t *spec,
                              cella_buf *out)
{
    const char *name = json_string_value(json_object_get(spec, "name"));
    const char *kind = json_string_value(json_object_get(spec, "kind"));
    const char *given = json_string_value(json_object_get(spec, "value"));
    if (given) {
        cella_buf_append(out, given, strlen(given));
        return cella_buf_result(out);
    }
    json_int_t size = json_integer_value(json_object_get(spec, "size"));
    CELLA_ENSURE(size > 0 && size <= 4096, CELLA_E_POLICY, name, "bad secret size");
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    bool binary = kind && !strcmp(kind, "binary");
    size_t n = binary ? (size_t)size * 2 : (size_t)size;
    char *fresh = cella_secure_alloc(n + 1);
    uint8_t *rnd = cella_secure_alloc((size_t)size);
    CELLA_ENSURE(fresh && rnd, CELLA_E_NOMEM, name, "out of memory");
    cella_res r = cella_random(rnd, (size_t)size);
    if (cella_ok(r)) {
        if (binary)
            cella_hex_encode(fresh, rnd, (size_t)size, false);
        else
            for (json_int_t i = 0; i < size; i++)
                fresh[i] = alphabet[rnd[i] % 62]; /* bias < 1/4: fine for a password */
    }
    char ctx[512];
    ctx_name(ctx, sizeof ctx, "secret", session, name);
    cella_buf cand, stored;
    cella_buf_init(&cand, false);
    cella_buf_init(&stored, false);
    if (cella_ok(r))
        r = cas_seal(t->app, ctx, cella_slice_of(fresh, n), &cand);
    if (cella_ok(r))
        r = cella_cas_sealed_get_or_put(t->st, session, "secret", name,
                                        cella_slice_of(cand.p, cand.len), &stored);
    if (cella_ok(r))
        r = cas_unseal(t->app, ctx, cella_slice_of(stored.p, stored.len), out);
    cella_secure_free(fresh, n + 1);
    cella_secure_free(rnd, (size_t)size);
    cella_buf_free(&cand);
    cella_buf_free(&stored);
    return r;
}

/* Replaces $$SCONE::name$$ and $$CELLA::name$$ with secret values. */
static cella_res substitute(cas_thread *t, const char *session, const json_t *doc,
                            const char *in, json_t **out)
{
    cella_buf b;
    cella_buf_init(&b, true);
    cella_res r = CELLA_OK_RES;
    const char *p = in;
    while (cella_ok(r) && *p) {
        const char *s1 = strstr(p, "$$SCONE::"), *s2 = strstr(p, "$$CELLA::");
        const char *s = !s1 ? s2 : !s2 ? s1 : (s1 < s2 ? s1 : s2);
        if (!s) {
            cella_buf_append(&b, p, strlen(p));
            break;
        }
        cella_buf_append(&b, p, (size_t)(s - p));
        const char *nm = s + 9, *end = strstr(nm, "$$");
        if (!end) {
            cella_buf_append(&b, s, strlen(s));
            break;
        }
        char name[129];
        size_t nl = (size_t)(end - nm);
        if (nl >= sizeof name) {
            r = cella_fail(CELLA_E_POLICY, "secrets", "secret reference too long");
            break;
        }
        memcpy(name, nm, nl);
        name[nl] = '\0';
        const json_t *spec = NULL, *v;
        size_t i;
        json_array_foreach(json_object_get(doc, "secrets"), i, v)
            if (!strcmp(json_string_value(json_object_get(v, "name")), name))
                spec = v;
        if (!spec)
            r = cella_fail(CELLA_E_POLICY, name, "reference to an undeclared secret");
        else
            r = secret_value(t, session, spec, &b);
        p = end + 2;
    }
    if (cella_ok(r))
        r = cella_buf_result(&b);
    if (cella_ok(r)) {
        /* An empty value has no buffer at all: json_stringn(NULL, 0) fails. */
        *out = json_stringn(b.len ? (const char *)b.p : "", b.len);
        if (!*out)
            r = cella_fail(CELLA_E_POLICY, "secrets", "secret value is not valid UTF-8");
    }
    cella_buf_free(&b);
    return r;
}

/* ---- attestation ---------------------------------------------------------------------------- */

typedef struct {
    cella_tee_kind kind;
    uint8_t measurement[48]; /* sim, SGX: 32 bytes (MRENCLAVE); TDX MRTD, SNP MEASUREMENT: 48 */
    size_t measurement_len;
    bool debug;
    uint8_t report_data[64];
    char tcb[48]; /* hardware: the TCB status, for the audit line */
    /* sim and SGX: who signed the enclave, as which product, at which version */
    bool has_signer;
    uint8_t signer[32];
    uint16_t prodid, svn;
} att_claims;

static cella_res verify_sim(cas_thread *t, cella_slice ev, att_claims *c)
{
    c->kind = CELLA_TEE_SIM;
    CELLA_ENSURE(t->app->opt.allow_sim && t->app->sim_pub, CELLA_E_POLICY, "evidence",
                 "sim evidence refused: cas was not started with --allow-sim");
    cella_sim_report rep;
    CELLA_TRY(cella_sim_verify_id(ev, t->app->sim_pub, t->app->sim_id, &rep));
    memcpy(c->measurement, rep.measurement, 32);
    c->measurement_len = 32;
    c->has_signer = true;
    memcpy(c->signer, rep.signer, 32);
    c->prodid = rep.product_id;
    c->svn = rep.svn;
    c->debug = rep.debug;
    memcpy(c->report_data, rep.report_data, 64);
    return CELLA_OK_RES;
}

/* The session's security section as an evidence policy (docs/cas-api.md,
 * "Hardware evidence"). Measurements and the key/nonce binding are not in it:
 * attest() checks them after the evidence and its platform are accepted. */
static cella_res session_evidence_policy(const json_t *doc, cella_evidence_policy *p)
{
    const json_t *sec = json_object_get(doc, "security");
    cella_evidence_policy_default(p);
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(sec, "tee"), i, v) {
        cella_evidence_kind k;
        if (cella_evidence_kind_parse(json_string_value(v), &k) && k != CELLA_EV_AUTO)
            p->kinds |= (unsigned)k;
    }
    p->allow_debug = json_is_true(json_object_get(sec, "allow_debug"));
    const json_t *tcb = json_object_get(sec, "accepted_tcb");
    if (json_array_size(tcb))
        p->accepted_tcb = 0;
    json_array_foreach(tcb, i, v)
        CELLA_TRY(cella_evidence_policy_accept_tcb(p, json_string_value(v)));
    json_array_foreach(json_object_get(sec, "tolerated_advisories"), i, v)
        CELLA_TRY(cella_evidence_policy_tolerate(p, json_string_value(v)));
    return CELLA_OK_RES;
}

/* SGX, TDX and SNP evidence, verified by lib/evidence at the evidence time
 * (--evidence-time, else now) with the collateral of --collateral / --pccs:
 * signatures, chains, CRLs, collateral windows and the TCB level first, then
 * the session's kinds, debug, accepted TCB statuses and tolerated advisories. */
static cella_res verify_hardware(cas_thread *t, cella_tee_kind kind, cella_slice ev,
                                 const json_t *doc, att_claims *c)
{
    static const char *const W = "evidence";
    cas_app *a = t->app;
    const char *kn = cella_tee_kind_name(kind);
    c->kind = kind;
    cella_evidence_kind ek;
    CELLA_ENSURE(cella_evidence_kind_parse(kn, &ek), CELLA_E_UNSUPPORTED, W,
                 "%s evidence is not supported", kn);
    cella_evidence_policy *pol = calloc(1, sizeof *pol);
    cella_evidence_claims *cl = calloc(1, sizeof *cl);
    cella_collateral_found found;
    memset(&found, 0, sizeof found);
    time_t now = a->evidence_now ? a->evidence_now : time(NULL);
    cella_res r = pol && cl ? session_evidence_policy(doc, pol)
                            : cella_fail(CELLA_E_NOMEM, W, "out of memory");
    if (cella_ok(r) && !(pol->kinds & (unsigned)ek))
        r = cella_fail(CELLA_E_POLICY, "security.tee",
                       "%s enclaves are not accepted by this session", kn);
    if (cella_ok(r))
        r = cella_evidence_parse(ek, ev, cl);
    if (cella_ok(r)) {
        r = cella_collateral_find(&a->collateral, cl, now, &found);
        if (!cella_ok(r)) {
            /* Not "no such session": say why the evidence cannot be verified. */
            char what[512];
            snprintf(what, sizeof what, "%s", cella_error_what());
            r = cella_fail(r.code == CELLA_E_NOTFOUND ? CELLA_E_POLICY : r.code, W,
                           "cannot verify %s evidence: %s", kn, what);
        }
    }
    if (cella_ok(r)) {
        cella_evidence_collateral view = cella_collateral_view(&found);
        r = cella_evidence_verify(ek, ev, &view, pol, now, cl);
        if (cl->verified && !cella_ok(cella_collateral_commit(&a->collateral, &found)))
            cella_warn("PCCS collateral not cached: %s", cella_error_what());
        if (!cella_ok(r))
            r = cella_fail(r.code, W, "%s", cl->reason);
        else
            cella_info("%s evidence verified with collateral from %s: TCB %s", kn, found.origin,
                       ek == CELLA_EV_SNP ? "(SNP: VCEK matches REPORTED_TCB)"
                                          : cella_tcb_status_str(cl->tcb_status));
    }
    if (cella_ok(r)) {
        c->debug = cl->debug;
        if (ek == CELLA_EV_SGX) {
            memcpy(c->measurement, cl->quote.sgx.mrenclave, 32);
            c->measurement_len = 32;
            c->has_signer = true;
            memcpy(c->signer, cl->quote.sgx.mrsigner, 32);
            c->prodid = cl->quote.sgx.isvprodid;
            c->svn = cl->quote.sgx.isvsvn;
            memcpy(c->report_data, cl->quote.sgx.reportdata, 64);
        } else if (ek == CELLA_EV_TDX) {
            memcpy(c->measurement, cl->quote.td.mrtd, 48);
            c->measurement_len = 48;
            memcpy(c->report_data, cl->quote.td.reportdata, 64);
        } else {
            memcpy(c->measurement, cl->snp.measurement, 48);
            c->measurement_len = 48;
            memcpy(c->report_data, cl->snp.report_data, 64);
        }
        snprintf(c->tcb, sizeof c->tcb, "%s",
                 ek == CELLA_EV_SNP ? "VCEK TCB" : cella_tcb_status_str(cl->tcb_status));
    }
    cella_collateral_found_free(&found);
    free(pol);
    free(cl);
    return r;
}

static bool in_str_array(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) if (json_string_value(v) && !strcmp(json_string_value(v), s)) return true;
    return false;
}

/* Checks claims against the session's policy for `service`. */
static cella_res check_policy(const json_t *doc, const json_t *svc, const att_claims *c)
{
    const json_t *sec = json_object_get(doc, "security");
    const char *kind = cella_tee_kind_name(c->kind);
    CELLA_ENSURE(in_str_array(json_object_get(sec, "tee"), kind), CELLA_E_POLICY, "security.tee",
                 "%s enclaves are not accepted by this session", kind);
    if (c->kind == CELLA_TEE_SIM)
        CELLA_ENSURE(json_is_true(json_object_get(sec, "allow_sim")), CELLA_E_POLICY,
                     "security.allow_sim", "sim enclaves are not allowed by this session");
    CELLA_ENSURE(!c->debug || json_is_true(json_object_get(sec, "allow_debug")), CELLA_E_POLICY,
                 "security.allow_debug", "debug enclave refused by policy");
    char m[97];
    cella_hex_encode(m, c->measurement, c->measurement_len, false);
    const json_t *variants = json_object_get(svc, "attestation");
    if (!json_is_array(variants)) {
        CELLA_ENSURE(in_str_array(json_object_get(svc, "mrenclaves"), m), CELLA_E_POLICY,
                     "mrenclaves", "measurement %s is not allowed for this service", m);
        return CELLA_OK_RES;
    }
    /* SCONE's variants: one must match, with every factor it names. */
    char sg[65] = "none";
    if (c->has_signer)
        cella_hex_encode(sg, c->signer, 32, false);
    size_t i;
    const json_t *v;
    json_array_foreach(variants, i, v) {
        const json_t *mr = json_object_get(v, "mrenclave"), *s = json_object_get(v, "signer");
        bool ok = !json_is_array(mr) || in_str_array(mr, m);
        if (ok && json_is_object(s)) {
            const char *want = json_string_value(json_object_get(s, "mrsigner"));
            ok = c->has_signer && want && !strcmp(want, sg) &&
                 json_integer_value(json_object_get(s, "isvprodid")) == c->prodid &&
                 json_integer_value(json_object_get(s, "isvsvn_min")) <= c->svn;
        }
        if (ok)
            return CELLA_OK_RES;
    }
    return cella_fail(CELLA_E_POLICY, "attestation",
                      "measurement %s, signer %s (product %u, svn %u) match no attestation "
                      "variant of this service",
                      m, sg, (unsigned)c->prodid, (unsigned)c->svn); /* zero without a signer */
}

/* The configuration released to an attested service. */
static cella_res build_config(cas_thread *t, const char *session, const json_t *doc,
                              const json_t *svc, json_t **out)
{
    json_t *cfg = json_object(), *env = json_object(), *vols = json_array(), *files = json_array();
    json_object_set_new(cfg, "command", json_deep_copy(json_object_get(svc, "command")));
    json_object_set_new(cfg, "pwd", json_deep_copy(json_object_get(svc, "pwd")));
    json_object_set_new(cfg, "environment", env);
    json_object_set_new(cfg, "volumes", vols);
    json_object_set_new(cfg, "injection_files", files);
    cella_res r = CELLA_OK_RES;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(svc, "environment"), k, v) {
        json_t *val = NULL;
        r = substitute(t, session, doc, json_string_value(v), &val);
        if (!cella_ok(r))
            break;
        json_object_set_new(env, k, val);
    }
    const char *image = json_string_value(json_object_get(svc, "image_name"));
    size_t i, j;
    const json_t *img, *mnt;
    json_array_foreach(json_object_get(doc, "images"), i, img) {
        if (!cella_ok(r) || !image || strcmp(json_string_value(json_object_get(img, "name")), image))
            continue;
        json_array_foreach(json_object_get(img, "volumes"), j, mnt) {
            const char *vn = json_string_value(json_object_get(mnt, "name"));
            uint8_t key[32];
            json_t *tag = NULL;
            r = volume_key(t, session, doc, vn, key);
            if (cella_ok(r))
                r = volume_tag(t, session, doc, vn, &tag);
            if (!cella_ok(r))
                break;
            json_array_append_new(vols, json_pack("{s:s, s:O, s:o, s:o}", "name", vn, "path",
                                                  json_object_get(mnt, "path"), "key",
                                                  hex_json(key, 32), "tag", tag));
            cella_wipe(key, 32);
        }
        json_array_foreach(json_object_get(img, "injection_files"), j, mnt) {
            json_t *content = NULL;
            r = substitute(t, session, doc, json_string_value(json_object_get(mnt, "content")),
                           &content);
            if (!cella_ok(r))
                break;
            json_array_append_new(files, json_pack("{s:O, s:o}", "path",
                                                   json_object_get(mnt, "path"), "content", content));
        }
    }
    if (!cella_ok(r)) {
        json_decref(cfg);
        return r;
    }
    *out = cfg;
    return CELLA_OK_RES;
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
    uint8_t nonce[32], spki[32], token[32], token_hash[32];
    cella_tee_kind kind = CELLA_TEE_SIM;
    att_claims c;
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
    if (cella_ok(r)) {
        char fp[17];
        cella_hex_encode(fp, spki, 8, false);
        snprintf(who, sizeof who, "%s enclave key %s", cella_tee_kind_name(kind), fp);
        if (kind == CELLA_TEE_SIM) {
            r = verify_sim(t, cella_slice_of(ev.p, ev.len), &c);
        } else {
            /* Hardware evidence is verified against the session's security
             * section, so the session is read first (an unknown one is
             * refused like any other, below). */
            r = cas_load_session(t, session, &row, &doc);
            if (cella_ok(r))
                r = verify_hardware(t, kind, cella_slice_of(ev.p, ev.len), doc, &c);
        }
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
        r = check_policy(doc, svc, &c);
    if (cella_ok(r))
        r = cas_task_session_live(t, session);
    if (cella_ok(r))
        r = build_config(t, session, doc, svc, &cfg);
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
        /* The instance and its audit row commit together: one fsync. */
        r = cella_cas_instance_put_audited(t->st, token_hash, session, service, spki,
                                           now_s() + INSTANCE_TTL, now_s(), who, why);
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
    if (cella_ok(r))
        r = cas_load_session(t, name, &row, &doc);
    if (cella_ok(r) && !policy_allows(doc, "read", row.owner, who))
        r = cella_fail(CELLA_E_PERM, name, "%s may not read this session", who);
    if (cella_ok(r))
        r = volume_key(t, name, doc, volume, key);
    if (cella_ok(r))
        r = volume_tag(t, name, doc, volume, &tag);
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

static void handle(cella_http_req *req, void *tctx)
{
    cas_thread *t = tctx;
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
    } else if (cas_tee_route(t, req)) {
        /* iExec's per-task TEE sessions (cas/tee_task.c) */
    } else if (cas_sms_route(t, req)) {
        /* iExec's secret management endpoints (cas/sms.c) */
    } else {
        cella_http_error(req, 404, "not_found", "no such endpoint: %s %s", m, p);
    }
}

/* ---- startup -------------------------------------------------------------------------------- */

static void *thread_init(void *app)
{
    cas_app *a = app;
    cas_thread *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->app = a;
    if (!cella_ok(cella_cas_store_open(a->db_path, &t->st))) {
        free(t);
        return NULL;
    }
    return t;
}

static void thread_fini(void *tctx)
{
    cas_thread *t = tctx;
    cella_cas_store_close(t->st);
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

cella_res cas_serve(const cas_options *o)
{
    cas_app a;
    memset(&a, 0, sizeof a);
    a.opt = *o;
    if (!a.opt.listen)
        a.opt.listen = "127.0.0.1:8081";
    CELLA_ENSURE(o->data_dir, CELLA_E_USAGE, "--data", "a data directory is required");
    /* The port first: a taken one leaves --data as it was (no key made). */
    int fd;
    CELLA_TRY(cella_http_listen(a.opt.listen, "cas serve --listen", &fd, a.bound));
    cella_res r = cella_mkdir_private(o->data_dir);
    if (o->db)
        snprintf(a.db_path, sizeof a.db_path, "%s", o->db);
    else
        snprintf(a.db_path, sizeof a.db_path, "%s/cas.db", o->data_dir);
    char kpath[4200];
    snprintf(kpath, sizeof kpath, "%s/master.key", o->data_dir);
    a.master = cella_secure_alloc(32);
    if (cella_ok(r) && !a.master)
        r = cella_fail(CELLA_E_NOMEM, NULL, "out of memory");
    bool made;
    int created = 0;
    if (cella_ok(r))
        r = cella_keyfile_load_or_create(kpath, a.master, &made);
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
    if (cella_ok(r)) {
        /* Create the schema once before the threads start. */
        cella_cas_store *st;
        r = cella_cas_store_open(a.db_path, &st);
        if (cella_ok(r)) {
            r = cella_sigreq_new("cas", cella_cas_store_db(st), &a.auth);
            cella_cas_store_close(st);
        }
    }
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
    cella_sigreq_free(a.auth);
    EVP_PKEY_free(a.sim_pub);
    SSL_CTX_free(a.ssl);
    cella_secure_free(a.master, 32);
    return r;
}
