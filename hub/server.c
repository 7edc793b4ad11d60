/* The hub server: routing, start-up, and what the route files share (owner
 * authentication, request parsing, JSON replies: server_int.h). The routes
 * are in registries.c, orders.c, tasks.c, accounts.c and events.c. State
 * lives in lib/hub/store (one SQLite handle per thread); matching in
 * lib/hub/match. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "hub/hub.h"
#include "hub/metrics.h"
#include "hub/server_int.h"
#include "hub/store.h"
#include "hub/web.h"
#include "identity/eth.h"
#include "net/http_server.h"
#include "net/signed_request.h"

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

/* ---- requests and replies (server_int.h) ---- */

/* The database's clock (shared by replicas: leases and deadlines), or this
 * host's if the database cannot be asked (the change that follows fails then
 * anyway, with the database's reason). */
int64_t now_s(hub_thread *t)
{
    int64_t now;
    return cella_ok(hub_store_now(t->st, &now)) ? now : (int64_t)time(NULL);
}

void reply_err(cella_http_req *req, cella_res r) { cella_http_reply_failure(req, r); }

/* After a store step that can fail (r) or be refused by a protocol rule
 * (!done, why): replies 4xx/5xx or 422 naming the rule, and says whether it
 * did. */
bool replied_unless_done(cella_http_req *req, cella_res r, bool done,
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

cella_res parse_json_body(cella_http_req *req, json_t **out)
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

json_t *addr_json(const uint8_t a[20])
{
    char t[43];
    cella_eth_address_checksum(t, a);
    return json_string(t);
}

json_t *hex_json(const uint8_t *p, size_t n)
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
cella_res authenticate(hub_thread *t, cella_http_req *req, uint8_t who[20])
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

cella_res opt_string(const json_t *body, const char *key, size_t max, bool required,
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

cella_res query_addr(cella_http_req *req, const char *key, uint8_t out[20], bool *has)
{
    const char *v = cella_http_query(req, key);
    *has = v != NULL;
    return v ? cella_eth_address_parse(out, v, key) : CELLA_OK_RES;
}

/* A limit query parameter: 1 to HUB_LIST_MAX (absent: 0, the store's maximum). */
cella_res query_limit(cella_http_req *req, size_t *out)
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

cella_res parse_hash(const char *s, uint8_t h[32], const char *what)
{
    CELLA_ENSURE(s, CELLA_E_PARSE, what, "missing");
    return cella_hex_decode(h, 32, s, strlen(s), what);
}

/* Refuses keys of a request body other than the allowed ones (NULL-terminated). */
cella_res only_keys(const json_t *body, const char *const *allowed)
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
    events_init(&a);
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
            .thread_stop = events_thread_stop,
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
