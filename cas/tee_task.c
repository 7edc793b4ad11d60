/* iExec's per-task TEE endpoints of the SMS, inside cas:
 *
 *   POST /tee/challenges/TASKID   Authorization: 0x<EIP-191 sig of keccak256(taskid) by the
 *                                 deal's workerpool owner> -> {"enclaveChallenge": "0x<address>"}
 *   POST /tee/sessions            {"workerWallet", "chainTaskId", "enclaveChallenge",
 *                                  "signature"} (iExec's WorkerpoolAuthorization), with
 *                                 Authorization: 0x<the worker's EIP-191 sig of the same hash>
 *                                 -> {"sessionId": "iexec-0x<taskid>", "service": "app"}
 *
 * Everything about the task comes from the hub (--hub) and is checked again here
 * (cas/task_policy.c); the session is stored sealed like every session, readable by
 * nobody, and released by POST /v1/attest to the app's measurement only.
 * docs/cas-api.md, "iExec TEE tasks". */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cas/internal.h"
#include "cas/task_policy.h"
#include "core/encoding.h"
#include "core/secure.h"
#include "hub/task.h"
#include "identity/eth.h"
#include "net/http_client.h"
#include "policy/session.h"

#define CAS_SELF "cas" /* the owner of the sessions cas makes itself */

/* ---- the hub ---------------------------------------------------------------------------- */

cella_res cas_hub_get(cas_thread *t, const char *path, const char *what, json_t **out)
{
    *out = NULL;
    const char *hub = t->app->opt.hub_url;
    CELLA_ENSURE(hub, CELLA_E_POLICY, what,
                 "this cas has no hub to ask about the %s (start it with --hub URL)", what);
    cella_http_client c = {.endpoints = t->app->opt.hub, .timeout_s = 10, .reuse = t->hub_pool};
    cella_http_response resp;
    cella_res r = cella_http_call(&c, "GET", path, NULL, cella_slice_of("", 0), &resp);
    /* Not reaching the hub (down, or another key than the pinned one) is this
     * server's failure, never the caller's: a 5xx, not the client's 401. */
    if (!cella_ok(r)) {
        char why[512];
        snprintf(why, sizeof why, "%s", cella_error_what());
        return cella_fail(CELLA_E_IO, hub, "cannot ask the hub about the %s: %s", what, why);
    }
    if (resp.status == 404)
        r = cella_fail(CELLA_E_NOTFOUND, what, "the hub has no such %s", what);
    else if (resp.status != 200)
        r = cella_fail(CELLA_E_IO, hub, "the hub answered %ld for the %s", resp.status, what);
    if (cella_ok(r)) {
        json_error_t je;
        *out = json_loadb((const char *)resp.body.p, resp.body.len, 0, &je);
        if (!json_is_object(*out)) {
            json_decref(*out);
            *out = NULL;
            r = cella_fail(CELLA_E_PARSE, hub, "the hub's %s is not a JSON object", what);
        }
    }
    cella_http_response_free(&resp);
    return r;
}

/* A task's session releases its secrets only while the task can still be
 * contributed: once it is COMPLETED or FAILED (or no longer known), an
 * attested app gets nothing more for it. Other sessions are not concerned. */
cella_res cas_task_session_live(cas_thread *t, const char *session)
{
    static const char prefix[] = CAS_TASK_SESSION_PREFIX;
    if (strncmp(session, prefix, sizeof prefix - 1) != 0)
        return CELLA_OK_RES;
    const char *id = session + sizeof prefix - 1; /* "0x" + 64 hex digits */
    char path[160];
    CELLA_ENSURE(strlen(id) == 66, CELLA_E_POLICY, session, "not a task session name");
    snprintf(path, sizeof path, "/v1/tasks/%s", id);
    json_t *task = NULL;
    CELLA_TRY(cas_hub_get(t, path, "task", &task));
    const char *st = json_string_value(json_object_get(task, "status"));
    cella_res r = st && !strcmp(st, "ACTIVE")
                      ? CELLA_OK_RES
                      : cella_fail(CELLA_E_POLICY, session,
                                   "the task is %s, not ACTIVE: its session releases nothing any more",
                                   st ? st : "unknown");
    json_decref(task);
    return r;
}

static cella_res hub_get_hex(cas_thread *t, const char *kind, const uint8_t *id, size_t n,
                             const char *what, json_t **out)
{
    char path[160];
    int k = snprintf(path, sizeof path, "/v1/%s/0x", kind);
    cella_hex_encode(path + k, id, n, false);
    return cas_hub_get(t, path, what, out);
}

/* The task, its deal (kept as JSON: `deal->params` points into it) and their checks. */
static cella_res load_task(cas_thread *t, const uint8_t taskid[32], cas_task *task,
                           json_t **deal_json, cas_deal *deal)
{
    json_t *tj = NULL;
    cella_res r = hub_get_hex(t, "tasks", taskid, 32, "task", &tj);
    if (cella_ok(r))
        r = cas_task_parse(tj, taskid, task);
    json_decref(tj);
    if (cella_ok(r))
        r = hub_get_hex(t, "deals", task->dealid, 32, "deal", deal_json);
    if (cella_ok(r))
        r = cas_deal_parse(*deal_json, deal);
    if (cella_ok(r))
        r = cas_task_check(task, deal);
    return r;
}

/* The hub's EIP-712 domain and the deal's orders, checked again. */
static cella_res check_orders(cas_thread *t, const cas_deal *d)
{
    json_t *health = NULL, *got[CELLA_ORDER__COUNT] = {NULL};
    const json_t *orders[CELLA_ORDER__COUNT] = {NULL};
    cella_domain dom = {0};
    cella_res r = cas_hub_get(t, "/v1/health", "health", &health);
    const char *hub = cella_ok(r) ? json_string_value(json_object_get(health, "hub")) : NULL;
    json_int_t chain = json_integer_value(json_object_get(health, "chainId"));
    if (cella_ok(r) && (!hub || chain <= 0))
        r = cella_fail(CELLA_E_PARSE, "health", "the hub did not say its chain and address");
    if (cella_ok(r)) {
        dom.chain_id = (uint64_t)chain;
        r = cella_eth_address_parse(dom.hub, hub, "hub");
    }
    for (int k = 0; cella_ok(r) && k < CELLA_ORDER__COUNT; k++) {
        if (k == CELLA_ORDER_DATASET && !d->has_dataset)
            continue;
        r = hub_get_hex(t, "orders", d->order[k], 32, cella_order_key((cella_order_kind)k), &got[k]);
        orders[k] = json_object_get(got[k], "order");
    }
    if (cella_ok(r))
        r = cas_deal_check_orders(d, orders, &dom);
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        json_decref(got[k]);
    json_decref(health);
    return r;
}

/* ---- sealed values ---------------------------------------------------------------------- */

/* An SMS secret as cas/sms.c stores it: session "", kind "sms-*", name "<EIP-55 address>|<name>",
 * sealed with the context "cella-cas <kind> v1||<name>". *found is false when absent. */
static cella_res sms_secret(cas_thread *t, const char *kind, const uint8_t addr[20],
                            const char *name, bool *found, cella_buf *out)
{
    char a[43], key[300], ctx[400];
    cella_eth_address_checksum(a, addr);
    snprintf(key, sizeof key, "%s|%s", a, name ? name : "");
    snprintf(ctx, sizeof ctx, "cella-cas %s v1||%s", kind, key);
    cella_buf sealed;
    cella_buf_init(&sealed, false);
    cella_res r = cella_cas_sealed_get(t->st, "", kind, key, &sealed);
    *found = cella_ok(r);
    if (r.code == CELLA_E_NOTFOUND)
        r = CELLA_OK_RES;
    else if (cella_ok(r))
        r = cas_unseal(t->app, ctx, cella_slice_of(sealed.p, sealed.len), out);
    cella_buf_free(&sealed);
    return r;
}

/* The task's enclave challenge key: generated once (first writer wins), sealed.
 * Without `create` a task that has none is refused. `priv` is 32 bytes of
 * secure memory the caller wipes. */
static cella_res challenge_key(cas_thread *t, const char *session, bool create, uint8_t *priv,
                               uint8_t addr[20])
{
    char ctx[300];
    snprintf(ctx, sizeof ctx, "cella-cas tee-challenge v1|%s|key", session);
    cella_buf cand, stored, plain;
    cella_buf_init(&cand, false);
    cella_buf_init(&stored, false);
    cella_buf_init(&plain, true);
    cella_res r = CELLA_OK_RES;
    if (create) {
        r = cella_eth_privkey_generate(priv);
        if (cella_ok(r))
            r = cas_seal(t->app, ctx, cella_slice_of(priv, 32), &cand);
        cella_wipe(priv, 32);
        if (cella_ok(r))
            r = cella_cas_sealed_get_or_put(t->st, session, "tee-challenge", "key",
                                            cella_slice_of(cand.p, cand.len), &stored);
    } else {
        r = cella_cas_sealed_get(t->st, session, "tee-challenge", "key", &stored);
        if (r.code == CELLA_E_NOTFOUND)
            r = cella_fail(CELLA_E_POLICY, session,
                           "cas issued no enclave challenge for this task (POST "
                           "/tee/challenges/TASKID first)");
    }
    if (cella_ok(r))
        r = cas_unseal(t->app, ctx, cella_slice_of(stored.p, stored.len), &plain);
    if (cella_ok(r) && plain.len != 32)
        r = cella_fail(CELLA_E_INTERNAL, session, "stored challenge key has the wrong size");
    if (cella_ok(r)) {
        memcpy(priv, plain.p, 32);
        r = cella_eth_address_from_privkey(priv, addr);
    }
    cella_buf_free(&cand);
    cella_buf_free(&stored);
    cella_buf_free(&plain);
    return r;
}

/* ---- requests ------------------------------------------------------------------------------ */

/* Recovers the EIP-191 signer of a 32-byte message from `Authorization: 0x<65 bytes>`. */
static cella_res header_signer(cella_http_req *req, const uint8_t msg[32], uint8_t signer[20])
{
    const char *h = cella_http_header(req, "Authorization");
    CELLA_ENSURE(h, CELLA_E_AUTH, "Authorization", "missing signature");
    uint8_t sig[65];
    CELLA_TRY(cella_hex_decode(sig, 65, h, strlen(h), "Authorization"));
    return cella_eth_personal_recover(msg, 32, sig, signer);
}

static cella_res is_signer(const uint8_t got[20], const uint8_t want[20], const char *where,
                           const char *role)
{
    if (!memcmp(got, want, 20))
        return CELLA_OK_RES;
    char g[43], w[43];
    cella_eth_address_checksum(g, got);
    cella_eth_address_checksum(w, want);
    return cella_fail(CELLA_E_AUTH, where, "signed by %s, not by the %s %s", g, role, w);
}

static void reply_failure(cas_thread *t, cella_http_req *req, const char *who, const char *action,
                          const char *object, cella_res r)
{
    cas_audit(t, who, action, object, "refused", cella_error_what());
    if (r.code == CELLA_E_IO) /* the hub failed us: a gateway error, not ours */
        cella_http_error(req, 502, cella_code_str(r.code), "%s (%s)", cella_error_what(),
                         cella_error_where());
    else
        cas_reply_err(req, r);
}

static void tee_challenge(cas_thread *t, cella_http_req *req, const char *taskhex)
{
    char session[73] = "-", who[43] = "?", chal[43];
    uint8_t taskid[32], msg[32], signer[20], addr[20];
    cas_task task;
    cas_deal deal;
    json_t *deal_json = NULL;
    uint8_t *priv = cella_secure_alloc(32);
    cella_res r = priv ? cella_hex_decode(taskid, 32, taskhex, strlen(taskhex), "task id")
                       : cella_fail(CELLA_E_NOMEM, NULL, "out of memory");
    if (cella_ok(r)) {
        cas_task_session_name(session, taskid);
        cas_task_challenge_message(msg, taskid);
        r = header_signer(req, msg, signer);
    }
    if (cella_ok(r)) {
        cella_eth_address_checksum(who, signer);
        r = load_task(t, taskid, &task, &deal_json, &deal);
    }
    if (cella_ok(r))
        r = is_signer(signer, deal.pool_owner, "Authorization", "workerpool owner");
    if (cella_ok(r))
        r = challenge_key(t, session, true, priv, addr);
    if (priv)
        cella_secure_free(priv, 32);
    json_decref(deal_json);
    if (!cella_ok(r)) {
        reply_failure(t, req, who, "tee.challenge", session, r);
        return;
    }
    cella_eth_address_checksum(chal, addr);
    char why[80];
    snprintf(why, sizeof why, "enclave challenge %s", chal);
    cas_audit(t, who, "tee.challenge", session, "ok", why);
    cella_http_reply(req, 200, json_pack("{s:s}", "enclaveChallenge", chal));
}

static cella_res body_field(const json_t *b, const char *key, const char **out)
{
    *out = json_string_value(json_object_get(b, key));
    CELLA_ENSURE(*out, CELLA_E_PARSE, key, "missing or not a string");
    return CELLA_OK_RES;
}

/* The pushed secrets the deal needs; every missing one is a precise refusal. */
typedef struct {
    cella_buf dataset_key, app_secret, result_key;
    cella_buf requester[CAS_TASK_MAX_SECRETS];
} task_secrets;

static void secrets_init(task_secrets *s)
{
    cella_buf_init(&s->dataset_key, true);
    cella_buf_init(&s->app_secret, true);
    cella_buf_init(&s->result_key, true);
    for (size_t i = 0; i < CAS_TASK_MAX_SECRETS; i++)
        cella_buf_init(&s->requester[i], true);
}

static void secrets_free(task_secrets *s)
{
    cella_buf_free(&s->dataset_key);
    cella_buf_free(&s->app_secret);
    cella_buf_free(&s->result_key);
    for (size_t i = 0; i < CAS_TASK_MAX_SECRETS; i++)
        cella_buf_free(&s->requester[i]);
}

static cella_res gather_secrets(cas_thread *t, const cas_deal *d, const cas_params *p,
                                task_secrets *s, cas_task_inputs *in)
{
    bool found;
    char a[43];
    if (d->has_dataset) {
        CELLA_TRY(sms_secret(t, "sms-web3", d->dataset, NULL, &found, &s->dataset_key));
        cella_eth_address_checksum(a, d->dataset);
        CELLA_ENSURE(found, CELLA_E_POLICY, a,
                     "the dataset's owner has not pushed its key to this cas "
                     "(POST /secrets/web3?secretAddress=%s)", a);
        in->dataset_key = cella_slice_of(s->dataset_key.p, s->dataset_key.len);
    }
    cella_eth_address_checksum(a, d->requester);
    for (size_t i = 0; i < p->nsecrets; i++) {
        CELLA_TRY(sms_secret(t, "sms-requester", d->requester, p->secrets[i].name, &found,
                             &s->requester[i]));
        CELLA_ENSURE(found, CELLA_E_POLICY, "params.iexec_secrets",
                     "requester %s has no secret \"%s\" on this cas (for "
                     "IEXEC_REQUESTER_SECRET_%u)", a, p->secrets[i].name, p->secrets[i].index);
        in->requester_secret[i] = cella_slice_of(s->requester[i].p, s->requester[i].len);
    }
    CELLA_TRY(sms_secret(t, "sms-app", d->app, NULL, &found, &s->app_secret));
    if (found)
        in->app_secret = cella_slice_of(s->app_secret.p, s->app_secret.len);
    if (p->result_encryption) {
        CELLA_TRY(sms_secret(t, "sms-web2", d->beneficiary, "iexec-result-encryption-public-key",
                             &found, &s->result_key));
        cella_eth_address_checksum(a, d->beneficiary);
        CELLA_ENSURE(found, CELLA_E_POLICY, "params.iexec_result_encryption",
                     "the beneficiary %s has pushed no result encryption key "
                     "(iexec-result-encryption-public-key)", a);
        in->result_key = cella_slice_of(s->result_key.p, s->result_key.len);
    }
    return CELLA_OK_RES;
}

/* The app's registered measurement (lowercase hex: 64 digits for an SGX
 * MRENCLAVE or a cella bundle, 96 for a TDX MRTD or an SNP measurement) and
 * the dataset's URL and checksum. */
static cella_res registry(cas_thread *t, const cas_deal *d, json_t **app, json_t **ds,
                          char measurement[97])
{
    char a[43];
    cella_eth_address_checksum(a, d->app);
    CELLA_TRY(hub_get_hex(t, "apps", d->app, 20, "app", app));
    const char *m = json_string_value(json_object_get(*app, "measurement"));
    uint8_t mb[48];
    size_t n = m ? strlen(m) - (m[0] == '0' && (m[1] == 'x' || m[1] == 'X') ? 2 : 0) : 0;
    CELLA_ENSURE(m && (n == 64 || n == 96) &&
                     cella_ok(cella_hex_decode(mb, n / 2, m, strlen(m), "measurement")),
                 CELLA_E_POLICY, a,
                 "the app is registered without a measurement of 32 bytes (SGX, cella bundle) or "
                 "48 (TDX MRTD, SEV-SNP): it cannot run in a TEE");
    cella_hex_encode(measurement, mb, n / 2, false);
    if (!d->has_dataset)
        return CELLA_OK_RES;
    CELLA_TRY(hub_get_hex(t, "datasets", d->dataset, 20, "dataset", ds));
    CELLA_ENSURE(json_string_value(json_object_get(*ds, "multiaddr")) &&
                     json_string_value(json_object_get(*ds, "checksum")),
                 CELLA_E_PARSE, "dataset", "the hub's dataset has no multiaddr or checksum");
    return CELLA_OK_RES;
}

/* Creates the session, or replaces cas's own earlier one when it changed. */
static cella_res store_session(cas_thread *t, const char *name, json_t *doc)
{
    cella_cas_session_row row, cur = {0};
    json_t *old = NULL;
    cella_res r = cas_store_row(t, name, doc, CAS_SELF, &row);
    if (cella_ok(r))
        r = cella_cas_session_create(t->st, name, &row);
    if (r.code != CELLA_E_EXISTS) {
        cella_buf_free(&row.sealed);
        return r;
    }
    cella_buf_free(&row.sealed);
    r = cas_load_session(t, name, &cur, &old);
    if (cella_ok(r) && strcmp(cur.owner, CAS_SELF))
        r = cella_fail(CELLA_E_EXISTS, name, "the session name is taken");
    uint8_t h[32];
    if (cella_ok(r)) {
        json_object_set(doc, "predecessor", json_object_get(old, "predecessor"));
        r = cella_session_hash(doc, h);
    }
    if (cella_ok(r) && memcmp(h, cur.hash, 32)) { /* changed: replace (compare and swap) */
        char ph[65];
        cella_hex_encode(ph, cur.hash, 32, false);
        json_object_set_new(doc, "predecessor", json_string(ph));
        r = cas_store_row(t, name, doc, CAS_SELF, &row);
        if (cella_ok(r))
            r = cella_cas_session_update(t->st, name, cur.hash, &row);
        cella_buf_free(&row.sealed);
    }
    if (old)
        cas_task_session_wipe(old);
    json_decref(old);
    cella_buf_free(&cur.sealed);
    return r;
}

static void tee_session(cas_thread *t, cella_http_req *req)
{
    char session[73] = "-", who[43] = "?", measurement[97];
    const char *ws = NULL, *ts = NULL, *cs = NULL, *ss = NULL;
    uint8_t worker[20], taskid[32], chal[20], poolsig[65], h[32], signer[20], addr[20];
    json_t *body = NULL, *deal_json = NULL, *app = NULL, *ds = NULL, *doc = NULL;
    cas_task task;
    cas_deal deal;
    cas_params params = {0};
    task_secrets sec;
    secrets_init(&sec);
    cas_task_inputs in = {0};
    uint8_t *priv = cella_secure_alloc(32);
    cella_slice b = cella_http_body(req);
    json_error_t je;
    body = json_loadb((const char *)b.p, b.len, JSON_REJECT_DUPLICATES, &je);
    cella_res r = !priv ? cella_fail(CELLA_E_NOMEM, NULL, "out of memory")
                  : json_is_object(body)
                      ? CELLA_OK_RES
                      : cella_fail(CELLA_E_PARSE, "body", "the body is not a JSON object");
    if (cella_ok(r))
        r = body_field(body, "workerWallet", &ws);
    if (cella_ok(r))
        r = body_field(body, "chainTaskId", &ts);
    if (cella_ok(r))
        r = body_field(body, "enclaveChallenge", &cs);
    if (cella_ok(r))
        r = body_field(body, "signature", &ss);
    if (cella_ok(r))
        r = cella_eth_address_parse(worker, ws, "workerWallet");
    if (cella_ok(r))
        r = cella_hex_decode(taskid, 32, ts, strlen(ts), "chainTaskId");
    if (cella_ok(r))
        r = cella_eth_address_parse(chal, cs, "enclaveChallenge");
    if (cella_ok(r))
        r = cella_hex_decode(poolsig, 65, ss, strlen(ss), "signature");
    if (cella_ok(r)) {
        cas_task_session_name(session, taskid);
        hub_authorization_hash(worker, taskid, chal, h);
        r = header_signer(req, h, signer);
    }
    if (cella_ok(r)) {
        cella_eth_address_checksum(who, signer);
        r = is_signer(signer, worker, "Authorization", "worker");
    }
    if (cella_ok(r))
        r = cella_eth_personal_recover(h, 32, poolsig, signer);
    if (cella_ok(r))
        r = load_task(t, taskid, &task, &deal_json, &deal);
    if (cella_ok(r))
        r = is_signer(signer, deal.pool_owner, "signature", "workerpool owner");
    if (cella_ok(r))
        r = challenge_key(t, session, false, priv, addr);
    if (cella_ok(r) && memcmp(addr, chal, 20))
        r = cella_fail(CELLA_E_AUTH, "enclaveChallenge",
                       "not the enclave challenge cas issued for this task");
    if (cella_ok(r))
        r = check_orders(t, &deal);
    if (cella_ok(r))
        r = registry(t, &deal, &app, &ds, measurement);
    if (cella_ok(r))
        r = cas_params_parse(deal.params, &params);
    if (cella_ok(r))
        r = gather_secrets(t, &deal, &params, &sec, &in);
    if (cella_ok(r)) {
        in.task = &task;
        in.deal = &deal;
        in.params = &params;
        in.measurement = measurement;
        in.dataset_url = json_string_value(json_object_get(ds, "multiaddr"));
        in.dataset_checksum = json_string_value(json_object_get(ds, "checksum"));
        in.challenge_priv = priv;
        memcpy(in.worker, worker, 20);
        in.allow_sim = t->app->opt.allow_sim;
        r = cas_task_session(&in, &doc);
    }
    if (priv) /* the key now lives only in the sealed session */
        cella_secure_free(priv, 32);
    secrets_free(&sec);
    if (cella_ok(r))
        r = store_session(t, session, doc);
    if (doc)
        cas_task_session_wipe(doc);
    json_decref(doc);
    cas_params_free(&params);
    json_decref(app);
    json_decref(ds);
    json_decref(deal_json);
    json_decref(body);
    if (!cella_ok(r)) {
        reply_failure(t, req, who, "tee.session", session, r);
        return;
    }
    char why[240], c[43];
    cella_eth_address_checksum(c, chal);
    snprintf(why, sizeof why, "enclave challenge %s, measurement %s", c, measurement);
    cas_audit(t, who, "tee.session", session, "ok", why);
    cella_http_reply(req, 200, json_pack("{s:s, s:s}", "sessionId", session, "service",
                                         CAS_TASK_SERVICE));
}

bool cas_tee_route(cas_thread *t, cella_http_req *req)
{
    const char *p = cella_http_path(req);
    bool post = !strcmp(cella_http_method(req), "POST");
    static const char pre[] = "/tee/challenges/";
    if (!strncmp(p, pre, sizeof pre - 1) && !strchr(p + sizeof pre - 1, '/')) {
        if (post)
            tee_challenge(t, req, p + sizeof pre - 1);
        else
            cella_http_error(req, 405, "method", "method %s not allowed on %s",
                             cella_http_method(req), p);
        return true;
    }
    if (!strcmp(p, "/tee/sessions")) {
        if (post)
            tee_session(t, req);
        else
            cella_http_error(req, 405, "method", "method %s not allowed on %s",
                             cella_http_method(req), p);
        return true;
    }
    return false;
}
