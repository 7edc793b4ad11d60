/* The hub's store, in process (no HTTP): orders published per second and
 * matches per second, beside a raw SQLite loop (one transaction of one INSERT
 * and one UPDATE, WAL, synchronous=FULL) measured in the same run on the same
 * file system. Orders are signed before the clock starts; publication and
 * matching include their signature checks (one and four ECDSA recoveries).
 *
 *   bench_hub DIR N     prints "<name> <ops/s> <ops>" lines and the ratios:
 *     publish               app orders published (1 ECDSA recovery each)
 *     match                 matches of four published orders (signatures were
 *                           checked at publication: no ECDSA at match)
 *     match_inline_request  matches whose request order comes inline (1 ECDSA)
 *     raw_sqlite            the baseline loop
 *
 *   bench_hub http URL THREADS SECONDS DIR
 *     against a running hub (hub serve --dev-faucet): deploys an app, a dataset
 *     and a workerpool and publishes their orders (large volumes), then runs
 *     three phases of SECONDS each, THREADS clients at once on kept-alive
 *     connections:
 *       http_publish  request orders published (POST /v1/orders; each client
 *                     signs its orders as it goes, like a requester)
 *       http_match    matches of those requests (POST /v1/deals with the four
 *                     order hashes; one task each)
 *       http_claim    task claims: a worker's lease of a task (POST
 *                     /v1/tasks/ID/lease signed by the pool owner over a
 *                     fresh GET /v1/challenge, as cella worker does)
 *     each printed as "<name> <ops/s> <ops> (..)", then the raw SQLite loop
 *     run in DIR in the same run, and each phase's ratio to it.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "casapi/casapi.h"
#include "core/encoding.h"
#include "hub/store.h"
#include "identity/eip712.h"
#include "core/secure.h"
#include "identity/eth.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_hub: %s: %s (%s)\n", what, cella_error_what(), cella_error_where());
    exit(1);
}

static void set_u(cella_order *o, const char *f, uint64_t v)
{
    uint8_t w[32];
    hub_u256_from_u64(w, v);
    if (!cella_ok(cella_order_set_word(o, f, w)))
        die("set");
}

static void set_a(cella_order *o, const char *f, const uint8_t a[20])
{
    uint8_t w[32] = {0};
    memcpy(w + 12, a, 20);
    if (!cella_ok(cella_order_set_word(o, f, w)))
        die("set");
}

static void salted_sign(const cella_domain *d, cella_order *o, const uint8_t priv[32], uint64_t i)
{
    uint8_t salt[32] = {0};
    hub_u256_from_u64(salt, i + 1);
    salt[0] = 0x5a;
    if (!cella_ok(cella_order_set_word(o, "salt", salt)) ||
        !cella_ok(cella_order_sign(d, o, priv, false)))
        die("sign");
}

static double raw_sqlite(const char *dir, int n)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/raw.db", dir);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("raw open");
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
    double t0 = now();
    for (int i = 0; i < n; i++) {
        uint8_t k[32] = {0};
        memcpy(k, &i, sizeof i);
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        sqlite3_bind_blob(ins, 1, k, 32, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 2, payload, -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE || sqlite3_step(upd) != SQLITE_DONE)
            die("raw step");
        sqlite3_reset(ins);
        sqlite3_reset(upd);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    double dt = now() - t0;
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    sqlite3_close(db);
    return n / dt;
}

/* ---- over HTTP ---- */

static cella_http_client g_c;
static cella_domain g_dom;
static uint8_t g_priv[4][32], g_addr[4][20], g_res[3][20];
static char g_hash[3][67];
static double g_deadline;
static atomic_long g_errors;

/* What one phase makes and the next consumes: request hashes, then task ids. */
typedef struct {
    char (*ids)[67];
    long cap;
    atomic_long made, taken;
} id_pool;
static id_pool g_requests, g_tasks;

static void pool_init(id_pool *p, long cap)
{
    p->ids = calloc((size_t)cap, sizeof *p->ids);
    if (!p->ids)
        die("out of memory");
    p->cap = cap;
}

static void pool_put(id_pool *p, const char *id)
{
    long i = atomic_fetch_add(&p->made, 1);
    if (i < p->cap && id)
        snprintf(p->ids[i], sizeof p->ids[i], "%s", id);
}

/* The next id to consume, or NULL when none is left. */
static const char *pool_take(id_pool *p)
{
    long i = atomic_fetch_add(&p->taken, 1);
    long n = atomic_load(&p->made);
    return i < n && i < p->cap ? p->ids[i] : NULL;
}

static json_t *call_json(const char *method, const char *path, json_t *body, const uint8_t *signer)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *out = NULL;
    cella_slice b = cella_slice_of(text, strlen(text));
    cella_res r = signer ? cella_cas_signed_call(&g_c, signer, method, path, b,
                                                 "application/json", &out)
                         : cella_cas_call(&g_c, method, path, b, &out);
    free(text);
    if (!cella_ok(r)) {
        atomic_fetch_add(&g_errors, 1);
        fprintf(stderr, "bench_hub: %s: %s\n", path, cella_error_what());
        return NULL;
    }
    return out;
}

static json_t *post(const char *path, json_t *body, const uint8_t *signer)
{
    return call_json("POST", path, body, signer);
}

static void publish_fixed(int k, cella_order *o)
{
    if (!cella_ok(cella_order_sign(&g_dom, o, g_priv[k], true)))
        die("sign");
    json_t *r = post("/v1/orders", json_pack("{s:o}", cella_order_key((cella_order_kind)k),
                                             cella_order_to_json(o)),
                     NULL);
    if (!r)
        die("publish");
    snprintf(g_hash[k], sizeof g_hash[k], "%s", json_string_value(json_object_get(r, "orderHash")));
    json_decref(r);
}

/* Phase 1: publish request orders (signed here, each with a new salt). */
static void *publisher(void *arg)
{
    (void)arg;
    while (now() < g_deadline && atomic_load(&g_requests.made) < g_requests.cap) {
        cella_order q;
        cella_order_init(&q, CELLA_ORDER_REQUEST);
        set_a(&q, "app", g_res[0]);
        set_u(&q, "appmaxprice", 5);
        set_a(&q, "dataset", g_res[1]);
        set_u(&q, "datasetmaxprice", 3);
        set_u(&q, "workerpoolmaxprice", 100);
        set_a(&q, "requester", g_addr[3]);
        set_u(&q, "volume", 1);
        if (!cella_ok(cella_order_sign(&g_dom, &q, g_priv[3], true)))
            die("sign");
        json_t *r = post("/v1/orders", json_pack("{s:o}", "requestorder", cella_order_to_json(&q)),
                         NULL);
        cella_order_free(&q);
        if (r)
            pool_put(&g_requests, json_string_value(json_object_get(r, "orderHash")));
        json_decref(r);
    }
    return NULL;
}

/* Phase 2: match each published request with the fixed orders. */
static void *matcher(void *arg)
{
    (void)arg;
    const char *h;
    while (now() < g_deadline && (h = pool_take(&g_requests)) != NULL) {
        json_t *d = post("/v1/deals",
                         json_pack("{s:s, s:s, s:s, s:s}", "apporder", g_hash[0], "datasetorder",
                                   g_hash[1], "workerpoolorder", g_hash[2], "requestorder", h),
                         NULL);
        const char *tid = json_string_value(
            json_object_get(json_object_get(json_object_get(d, "deal"), "tasks"), "0"));
        if (tid)
            pool_put(&g_tasks, tid);
        json_decref(d);
    }
    return NULL;
}

/* Phase 3: claim each task as a worker does (a lease, signed by the pool owner). */
static atomic_long g_claims;
static void *claimer(void *arg)
{
    char holder[33];
    snprintf(holder, sizeof holder, "%032lx", (unsigned long)(uintptr_t)arg + 1);
    const char *tid;
    while (now() < g_deadline && (tid = pool_take(&g_tasks)) != NULL) {
        char path[128];
        snprintf(path, sizeof path, "/v1/tasks/%s/lease", tid);
        json_t *r = post(path, json_pack("{s:s, s:i}", "holder", holder, "seconds", 60), g_priv[2]);
        if (r && json_is_integer(json_object_get(r, "until")))
            atomic_fetch_add(&g_claims, 1);
        json_decref(r);
    }
    return NULL;
}

/* Runs `threads` clients of fn for `seconds` (or until their input runs
 * out); returns the ops per second: how much `counter` grew. */
static double phase(const char *name, void *(*fn)(void *), int threads, double seconds,
                    atomic_long *counter, long *ops)
{
    pthread_t th[64];
    long before = atomic_load(counter), err0 = atomic_load(&g_errors);
    double t0 = now();
    g_deadline = t0 + seconds;
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, fn, (void *)(uintptr_t)i);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double dt = now() - t0;
    *ops = atomic_load(counter) - before;
    printf("%s %.0f %ld (%d clients, %.1f s, %ld errors)\n", name, *ops / dt, *ops, threads, dt,
           (long)(atomic_load(&g_errors) - err0));
    fflush(stdout);
    return *ops / dt;
}

static int http_bench(const char *url, int threads, double seconds, const char *dir)
{
    g_c.base_url = url;
    g_c.reuse = cella_http_pool_new();
    json_t *h = NULL;
    if (!cella_ok(cella_cas_call(&g_c, "GET", "/v1/health", cella_slice_of("", 0), &h)))
        die("health");
    g_dom.chain_id = (uint64_t)json_integer_value(json_object_get(h, "chainId"));
    if (!cella_ok(cella_eth_address_parse(g_dom.hub,
                                          json_string_value(json_object_get(h, "hub")), "hub")))
        die("hub");
    json_decref(h);
    for (int i = 0; i < 4; i++) {
        if (!cella_ok(cella_random(g_priv[i], 32)) ||
            !cella_ok(cella_eth_address_from_privkey(g_priv[i], g_addr[i])))
            die("key");
    }
    static const char *const kinds[3] = {"/v1/apps", "/v1/datasets", "/v1/workerpools"};
    for (int k = 0; k < 3; k++) {
        json_t *r = post(kinds[k],
                         json_pack("{s:s, s:s, s:s}", "name", "bench", "multiaddr", "/bench",
                                   "checksum", "0x0000000000000000000000000000000000000000000000000000000000000001"),
                         g_priv[k]);
        if (!r || !cella_ok(cella_eth_address_parse(
                      g_res[k], json_string_value(json_object_get(r, "address")), "address")))
            die("deploy");
        json_decref(r);
    }
    for (int i = 2; i < 4; i++) {
        char a[43];
        cella_eth_address_checksum(a, g_addr[i]);
        json_t *r = post("/v1/accounts/deposit",
                         json_pack("{s:s, s:s}", "address", a, "amount", "1000000000000"), NULL);
        if (!r)
            die("deposit (start the hub with --dev-faucet)");
        json_decref(r);
    }
    cella_order o[3];
    static const char *const field[3] = {"app", "dataset", "workerpool"};
    static const char *const price[3] = {"appprice", "datasetprice", "workerpoolprice"};
    static const uint64_t prices[3] = {5, 3, 100};
    for (int k = 0; k < 3; k++) {
        cella_order_init(&o[k], (cella_order_kind)k);
        set_a(&o[k], field[k], g_res[k]);
        set_u(&o[k], price[k], prices[k]);
        set_u(&o[k], "volume", 1000000000);
        publish_fixed(k, &o[k]);
        cella_order_free(&o[k]);
    }
    if (threads > 64)
        threads = 64;
    if (threads < 1)
        threads = 1;
    pool_init(&g_requests, 1000000);
    pool_init(&g_tasks, 1000000);
    long np, nm, nc;
    double pub = phase("http_publish", publisher, threads, seconds, &g_requests.made, &np);
    double match = phase("http_match", matcher, threads, seconds, &g_tasks.made, &nm);
    double claim = phase("http_claim", claimer, threads, seconds, &g_claims, &nc);
    long n = np > 100 ? np : 100;
    double raw = raw_sqlite(dir, (int)n);
    printf("raw_sqlite %.0f %ld\n", raw, n);
    printf("http_publish/raw %.2f\nhttp_match/raw %.2f\nhttp_claim/raw %.2f\n", pub / raw,
           match / raw, claim / raw);
    cella_http_pool_free(g_c.reuse);
    free(g_requests.ids);
    free(g_tasks.ids);
    return atomic_load(&g_errors) ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "http"))
        return http_bench(argv[2], atoi(argv[3]), atof(argv[4]), argv[5]);
    if (argc != 3) {
        fprintf(stderr, "usage: bench_hub DIR N | bench_hub http URL THREADS SECONDS DIR\n");
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
            die("key");
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/hub.db", dir);
    hub_store *s;
    if (!cella_ok(hub_store_open(path, &s)))
        die("open");
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
            die("register");
    }
    uint64_t bal;
    if (!cella_ok(hub_store_deposit(s, addr[3], 1000000000000ULL, &bal)) ||
        !cella_ok(hub_store_deposit(s, addr[2], 1000000000000ULL, &bal)))
        die("deposit");

    /* publication: n app orders */
    cella_order *apps = calloc((size_t)n, sizeof *apps);
    cella_order *reqs = calloc((size_t)n, sizeof *reqs);
    if (!apps || !reqs)
        die("memory");
    for (int i = 0; i < n; i++) {
        cella_order_init(&apps[i], CELLA_ORDER_APP);
        set_a(&apps[i], "app", A);
        set_u(&apps[i], "appprice", 5);
        set_u(&apps[i], "volume", (uint64_t)n);
        salted_sign(&d, &apps[i], priv[0], (uint64_t)i);
    }
    double t0 = now();
    for (int i = 0; i < n; i++) {
        uint8_t h[32];
        bool created;
        if (!cella_ok(hub_store_order_publish(s, &d, &apps[i], 2, h, &created)))
            die("publish");
    }
    double publish = n / (now() - t0);

    /* matching: n requests of volume 1 against one app, dataset and pool order */
    cella_order ds, wp;
    cella_order_init(&ds, CELLA_ORDER_DATASET);
    set_a(&ds, "dataset", D);
    set_u(&ds, "datasetprice", 3);
    set_u(&ds, "volume", (uint64_t)n);
    salted_sign(&d, &ds, priv[1], 0);
    cella_order_init(&wp, CELLA_ORDER_WORKERPOOL);
    set_a(&wp, "workerpool", W);
    set_u(&wp, "workerpoolprice", 100);
    set_u(&wp, "volume", (uint64_t)n);
    salted_sign(&d, &wp, priv[2], 0);
    for (int i = 0; i < n; i++) {
        cella_order_init(&reqs[i], CELLA_ORDER_REQUEST);
        set_a(&reqs[i], "app", A);
        set_u(&reqs[i], "appmaxprice", 5);
        set_a(&reqs[i], "dataset", D);
        set_u(&reqs[i], "datasetmaxprice", 3);
        set_u(&reqs[i], "workerpoolmaxprice", 100);
        set_a(&reqs[i], "requester", addr[3]);
        set_u(&reqs[i], "volume", 1);
        salted_sign(&d, &reqs[i], priv[3], (uint64_t)i);
    }
    /* the realistic path: every order was published (its signature checked
     * then); half the requests are published first, half come inline */
    uint8_t h[32];
    bool created;
    if (!cella_ok(hub_store_order_publish(s, &d, &ds, 2, h, &created)) ||
        !cella_ok(hub_store_order_publish(s, &d, &wp, 2, h, &created)))
        die("publish");
    int half = n / 2;
    for (int i = 0; i < half; i++)
        if (!cella_ok(hub_store_order_publish(s, &d, &reqs[i], 2, h, &created)))
            die("publish");
    double match = 0, inline_match = 0;
    t0 = now();
    for (int i = 0; i < n; i++) {
        if (i == half) {
            double t1 = now();
            match = half / (t1 - t0);
            t0 = t1;
        }
        const cella_order *o[4] = {&apps[0], &ds, &wp, &reqs[i]};
        bool matched;
        hub_deal deal;
        hub_refusal why;
        if (!cella_ok(hub_store_match(s, &d, o, 3, &matched, &deal, &why)))
            die("match");
        if (!matched) {
            fprintf(stderr, "bench_hub: refused: %s: %s\n", why.code, why.reason);
            return 1;
        }
    }
    inline_match = (n - half) / (now() - t0);
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
