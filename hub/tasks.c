/* Tasks: the worker flow (GET /v1/tasks, POST /v1/tasks/lease-next, lease,
 * report, logs) and PoCo's steps (contribute-and-finalize, contribute,
 * reveal, finalize, reopen, claim) on /v1/tasks/ID/VERB. */
#include <jansson.h>
#include <string.h>

#include "core/encoding.h"
#include "hub/server_int.h"
#include "hub/store.h"
#include "identity/eth.h"
#include "net/http_server.h"

/* ---- tasks ---- */

static cella_res body_hex(const json_t *body, const char *key, uint8_t *out, size_t n,
                          bool required, bool *present)
{
    const json_t *v = json_object_get(body, key);
    if (present)
        *present = false;
    if (!v || json_is_null(v)) {
        CELLA_ENSURE(!required, CELLA_E_PARSE, key, "missing");
        memset(out, 0, n);
        return CELLA_OK_RES;
    }
    CELLA_ENSURE(json_is_string(v), CELLA_E_PARSE, key, "not a string");
    CELLA_TRY(cella_hex_decode(out, n, json_string_value(v), json_string_length(v), key));
    if (present)
        *present = true;
    return CELLA_OK_RES;
}

/* After a change of the task (and its events): replies with the task. */
static void reply_changed_task(hub_thread *t, cella_http_req *req, const uint8_t taskid[32])
{
    events_bump(t);
    json_t *tj = NULL;
    cella_res r = hub_store_task_get(t->st, taskid, &tj);
    if (!cella_ok(r))
        reply_err(req, r);
    else
        cella_http_reply(req, 200, tj);
}

/* The authorization and the enclave's challenge and signature of a contribution. */
static cella_res contribution_signatures(const json_t *body, hub_contribution *c)
{
    CELLA_TRY(body_hex(body, "authorizationSign", c->authorization_sign, 65, true, NULL));
    CELLA_TRY(body_hex(body, "enclaveChallenge", c->enclave_challenge, 20, false, NULL));
    return body_hex(body, "enclaveSign", c->enclave_sign, 65, false, &c->has_enclave_sign);
}

/* contributeAndFinalize, signed by the worker:
 * {"resultDigest", "authorizationSign", "enclaveChallenge"?, "enclaveSign"?, "results"?,
 *  "holder"?, "tee"?} */
static void task_contribute(hub_thread *t, cella_http_req *req, const char *id)
{
    hub_contribution c;
    memset(&c, 0, sizeof c);
    json_t *body = NULL;
    cella_res r = parse_hash(id, c.taskid, "task id");
    if (cella_ok(r))
        r = authenticate(t, req, c.worker);
    if (cella_ok(r))
        r = parse_json_body(req, &body);
    if (cella_ok(r)) {
        const char *key;
        json_t *val;
        json_object_foreach(body, key, val) {
            if (strcmp(key, "resultDigest") && strcmp(key, "authorizationSign") &&
                strcmp(key, "enclaveChallenge") && strcmp(key, "enclaveSign") &&
                strcmp(key, "results") && strcmp(key, "holder") && strcmp(key, "tee")) {
                r = cella_fail(CELLA_E_PARSE, key, "unknown field");
                break;
            }
        }
    }
    if (cella_ok(r))
        r = body_hex(body, "resultDigest", c.digest, 32, true, NULL);
    if (cella_ok(r))
        r = contribution_signatures(body, &c);
    if (cella_ok(r))
        r = opt_string(body, "results", HUB_RESULTS_MAX, false, &c.results);
    if (cella_ok(r))
        r = opt_string(body, "holder", 256, false, &c.holder);
    if (cella_ok(r))
        r = opt_string(body, "tee", 8, false, &c.tee);
    if (cella_ok(r) && c.tee && strcmp(c.tee, "sim") && strcmp(c.tee, "sgx") &&
        strcmp(c.tee, "tdx") && strcmp(c.tee, "snp"))
        r = cella_fail(CELLA_E_PARSE, "tee", "not sim, sgx, tdx or snp");
    bool done = false;
    hub_refusal why;
    if (cella_ok(r))
        r = hub_store_contribute_and_finalize(t->st, &c, now_s(t), &done, &why);
    json_decref(body); /* after the store: c.results points into it */
    if (!replied_unless_done(req, r, done, &why))
        reply_changed_task(t, req, c.taskid);
}

static void task_claim(hub_thread *t, cella_http_req *req, const char *id)
{
    uint8_t h[32];
    bool done = false;
    hub_refusal why;
    cella_res r = parse_hash(id, h, "task id");
    if (cella_ok(r))
        r = hub_store_claim(t->st, h, now_s(t), &done, &why);
    if (!replied_unless_done(req, r, done, &why))
        reply_changed_task(t, req, h);
}

/* ---- the worker flow: listing, leases, error reports, logs ---- */

/* GET /v1/tasks?workerpool=0x..[&status=S][&runnable=1][&limit=N] */
void task_list(hub_thread *t, cella_http_req *req)
{
    static const char *const statuses[] = {"ACTIVE", "REVEALING", "COMPLETED", "FAILED"};
    hub_task_filter f;
    memset(&f, 0, sizeof f);
    uint8_t wp[20];
    bool has_wp = false;
    cella_res r = query_addr(req, "workerpool", wp, &has_wp);
    if (cella_ok(r) && !has_wp)
        r = cella_fail(CELLA_E_PARSE, "workerpool", "missing (the pool whose tasks to list)");
    f.workerpool = wp;
    f.status = cella_http_query(req, "status");
    bool known = !f.status;
    for (size_t i = 0; !known && i < sizeof statuses / sizeof statuses[0]; i++)
        known = !strcmp(f.status, statuses[i]);
    if (cella_ok(r) && !known)
        r = cella_fail(CELLA_E_PARSE, "status", "ACTIVE, REVEALING, COMPLETED or FAILED");
    const char *run = cella_http_query(req, "runnable");
    if (cella_ok(r) && run && strcmp(run, "0") && strcmp(run, "1"))
        r = cella_fail(CELLA_E_PARSE, "runnable", "0 or 1");
    f.runnable = run && !strcmp(run, "1");
    if (cella_ok(r))
        r = query_limit(req, &f.limit);
    json_t *list = NULL;
    if (cella_ok(r))
        r = hub_store_task_list(t->st, &f, now_s(t), &list);
    if (!cella_ok(r)) {
        reply_err(req, r);
        return;
    }
    cella_http_reply(req, 200, json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(list),
                                         "tasks", list));
}

/* A request signed by a party of the task's deal, with a JSON body of these keys. */
static cella_res signed_task_body(hub_thread *t, cella_http_req *req, const char *id,
                                  const char *const *allowed, uint8_t taskid[32], uint8_t who[20],
                                  json_t **body)
{
    *body = NULL;
    CELLA_TRY(parse_hash(id, taskid, "task id"));
    CELLA_TRY(authenticate(t, req, who));
    CELLA_TRY(parse_json_body(req, body));
    return only_keys(*body, allowed);
}

/* Replies to a refusal of the store: its 403s under `perm_code`. */
static void reply_refused(cella_http_req *req, cella_res r, const char *perm_code)
{
    if (r.code != CELLA_E_PERM) {
        reply_err(req, r);
        return;
    }
    cella_http_error(req, 403, perm_code, "%s: %s (%s)", perm_code, cella_error_what(),
                     cella_error_where());
}

/* POST /v1/tasks/ID/lease {"holder", "seconds"?}, signed by the pool owner. */
static void task_lease(hub_thread *t, cella_http_req *req, const char *id)
{
    static const char *const keys[] = {"holder", "seconds", NULL};
    uint8_t taskid[32], who[20];
    json_t *body;
    cella_res r = signed_task_body(t, req, id, keys, taskid, who, &body);
    const char *holder = NULL;
    if (cella_ok(r))
        r = opt_string(body, "holder", 256, true, &holder);
    const json_t *sv = json_object_get(body, "seconds");
    json_int_t seconds = HUB_LEASE_DEFAULT;
    if (cella_ok(r) && sv && !json_is_integer(sv))
        r = cella_fail(CELLA_E_PARSE, "seconds", "an integer (0 to %d)", HUB_LEASE_MAX);
    if (sv && json_is_integer(sv))
        seconds = json_integer_value(sv);
    bool done = false;
    hub_refusal why;
    int64_t until = 0;
    if (cella_ok(r))
        r = hub_store_lease(t->st, taskid, who, holder, (int64_t)seconds, now_s(t), &done, &why,
                            &until);
    if (!cella_ok(r)) {
        json_decref(body);
        reply_refused(req, r, "cella-hub-workerpool-owner-only");
        return;
    }
    if (!replied_unless_done(req, r, done, &why)) {
        events_bump(t);
        cella_http_reply(req, 200, json_pack("{s:o, s:s, s:o}", "taskid", hex_json(taskid, 32),
                                             "holder", holder, "until",
                                             until ? json_integer(until) : json_null()));
    }
    json_decref(body);
}

/* POST /v1/tasks/ID/report {"holder", "error"}, signed by the pool owner. */
static void task_report(hub_thread *t, cella_http_req *req, const char *id)
{
    static const char *const keys[] = {"holder", "error", NULL};
    uint8_t taskid[32], who[20];
    json_t *body;
    cella_res r = signed_task_body(t, req, id, keys, taskid, who, &body);
    const char *holder = NULL, *error = NULL;
    if (cella_ok(r))
        r = opt_string(body, "holder", 256, true, &holder);
    if (cella_ok(r))
        r = opt_string(body, "error", HUB_ERROR_MAX, true, &error);
    bool done = false;
    hub_refusal why;
    if (cella_ok(r))
        r = hub_store_report(t->st, taskid, who, holder, error, now_s(t), &done, &why);
    json_decref(body);
    if (!cella_ok(r)) {
        reply_refused(req, r, "cella-hub-workerpool-owner-only");
        return;
    }
    if (!replied_unless_done(req, r, done, &why))
        reply_changed_task(t, req, taskid);
}

/* PUT /v1/tasks/ID/logs {"stdout", "stderr"} (pool owner); GET (the requester). */
static void task_logs(hub_thread *t, cella_http_req *req, const char *id, bool put)
{
    uint8_t taskid[32], who[20];
    json_t *reply = NULL;
    cella_res r;
    if (put) {
        static const char *const keys[] = {"stdout", "stderr", NULL};
        json_t *body;
        r = signed_task_body(t, req, id, keys, taskid, who, &body);
        const char *out = NULL, *err = NULL;
        if (cella_ok(r))
            r = opt_string(body, "stdout", HUB_LOG_MAX, false, &out);
        if (cella_ok(r))
            r = opt_string(body, "stderr", HUB_LOG_MAX, false, &err);
        if (cella_ok(r))
            r = hub_store_logs_put(t->st, taskid, who, out ? out : "", out ? strlen(out) : 0,
                                   err ? err : "", err ? strlen(err) : 0, now_s(t));
        json_decref(body);
        if (cella_ok(r))
            reply = json_pack("{s:o, s:b}", "taskid", hex_json(taskid, 32), "stored", 1);
    } else {
        r = parse_hash(id, taskid, "task id");
        if (cella_ok(r))
            r = authenticate(t, req, who);
        if (cella_ok(r))
            r = hub_store_logs_get(t->st, taskid, who, &reply);
    }
    if (!cella_ok(r))
        reply_refused(req, r,
                      put ? "cella-hub-workerpool-owner-only" : "cella-hub-logs-requester-only");
    else
        cella_http_reply(req, 200, reply);
}

/* POST /v1/tasks/ID/contribute, signed by the worker (PoCo contribute):
 * {"resultHash", "resultSeal", "authorizationSign", "enclaveChallenge"?, "enclaveSign"?} */
static void task_contribute_only(hub_thread *t, cella_http_req *req, const char *id)
{
    static const char *const keys[] = {"resultHash",       "resultSeal",  "authorizationSign",
                                       "enclaveChallenge", "enclaveSign", NULL};
    hub_contribution c;
    memset(&c, 0, sizeof c);
    c.sealed = true;
    json_t *body;
    cella_res r = signed_task_body(t, req, id, keys, c.taskid, c.worker, &body);
    if (cella_ok(r))
        r = body_hex(body, "resultHash", c.result_hash, 32, true, NULL);
    if (cella_ok(r))
        r = body_hex(body, "resultSeal", c.result_seal, 32, true, NULL);
    if (cella_ok(r))
        r = contribution_signatures(body, &c);
    json_decref(body);
    bool done = false;
    hub_refusal why;
    if (cella_ok(r))
        r = hub_store_contribute(t->st, &c, now_s(t), &done, &why);
    if (!replied_unless_done(req, r, done, &why))
        reply_changed_task(t, req, c.taskid);
}

/* POST /v1/tasks/ID/reveal {"resultDigest"}, signed by the worker. */
static void task_reveal(hub_thread *t, cella_http_req *req, const char *id)
{
    static const char *const keys[] = {"resultDigest", NULL};
    uint8_t taskid[32], who[20], digest[32];
    json_t *body;
    cella_res r = signed_task_body(t, req, id, keys, taskid, who, &body);
    if (cella_ok(r))
        r = body_hex(body, "resultDigest", digest, 32, true, NULL);
    json_decref(body);
    bool done = false;
    hub_refusal why;
    if (cella_ok(r))
        r = hub_store_reveal(t->st, taskid, who, digest, now_s(t), &done, &why);
    if (!replied_unless_done(req, r, done, &why))
        reply_changed_task(t, req, taskid);
}

/* POST /v1/tasks/ID/finalize {"results"?} and /reopen {}, signed by the pool owner. */
static void task_finalize_or_reopen(hub_thread *t, cella_http_req *req, const char *id,
                                    bool finalize)
{
    static const char *const fkeys[] = {"results", NULL}, *const rkeys[] = {NULL};
    uint8_t taskid[32], who[20];
    json_t *body;
    cella_res r = signed_task_body(t, req, id, finalize ? fkeys : rkeys, taskid, who, &body);
    const char *results = NULL;
    if (cella_ok(r) && finalize)
        r = opt_string(body, "results", HUB_RESULTS_MAX, false, &results);
    bool done = false;
    hub_refusal why;
    if (cella_ok(r))
        r = finalize ? hub_store_finalize(t->st, taskid, who, results, now_s(t), &done, &why)
                     : hub_store_reopen(t->st, taskid, who, now_s(t), &done, &why);
    json_decref(body); /* after the store: results points into it */
    if (!cella_ok(r)) {
        reply_refused(req, r, "cella-hub-workerpool-owner-only");
        return;
    }
    if (!replied_unless_done(req, r, done, &why))
        reply_changed_task(t, req, taskid);
}

/* POST /v1/tasks/lease-next {"workerpool", "holder", "seconds"?, "worker"?},
 * signed by the pool owner: the pool's next runnable task, leased, in one
 * request (200 {"taskid", "holder", "until"}, or {"taskid": null} when
 * nothing is runnable); with "worker", none that worker contributed to. */
void task_lease_next(hub_thread *t, cella_http_req *req)
{
    static const char *const keys[] = {"workerpool", "holder", "seconds", "worker", NULL};
    uint8_t who[20], pool[20], taskid[32], worker[20];
    json_t *body = NULL;
    cella_res r = authenticate(t, req, who);
    if (cella_ok(r))
        r = parse_json_body(req, &body);
    if (cella_ok(r))
        r = only_keys(body, keys);
    const char *holder = NULL, *wp = NULL;
    if (cella_ok(r))
        r = opt_string(body, "workerpool", 64, true, &wp);
    if (cella_ok(r))
        r = cella_eth_address_parse(pool, wp, "workerpool");
    if (cella_ok(r))
        r = opt_string(body, "holder", 256, true, &holder);
    const char *wk = NULL;
    if (cella_ok(r))
        r = opt_string(body, "worker", 64, false, &wk);
    if (cella_ok(r) && wk)
        r = cella_eth_address_parse(worker, wk, "worker");
    const json_t *sv = json_object_get(body, "seconds");
    json_int_t seconds = HUB_LEASE_DEFAULT;
    if (cella_ok(r) && sv && !json_is_integer(sv))
        r = cella_fail(CELLA_E_PARSE, "seconds", "an integer (1 to %d)", HUB_LEASE_MAX);
    if (sv && json_is_integer(sv))
        seconds = json_integer_value(sv);
    bool found = false;
    int64_t until = 0;
    if (cella_ok(r))
        r = hub_store_lease_next(t->st, pool, who, holder, wk ? worker : NULL, (int64_t)seconds,
                                 now_s(t), &found, taskid, &until);
    if (!cella_ok(r))
        reply_refused(req, r, "cella-hub-workerpool-owner-only");
    else if (!found)
        cella_http_reply(req, 200, json_pack("{s:n}", "taskid"));
    else {
        events_bump(t);
        cella_http_reply(req, 200, json_pack("{s:o, s:s, s:I}", "taskid", hex_json(taskid, 32),
                                             "holder", holder, "until", (json_int_t)until));
    }
    json_decref(body);
}

/* /v1/tasks/ID/VERB */
void task_verb(hub_thread *t, cella_http_req *req, const char *id, const char *verb)
{
    const char *m = cella_http_method(req);
    bool get = !strcmp(m, "GET"), post = !strcmp(m, "POST"), put = !strcmp(m, "PUT");
    if (post && !strcmp(verb, "contribute-and-finalize"))
        task_contribute(t, req, id);
    else if (post && !strcmp(verb, "contribute"))
        task_contribute_only(t, req, id);
    else if (post && !strcmp(verb, "reveal"))
        task_reveal(t, req, id);
    else if (post && (!strcmp(verb, "finalize") || !strcmp(verb, "reopen")))
        task_finalize_or_reopen(t, req, id, !strcmp(verb, "finalize"));
    else if (post && !strcmp(verb, "claim"))
        task_claim(t, req, id);
    else if (post && !strcmp(verb, "lease"))
        task_lease(t, req, id);
    else if (post && !strcmp(verb, "report"))
        task_report(t, req, id);
    else if ((get || put) && !strcmp(verb, "logs"))
        task_logs(t, req, id, put);
    else if (!strcmp(verb, "contribute-and-finalize") || !strcmp(verb, "claim") ||
             !strcmp(verb, "contribute") || !strcmp(verb, "reveal") ||
             !strcmp(verb, "finalize") || !strcmp(verb, "reopen") ||
             !strcmp(verb, "lease") || !strcmp(verb, "report") || !strcmp(verb, "logs"))
        cella_http_error(req, 405, "method", "method %s not allowed on %s", m,
                         cella_http_path(req));
    else
        cella_http_error(req, 404, "not_found", "no such endpoint: %s %s", m,
                         cella_http_path(req));
}
