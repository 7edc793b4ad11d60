/* The hub server: routes, owner authentication, JSON replies. State lives in
 * lib/hub/store (one SQLite handle per thread); matching in lib/hub/match. */
#include <errno.h>
#include <event2/event.h>
#include <poll.h>
#include <pthread.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "casapi/casapi.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/log.h"
#include "hub/hub.h"
#include "hub/metrics.h"
#include "hub/store.h"
#include "hub/task.h"
#include "hub/web.h"
#include "identity/eip712.h"
#include "identity/eth.h"
#include "net/http_server.h"
#include "net/signed_request.h"
#include "store/db.h"

/* Bodies: 256 KiB unless a route needs more (checked as they arrive, before
 * any signature: net/http_guard.h). Four orders with 64 KiB params each fit
 * in a deal, and a task's two logs of HUB_LOG_MAX in a report even when JSON
 * escaping doubles them (newlines). */
#define HUB_MAX_BODY (256u * 1024u)
#define HUB_BIG_BODY (8u * 1024u * 1024u)
static const cella_http_body_limit hub_body_limits[] = {
    {"POST", "/v1/deals", HUB_BIG_BODY},
    {NULL, "/v1/tasks/", HUB_BIG_BODY},
    {"POST", "/v1/orders", 1024u * 1024u},
    {NULL, NULL, 0},
};
#define EVENTS_WAIT_MAX 30      /* seconds a GET /v1/events may wait */
#define EVENTS_WAITING_MAX 256  /* deferred event requests at once (all threads) */
#define EVENTS_TICK_MS 50       /* how often a waiting request looks anyway (see events_wake) */
/* Tests set a longer tick (milliseconds) to show a change wakes the waiters:
 * answered within the tick, a waiter was not woken. */
#define EVENTS_TICK_ENV "CELLA_HUB_EVENTS_TICK_MS"

typedef struct events_waiter events_waiter;

typedef struct {
    hub_options opt;
    cella_domain dom;
    char db_path[4200];
    cella_sigreq *auth;       /* challenges and signed requests (net/signed_request.h) */
    unsigned long events_gen; /* bumped (atomically) after each change that records events */
    unsigned events_waiting;  /* deferred GET /v1/events (atomic) */
    pthread_mutex_t waiters_lock; /* guards `waiters`, a list over every thread's loop */
    events_waiter *waiters;       /* deferred GET /v1/events, woken by events_wake */
    unsigned events_tick_ms;      /* EVENTS_TICK_MS, or EVENTS_TICK_ENV's */
    bool stopping;            /* the listener thread ends (atomic) */
    SSL_CTX *ssl;             /* --tls, else NULL */
    char fingerprint[65];     /* --tls: the SPKI SHA-256 clients pin */
    char bound[64];           /* the address listened on, with the port bound */
    hub_sms *sms;             /* --cas: the dataset key lookups, else NULL */
} hub_app;

typedef struct {
    hub_app *app;
    hub_store *st;
} hub_thread;

/* The database's clock (shared by replicas: leases and deadlines), or this
 * host's if the database cannot be asked (the change that follows fails then
 * anyway, with the database's reason). */
static int64_t now_s(hub_thread *t)
{
    int64_t now;
    return cella_ok(hub_store_now(t->st, &now)) ? now : (int64_t)time(NULL);
}

static void events_wake(hub_app *a);

/* Tells waiting event requests (GET /v1/events?wait=) to look again. */
static void events_bump(hub_thread *t)
{
    events_wake(t->app);
}

static void reply_err(cella_http_req *req, cella_res r) { cella_http_reply_failure(req, r); }

/* After a store step that can fail (r) or be refused by a protocol rule
 * (!done, why): replies 4xx/5xx or 422 naming the rule, and says whether it
 * did. */
static bool replied_unless_done(cella_http_req *req, cella_res r, bool done,
                                const hub_refusal *why)
{
    if (!cella_ok(r)) {
        reply_err(req, r);
        return true;
    }
    if (!done) {
        /* a lease or an error report stands in the way: a conflict, not a rule */
        bool conflict = !strcmp(why->code, "cella-hub-task-leased") ||
                        !strcmp(why->code, "cella-hub-task-errored");
        cella_http_error(req, conflict ? 409 : 422, why->code, "%s: %s", why->code, why->reason);
        return true;
    }
    return false;
}

static cella_res parse_json_body(cella_http_req *req, json_t **out)
{
    cella_slice b = cella_http_body(req);
    json_error_t je;
    *out = json_loadb((const char *)b.p, b.len, JSON_REJECT_DUPLICATES, &je);
    if (*out && !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return cella_fail(CELLA_E_PARSE, "body", "the request body is not a JSON object");
    }
    CELLA_ENSURE(*out, CELLA_E_PARSE, "body", "the request body is not JSON: %s (line %d)",
                 je.text, je.line);
    return CELLA_OK_RES;
}

static json_t *addr_json(const uint8_t a[20])
{
    char t[43];
    cella_eth_address_checksum(t, a);
    return json_string(t);
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char t[2 * 64 + 3];
    t[0] = '0';
    t[1] = 'x';
    cella_hex_encode(t + 2, p, n, false);
    return json_string(t);
}

/* Authorization: CELLA-EIP191 <0xaddress> <challenge hex> <0xsignature>, over
 * cella_cas_auth_message (the cas format: method, target, challenge, body
 * hash); the challenge, from GET /v1/challenge, is accepted once. */
static cella_res authenticate(hub_thread *t, cella_http_req *req, uint8_t who[20])
{
    return cella_sigreq_authenticate(t->app->auth, hub_store_db(t->st), req, now_s(t), who);
}

/* Stateless: costs one HMAC and stores nothing (net/signed_request.h). */
static void challenge(hub_thread *t, cella_http_req *req)
{
    uint8_t n[CELLA_CHALLENGE_LEN];
    int64_t exp;
    cella_res r = cella_sigreq_issue(t->app->auth, CELLA_CHALLENGE_OWNER, now_s(t), n, &exp);
    if (!cella_ok(r)) {
        reply_err(req, r);
        return;
    }
    char hx[2 * CELLA_CHALLENGE_LEN + 1];
    cella_hex_encode(hx, n, sizeof n, false);
    cella_http_reply(req, 200, json_pack("{s:s, s:I}", "nonce", hx, "expires", (json_int_t)exp));
}

/* ---- registries ---- */

static cella_res opt_string(const json_t *body, const char *key, size_t max, bool required,
                            const char **out)
{
    const json_t *v = json_object_get(body, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        CELLA_ENSURE(!required, CELLA_E_PARSE, key, "missing");
        return CELLA_OK_RES;
    }
    CELLA_ENSURE(json_is_string(v), CELLA_E_PARSE, key, "not a string");
    CELLA_ENSURE(json_string_length(v) <= max, CELLA_E_TOOBIG, key, "longer than %zu bytes", max);
    CELLA_ENSURE(strlen(json_string_value(v)) == json_string_length(v), CELLA_E_PARSE, key,
                 "contains a NUL character");
    *out = json_string_value(v);
    return CELLA_OK_RES;
}

/* The deploy body: cella.json's (iexec.json's) "app"/"dataset"/"workerpool" object. */
static cella_res resource_from_body(const json_t *body, hub_kind k, const uint8_t owner[20],
                                    hub_resource *r)
{
    static const char *const allowed[] = {"owner",   "name",        "type",     "multiaddr",
                                          "checksum", "measurement", "mrenclave", "description",
                                          "bundle"};
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)body, key, val) {
        bool ok = false;
        for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
            ok = ok || !strcmp(key, allowed[i]);
        CELLA_ENSURE(ok, CELLA_E_PARSE, key, "unknown field in a %s", hub_kind_name(k));
    }
    memset(r, 0, sizeof *r);
    r->kind = k;
    memcpy(r->owner, owner, 20);
    const char *s;
    CELLA_TRY(opt_string(body, "owner", 42, false, &s));
    if (s) {
        uint8_t o[20];
        CELLA_TRY(cella_eth_address_parse(o, s, "owner"));
        CELLA_ENSURE(!memcmp(o, owner, 20), CELLA_E_PERM, "owner",
                     "the owner named in the body is not the signer of the request");
    }
    const char *name;
    CELLA_TRY(opt_string(body, "name", HUB_NAME_MAX, k != HUB_WORKERPOOL, &name));
    if (!name)
        CELLA_TRY(opt_string(body, "description", HUB_NAME_MAX, true, &name));
    CELLA_ENSURE(*name, CELLA_E_PARSE, "name", "empty");
    snprintf(r->name, sizeof r->name, "%s", name);
    CELLA_TRY(opt_string(body, "multiaddr", HUB_MULTIADDR_MAX, k != HUB_WORKERPOOL, &s));
    snprintf(r->multiaddr, sizeof r->multiaddr, "%s", s ? s : "");
    CELLA_TRY(opt_string(body, "checksum", 66, k != HUB_WORKERPOOL, &s));
    if (s)
        CELLA_TRY(cella_hex_decode(r->checksum, 32, s, strlen(s), "checksum"));
    const json_t *m = json_object_get(body, "measurement");
    const json_t *mre = json_object_get(body, "mrenclave");
    if (!m && json_is_object(mre))
        m = json_object_get(mre, "fingerprint");
    else if (!m && mre)
        m = mre;
    if (m && !json_is_null(m)) {
        CELLA_ENSURE(k == HUB_APP, CELLA_E_PARSE, "measurement", "only apps have a measurement");
        CELLA_ENSURE(json_is_string(m), CELLA_E_PARSE, "measurement", "not a string");
        const char *mt = json_string_value(m);
        if (!strncmp(mt, "0x", 2))
            mt += 2;
        size_t n = strlen(mt);
        CELLA_ENSURE(n > 0 && n <= HUB_MEASUREMENT_MAX && n % 2 == 0, CELLA_E_PARSE, "measurement",
                     "hex digits expected (at most %d)", HUB_MEASUREMENT_MAX);
        uint8_t tmp[HUB_MEASUREMENT_MAX / 2];
        CELLA_TRY(cella_hex_decode(tmp, n / 2, mt, n, "measurement"));
        cella_hex_encode(r->measurement, tmp, n / 2, false);
    }
    return CELLA_OK_RES;
}

static void deploy(hub_thread *t, cella_http_req *req, hub_kind k)
{
    uint8_t who[20];
    json_t *body = NULL;
    hub_resource res;
    bool created = false;
    cella_res r = authenticate(t, req, who);
    if (cella_ok(r))
        r = parse_json_body(req, &body);
    if (cella_ok(r))
        r = resource_from_body(body, k, who, &res);
    if (cella_ok(r))
        r = hub_store_deploy(t->st, &res, now_s(t), &created);
    json_decref(body);
    if (!cella_ok(r)) {
        reply_err(req, r);
        return;
    }
    json_t *j = hub_resource_json(&res);
    json_object_set_new(j, "created", json_boolean(created));
    cella_http_reply(req, created ? 201 : 200, j);
}

/* POST /v1/{apps,...}/ADDRESS/transfer {"to"}, signed by the owner. */
static void resource_transfer(hub_thread *t, cella_http_req *req, hub_kind k, const char *addr_s)
{
    uint8_t who[20], addr[20], to[20];
    json_t *body = NULL;
    cella_res r = cella_eth_address_parse(addr, addr_s, "address");
    if (cella_ok(r))
        r = authenticate(t, req, who);
    if (cella_ok(r))
        r = parse_json_body(req, &body);
    const char *to_s = json_string_value(json_object_get(body, "to"));
    if (cella_ok(r))
        r = cella_eth_address_parse(to, to_s ? to_s : "", "to");
    if (cella_ok(r))
        r = hub_store_transfer(t->st, k, addr, who, to, now_s(t));
    json_decref(body);
    if (!cella_ok(r)) {
        reply_err(req, r);
        return;
    }
    events_bump(t);
    hub_resource res;
    r = hub_store_resource_get(t->st, k, addr, &res);
    if (!cella_ok(r))
        reply_err(req, r);
    else
        cella_http_reply(req, 200, hub_resource_json(&res));
}

static void resource_show(hub_thread *t, cella_http_req *req, hub_kind k, const char *addr_s)
{
    uint8_t addr[20];
    hub_resource res;
    cella_res r = cella_eth_address_parse(addr, addr_s, "address");
    if (cella_ok(r))
        r = hub_store_resource_get(t->st, k, addr, &res);
    if (!cella_ok(r))
        reply_err(req, r);
    else
        cella_http_reply(req, 200, hub_resource_json(&res));
}

static void resource_count(hub_thread *t, cella_http_req *req, hub_kind k)
{
    const char *o = cella_http_query(req, "owner");
    uint8_t owner[20];
    uint64_t n = 0;
    cella_res r = o ? cella_eth_address_parse(owner, o, "owner") : CELLA_OK_RES;
    if (cella_ok(r))
        r = hub_store_resource_count(t->st, k, o ? owner : NULL, &n);
    if (!cella_ok(r)) {
        reply_err(req, r);
        return;
    }
    json_t *j = json_pack("{s:s, s:I}", "kind", hub_kind_name(k), "count", (json_int_t)n);
    if (o)
        json_object_set_new(j, "owner", addr_json(owner));
    cella_http_reply(req, 200, j);
}

/* ---- orders ---- */

/* Exactly one order in the body (a lone order, {"apporder": ...}, or the SDK's
 * orders.json for this hub's chain). */
static cella_res one_order(hub_thread *t, cella_slice body, cella_order_set *set, int *kind)
{
    uint64_t chain = 0;
    CELLA_TRY(cella_orders_parse(body.p, body.len, false, &chain, set));
    int n = 0;
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        if (set->present[k]) {
            n++;
            *kind = k;
        }
    cella_res r = CELLA_OK_RES;
    if (n != 1)
        r = cella_fail(CELLA_E_PARSE, "body", "publish one order at a time (got %d)", n);
    else if (chain && chain != t->app->dom.chain_id)
        r = cella_fail(CELLA_E_POLICY, "chainId", "the orders are for chain %llu; this hub is %llu",
                       (unsigned long long)chain, (unsigned long long)t->app->dom.chain_id);
    if (!cella_ok(r))
        cella_order_set_free(set);
    return r;
}

static void order_publish(hub_thread *t, cella_http_req *req)
{
    cella_order_set set;
    int k = 0;
    cella_res r = one_order(t, cella_http_body(req), &set, &k);
    if (!cella_ok(r)) {
        reply_err(req, r);
        return;
    }
    uint8_t h[32];
    bool created;
    r = hub_store_order_publish(t->st, &t->app->dom, &set.o[k], now_s(t), h, &created);
    cella_order_set_free(&set);
    if (!cella_ok(r)) {
        reply_err(req, r);
        return;
    }
    if (created)
        events_bump(t);
    cella_http_reply(req, created ? 201 : 200,
                     json_pack("{s:o, s:s, s:b}", "orderHash", hex_json(h, 32), "kind",
                               cella_order_key((cella_order_kind)k), "created", created));
}

static cella_res query_addr(cella_http_req *req, const char *key, uint8_t out[20], bool *has)
{
    const char *v = cella_http_query(req, key);
    *has = v != NULL;
    return v ? cella_eth_address_parse(out, v, key) : CELLA_OK_RES;
}

/* A limit query parameter: 1 to HUB_LIST_MAX (absent: 0, the store's maximum). */
static cella_res query_limit(cella_http_req *req, size_t *out)
{
    const char *lim = cella_http_query(req, "limit");
    *out = 0;
    if (!lim)
        return CELLA_OK_RES;
    uint8_t w[32];
    uint64_t v = 0;
    cella_res r = cella_u256_parse(lim, w, "limit");
    if (cella_ok(r) && (!hub_u256_to_u64(w, &v) || v == 0 || v > HUB_LIST_MAX))
        r = cella_fail(CELLA_E_PARSE, "limit", "between 1 and %d", HUB_LIST_MAX);
    *out = (size_t)v;
    return r;
}

static void order_book(hub_thread *t, cella_http_req *req)
{
    hub_order_filter f;
    memset(&f, 0, sizeof f);
    f.kind = -1;
    uint8_t app[20], ds[20], wp[20], rq[20], tag[32], maxp[32];
    bool ha = false, hd = false, hw = false, hr = false;
    cella_res r = CELLA_OK_RES;
    const char *kind = cella_http_query(req, "kind");
    if (kind) {
        cella_order_kind k;
        hub_kind hk;
        if (cella_order_kind_from_name(kind, &k))
            f.kind = k;
        else if (!strcmp(kind, "request") || !strcmp(kind, "requests"))
            f.kind = CELLA_ORDER_REQUEST;
        else if (hub_kind_from_name(kind, &hk))
            f.kind = (int)hk;
        else
            r = cella_fail(CELLA_E_PARSE, "kind",
                           "apporder, datasetorder, workerpoolorder or requestorder");
    }
    if (cella_ok(r))
        r = query_addr(req, "app", app, &ha);
    if (cella_ok(r))
        r = query_addr(req, "dataset", ds, &hd);
    if (cella_ok(r))
        r = query_addr(req, "workerpool", wp, &hw);
    if (cella_ok(r))
        r = query_addr(req, "requester", rq, &hr);
    f.app = ha ? app : NULL;
    f.dataset = hd ? ds : NULL;
    f.workerpool = hw ? wp : NULL;
    f.requester = hr ? rq : NULL;
    const char *mt = cella_http_query(req, "mintag");
    if (!mt)
        mt = cella_http_query(req, "tag");
    if (cella_ok(r) && mt) {
        r = cella_tag_parse(mt, tag, "mintag");
        f.mintag = tag;
    }
    const char *mp = cella_http_query(req, "maxprice");
    if (cella_ok(r) && mp) {
        r = cella_u256_parse(mp, maxp, "maxprice");
        f.maxprice = maxp;
    }
    const char *cat = cella_http_query(req, "category");
    if (cella_ok(r) && cat) {
        uint8_t w[32];
        r = cella_u256_parse(cat, w, "category");
        if (cella_ok(r) && !hub_u256_to_u64(w, &f.category))
            r = cella_fail(CELLA_E_PARSE, "category", "too large");
        f.has_category = true;
    }
    if (cella_ok(r))
        r = query_limit(req, &f.limit);
    const char *all = cella_http_query(req, "all");
    f.include_closed = all && !strcmp(all, "1");
    json_t *list = NULL;
    if (cella_ok(r))
        r = hub_store_order_list(t->st, &f, &list);
    if (!cella_ok(r)) {
        reply_err(req, r);
        return;
    }
    cella_http_reply(req, 200, json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(list),
                                         "orders", list));
}

static cella_res parse_hash(const char *s, uint8_t h[32], const char *what)
{
    CELLA_ENSURE(s, CELLA_E_PARSE, what, "missing");
    return cella_hex_decode(h, 32, s, strlen(s), what);
}

static void order_show(hub_thread *t, cella_http_req *req, const char *hs)
{
    uint8_t h[32];
    json_t *e = NULL;
    cella_res r = parse_hash(hs, h, "order hash");
    if (cella_ok(r))
        r = hub_store_order_get(t->st, h, NULL, &e);
    if (!cella_ok(r))
        reply_err(req, r);
    else
        cella_http_reply(req, 200, e);
}

/* {"orderHash": "0x.."}, signed by the order's signer. */
static void order_cancel(hub_thread *t, cella_http_req *req)
{
    uint8_t who[20], h[32];
    json_t *body = NULL;
    cella_res r = authenticate(t, req, who);
    if (cella_ok(r))
        r = parse_json_body(req, &body);
    if (cella_ok(r))
        r = parse_hash(json_string_value(json_object_get(body, "orderHash")), h, "orderHash");
    if (cella_ok(r))
        r = hub_store_order_cancel(t->st, h, who, now_s(t));
    json_decref(body);
    if (!cella_ok(r)) {
        reply_err(req, r);
        return;
    }
    events_bump(t);
    cella_http_reply(req, 200, json_pack("{s:o, s:b}", "orderHash", hex_json(h, 32), "cancelled", 1));
}

/* ---- deals ---- */

static cella_res deal_order(hub_thread *t, const json_t *v, cella_order_kind k, cella_order *o,
                            bool *present)
{
    const char *key = cella_order_key(k);
    *present = false;
    if (!v || json_is_null(v)) {
        CELLA_ENSURE(k == CELLA_ORDER_DATASET, CELLA_E_PARSE, key, "missing");
        return CELLA_OK_RES;
    }
    if (json_is_string(v)) {
        uint8_t h[32];
        CELLA_TRY(parse_hash(json_string_value(v), h, key));
        CELLA_TRY(hub_store_order_get(t->st, h, o, NULL));
        if (o->kind != k) {
            cella_order_free(o);
            return cella_fail(CELLA_E_PARSE, key, "the order with this hash is a %s",
                              cella_order_key(o->kind));
        }
    } else {
        CELLA_ENSURE(json_is_object(v), CELLA_E_PARSE, key, "an order object or an order hash");
        CELLA_TRY(cella_order_from_json(v, k, false, o));
    }
    *present = true;
    return CELLA_OK_RES;
}

static void deal_create(hub_thread *t, cella_http_req *req)
{
    json_t *body = NULL;
    cella_order ord[CELLA_ORDER__COUNT];
    bool present[CELLA_ORDER__COUNT] = {false};
    cella_res r = parse_json_body(req, &body);
    if (cella_ok(r)) {
        const char *key;
        json_t *val;
        json_object_foreach(body, key, val) {
            cella_order_kind k;
            if (!cella_order_kind_from_name(key, &k) || strcmp(key, cella_order_key(k))) {
                r = cella_fail(CELLA_E_PARSE, key,
                               "unknown field (apporder, datasetorder, workerpoolorder, "
                               "requestorder)");
                break;
            }
        }
    }
    for (int k = 0; cella_ok(r) && k < CELLA_ORDER__COUNT; k++)
        r = deal_order(t, json_object_get(body, cella_order_key((cella_order_kind)k)),
                       (cella_order_kind)k, &ord[k], &present[k]);
    bool matched = false;
    hub_deal deal;
    hub_refusal why;
    json_t *dj = NULL; /* the deal, as stored */
    if (cella_ok(r)) {
        const cella_order *o[CELLA_ORDER__COUNT];
        for (int k = 0; k < CELLA_ORDER__COUNT; k++)
            o[k] = present[k] ? &ord[k] : NULL;
        r = hub_store_match_json(t->st, &t->app->dom, o, now_s(t), &matched, &deal, &why, &dj);
    }
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        if (present[k])
            cella_order_free(&ord[k]);
    json_decref(body);
    if (replied_unless_done(req, r, matched, &why))
        return;
    events_bump(t);
    cella_http_reply(req, 201, json_pack("{s:o, s:I, s:o}", "dealid", hex_json(deal.dealid, 32),
                                         "volume", (json_int_t)deal.bot_size, "deal", dj));
}

static void deal_show(hub_thread *t, cella_http_req *req, const char *id, bool task)
{
    uint8_t h[32];
    json_t *j = NULL;
    cella_res r = parse_hash(id, h, task ? "task id" : "deal id");
    if (cella_ok(r))
        r = task ? hub_store_task_get(t->st, h, &j) : hub_store_deal_get(t->st, h, &j);
    if (!cella_ok(r))
        reply_err(req, r);
    else
        cella_http_reply(req, 200, j);
}

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
static void task_list(hub_thread *t, cella_http_req *req)
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

/* Refuses keys of a request body other than the allowed ones (NULL-terminated). */
static cella_res only_keys(const json_t *body, const char *const *allowed)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)body, key, val) {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            ok = ok || !strcmp(key, allowed[i]);
        CELLA_ENSURE(ok, CELLA_E_PARSE, key, "unknown field");
    }
    return CELLA_OK_RES;
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
static void task_lease_next(hub_thread *t, cella_http_req *req)
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
static void task_verb(hub_thread *t, cella_http_req *req, const char *id, const char *verb)
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

/* ---- events ---- */

/* GET /v1/events?after=SEQ[&workerpool=0x..][&taskid=0x..][&limit=N][&wait=S], parsed. */
typedef struct {
    int64_t after;
    bool has_pool, has_task;
    uint8_t pool[20];
    uint8_t task[32];
    size_t limit;
    int64_t wait;
} events_query;

/* A waiting request: looked at when a change commits (events_wake), and
 * every EVENTS_TICK_MS on its thread's loop for its deadline. */
struct events_waiter {
    events_waiter *prev, *next; /* in app->waiters */
    hub_thread *t;
    cella_http_req *req; /* deferred */
    struct event *timer;
    events_query q;
    unsigned long gen; /* events_gen when last looked */
    struct timespec end;
};

/* A change committed: every waiting request looks now, each on its own
 * thread's loop (event_active is safe across threads: evthread_use_pthreads),
 * instead of at its next tick, up to EVENTS_TICK_MS later: a worker waiting
 * for work and a requester watching its task each paid that wait. At most
 * EVENTS_WAITING_MAX are woken, and one already woken is not queued again. */
static void events_wake(hub_app *a)
{
    __atomic_add_fetch(&a->events_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&a->waiters_lock);
    for (events_waiter *w = a->waiters; w; w = w->next)
        event_active(w->timer, EV_TIMEOUT, 0);
    pthread_mutex_unlock(&a->waiters_lock);
}

static cella_res query_i64(cella_http_req *req, const char *key, int64_t max, int64_t *out)
{
    const char *v = cella_http_query(req, key);
    if (!v)
        return CELLA_OK_RES;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    CELLA_ENSURE(*v >= '0' && *v <= '9' && !*end && !errno && n <= max, CELLA_E_PARSE, key,
                 "an integer from 0 to %lld", (long long)max);
    *out = n;
    return CELLA_OK_RES;
}

/* Replies if there are events for q, or if `last_chance`; says whether it did. */
static bool events_reply(hub_thread *t, cella_http_req *req, const events_query *q,
                         bool last_chance)
{
    json_t *list = NULL;
    int64_t last = 0;
    cella_res r = hub_store_events(t->st, q->after, q->has_pool ? q->pool : NULL,
                                   q->has_task ? q->task : NULL, q->limit, &list, &last);
    if (!cella_ok(r)) {
        reply_err(req, r);
        return true;
    }
    if (!json_array_size(list) && !last_chance) {
        json_decref(list);
        return false;
    }
    cella_http_reply(req, 200, json_pack("{s:o, s:I}", "events", list, "last", (json_int_t)last));
    return true;
}

/* Takes w out of app->waiters; the caller holds waiters_lock. */
static void events_waiter_unlink(events_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        w->t->app->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
}

static void events_waiter_free(events_waiter *w)
{
    hub_app *a = w->t->app;
    pthread_mutex_lock(&a->waiters_lock);
    events_waiter_unlink(w);
    pthread_mutex_unlock(&a->waiters_lock);
    event_free(w->timer);
    __atomic_sub_fetch(&a->events_waiting, 1, __ATOMIC_RELAXED);
    free(w);
}

/* The thread's loop stopped: its waiters go (their requests are dropped with
 * the loop), before events_wake could touch an event of a freed loop. */
static void thread_stop(void *tctx)
{
    hub_thread *t = tctx;
    hub_app *a = t->app;
    pthread_mutex_lock(&a->waiters_lock);
    for (events_waiter *w = a->waiters, *next; w; w = next) {
        next = w->next;
        if (w->t != t)
            continue;
        events_waiter_unlink(w);
        event_free(w->timer);
        __atomic_sub_fetch(&a->events_waiting, 1, __ATOMIC_RELAXED);
        free(w);
    }
    pthread_mutex_unlock(&a->waiters_lock);
}

/* The waiter's next look: a tick from now, or its deadline if sooner. */
static int events_arm(events_waiter *w)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t left_us = (int64_t)(w->end.tv_sec - now.tv_sec) * 1000000 +
                      (w->end.tv_nsec - now.tv_nsec) / 1000;
    int64_t us = (int64_t)w->t->app->events_tick_ms * 1000;
    if (left_us < us)
        us = left_us > 0 ? left_us : 0;
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    return event_add(w->timer, &tv);
}

/* A tick, the deadline, or a wake (events_wake). */
static void events_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    events_waiter *w = arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    bool over = now.tv_sec > w->end.tv_sec ||
                (now.tv_sec == w->end.tv_sec && now.tv_nsec >= w->end.tv_nsec);
    unsigned long gen = __atomic_load_n(&w->t->app->events_gen, __ATOMIC_ACQUIRE);
    if (gen != w->gen || over) {
        w->gen = gen;
        if (events_reply(w->t, w->req, &w->q, over)) {
            events_waiter_free(w);
            return;
        }
    }
    if (events_arm(w) != 0) /* cannot wait on: answer with what there is */
        if (events_reply(w->t, w->req, &w->q, true))
            events_waiter_free(w);
}

static void events_get(hub_thread *t, cella_http_req *req)
{
    events_query q = {.after = 0};
    cella_res r = query_i64(req, "after", INT64_MAX, &q.after);
    if (cella_ok(r))
        r = query_i64(req, "wait", EVENTS_WAIT_MAX, &q.wait);
    if (cella_ok(r))
        r = query_addr(req, "workerpool", q.pool, &q.has_pool);
    const char *tq = cella_http_query(req, "taskid");
    q.has_task = tq != NULL;
    if (cella_ok(r) && tq)
        r = parse_hash(tq, q.task, "taskid");
    if (cella_ok(r))
        r = query_limit(req, &q.limit);
    if (!cella_ok(r)) {
        reply_err(req, r);
        return;
    }
    hub_app *a = t->app;
    unsigned long gen = __atomic_load_n(&a->events_gen, __ATOMIC_ACQUIRE);
    if (events_reply(t, req, &q, q.wait == 0))
        return;
    /* nothing yet: wait on this thread's loop, without blocking it */
    if (__atomic_add_fetch(&a->events_waiting, 1, __ATOMIC_RELAXED) > EVENTS_WAITING_MAX) {
        __atomic_sub_fetch(&a->events_waiting, 1, __ATOMIC_RELAXED);
        cella_http_error(req, 503, "cella-hub-busy",
                         "cella-hub-busy: %d requests are already waiting for events; retry "
                         "later or without wait (events)",
                         EVENTS_WAITING_MAX);
        return;
    }
    events_waiter *w = calloc(1, sizeof *w);
    if (w) {
        w->t = t;
        w->q = q;
        w->gen = gen;
        clock_gettime(CLOCK_MONOTONIC, &w->end);
        w->end.tv_sec += q.wait;
        w->timer = event_new(cella_http_base(req), -1, 0, events_tick, w);
    }
    if (w && w->timer && events_arm(w) == 0)
        w->req = cella_http_defer(req);
    if (w && w->req) {
        pthread_mutex_lock(&a->waiters_lock);
        w->next = a->waiters;
        if (a->waiters)
            a->waiters->prev = w;
        a->waiters = w;
        pthread_mutex_unlock(&a->waiters_lock);
    }
    if (!w || !w->req) {
        if (w && w->timer)
            event_free(w->timer);
        free(w);
        __atomic_sub_fetch(&a->events_waiting, 1, __ATOMIC_RELAXED);
        (void)events_reply(t, req, &q, true);
    }
}

/* ---- accounts ---- */

static json_t *account_json(const uint8_t a[20], uint64_t bal, uint64_t locked);

static void account_show(hub_thread *t, cella_http_req *req, const char *as)
{
    uint8_t a[20];
    uint64_t bal = 0, locked = 0;
    cella_res r = cella_eth_address_parse(a, as, "address");
    if (cella_ok(r))
        r = hub_store_account_get(t->st, a, &bal, &locked);
    if (!cella_ok(r)) {
        reply_err(req, r);
        return;
    }
    cella_http_reply(req, 200, account_json(a, bal, locked));
}

/* An amount of nRLC: a decimal string (or a JSON integer) below 2^64. */
static cella_res body_amount(const json_t *am, uint64_t *amount)
{
    uint8_t w[32];
    *amount = 0;
    if (json_is_integer(am) && json_integer_value(am) >= 0) {
        *amount = (uint64_t)json_integer_value(am);
        return CELLA_OK_RES;
    }
    CELLA_ENSURE(json_is_string(am), CELLA_E_PARSE, "amount", "a decimal amount of nRLC");
    CELLA_TRY(cella_u256_parse(json_string_value(am), w, "amount"));
    CELLA_ENSURE(hub_u256_to_u64(w, amount), CELLA_E_PARSE, "amount", "too large");
    return CELLA_OK_RES;
}

static json_t *account_json(const uint8_t a[20], uint64_t bal, uint64_t locked)
{
    char b[24], l[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)bal);
    snprintf(l, sizeof l, "%llu", (unsigned long long)locked);
    return json_pack("{s:o, s:s, s:s}", "address", addr_json(a), "balance", b, "locked", l);
}

/* {"amount": "123"} (nRLC), signed by the account's owner: out of its
 * unlocked balance (422 cella-hub-insufficient-balance beyond it). */
static void withdraw(hub_thread *t, cella_http_req *req)
{
    static const char *const keys[] = {"amount", NULL};
    uint8_t who[20];
    json_t *body = NULL;
    uint64_t amount = 0, bal = 0, locked = 0;
    cella_res r = authenticate(t, req, who);
    if (cella_ok(r))
        r = parse_json_body(req, &body);
    if (cella_ok(r))
        r = only_keys(body, keys);
    if (cella_ok(r))
        r = json_object_get(body, "amount") ? body_amount(json_object_get(body, "amount"), &amount)
                                            : cella_fail(CELLA_E_PARSE, "amount", "missing");
    bool done = false;
    hub_refusal why;
    if (cella_ok(r))
        r = hub_store_withdraw(t->st, who, amount, &done, &why, &bal, &locked);
    json_decref(body);
    if (replied_unless_done(req, r, done, &why))
        return;
    char am[24];
    snprintf(am, sizeof am, "%llu", (unsigned long long)amount);
    json_t *j = account_json(who, bal, locked);
    json_object_set_new(j, "withdrawn", json_string(am));
    cella_http_reply(req, 200, j);
}

/* {"address": "0x..", "amount": "123"} (nRLC), only with --dev-faucet. */
static void deposit(hub_thread *t, cella_http_req *req)
{
    json_t *body = NULL;
    uint8_t a[20];
    uint64_t amount = 0, bal = 0;
    cella_res r = t->app->opt.dev_faucet
                      ? CELLA_OK_RES
                      : cella_fail(CELLA_E_PERM, "deposit",
                                   "this hub has no dev faucet (start it with --dev-faucet)");
    if (cella_ok(r))
        r = parse_json_body(req, &body);
    const char *as = body ? json_string_value(json_object_get(body, "address")) : NULL;
    const json_t *am = body ? json_object_get(body, "amount") : NULL;
    if (cella_ok(r))
        r = as ? cella_eth_address_parse(a, as, "address")
               : cella_fail(CELLA_E_PARSE, "address", "missing");
    if (cella_ok(r))
        r = body_amount(am, &amount);
    if (cella_ok(r))
        r = hub_store_deposit(t->st, a, amount, &bal);
    json_decref(body);
    if (!cella_ok(r)) {
        reply_err(req, r);
        return;
    }
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)bal);
    cella_http_reply(req, 200, json_pack("{s:o, s:s}", "address", addr_json(a), "balance", b));
}

/* ---- routing ---- */

/* "/v1/apps/X" → kind and X ("" for "/v1/apps"); false if not a registry path. */
static bool registry_path(const char *p, hub_kind *k, char *rest, size_t cap)
{
    if (strncmp(p, "/v1/", 4) != 0)
        return false;
    p += 4;
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    char name[16];
    if (n == 0 || n >= sizeof name)
        return false;
    memcpy(name, p, n);
    name[n] = '\0';
    if (name[n - 1] != 's' || !hub_kind_from_name(name, k))
        return false;
    const char *r = slash ? slash + 1 : "";
    if (strlen(r) >= cap || strchr(r, '/'))
        return false;
    snprintf(rest, cap, "%s", r);
    return true;
}

/* "/v1/apps/ADDRESS/transfer" → kind and ADDRESS. */
static bool transfer_path(const char *p, hub_kind *k, char *addr, size_t cap)
{
    char kind[16], a[64];
    int end = 0;
    if (sscanf(p, "/v1/%15[a-z]/%63[0-9a-fA-Fx]/transfer%n", kind, a, &end) != 2 ||
        p[end] != '\0' || strlen(a) >= cap || !hub_kind_from_name(kind, k))
        return false;
    snprintf(addr, cap, "%s", a);
    return true;
}

static void handle(cella_http_req *req, void *tctx)
{
    hub_thread *t = tctx;
    const char *m = cella_http_method(req), *p = cella_http_path(req);
    bool get = !strcmp(m, "GET"), post = !strcmp(m, "POST");
    char rest[128], id[67], verb[32];
    hub_kind k;
    if (hub_web_route(t->st, t->app->sms, req)) {
        /* the web page and the read-only lists (hub/web.c) */
    } else if (get && !strcmp(p, "/v1/health")) {
        char hub[43];
        cella_eth_address_checksum(hub, t->app->dom.hub);
        json_t *h = json_pack("{s:b, s:I, s:s, s:b}", "ok", 1, "chainId",
                              (json_int_t)t->app->dom.chain_id, "hub", hub, "devFaucet",
                              t->app->opt.dev_faucet);
        if (h && t->app->ssl)
            json_object_set_new(h, "fingerprint", json_string(t->app->fingerprint));
        cella_http_reply(req, 200, h);
    } else if (get && !strcmp(p, "/v1/challenge")) {
        challenge(t, req);
    } else if (post && transfer_path(p, &k, rest, sizeof rest)) {
        resource_transfer(t, req, k, rest);
    } else if (registry_path(p, &k, rest, sizeof rest)) {
        if (post && !rest[0])
            deploy(t, req, k);
        else if (get && !strcmp(rest, "count"))
            resource_count(t, req, k);
        else if (get && rest[0])
            resource_show(t, req, k, rest);
        else
            cella_http_error(req, 405, "method", "method %s not allowed on %s", m, p);
    } else if (!strcmp(p, "/v1/orders")) {
        if (post)
            order_publish(t, req);
        else if (get)
            order_book(t, req);
        else
            cella_http_error(req, 405, "method", "method %s not allowed on %s", m, p);
    } else if (post && !strcmp(p, "/v1/orders/cancel")) {
        order_cancel(t, req);
    } else if (get && !strncmp(p, "/v1/orders/", 11) && !strchr(p + 11, '/')) {
        order_show(t, req, p + 11);
    } else if (post && !strcmp(p, "/v1/deals")) {
        deal_create(t, req);
    } else if (get && !strncmp(p, "/v1/deals/", 10) && !strchr(p + 10, '/')) {
        deal_show(t, req, p + 10, false);
    } else if (get && !strncmp(p, "/v1/tasks/", 10) && !strchr(p + 10, '/')) {
        deal_show(t, req, p + 10, true);
    } else if (!strcmp(p, "/v1/events")) {
        if (get)
            events_get(t, req);
        else
            cella_http_error(req, 405, "method", "method %s not allowed on %s", m, p);
    } else if (!strcmp(p, "/v1/tasks")) {
        if (get)
            task_list(t, req);
        else
            cella_http_error(req, 405, "method", "method %s not allowed on %s", m, p);
    } else if (!strcmp(p, "/v1/tasks/lease-next")) {
        if (!strcmp(m, "POST"))
            task_lease_next(t, req);
        else
            cella_http_error(req, 405, "method", "method %s not allowed on %s", m, p);
    } else if (sscanf(p, "/v1/tasks/%66[0-9a-fA-Fx]/%31s", id, verb) == 2 &&
               strlen(p) == 11 + strlen(id) + strlen(verb)) {
        task_verb(t, req, id, verb);
    } else if (post && !strcmp(p, "/v1/accounts/deposit")) {
        deposit(t, req);
    } else if (post && !strcmp(p, "/v1/accounts/withdraw")) {
        withdraw(t, req);
    } else if (get && !strncmp(p, "/v1/accounts/", 13) && !strchr(p + 13, '/')) {
        account_show(t, req, p + 13);
    } else {
        cella_http_error(req, 404, "not_found", "no such endpoint: %s %s", m, p);
    }
}

/* ---- startup ---- */

static void *thread_init(void *app)
{
    hub_app *a = app;
    hub_thread *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->app = a;
    if (!cella_ok(hub_store_open(a->db_path, &t->st))) {
        free(t);
        return NULL;
    }
    hub_store_set_timeref(t->st, a->opt.dev_timeref);
    return t;
}

/* With PostgreSQL, another replica's commits are announced by NOTIFY: this
 * thread LISTENs and wakes the waiting event requests, so a long poll here
 * sees a change made anywhere as it is announced. A lost
 * connection is made again every second; waiters are woken then too, since
 * announcements may have been missed meanwhile. */
static void *events_listener(void *arg)
{
    hub_app *a = arg;
    cella_db *db = NULL;
    while (!__atomic_load_n(&a->stopping, __ATOMIC_ACQUIRE)) {
        if (!db) {
            if (!cella_ok(db_listen(a->db_path, HUB_EVENTS_CHANNEL, &db))) {
                db = NULL;
                struct timespec ts = {1, 0};
                nanosleep(&ts, NULL);
                continue;
            }
            events_wake(a);
        }
        struct pollfd p = {.fd = db_listen_fd(db), .events = POLLIN};
        if (poll(&p, 1, 500) <= 0)
            continue;
        unsigned n;
        if (!cella_ok(db_listen_drain(db, &n))) {
            cella_db_close(db);
            db = NULL;
            events_wake(a);
        } else if (n) {
            events_wake(a);
        }
    }
    cella_db_close(db);
    return NULL;
}

static void thread_fini(void *tctx)
{
    hub_thread *t = tctx;
    hub_store_close(t->st);
    free(t);
}

static void write_metrics(cella_buf *out, void *app, void *tctx)
{
    (void)app;
    hub_thread *t = tctx;
    hub_metrics_write(out, t->st, now_s(t));
}

static void on_ready(void *app)
{
    hub_app *a = app;
    char hub[43];
    cella_eth_address_checksum(hub, a->dom.hub);
    printf("hub listening on %s://%s\n", a->ssl ? "https" : "http", a->bound);
    if (a->ssl)
        printf("fingerprint %s\n", a->fingerprint);
    if (a->sms)
        printf("dataset keys: the page asks cas %s\n", a->opt.cas_urls);
    printf("chain %llu hub %s\n", (unsigned long long)a->dom.chain_id, hub);
    if (a->opt.dev_faucet)
        printf("WARNING: dev faucet enabled (--dev-faucet): anyone can credit any account\n");
    if (a->opt.dev_timeref)
        printf("WARNING: development timeref (--dev-timeref %llu): every category's deadlines "
               "are %llu s (contribution) and %llu s (final) after the match\n",
               (unsigned long long)a->opt.dev_timeref,
               (unsigned long long)(7 * a->opt.dev_timeref),
               (unsigned long long)(10 * a->opt.dev_timeref));
    fflush(stdout);
}

cella_res hub_serve(const hub_options *o)
{
    hub_app a;
    memset(&a, 0, sizeof a);
    a.opt = *o;
    pthread_mutex_init(&a.waiters_lock, NULL);
    a.events_tick_ms = EVENTS_TICK_MS;
    const char *tick = getenv(EVENTS_TICK_ENV);
    if (tick && atoi(tick) > 0 && atoi(tick) <= 600000)
        a.events_tick_ms = (unsigned)atoi(tick);
    if (!a.opt.listen)
        a.opt.listen = "127.0.0.1:8080";
    CELLA_ENSURE(o->data_dir, CELLA_E_USAGE, "--data", "a data directory is required");
    CELLA_ENSURE(o->chain_id, CELLA_E_USAGE, "--chain-id", "a chain id is required");
    a.dom.chain_id = o->chain_id;
    memcpy(a.dom.hub, o->hub, 20);
    /* The port first: a taken one leaves --data as it was. */
    int fd;
    CELLA_TRY(cella_http_listen(a.opt.listen, "hub serve --listen", &fd, a.bound));
    cella_res r = o->cas_urls ? hub_sms_new(o->cas_urls, o->cas_pins, &a.sms) : CELLA_OK_RES;
    if (cella_ok(r))
        r = cella_mkdir_private(o->data_dir);
    if (o->db)
        snprintf(a.db_path, sizeof a.db_path, "%s", o->db);
    else
        snprintf(a.db_path, sizeof a.db_path, "%s/hub.db", o->data_dir);
    int created = 0;
    if (cella_ok(r) && o->tls)
        r = cella_tls_server_ctx(o->data_dir, &a.ssl, a.fingerprint, &created);
    if (cella_ok(r) && created)
        printf("created TLS identity in %s; clients pin fingerprint %s\n", o->data_dir,
               a.fingerprint);
    if (cella_ok(r)) {
        hub_store *st;
        r = hub_store_open(a.db_path, &st); /* the schema, once, before the threads */
        if (cella_ok(r)) {
            r = cella_sigreq_new("hub", hub_store_db(st), &a.auth);
            hub_store_close(st);
        }
    }
    if (cella_ok(r)) {
        cella_http_config cfg = {
            .fd = fd,
            .ssl = a.ssl,
            .max_body = HUB_MAX_BODY,
            .body_limits = hub_body_limits,
            .threads = o->threads,
            .handler = handle,
            .app = &a,
            .thread_init = thread_init,
            .thread_fini = thread_fini,
            .thread_stop = thread_stop,
            .on_ready = on_ready,
            .name = "hub",
            .routes = hub_routes,
            .metrics = write_metrics,
        };
        pthread_t listener;
        bool listening = !strncmp(a.db_path, "postgres", 8) &&
                         pthread_create(&listener, NULL, events_listener, &a) == 0;
        r = cella_http_serve(&cfg);
        if (listening) {
            __atomic_store_n(&a.stopping, true, __ATOMIC_RELEASE);
            pthread_join(listener, NULL);
        }
    }
    close(fd);
    cella_sigreq_free(a.auth);
    SSL_CTX_free(a.ssl);
    hub_sms_free(a.sms);
    return r;
}
