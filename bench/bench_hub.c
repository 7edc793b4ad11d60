/* The hub's speed, beside same-run baselines.
 *
 *   bench_hub DIR N     in process, one thread, SQLite: orders published per
 *     second and matches per second, beside a raw SQLite loop (one
 *     transaction of one INSERT and one UPDATE, WAL, synchronous=FULL) on the
 *     same file system. Orders are signed before the clock starts;
 *     publication and matching include their signature checks. Prints
 *     "<name> <ops/s> <ops>" lines and the ratios:
 *       publish               app orders published (1 ECDSA recovery each)
 *       match                 matches of four published orders (signatures
 *                             were checked at publication: no ECDSA at match)
 *       match_inline_request  matches whose request order comes inline (1 ECDSA)
 *       raw_sqlite            the baseline loop
 *
 *   bench_hub http URL[,URL...] CLIENTS SECONDS REQUESTS BAG [DIR]
 *     the marketplace load of hub_flow.h against running hubs (hub serve
 *     --dev-faucet; replicas of one database), client i on URL i % count,
 *     on kept-alive connections, every call as cella's clients make it (the
 *     lease signed by the pool owner over a fresh GET /v1/challenge, as cella
 *     worker does). Prints http_publish, http_match, http_claim lines; with
 *     DIR, then the raw SQLite loop run in DIR and each phase's ratio to it.
 *
 *   bench_hub store DB CLIENTS SECONDS REQUESTS BAG
 *     the same load through the store API (hub/store.h) in this process, a
 *     store handle per client thread, on DB (a SQLite path or a postgres://
 *     URL), the database's clock read once per claim and per match as the hub
 *     does: store_publish, store_match, store_claim lines.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casapi/casapi.h"
#include "core/encoding.h"
#include "hub/store.h"
#include "identity/eip712.h"
#include "identity/eth.h"

#include "hub_flow.h"

static double raw_sqlite(const char *dir, int n)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/raw.db", dir);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        flow_die("raw open");
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE t(id INTEGER PRIMARY KEY, k BLOB UNIQUE, v TEXT);"
                 "CREATE TABLE c(id INTEGER PRIMARY KEY, n INTEGER); INSERT INTO c VALUES(1, 0);",
                 NULL, NULL, NULL);
    sqlite3_stmt *ins, *upd;
    sqlite3_prepare_v2(db, "INSERT INTO t(k, v) VALUES(?, ?)", -1, &ins, NULL);
    sqlite3_prepare_v2(db, "UPDATE c SET n = n + 1 WHERE id = 1", -1, &upd, NULL);
    static const char payload[] = "{\"app\":\"0x0000000000000000000000000000000000000000\","
                                  "\"appprice\":\"0\",\"volume\":\"1\"}";
    double t0 = flow_now();
    for (int i = 0; i < n; i++) {
        uint8_t k[32] = {0};
        memcpy(k, &i, sizeof i);
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        sqlite3_bind_blob(ins, 1, k, 32, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 2, payload, -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE || sqlite3_step(upd) != SQLITE_DONE)
            flow_die("raw step");
        sqlite3_reset(ins);
        sqlite3_reset(upd);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    double dt = flow_now() - t0;
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    sqlite3_close(db);
    return n / dt;
}

/* ---- the marketplace load over HTTP (hub_flow.h) ---- */

typedef struct {
    const char *urls[FLOW_CLIENTS_MAX];
    int nurls;
    void *pool; /* kept-alive connections, shared */
} http_ctx;

/* A call; *out the JSON reply on success. The failure's code tells a
 * conflict (409: CELLA_E_ROLLBACK) from an error. */
static cella_res http_call(const cella_http_client *c, const char *method, const char *path,
                           json_t *body, const uint8_t *signer, json_t **out)
{
    *out = NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    cella_slice b = cella_slice_of(text ? text : "", text ? strlen(text) : 0);
    cella_res r = signer ? cella_cas_signed_call(c, signer, method, path, b, "application/json", out)
                         : cella_cas_call(c, method, path, b, out);
    free(text);
    if (!cella_ok(r) && r.code != CELLA_E_ROLLBACK)
        fprintf(stderr, "bench_hub: %s %s: %s (%s)\n", method, path, cella_error_what(),
                cella_error_where());
    return r;
}

static void *http_client_new(void *ctx, int i)
{
    http_ctx *x = ctx;
    cella_http_client *c = calloc(1, sizeof *c);
    if (c) {
        c->base_url = x->urls[i % x->nurls];
        c->reuse = x->pool;
    }
    return c;
}

static void http_client_free(void *c) { free(c); }

static bool http_setup(void *ctx, flow_market *m)
{
    http_ctx *x = ctx;
    cella_http_client c = {.base_url = x->urls[0], .reuse = x->pool};
    json_t *h;
    if (!cella_ok(http_call(&c, "GET", "/v1/health", NULL, NULL, &h)))
        return false;
    m->dom.chain_id = (uint64_t)json_integer_value(json_object_get(h, "chainId"));
    bool ok = cella_ok(cella_eth_address_parse(m->dom.hub,
                                               json_string_value(json_object_get(h, "hub")), "hub"));
    json_decref(h);
    static const char *const kinds[3] = {"/v1/apps", "/v1/datasets", "/v1/workerpools"};
    for (int k = 0; ok && k < 3; k++) {
        json_t *r;
        ok = cella_ok(http_call(&c, "POST", kinds[k],
                                json_pack("{s:s, s:s, s:s}", "name", "bench", "multiaddr", "/bench",
                                          "checksum", "0x0000000000000000000000000000000000000000"
                                                      "000000000000000000000001"),
                                m->priv[k], &r)) &&
             cella_ok(cella_eth_address_parse(
                 m->res[k], json_string_value(json_object_get(r, "address")), "address"));
        json_decref(r);
    }
    for (int i = 2; ok && i < 4; i++) {
        char a[43];
        cella_eth_address_checksum(a, m->addr[i]);
        json_t *r;
        ok = cella_ok(http_call(&c, "POST", "/v1/accounts/deposit",
                                json_pack("{s:s, s:s}", "address", a, "amount", "1000000000000"),
                                NULL, &r)); /* the hub needs --dev-faucet */
        json_decref(r);
    }
    return ok;
}

static bool http_publish(void *client, flow_order *o)
{
    json_t *r;
    if (!cella_ok(http_call(client, "POST", "/v1/orders",
                            json_pack("{s:o}", cella_order_key(o->o.kind), cella_order_to_json(&o->o)),
                            NULL, &r)))
        return false;
    const char *h = json_string_value(json_object_get(r, "orderHash"));
    snprintf(o->hash, sizeof o->hash, "%s", h ? h : "");
    json_decref(r);
    return h != NULL;
}

static bool http_match(void *client, const flow_market *m, const flow_order *req, long *tasks)
{
    json_t *d;
    if (!cella_ok(http_call(client, "POST", "/v1/deals",
                            json_pack("{s:s, s:s, s:s, s:s}", "apporder", m->fixed[0].hash,
                                      "datasetorder", m->fixed[1].hash, "workerpoolorder",
                                      m->fixed[2].hash, "requestorder", req->hash),
                            NULL, &d)))
        return false;
    *tasks = (long)json_integer_value(json_object_get(d, "volume"));
    json_decref(d);
    return *tasks > 0;
}

/* The "taskid" of each task of a listing, at most max. */
static int task_ids(const json_t *tasks, char (*ids)[67], int max)
{
    int n = 0;
    for (size_t i = 0; i < json_array_size(tasks) && n < max; i++) {
        const char *id = json_string_value(json_object_get(json_array_get(tasks, i), "taskid"));
        if (id)
            snprintf(ids[n++], 67, "%s", id);
    }
    return n;
}

static int http_list(void *client, const flow_market *m, char (*ids)[67], int max)
{
    char pool[43], path[160];
    cella_eth_address_checksum(pool, m->res[2]);
    snprintf(path, sizeof path, "/v1/tasks?workerpool=%s&runnable=1&limit=%d", pool, max);
    json_t *r;
    if (!cella_ok(http_call(client, "GET", path, NULL, NULL, &r)))
        return -1;
    int n = task_ids(json_object_get(r, "tasks"), ids, max);
    json_decref(r);
    return n;
}

static lease_outcome http_lease(void *client, const flow_market *m, const char *taskid,
                                const char *holder)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/tasks/%s/lease", taskid);
    json_t *r;
    cella_res res = http_call(client, "POST", path,
                              json_pack("{s:s, s:i}", "holder", holder, "seconds", 60), m->priv[2], &r);
    bool granted = cella_ok(res) && json_is_integer(json_object_get(r, "until"));
    json_decref(r);
    cella_error_clear();
    return granted ? LEASE_GRANTED : res.code == CELLA_E_ROLLBACK ? LEASE_CONFLICT : LEASE_ERROR;
}

static lease_outcome http_lease_next(void *client, const flow_market *m, const char *holder)
{
    char pool[43];
    cella_eth_address_checksum(pool, m->res[2]);
    json_t *r;
    cella_res res = http_call(client, "POST", "/v1/tasks/lease-next",
                              json_pack("{s:s, s:s, s:i}", "workerpool", pool, "holder", holder,
                                        "seconds", 60),
                              m->priv[2], &r);
    lease_outcome o = !cella_ok(res) ? LEASE_ERROR
                      : json_is_string(json_object_get(r, "taskid")) ? LEASE_GRANTED
                                                                      : LEASE_NONE;
    json_decref(r);
    cella_error_clear();
    return o;
}

static const hub_flow_ops g_http_ops = {http_setup,   http_client_new, http_client_free,
                                        http_publish, http_match,      http_list,
                                        http_lease,   http_lease_next};

/* ---- the same load through the store API ---- */

typedef struct {
    const char *url;
    const flow_market *m; /* once set up */
} store_ctx;

typedef struct {
    store_ctx *x;
    hub_store *s;
    int64_t now; /* the database's clock, read by list for the lease that follows */
} store_client;

static void *store_client_new(void *ctx, int i)
{
    (void)i;
    store_client *c = calloc(1, sizeof *c);
    if (c && !cella_ok(hub_store_open(((store_ctx *)ctx)->url, &c->s))) {
        free(c);
        return NULL;
    }
    if (c)
        c->x = ctx;
    return c;
}

static void store_client_free(void *client)
{
    store_client *c = client;
    hub_store_close(c->s);
    free(c);
}

static bool store_setup(void *ctx, flow_market *m)
{
    store_ctx *x = ctx;
    x->m = m;
    m->dom = (cella_domain){421614, {0xb2, 0x15, 0x7b}};
    hub_store *s;
    if (!cella_ok(hub_store_open(x->url, &s)))
        return false;
    bool ok = true;
    for (int k = 0; ok && k < 3; k++) {
        hub_resource r;
        memset(&r, 0, sizeof r);
        r.kind = (hub_kind)k;
        memcpy(r.address, m->addr[k], 20); /* an address of this run's own */
        r.address[0] ^= 0xa5;
        memcpy(m->res[k], r.address, 20);
        memcpy(r.owner, m->addr[k], 20);
        snprintf(r.name, sizeof r.name, "bench");
        ok = cella_ok(hub_store_register_at(s, &r, 1));
    }
    uint64_t bal;
    ok = ok && cella_ok(hub_store_deposit(s, m->addr[3], 1000000000000ULL, &bal)) &&
         cella_ok(hub_store_deposit(s, m->addr[2], 1000000000000ULL, &bal));
    hub_store_close(s);
    return ok;
}

static bool store_publish(void *client, flow_order *o)
{
    store_client *c = client;
    uint8_t h[32];
    bool created;
    int64_t now;
    if (!cella_ok(hub_store_now(c->s, &now)) ||
        !cella_ok(hub_store_order_publish(c->s, &c->x->m->dom, &o->o, now, h, &created)))
        return false;
    o->hash[0] = '0';
    o->hash[1] = 'x';
    cella_hex_encode(o->hash + 2, h, 32, false);
    return true;
}

static bool store_match(void *client, const flow_market *m, const flow_order *req, long *tasks)
{
    store_client *c = client;
    const cella_order *o[4] = {&m->fixed[0].o, &m->fixed[1].o, &m->fixed[2].o, &req->o};
    bool matched = false;
    hub_deal deal;
    hub_refusal why;
    int64_t now;
    if (!cella_ok(hub_store_now(c->s, &now)) ||
        !cella_ok(hub_store_match(c->s, &m->dom, o, now, &matched, &deal, &why)))
        return false;
    if (!matched)
        fprintf(stderr, "bench_hub: refused: %s: %s\n", why.code, why.reason);
    *tasks = matched ? (long)deal.bot_size : 0;
    return matched;
}

static int store_list(void *client, const flow_market *m, char (*ids)[67], int max)
{
    store_client *c = client;
    hub_task_filter f = {.workerpool = m->res[2], .runnable = true, .limit = (size_t)max};
    json_t *list;
    if (!cella_ok(hub_store_now(c->s, &c->now)) ||
        !cella_ok(hub_store_task_list(c->s, &f, c->now, &list)))
        return -1;
    int n = task_ids(list, ids, max);
    json_decref(list);
    return n;
}

static lease_outcome store_lease(void *client, const flow_market *m, const char *taskid,
                                 const char *holder)
{
    store_client *c = client;
    uint8_t id[32];
    if (!cella_ok(cella_hex_decode(id, 32, taskid + 2, 64, "taskid")))
        return LEASE_ERROR;
    bool done = false;
    hub_refusal why;
    int64_t until;
    if (!cella_ok(hub_store_lease(c->s, id, m->addr[2], holder, 60, c->now, &done, &why, &until)))
        return LEASE_ERROR;
    return done ? LEASE_GRANTED
                : !strcmp(why.code, "cella-hub-task-leased") ? LEASE_CONFLICT : LEASE_ERROR;
}

static lease_outcome store_lease_next(void *client, const flow_market *m, const char *holder)
{
    store_client *c = client;
    bool found = false;
    uint8_t id[32];
    int64_t now, until;
    if (!cella_ok(hub_store_now(c->s, &now)) ||
        !cella_ok(hub_store_lease_next(c->s, m->res[2], m->addr[2], holder, NULL, 60, now, &found, id,
                                       &until)))
        return LEASE_ERROR;
    return found ? LEASE_GRANTED : LEASE_NONE;
}

static const hub_flow_ops g_store_ops = {store_setup,   store_client_new, store_client_free,
                                         store_publish, store_match,      store_list,
                                         store_lease,   store_lease_next};

/* bench_hub http|store TARGET CLIENTS SECONDS REQUESTS BAG [DIR] */
static int flow_main(int argc, char **argv)
{
    bool http = !strcmp(argv[1], "http");
    flow_plan p = {http ? "http" : "store", atoi(argv[3]), atof(argv[4]), atol(argv[5]),
                   atol(argv[6])};
    if (p.clients < 1 || p.clients > FLOW_CLIENTS_MAX || p.seconds <= 0 || p.requests < 1 ||
        p.requests > 1000000 || p.bag < 0 || p.bag > 4000) {
        fprintf(stderr, "bench_hub: CLIENTS 1..%d, SECONDS > 0, REQUESTS 1..10^6, BAG 0..4000\n",
                FLOW_CLIENTS_MAX);
        return 2;
    }
    flow_market m;
    memset(&m, 0, sizeof m);
    flow_result res;
    bool ok;
    if (http) {
        http_ctx x = {.pool = cella_http_pool_new()};
        char *list = strdup(argv[2]), *save = NULL;
        for (char *u = strtok_r(list, ",", &save); u && x.nurls < FLOW_CLIENTS_MAX;
             u = strtok_r(NULL, ",", &save))
            x.urls[x.nurls++] = u;
        ok = x.nurls && hub_flow_run(&g_http_ops, &x, &m, &p, &res);
        cella_http_pool_free(x.pool);
        free(list);
    } else {
        store_ctx x = {.url = argv[2]};
        ok = hub_flow_run(&g_store_ops, &x, &m, &p, &res);
    }
    if (!ok)
        flow_die("setup");
    if (argc == 8) { /* beside the raw SQLite loop, as bench/hub.sh shows it */
        long n = res.claims > 100 ? res.claims : 100;
        double raw = raw_sqlite(argv[7], (int)n);
        printf("raw_sqlite %.0f %ld\n", raw, n);
        printf("http_publish/raw %.2f\nhttp_match/raw %.2f\nhttp_claim/raw %.2f\n",
               res.publish / raw, res.match / raw, res.claim / raw);
    }
    return res.errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    if ((argc == 7 || argc == 8) && !strcmp(argv[1], "http"))
        return flow_main(argc, argv);
    if (argc == 7 && !strcmp(argv[1], "store"))
        return flow_main(argc, argv);
    if (argc != 3) {
        fprintf(stderr, "usage: bench_hub DIR N\n"
                        "       bench_hub http URL[,URL...] CLIENTS SECONDS REQUESTS BAG [DIR]\n"
                        "       bench_hub store DB CLIENTS SECONDS REQUESTS BAG\n");
        return 2;
    }
    const char *dir = argv[1];
    int n = atoi(argv[2]);
    if (n < 1 || n > 1000000)
        return 2;
    cella_domain d = {421614, {0xb2, 0x15, 0x7b}};
    uint8_t priv[4][32], addr[4][20];
    for (int i = 0; i < 4; i++) {
        memset(priv[i], 0x11 * (i + 1), 32);
        if (!cella_ok(cella_eth_address_from_privkey(priv[i], addr[i])))
            flow_die("key");
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/hub.db", dir);
    hub_store *s;
    if (!cella_ok(hub_store_open(path, &s)))
        flow_die("open");
    static const uint8_t A[20] = {0xa1}, D[20] = {0xd5}, W[20] = {0x3b};
    const uint8_t *res[3] = {A, D, W};
    for (int k = 0; k < 3; k++) {
        hub_resource r;
        memset(&r, 0, sizeof r);
        r.kind = (hub_kind)k;
        memcpy(r.address, res[k], 20);
        memcpy(r.owner, addr[k], 20);
        snprintf(r.name, sizeof r.name, "bench");
        if (!cella_ok(hub_store_register_at(s, &r, 1)))
            flow_die("register");
    }
    uint64_t bal;
    if (!cella_ok(hub_store_deposit(s, addr[3], 1000000000000ULL, &bal)) ||
        !cella_ok(hub_store_deposit(s, addr[2], 1000000000000ULL, &bal)))
        flow_die("deposit");

    /* publication: n app orders */
    cella_order *apps = calloc((size_t)n, sizeof *apps);
    cella_order *reqs = calloc((size_t)n, sizeof *reqs);
    if (!apps || !reqs)
        flow_die("memory");
    for (int i = 0; i < n; i++) {
        cella_order_init(&apps[i], CELLA_ORDER_APP);
        flow_set_a(&apps[i], "app", A);
        flow_set_u(&apps[i], "appprice", 5);
        flow_set_u(&apps[i], "volume", (uint64_t)n);
        flow_salted_sign(&d, &apps[i], priv[0], (uint64_t)i);
    }
    double t0 = flow_now();
    for (int i = 0; i < n; i++) {
        uint8_t h[32];
        bool created;
        if (!cella_ok(hub_store_order_publish(s, &d, &apps[i], 2, h, &created)))
            flow_die("publish");
    }
    double publish = n / (flow_now() - t0);

    /* matching: n requests of volume 1 against one app, dataset and pool order */
    cella_order ds, wp;
    cella_order_init(&ds, CELLA_ORDER_DATASET);
    flow_set_a(&ds, "dataset", D);
    flow_set_u(&ds, "datasetprice", 3);
    flow_set_u(&ds, "volume", (uint64_t)n);
    flow_salted_sign(&d, &ds, priv[1], 0);
    cella_order_init(&wp, CELLA_ORDER_WORKERPOOL);
    flow_set_a(&wp, "workerpool", W);
    flow_set_u(&wp, "workerpoolprice", 100);
    flow_set_u(&wp, "volume", (uint64_t)n);
    flow_salted_sign(&d, &wp, priv[2], 0);
    for (int i = 0; i < n; i++) {
        cella_order_init(&reqs[i], CELLA_ORDER_REQUEST);
        flow_set_a(&reqs[i], "app", A);
        flow_set_u(&reqs[i], "appmaxprice", 5);
        flow_set_a(&reqs[i], "dataset", D);
        flow_set_u(&reqs[i], "datasetmaxprice", 3);
        flow_set_u(&reqs[i], "workerpoolmaxprice", 100);
        flow_set_a(&reqs[i], "requester", addr[3]);
        flow_set_u(&reqs[i], "volume", 1);
        flow_salted_sign(&d, &reqs[i], priv[3], (uint64_t)i);
    }
    /* the realistic path: every order was published (its signature checked
     * then); half the requests are published first, half come inline */
    uint8_t h[32];
    bool created;
    if (!cella_ok(hub_store_order_publish(s, &d, &ds, 2, h, &created)) ||
        !cella_ok(hub_store_order_publish(s, &d, &wp, 2, h, &created)))
        flow_die("publish");
    int half = n / 2;
    for (int i = 0; i < half; i++)
        if (!cella_ok(hub_store_order_publish(s, &d, &reqs[i], 2, h, &created)))
            flow_die("publish");
    double match = 0, inline_match = 0;
    t0 = flow_now();
    for (int i = 0; i < n; i++) {
        if (i == half) {
            double t1 = flow_now();
            match = half / (t1 - t0);
            t0 = t1;
        }
        const cella_order *o[4] = {&apps[0], &ds, &wp, &reqs[i]};
        bool matched;
        hub_deal deal;
        hub_refusal why;
        if (!cella_ok(hub_store_match(s, &d, o, 3, &matched, &deal, &why)))
            flow_die("match");
        if (!matched) {
            fprintf(stderr, "bench_hub: refused: %s: %s\n", why.code, why.reason);
            return 1;
        }
    }
    inline_match = (n - half) / (flow_now() - t0);
    hub_store_close(s);
    double raw = raw_sqlite(dir, n);
    printf("publish %.0f %d\nmatch %.0f %d\nmatch_inline_request %.0f %d\nraw_sqlite %.0f %d\n",
           publish, n, match, half, inline_match, n - half, raw, n);
    printf("publish/raw %.2f match/raw %.2f match_inline_request/raw %.2f (target for matches: "
           "0.25)\n",
           publish / raw, match / raw, inline_match / raw);
    for (int i = 0; i < n; i++) {
        cella_order_free(&apps[i]);
        cella_order_free(&reqs[i]);
    }
    free(apps);
    free(reqs);
    return 0;
}
