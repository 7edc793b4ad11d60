/* cella hub serve; app|dataset|workerpool deploy|show|count; order
 * publish|book|show|cancel|fill; deal show; task
 * show|list|watch|debug|authorize|contribute|reveal|finalize|reopen|claim;
 * account show|deposit|withdraw.
 * The client side of docs/hub-api.md. */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "casapi/casapi.h"
#include "commands.h"
#include "project.h"
#include "task_watch.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"
#include "hub/hub.h"
#include "hub/store.h"
#include "hub/task.h"
#include "crypto/aead.h"
#include "identity/eip712.h"
#include "identity/eth.h"
#include "identity/wallet.h"
#include "net/http_client.h"

#define NOPTS(o) ((int)(sizeof(o) / sizeof((o)[0])))
#define PROJECT_CONF "cella.json"
#define ORDERS_FILE "orders.json"
#define DEFAULT_HUB_URL "http://127.0.0.1:8080"
#define DEFAULT_CHAIN 421614
#define DEFAULT_HUB_ADDRESS "0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E"

/* Where the hub is: every client verb takes these. */
#define HUB_URL_OPTS {"hub-url", true, NULL}, { "hub-fingerprint", true, NULL }
/* ... and the signing wallet. */
#define HUB_CONN_OPTS                                                                             \
    HUB_URL_OPTS, {"wallet-file", true, NULL}, { "password-file", true, NULL }

typedef struct {
    cli_hub hub;
    uint8_t *priv; /* secure memory, NULL until loaded */
    uint8_t addr[20];
} hub_conn;

static cella_res read_json_file_max(const char *path, size_t max, json_t **out)
{
    uint8_t *data;
    size_t len;
    CELLA_TRY(cella_read_file(AT_FDCWD, path, max, false, &data, &len));
    json_error_t je;
    *out = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &je);
    free(data);
    if (*out && !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
    }
    CELLA_ENSURE(*out, CELLA_E_PARSE, path, "not a JSON object%s%s", je.text[0] ? ": " : "",
                 je.text);
    return CELLA_OK_RES;
}

static cella_res read_json_file(const char *path, json_t **out)
{
    return read_json_file_max(path, CELLA_ORDER_MAX_JSON, out);
}

/* --hub-url, else cella.json "hubUrl", else http://127.0.0.1:8080; an
 * https:// hub pinned by --hub-fingerprint, else "hubFingerprint". */
static cella_res conn_open(hub_conn *c, const cli_opt *o, int n)
{
    memset(c, 0, sizeof *c);
    return cli_hub_open(o, n, &c->hub);
}

static cella_res conn_wallet(hub_conn *c, const cli_opt *o, int n)
{
    c->priv = cella_secure_alloc(32);
    CELLA_ENSURE(c->priv, CELLA_E_NOMEM, "wallet", "out of memory");
    return cella_wallet_open(cli_get(o, n, "wallet-file"), cli_get(o, n, "password-file"), c->priv,
                             c->addr, NULL, 0);
}

static void conn_close(hub_conn *c)
{
    if (c->priv)
        cella_secure_free(c->priv, 32);
    c->priv = NULL;
}

static cella_res call(hub_conn *c, const char *method, const char *path, const json_t *body,
                      bool sign, json_t **out)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    CELLA_ENSURE(!body || text, CELLA_E_NOMEM, path, "out of memory");
    cella_slice b = cella_slice_of(text ? text : "", text ? strlen(text) : 0);
    cella_res r = sign ? cella_cas_signed_call(&c->hub.http, c->priv, method, path, b,
                                               "application/json", out)
                       : cella_cas_call(&c->hub.http, method, path, b, out);
    free(text);
    return r;
}

static void print_json(const json_t *j)
{
    char *t = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (t)
        printf("%s\n", t);
    free(t);
}

/* GET path from the hub (--hub-url) and print the reply. */
static cella_res get_print(const cli_opt *o, int n, const char *path)
{
    hub_conn c;
    json_t *reply = NULL;
    CELLA_TRY(conn_open(&c, o, n));
    cella_res r = call(&c, "GET", path, NULL, false, &reply);
    if (cella_ok(r))
        print_json(reply);
    json_decref(reply);
    return r;
}

/* ---- hub serve ---- */

static cella_res parse_u64(const char *s, const char *what, uint64_t *out)
{
    uint8_t w[32];
    CELLA_TRY(cella_u256_parse(s, w, what));
    CELLA_ENSURE(hub_u256_to_u64(w, out), CELLA_E_USAGE, what, "too large");
    return CELLA_OK_RES;
}

static int hub_serve_cmd(int argc, char **argv)
{
    cli_opt o[] = {{"listen", true, NULL},      {"data", true, NULL},
                   {"chain-id", true, NULL},    {"hub-address", true, NULL},
                   {"dev-faucet", false, NULL}, {"threads", true, NULL},
                   {"dev-timeref", true, NULL}, {"tls", false, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "hub serve");
    hub_options ho = {.listen = cli_get(o, NOPTS(o), "listen"),
                      .data_dir = cli_get(o, NOPTS(o), "data"),
                      .chain_id = DEFAULT_CHAIN,
                      .dev_faucet = cli_get(o, NOPTS(o), "dev-faucet") != NULL,
                      .tls = cli_get(o, NOPTS(o), "tls") != NULL};
    if (!ho.data_dir)
        ho.data_dir = "hub-data";
    const char *c = cli_get(o, NOPTS(o), "chain-id"), *h = cli_get(o, NOPTS(o), "hub-address");
    if (cella_ok(r) && c)
        r = parse_u64(c, "--chain-id", &ho.chain_id);
    if (cella_ok(r) && !ho.chain_id)
        r = cella_fail(CELLA_E_USAGE, "--chain-id", "must be positive");
    if (cella_ok(r))
        r = cella_eth_address_parse(ho.hub, h ? h : DEFAULT_HUB_ADDRESS, "--hub-address");
    const char *th = cli_get(o, NOPTS(o), "threads");
    if (cella_ok(r) && th) {
        unsigned long long v;
        r = cli_parse_size(th, "--threads", &v);
        if (cella_ok(r) && (v == 0 || v > 256))
            r = cella_fail(CELLA_E_USAGE, "--threads", "between 1 and 256");
        ho.threads = (unsigned)v;
    }
    const char *tr = cli_get(o, NOPTS(o), "dev-timeref");
    if (cella_ok(r) && tr) {
        r = parse_u64(tr, "--dev-timeref", &ho.dev_timeref);
        if (cella_ok(r) && (ho.dev_timeref == 0 || ho.dev_timeref > 36000))
            r = cella_fail(CELLA_E_USAGE, "--dev-timeref", "between 1 and 36000 seconds");
    }
    if (cella_ok(r))
        r = hub_serve(&ho);
    return cli_report(r);
}

/* A request to the hub as given, signed when a wallet is named; prints the
 * JSON reply (for debugging, and the tests of signed endpoints). */
static int hub_call_cmd(int argc, char **argv)
{
    cli_opt o[] = {HUB_CONN_OPTS, {"data", true, NULL}};
    const char *pos[2];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 2, &np, "hub call");
    if (cella_ok(r) && (np != 2 || pos[1][0] != '/'))
        r = cella_fail(CELLA_E_USAGE, "hub call",
                       "usage: cella hub call METHOD /PATH [--data JSON|@FILE] [--wallet-file F]");
    const char *data = cli_get(o, NOPTS(o), "data");
    json_t *body = NULL, *reply = NULL;
    if (cella_ok(r) && data && data[0] == '@') {
        r = read_json_file_max(data + 1, (size_t)16 << 20, &body);
    } else if (cella_ok(r) && data) {
        json_error_t je;
        body = json_loads(data, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(body))
            r = cella_fail(CELLA_E_USAGE, "--data", "not a JSON object%s%s",
                           je.text[0] ? ": " : "", je.text);
    }
    hub_conn c;
    memset(&c, 0, sizeof c);
    bool sign = cli_get(o, NOPTS(o), "wallet-file") != NULL;
    if (cella_ok(r))
        r = conn_open(&c, o, NOPTS(o));
    if (cella_ok(r) && sign)
        r = conn_wallet(&c, o, NOPTS(o));
    if (cella_ok(r))
        r = call(&c, pos[0], pos[1], body, sign, &reply);
    if (cella_ok(r))
        print_json(reply);
    json_decref(body);
    json_decref(reply);
    conn_close(&c);
    return cli_report(r);
}

/* ---- registries ---- */

static int deploy_kind(int argc, char **argv, hub_kind k)
{
    cli_opt o[] = {HUB_CONN_OPTS,
                   {"file", true, NULL},
                   {"name", true, NULL},
                   {"multiaddr", true, NULL},
                   {"checksum", true, NULL},
                   {"measurement", true, NULL}};
    static const char *const fields[] = {"name", "multiaddr", "checksum", "measurement"};
    const char *pos[1];
    int np;
    char verb[64];
    snprintf(verb, sizeof verb, "%s deploy", hub_kind_name(k));
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, verb);
    const char *file = cli_get(o, NOPTS(o), "file");
    struct stat st;
    json_t *conf = NULL, *reply = NULL, *obj = NULL;
    hub_conn c;
    memset(&c, 0, sizeof c);
    /* The object of cella.json (iexec.json's shape), with the flags on top. */
    bool flags = false;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        flags |= cli_get(o, NOPTS(o), fields[i]) != NULL;
    if (cella_ok(r) && (file || !flags || stat(PROJECT_CONF, &st) == 0))
        r = read_json_file(file ? file : PROJECT_CONF, &conf);
    if (cella_ok(r)) {
        const json_t *in = conf ? json_object_get(conf, hub_kind_name(k)) : NULL;
        obj = json_is_object(in) ? json_deep_copy(in) : flags ? json_object() : NULL;
        if (!obj)
            r = cella_fail(CELLA_E_NOTFOUND, file ? file : PROJECT_CONF,
                           "no \"%s\" object to deploy (or give --name, --multiaddr, --checksum)",
                           hub_kind_name(k));
    }
    for (size_t i = 0; cella_ok(r) && i < sizeof fields / sizeof *fields; i++) {
        const char *v = cli_get(o, NOPTS(o), fields[i]);
        if (v && json_object_set_new(obj, fields[i], json_string(v)) != 0)
            r = cella_fail(CELLA_E_NOMEM, verb, "out of memory");
    }
    if (cella_ok(r))
        r = conn_open(&c, o, NOPTS(o));
    if (cella_ok(r))
        r = conn_wallet(&c, o, NOPTS(o));
    char path[64];
    snprintf(path, sizeof path, "/v1/%ss", hub_kind_name(k));
    if (cella_ok(r))
        r = call(&c, "POST", path, obj, true, &reply);
    const char *addr = cella_ok(r) ? json_string_value(json_object_get(reply, "address")) : NULL;
    /* Recorded under "deployed" for `cella order init`, as the SDK's deployed.json. */
    json_t *proj = NULL;
    if (addr && !file && cella_ok(r = cli_project_load(&proj))) {
        json_t *d = json_object_get(proj, "deployed");
        if (!json_is_object(d)) {
            d = json_object();
            json_object_set_new(proj, "deployed", d);
        }
        r = d && json_object_set_new(d, hub_kind_name(k), json_string(addr)) == 0
                ? cli_project_save(proj)
                : cella_fail(CELLA_E_NOMEM, PROJECT_CONF, "out of memory");
    }
    if (cella_ok(r)) {
        printf("%s\n", addr);
        fprintf(stderr, "cella: %s %s\n", hub_kind_name(k),
                json_is_true(json_object_get(reply, "created")) ? "deployed"
                                                               : "already deployed (same address)");
    }
    json_decref(proj);
    json_decref(obj);
    json_decref(reply);
    json_decref(conf);
    conn_close(&c);
    return cli_report(r);
}

static int app_deploy(int argc, char **argv) { return deploy_kind(argc, argv, HUB_APP); }
static int dataset_deploy(int argc, char **argv) { return deploy_kind(argc, argv, HUB_DATASET); }
static int workerpool_deploy(int argc, char **argv)
{
    return deploy_kind(argc, argv, HUB_WORKERPOOL);
}

static int show_kind(int argc, char **argv, hub_kind k)
{
    cli_opt o[] = {HUB_URL_OPTS};
    const char *pos[1];
    int np;
    char verb[64];
    snprintf(verb, sizeof verb, "%s show", hub_kind_name(k));
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, verb);
    uint8_t a[20];
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, verb, "usage: cella %s show ADDRESS", hub_kind_name(k));
    if (cella_ok(r))
        r = cella_eth_address_parse(a, pos[0], "address");
    hub_conn c;
    json_t *reply = NULL;
    if (cella_ok(r))
        r = conn_open(&c, o, NOPTS(o));
    char path[128], at[43];
    if (cella_ok(r)) {
        cella_eth_address_checksum(at, a);
        snprintf(path, sizeof path, "/v1/%ss/%s", hub_kind_name(k), at);
        r = call(&c, "GET", path, NULL, false, &reply);
    }
    if (cella_ok(r))
        print_json(reply);
    json_decref(reply);
    return cli_report(r);
}

static int app_show(int argc, char **argv) { return show_kind(argc, argv, HUB_APP); }
static int dataset_show(int argc, char **argv) { return show_kind(argc, argv, HUB_DATASET); }
static int workerpool_show(int argc, char **argv) { return show_kind(argc, argv, HUB_WORKERPOOL); }

static int count_kind(int argc, char **argv, hub_kind k)
{
    cli_opt o[] = {HUB_URL_OPTS, {"owner", true, NULL}};
    const char *pos[1];
    int np;
    char verb[64];
    snprintf(verb, sizeof verb, "%s count", hub_kind_name(k));
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, verb);
    const char *owner = cli_get(o, NOPTS(o), "owner");
    uint8_t a[20];
    if (cella_ok(r) && owner)
        r = cella_eth_address_parse(a, owner, "--owner");
    hub_conn c;
    json_t *reply = NULL;
    if (cella_ok(r))
        r = conn_open(&c, o, NOPTS(o));
    char path[160], at[43];
    if (cella_ok(r)) {
        if (owner) {
            cella_eth_address_checksum(at, a);
            snprintf(path, sizeof path, "/v1/%ss/count?owner=%s", hub_kind_name(k), at);
        } else
            snprintf(path, sizeof path, "/v1/%ss/count", hub_kind_name(k));
        r = call(&c, "GET", path, NULL, false, &reply);
    }
    if (cella_ok(r))
        printf("%lld\n", (long long)json_integer_value(json_object_get(reply, "count")));
    json_decref(reply);
    return cli_report(r);
}

static int app_count(int argc, char **argv) { return count_kind(argc, argv, HUB_APP); }
static int dataset_count(int argc, char **argv) { return count_kind(argc, argv, HUB_DATASET); }
static int workerpool_count(int argc, char **argv)
{
    return count_kind(argc, argv, HUB_WORKERPOOL);
}

/* ---- orders ---- */

/* The signed orders of a file: orders.json as `cella order sign` (and the SDK)
 * writes it, or an object keyed apporder/..., or one order. */
static cella_res load_orders(const char *path, cella_order_set *set)
{
    uint8_t *data;
    size_t len;
    uint64_t chain = 0;
    CELLA_TRY(cella_read_file(AT_FDCWD, path, CELLA_ORDER_MAX_JSON, false, &data, &len));
    cella_res r = cella_orders_parse(data, len, false, &chain, set);
    free(data);
    if (!cella_ok(r)) {
        char where[600];
        snprintf(where, sizeof where, "%s: %s", path, cella_error_where());
        cella_error_set_where(where);
    }
    return r;
}

static int order_publish(int argc, char **argv)
{
    cli_opt o[] = {HUB_URL_OPTS,     {"file", true, NULL},
                   {"app", false, NULL},        {"dataset", false, NULL},
                   {"workerpool", false, NULL}, {"request", false, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "order publish");
    bool chosen[CELLA_ORDER__COUNT] = {
        cli_get(o, NOPTS(o), "app") != NULL, cli_get(o, NOPTS(o), "dataset") != NULL,
        cli_get(o, NOPTS(o), "workerpool") != NULL, cli_get(o, NOPTS(o), "request") != NULL};
    if (cella_ok(r) && !(chosen[0] || chosen[1] || chosen[2] || chosen[3]))
        r = cella_fail(CELLA_E_USAGE, "order publish",
                       "choose what to publish: --app, --dataset, --workerpool and/or --request");
    const char *file = cli_get(o, NOPTS(o), "file");
    if (!file)
        file = ORDERS_FILE;
    cella_order_set set;
    memset(&set, 0, sizeof set);
    if (cella_ok(r))
        r = load_orders(file, &set);
    for (int k = 0; cella_ok(r) && k < CELLA_ORDER__COUNT; k++)
        if (chosen[k] && !set.present[k])
            r = cella_fail(CELLA_E_NOTFOUND, file, "no signed %s in this file (cella order sign)",
                           cella_order_key((cella_order_kind)k));
    hub_conn c;
    if (cella_ok(r))
        r = conn_open(&c, o, NOPTS(o));
    /* all or nothing on stdout: print the hashes once every order is in */
    char lines[CELLA_ORDER__COUNT][128] = {{0}};
    for (int k = 0; cella_ok(r) && k < CELLA_ORDER__COUNT; k++) {
        if (!chosen[k])
            continue;
        json_t *oj = cella_order_to_json(&set.o[k]);
        json_t *body = oj ? json_pack("{s:o}", cella_order_key((cella_order_kind)k), oj) : NULL;
        json_t *reply = NULL;
        r = body ? call(&c, "POST", "/v1/orders", body, false, &reply)
                 : cella_fail(CELLA_E_NOMEM, "order", "out of memory");
        if (cella_ok(r))
            snprintf(lines[k], sizeof lines[k], "%s %s", cella_order_key((cella_order_kind)k),
                     json_string_value(json_object_get(reply, "orderHash")));
        json_decref(body);
        json_decref(reply);
    }
    if (cella_ok(r))
        for (int k = 0; k < CELLA_ORDER__COUNT; k++)
            if (chosen[k])
                printf("%s\n", lines[k]);
    cella_order_set_free(&set);
    return cli_report(r);
}

static int order_book(int argc, char **argv)
{
    cli_opt o[] = {HUB_URL_OPTS,    {"kind", true, NULL},     {"app", true, NULL},
                   {"dataset", true, NULL},    {"workerpool", true, NULL}, {"requester", true, NULL},
                   {"tag", true, NULL},        {"category", true, NULL}, {"maxprice", true, NULL},
                   {"all", false, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "order book");
    char path[1024] = "/v1/orders";
    size_t used = strlen(path);
    static const char *const keys[] = {"kind", "app", "dataset", "workerpool", "requester",
                                       "tag", "category", "maxprice"};
    for (size_t i = 0; cella_ok(r) && i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = cli_get(o, NOPTS(o), keys[i]);
        if (!v)
            continue;
        for (const char *p = v; *p; p++)
            if (!(*p == ',' || *p == '_' || (*p >= '0' && *p <= '9') ||
                  (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
                r = cella_fail(CELLA_E_USAGE, keys[i], "unexpected character in the value");
        int n = snprintf(path + used, sizeof path - used, "%c%s=%s", used == 10 ? '?' : '&',
                         !strcmp(keys[i], "tag") ? "mintag" : keys[i], v);
        if (n < 0 || (size_t)n >= sizeof path - used)
            r = cella_fail(CELLA_E_USAGE, keys[i], "too long");
        else
            used += (size_t)n;
    }
    if (cella_ok(r) && cli_get(o, NOPTS(o), "all"))
        snprintf(path + used, sizeof path - used, "%call=1", used == 10 ? '?' : '&');
    if (cella_ok(r))
        r = get_print(o, NOPTS(o), path);
    return cli_report(r);
}

static cella_res hash_arg(const char *s, const char *what, char out[67])
{
    uint8_t h[32];
    CELLA_TRY(cella_hex_decode(h, 32, s, strlen(s), what));
    out[0] = '0';
    out[1] = 'x';
    cella_hex_encode(out + 2, h, 32, false);
    return CELLA_OK_RES;
}

/* GET /v1/<what>/<ID> and print it. */
static int show_by_id(int argc, char **argv, const char *verb, const char *what)
{
    cli_opt o[] = {HUB_URL_OPTS};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, verb);
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, verb, "usage: cella %s ID", verb);
    char id[67], path[128];
    if (cella_ok(r))
        r = hash_arg(pos[0], "id", id);
    if (cella_ok(r)) {
        snprintf(path, sizeof path, "/v1/%s/%s", what, id);
        r = get_print(o, NOPTS(o), path);
    }
    return cli_report(r);
}

static int order_show(int argc, char **argv) { return show_by_id(argc, argv, "order show", "orders"); }
static int deal_show(int argc, char **argv) { return show_by_id(argc, argv, "deal show", "deals"); }
static int task_show(int argc, char **argv) { return show_by_id(argc, argv, "task show", "tasks"); }

/* A verb of one argument (*arg), signed by the wallet: the hub connection
 * and the wallet opened in c (conn_close it in any case). */
static cella_res signed_one_arg(int argc, char **argv, const char *verb, const char *usage,
                                hub_conn *c, const char **arg)
{
    cli_opt o[] = {HUB_CONN_OPTS};
    const char *pos[1];
    int np;
    memset(c, 0, sizeof *c);
    CELLA_TRY(cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, verb));
    CELLA_ENSURE(np == 1, CELLA_E_USAGE, verb, "usage: cella %s", usage);
    *arg = pos[0];
    CELLA_TRY(conn_open(c, o, NOPTS(o)));
    return conn_wallet(c, o, NOPTS(o));
}

static int order_cancel(int argc, char **argv)
{
    hub_conn c;
    const char *arg = NULL;
    char id[67];
    cella_res r = signed_one_arg(argc, argv, "order cancel",
                                 "order cancel ORDERHASH --wallet-file F", &c, &arg);
    if (cella_ok(r))
        r = hash_arg(arg, "order hash", id);
    json_t *reply = NULL, *body = NULL;
    if (cella_ok(r)) {
        body = json_pack("{s:s}", "orderHash", id);
        r = call(&c, "POST", "/v1/orders/cancel", body, true, &reply);
    }
    if (cella_ok(r))
        printf("%s cancelled\n", id);
    json_decref(body);
    json_decref(reply);
    conn_close(&c);
    return cli_report(r);
}

/* The cheapest open order of the book for a query, as its hash (NULL: none). */
static cella_res best_order(hub_conn *c, const char *query, json_t **hash)
{
    json_t *reply = NULL;
    char path[512];
    snprintf(path, sizeof path, "/v1/orders?%s&limit=1", query);
    CELLA_TRY(call(c, "GET", path, NULL, false, &reply));
    json_t *first = json_array_get(json_object_get(reply, "orders"), 0);
    *hash = first ? json_incref(json_object_get(first, "orderHash")) : NULL;
    json_decref(reply);
    return CELLA_OK_RES;
}

static void addr_of(const cella_order *o, const char *field, char out[43], bool *zero)
{
    uint8_t w[32];
    hub_order_field(o, field, w);
    *zero = hub_u256_is_zero(w);
    cella_eth_address_checksum(out, w + 12);
}

static int order_fill(int argc, char **argv)
{
    cli_opt o[] = {HUB_URL_OPTS, {"file", true, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "order fill");
    const char *file = cli_get(o, NOPTS(o), "file");
    if (!file)
        file = ORDERS_FILE;
    cella_order_set set;
    memset(&set, 0, sizeof set);
    if (cella_ok(r))
        r = load_orders(file, &set);
    if (cella_ok(r) && !set.present[CELLA_ORDER_REQUEST])
        r = cella_fail(CELLA_E_NOTFOUND, file, "no signed requestorder to fill");
    hub_conn c;
    if (cella_ok(r))
        r = conn_open(&c, o, NOPTS(o));
    json_t *body = cella_ok(r) ? json_object() : NULL;
    const cella_order *req = &set.o[CELLA_ORDER_REQUEST];
    char app[43], ds[43], wp[43];
    bool app0, ds0, wp0;
    if (cella_ok(r)) {
        addr_of(req, "app", app, &app0);
        addr_of(req, "dataset", ds, &ds0);
        addr_of(req, "workerpool", wp, &wp0);
    }
    for (int k = 0; cella_ok(r) && k < CELLA_ORDER__COUNT; k++) {
        const char *key = cella_order_key((cella_order_kind)k);
        json_t *v = NULL;
        if (set.present[k]) {
            v = cella_order_to_json(&set.o[k]);
        } else if (k == CELLA_ORDER_DATASET && ds0) {
            continue;
        } else {
            /* the cheapest published order that the request can use */
            char q[400], cat[80];
            uint8_t w[32];
            hub_order_field(req, "category", w);
            cella_u256_format(w, cat);
            if (k == CELLA_ORDER_APP)
                snprintf(q, sizeof q, "kind=apporder&app=%s", app);
            else if (k == CELLA_ORDER_DATASET)
                snprintf(q, sizeof q, "kind=datasetorder&dataset=%s", ds);
            else if (wp0)
                snprintf(q, sizeof q, "kind=workerpoolorder&category=%s", cat);
            else
                snprintf(q, sizeof q, "kind=workerpoolorder&category=%s&workerpool=%s", cat, wp);
            r = best_order(&c, q, &v);
            if (cella_ok(r) && !v)
                r = cella_fail(CELLA_E_NOTFOUND, key, "no open %s on the hub for this request",
                               key);
        }
        if (cella_ok(r))
            r = v && !json_object_set_new(body, key, v)
                    ? CELLA_OK_RES
                    : cella_fail(CELLA_E_NOMEM, key, "out of memory");
    }
    json_t *reply = NULL;
    if (cella_ok(r))
        r = call(&c, "POST", "/v1/deals", body, false, &reply);
    if (cella_ok(r)) {
        json_t *deal = json_object_get(reply, "deal");
        printf("deal %s\n", json_string_value(json_object_get(reply, "dealid")));
        const char *key;
        json_t *tid;
        json_object_foreach(json_object_get(deal, "tasks"), key, tid) {
            printf("task %s %s\n", key, json_string_value(tid));
        }
    }
    json_decref(reply);
    json_decref(body);
    cella_order_set_free(&set);
    return cli_report(r);
}

/* ---- tasks ---- */

static void sig_hex(const uint8_t sig[65], char out[133])
{
    out[0] = '0';
    out[1] = 'x';
    cella_hex_encode(out + 2, sig, 65, false);
}

/* The workerpool owner authorizes a worker (offline): EIP-191 signature of
 * keccak256(worker || taskid || enclaveChallenge). */
static int task_authorize(int argc, char **argv)
{
    cli_opt o[] = {{"worker", true, NULL}, {"enclave-challenge", true, NULL},
                   {"wallet-file", true, NULL}, {"password-file", true, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "task authorize");
    if (cella_ok(r) && (np != 1 || !cli_get(o, NOPTS(o), "worker")))
        r = cella_fail(CELLA_E_USAGE, "task authorize",
                       "usage: cella task authorize TASKID --worker 0xADDR "
                       "[--enclave-challenge 0xADDR] --wallet-file F");
    uint8_t taskid[32], worker[20], challenge[20] = {0}, h[32], sig[65];
    const char *ch = cli_get(o, NOPTS(o), "enclave-challenge");
    if (cella_ok(r))
        r = cella_hex_decode(taskid, 32, pos[0], strlen(pos[0]), "task id");
    if (cella_ok(r))
        r = cella_eth_address_parse(worker, cli_get(o, NOPTS(o), "worker"), "--worker");
    if (cella_ok(r) && ch)
        r = cella_eth_address_parse(challenge, ch, "--enclave-challenge");
    hub_conn c;
    memset(&c, 0, sizeof c);
    if (cella_ok(r))
        r = conn_wallet(&c, o, NOPTS(o));
    if (cella_ok(r)) {
        hub_authorization_hash(worker, taskid, challenge, h);
        r = cella_eth_personal_sign(c.priv, h, 32, sig);
    }
    if (cella_ok(r)) {
        char t[133];
        sig_hex(sig, t);
        printf("%s\n", t);
    }
    conn_close(&c);
    return cli_report(r);
}

/* POST /v1/tasks/<id>/<verb> with `body` (taken; NULL: none), signed by the
 * wallet if `sign`, unless r already failed; prints "<id> <status>", closes c
 * and reports. */
static int task_post(cella_res r, hub_conn *c, const char *id, const char *verb, json_t *body,
                     bool sign)
{
    json_t *reply = NULL;
    if (cella_ok(r)) {
        char path[160];
        snprintf(path, sizeof path, "/v1/tasks/%s/%s", id, verb);
        r = call(c, "POST", path, body, sign, &reply);
    }
    if (cella_ok(r))
        printf("%s %s\n", id, json_string_value(json_object_get(reply, "status")));
    json_decref(body);
    json_decref(reply);
    conn_close(c);
    return cli_report(r);
}

/* The result digest: --digest 0x.., or sha256 of the --result file. */
static cella_res digest_arg(const char *dg, const char *res, uint8_t digest[32])
{
    if (dg)
        return cella_hex_decode(digest, 32, dg, strlen(dg), "--digest");
    /* resultDigest = sha256 of the deterministic output file */
    uint8_t *data;
    size_t len;
    CELLA_TRY(cella_read_file(AT_FDCWD, res, (size_t)1 << 30, false, &data, &len));
    cella_res r = cella_sha256(digest, data, len);
    free(data);
    return r;
}

static void hex32(const uint8_t b[32], char out[67])
{
    out[0] = '0';
    out[1] = 'x';
    cella_hex_encode(out + 2, b, 32, false);
}

/* contributeAndFinalize (trust 1), or with --no-finalize PoCo's contribute:
 * resultHash and resultSeal are computed here, the digest is not sent. */
static int task_contribute(int argc, char **argv)
{
    cli_opt o[] = {HUB_CONN_OPTS,
                   {"digest", true, NULL},
                   {"result", true, NULL},
                   {"authorization", true, NULL},
                   {"enclave-challenge", true, NULL},
                   {"enclave-sign", true, NULL},
                   {"results", true, NULL},
                   {"no-finalize", false, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "task contribute");
    const char *dg = cli_get(o, NOPTS(o), "digest"), *res = cli_get(o, NOPTS(o), "result"),
               *au = cli_get(o, NOPTS(o), "authorization"), *rs = cli_get(o, NOPTS(o), "results");
    bool sealed = cli_get(o, NOPTS(o), "no-finalize") != NULL;
    if (cella_ok(r) && (np != 1 || !au || !dg == !res))
        r = cella_fail(CELLA_E_USAGE, "task contribute",
                       "usage: cella task contribute TASKID --digest 0xSHA256|--result FILE "
                       "--authorization 0xSIG [--enclave-challenge 0xADDR --enclave-sign 0xSIG] "
                       "[--no-finalize] --wallet-file WORKER");
    if (cella_ok(r) && sealed && rs)
        r = cella_fail(CELLA_E_USAGE, "--results",
                       "with --no-finalize, the pool owner gives --results to task finalize");
    uint8_t taskid[32], digest[32];
    if (cella_ok(r))
        r = cella_hex_decode(taskid, 32, pos[0], strlen(pos[0]), "task id");
    if (cella_ok(r))
        r = digest_arg(dg, res, digest);
    char tid[67], dhex[67];
    json_t *body = NULL;
    hub_conn c;
    memset(&c, 0, sizeof c);
    if (cella_ok(r))
        r = conn_open(&c, o, NOPTS(o));
    if (cella_ok(r))
        r = conn_wallet(&c, o, NOPTS(o));
    if (cella_ok(r)) {
        hex32(taskid, tid);
        if (sealed) {
            uint8_t h[32], sl[32];
            char hh[67], sh[67];
            hub_result_hash(taskid, digest, h);
            hub_result_seal(c.addr, taskid, digest, sl);
            hex32(h, hh);
            hex32(sl, sh);
            body = json_pack("{s:s, s:s, s:s}", "resultHash", hh, "resultSeal", sh,
                             "authorizationSign", au);
        } else {
            hex32(digest, dhex);
            body = json_pack("{s:s, s:s}", "resultDigest", dhex, "authorizationSign", au);
        }
        const char *ch = cli_get(o, NOPTS(o), "enclave-challenge"),
                   *es = cli_get(o, NOPTS(o), "enclave-sign");
        if (body && ch)
            json_object_set_new(body, "enclaveChallenge", json_string(ch));
        if (body && es)
            json_object_set_new(body, "enclaveSign", json_string(es));
        if (body && rs)
            json_object_set_new(body, "results", json_string(rs));
        if (!body)
            r = cella_fail(CELLA_E_NOMEM, "task", "out of memory");
    }
    return task_post(r, &c, tid, sealed ? "contribute" : "contribute-and-finalize", body, true);
}

/* PoCo reveal (the worker), finalize and reopen (the pool owner). */
static int task_consensus_verb(int argc, char **argv, const char *verb)
{
    cli_opt o[] = {HUB_CONN_OPTS, {"digest", true, NULL}, {"result", true, NULL},
                   {"results", true, NULL}};
    const char *pos[1];
    int np;
    char cmd[32];
    snprintf(cmd, sizeof cmd, "task %s", verb);
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, cmd);
    const char *dg = cli_get(o, NOPTS(o), "digest"), *res = cli_get(o, NOPTS(o), "result"),
               *rs = cli_get(o, NOPTS(o), "results");
    bool reveal = !strcmp(verb, "reveal"), finalize = !strcmp(verb, "finalize");
    if (cella_ok(r) && (np != 1 || (reveal ? !dg == !res : dg || res) || (rs && !finalize)))
        r = cella_fail(CELLA_E_USAGE, cmd, "usage: cella %s", reveal
                           ? "task reveal TASKID --digest 0xSHA256|--result FILE --wallet-file WORKER"
                       : finalize ? "task finalize TASKID [--results URL] --wallet-file POOL_OWNER"
                                  : "task reopen TASKID --wallet-file POOL_OWNER");
    uint8_t digest[32];
    char id[67];
    if (cella_ok(r))
        r = hash_arg(pos[0], "task id", id);
    if (cella_ok(r) && reveal)
        r = digest_arg(dg, res, digest);
    json_t *body = json_object();
    if (cella_ok(r) && !body)
        r = cella_fail(CELLA_E_NOMEM, cmd, "out of memory");
    if (cella_ok(r) && reveal) {
        char dhex[67];
        hex32(digest, dhex);
        json_object_set_new(body, "resultDigest", json_string(dhex));
    }
    if (cella_ok(r) && rs)
        json_object_set_new(body, "results", json_string(rs));
    hub_conn c;
    memset(&c, 0, sizeof c);
    if (cella_ok(r))
        r = conn_open(&c, o, NOPTS(o));
    if (cella_ok(r))
        r = conn_wallet(&c, o, NOPTS(o));
    return task_post(r, &c, id, verb, body, true);
}
static int task_reveal(int argc, char **argv) { return task_consensus_verb(argc, argv, "reveal"); }
static int task_finalize(int argc, char **argv)
{
    return task_consensus_verb(argc, argv, "finalize");
}
static int task_reopen(int argc, char **argv) { return task_consensus_verb(argc, argv, "reopen"); }

/* GET /v1/tasks?workerpool=..[&runnable=1][&status=S][&limit=N] */
static int task_list(int argc, char **argv)
{
    cli_opt o[] = {HUB_URL_OPTS, {"workerpool", true, NULL},
                   {"runnable", false, NULL}, {"status", true, NULL},
                   {"limit", true, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "task list");
    const char *wp = cli_get(o, NOPTS(o), "workerpool"), *st = cli_get(o, NOPTS(o), "status"),
               *lim = cli_get(o, NOPTS(o), "limit");
    if (cella_ok(r) && !wp)
        r = cella_fail(CELLA_E_USAGE, "task list",
                       "usage: cella task list --workerpool 0xADDR [--runnable] [--status S] "
                       "[--limit N]");
    uint8_t a[20];
    unsigned long long n = 0;
    if (cella_ok(r))
        r = cella_eth_address_parse(a, wp, "--workerpool");
    if (cella_ok(r) && st && strcmp(st, "ACTIVE") && strcmp(st, "REVEALING") &&
        strcmp(st, "COMPLETED") && strcmp(st, "FAILED"))
        r = cella_fail(CELLA_E_USAGE, "--status", "ACTIVE, REVEALING, COMPLETED or FAILED");
    if (cella_ok(r) && lim) {
        r = cli_parse_size(lim, "--limit", &n);
        if (cella_ok(r) && (n == 0 || n > HUB_LIST_MAX))
            r = cella_fail(CELLA_E_USAGE, "--limit", "between 1 and %d", HUB_LIST_MAX);
    }
    char path[256], at[43];
    if (cella_ok(r)) {
        cella_eth_address_checksum(at, a);
        int k = snprintf(path, sizeof path, "/v1/tasks?workerpool=%s", at);
        if (cli_get(o, NOPTS(o), "runnable"))
            k += snprintf(path + k, sizeof path - (size_t)k, "&runnable=1");
        if (st)
            k += snprintf(path + k, sizeof path - (size_t)k, "&status=%s", st);
        if (lim)
            snprintf(path + k, sizeof path - (size_t)k, "&limit=%llu", n);
    }
    if (cella_ok(r))
        r = get_print(o, NOPTS(o), path);
    return cli_report(r);
}

/* The task and why it failed; with --logs, the app's output (the requester's
 * wallet signs: only the deal's requester may read them). */
static int task_debug(int argc, char **argv)
{
    cli_opt o[] = {HUB_CONN_OPTS, {"logs", false, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "task debug");
    bool logs = cli_get(o, NOPTS(o), "logs") != NULL;
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "task debug",
                       "usage: cella task debug TASKID [--logs --wallet-file REQUESTER]");
    char id[67], path[160];
    if (cella_ok(r))
        r = hash_arg(pos[0], "task id", id);
    hub_conn c;
    memset(&c, 0, sizeof c);
    json_t *task = NULL, *lg = NULL;
    if (cella_ok(r))
        r = conn_open(&c, o, NOPTS(o));
    if (cella_ok(r) && logs)
        r = conn_wallet(&c, o, NOPTS(o));
    if (cella_ok(r)) {
        snprintf(path, sizeof path, "/v1/tasks/%s", id);
        r = call(&c, "GET", path, NULL, false, &task);
    }
    if (cella_ok(r) && logs) {
        snprintf(path, sizeof path, "/v1/tasks/%s/logs", id);
        r = call(&c, "GET", path, NULL, true, &lg);
    }
    if (cella_ok(r)) {
        const char *err = json_string_value(json_object_get(task, "error"));
        printf("task %s %s\n", id, json_string_value(json_object_get(task, "status")));
        if (err)
            printf("error: %s\n", err);
        const char *res = json_string_value(json_object_get(task, "results"));
        if (res)
            printf("results: %s\n", res);
        if (lg) {
            const char *out = json_string_value(json_object_get(lg, "stdout"));
            const char *er = json_string_value(json_object_get(lg, "stderr"));
            printf("---- stdout ----\n%s", out ? out : "");
            if (out && *out && out[strlen(out) - 1] != '\n')
                printf("\n");
            printf("---- stderr ----\n%s", er ? er : "");
            if (er && *er && er[strlen(er) - 1] != '\n')
                printf("\n");
        }
    }
    json_decref(task);
    json_decref(lg);
    conn_close(&c);
    return cli_report(r);
}

/* Follows a task by the hub's event stream until it completes or fails. */
static int task_watch(int argc, char **argv)
{
    cli_opt o[] = {HUB_URL_OPTS, {"timeout", true, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "task watch");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "task watch", "usage: cella task watch TASKID [--timeout S]");
    char id[67];
    if (cella_ok(r))
        r = hash_arg(pos[0], "task id", id);
    const char *to = cli_get(o, NOPTS(o), "timeout");
    unsigned long long timeout = 0;
    if (cella_ok(r) && to) {
        r = cli_parse_size(to, "--timeout", &timeout);
        if (cella_ok(r) && (timeout == 0 || timeout > 86400 * 365))
            r = cella_fail(CELLA_E_USAGE, "--timeout", "between 1 and 31536000 seconds");
    }
    hub_conn c;
    if (cella_ok(r))
        r = conn_open(&c, o, NOPTS(o));
    json_t *task = NULL;
    if (cella_ok(r))
        r = cli_task_watch(&c.hub.http, id, stderr, (long)timeout, &task);
    if (cella_ok(r)) {
        const char *res = json_string_value(json_object_get(task, "results"));
        printf("%s COMPLETED%s%s\n", id, res ? " " : "", res ? res : "");
    }
    json_decref(task);
    return cli_report(r);
}

static int task_claim(int argc, char **argv)
{
    cli_opt o[] = {HUB_URL_OPTS};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "task claim");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "task claim", "usage: cella task claim TASKID");
    char id[67];
    if (cella_ok(r))
        r = hash_arg(pos[0], "task id", id);
    hub_conn c;
    memset(&c, 0, sizeof c);
    if (cella_ok(r))
        r = conn_open(&c, o, NOPTS(o));
    return task_post(r, &c, id, "claim", NULL, false);
}

/* ---- accounts ---- */

static int account_show(int argc, char **argv)
{
    cli_opt o[] = {HUB_CONN_OPTS};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "account show");
    hub_conn c;
    memset(&c, 0, sizeof c);
    uint8_t a[20];
    if (cella_ok(r))
        r = conn_open(&c, o, NOPTS(o));
    if (cella_ok(r) && np == 1)
        r = cella_eth_address_parse(a, pos[0], "address");
    else if (cella_ok(r)) {
        r = conn_wallet(&c, o, NOPTS(o));
        memcpy(a, c.addr, 20);
    }
    json_t *reply = NULL;
    char path[128], at[43];
    if (cella_ok(r)) {
        cella_eth_address_checksum(at, a);
        snprintf(path, sizeof path, "/v1/accounts/%s", at);
        r = call(&c, "GET", path, NULL, false, &reply);
    }
    if (cella_ok(r))
        printf("%s balance %s locked %s (nRLC)\n", at,
               json_string_value(json_object_get(reply, "balance")),
               json_string_value(json_object_get(reply, "locked")));
    json_decref(reply);
    conn_close(&c);
    return cli_report(r);
}

static int account_deposit(int argc, char **argv)
{
    cli_opt o[] = {HUB_CONN_OPTS, {"to", true, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "account deposit");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "account deposit",
                       "usage: cella account deposit AMOUNT [--to 0xADDR]");
    uint64_t amount;
    if (cella_ok(r))
        r = parse_u64(pos[0], "amount", &amount);
    hub_conn c;
    memset(&c, 0, sizeof c);
    uint8_t a[20];
    const char *to = cli_get(o, NOPTS(o), "to");
    if (cella_ok(r))
        r = conn_open(&c, o, NOPTS(o));
    if (cella_ok(r) && to)
        r = cella_eth_address_parse(a, to, "--to");
    else if (cella_ok(r)) {
        r = conn_wallet(&c, o, NOPTS(o));
        memcpy(a, c.addr, 20);
    }
    json_t *reply = NULL, *body = NULL;
    char at[43], am[24];
    if (cella_ok(r)) {
        cella_eth_address_checksum(at, a);
        snprintf(am, sizeof am, "%llu", (unsigned long long)amount);
        body = json_pack("{s:s, s:s}", "address", at, "amount", am);
        r = call(&c, "POST", "/v1/accounts/deposit", body, false, &reply);
    }
    if (cella_ok(r))
        printf("%s balance %s (nRLC)\n", at, json_string_value(json_object_get(reply, "balance")));
    json_decref(body);
    json_decref(reply);
    conn_close(&c);
    return cli_report(r);
}

/* POST /v1/accounts/withdraw, signed by the wallet (the account's owner). */
static int account_withdraw(int argc, char **argv)
{
    hub_conn c;
    const char *arg = NULL;
    uint64_t amount = 0;
    cella_res r = signed_one_arg(argc, argv, "account withdraw",
                                 "account withdraw AMOUNT --wallet-file F", &c, &arg);
    if (cella_ok(r))
        r = parse_u64(arg, "amount", &amount);
    json_t *reply = NULL, *body = NULL;
    char am[24];
    if (cella_ok(r)) {
        snprintf(am, sizeof am, "%llu", (unsigned long long)amount);
        body = json_pack("{s:s}", "amount", am);
        r = call(&c, "POST", "/v1/accounts/withdraw", body, true, &reply);
    }
    if (cella_ok(r))
        printf("%s withdrew %s balance %s locked %s (nRLC)\n",
               json_string_value(json_object_get(reply, "address")),
               json_string_value(json_object_get(reply, "withdrawn")),
               json_string_value(json_object_get(reply, "balance")),
               json_string_value(json_object_get(reply, "locked")));
    json_decref(body);
    json_decref(reply);
    conn_close(&c);
    return cli_report(r);
}

#define CONN_USAGE "[--hub-url URL [--hub-fingerprint FP]] [--wallet-file F [--password-file F]]"

const cli_command cli_hub_commands[] = {
    {"hub", "serve", hub_serve_cmd,
     "cella hub serve [--listen 127.0.0.1:8080] [--data DIR] [--chain-id N] [--hub-address 0xADDR] "
     "[--dev-faucet] [--dev-timeref SECONDS] [--threads N] [--tls]",
     "Run the hub (loopback by default; plain HTTP, or with --tls HTTPS (TLS 1.3) with a "
     "self-signed identity made in DIR at first start, whose fingerprint it prints for "
     "clients to pin: --hub-fingerprint or \"hubFingerprint\" in cella.json): registries, order book, PoCo matchOrders, "
     "deals, tasks and accounts (docs/hub-api.md). Orders are EIP-712 for chain N (default "
     "421614) and the hub address (default iExec's on that chain). --dev-timeref (development "
     "only) replaces every category's timeref, so deadlines come in seconds. Port 0 picks a "
     "free port; once listening it prints \"hub listening on URL\" (a port in use fails before "
     "DIR is touched)."},
    {"hub", "call", hub_call_cmd, "cella hub call METHOD /PATH [--data JSON|@FILE] " CONN_USAGE,
     "Send one request to the hub (signed by the wallet when one is given) and print its JSON "
     "reply: for debugging and for endpoints without a verb of their own."},
    {"app", "deploy", app_deploy,
     "cella app deploy [--file cella.json] [--name N] [--multiaddr URL] [--checksum 0x..] "
     "[--measurement HEX] " CONN_USAGE,
     "Register the \"app\" object of cella.json (name, multiaddr, checksum, measurement; the "
     "flags replace its fields) on the hub, signed by the wallet (the owner). Prints the "
     "deterministic address and records it under \"deployed\" in cella.json."},
    {"app", "show", app_show, "cella app show ADDRESS [--hub-url URL]", "Show an app of the hub."},
    {"app", "count", app_count, "cella app count [--owner 0xADDR] [--hub-url URL]",
     "Count the apps of the hub (of an owner)."},
    {"dataset", "deploy", dataset_deploy,
     "cella dataset deploy [--file cella.json] [--name N] [--multiaddr URL] [--checksum 0x..] " CONN_USAGE,
     "Register the \"dataset\" object of cella.json (name, multiaddr, checksum; the flags "
     "replace its fields) on the hub. Prints the address and records it under \"deployed\"."},
    {"dataset", "show", dataset_show, "cella dataset show ADDRESS [--hub-url URL]",
     "Show a dataset of the hub."},
    {"dataset", "count", dataset_count, "cella dataset count [--owner 0xADDR] [--hub-url URL]",
     "Count the datasets of the hub (of an owner)."},
    {"workerpool", "deploy", workerpool_deploy,
     "cella workerpool deploy [--file cella.json] " CONN_USAGE,
     "Register the \"workerpool\" object of cella.json (name or description; or --name) on the "
     "hub. Prints the address and records it under \"deployed\"."},
    {"workerpool", "show", workerpool_show, "cella workerpool show ADDRESS [--hub-url URL]",
     "Show a workerpool of the hub."},
    {"workerpool", "count", workerpool_count,
     "cella workerpool count [--owner 0xADDR] [--hub-url URL]",
     "Count the workerpools of the hub (of an owner)."},
    {"order", "publish", order_publish,
     "cella order publish --app|--dataset|--workerpool|--request [--file orders.json] "
     "[--hub-url URL]",
     "Publish signed orders (from cella order sign) to the hub's order book. Prints each order "
     "hash."},
    {"order", "book", order_book,
     "cella order book [--kind K] [--app A] [--dataset D] [--workerpool W] [--requester R] "
     "[--tag TAGS] [--category N] [--maxprice P] [--all] [--hub-url URL]",
     "Query the order book: open orders matching the filters, cheapest first."},
    {"order", "show", order_show, "cella order show ORDERHASH [--hub-url URL]",
     "Show a published order and its remaining volume."},
    {"order", "cancel", order_cancel, "cella order cancel ORDERHASH " CONN_USAGE,
     "Cancel a published order (its signer only): it becomes fully consumed."},
    {"order", "fill", order_fill, "cella order fill [--file orders.json] [--hub-url URL]",
     "Match the request order of FILE with the orders of FILE, or else the cheapest published "
     "ones (PoCo matchOrders). Prints the deal id and its task ids."},
    {"deal", "show", deal_show, "cella deal show DEALID [--hub-url URL]", "Show a deal."},
    {"task", "show", task_show, "cella task show TASKID [--hub-url URL]",
     "Show a task: status, deadlines, its deal's pool, requester and tag, lease, reported "
     "error, results and contribution."},
    {"task", "list", task_list,
     "cella task list --workerpool 0xADDR [--runnable] [--status S] [--limit N] [--hub-url URL]",
     "List a workerpool's tasks, oldest first; --runnable: ACTIVE, before the contribution "
     "deadline, no error reported and not leased."},
    {"task", "debug", task_debug, "cella task debug TASKID [--logs] " CONN_USAGE,
     "Show a task's status and reported error; --logs also prints the app's stdout and stderr "
     "as the worker stored them (signed by the wallet: the deal's requester only)."},
    {"task", "authorize", task_authorize,
     "cella task authorize TASKID --worker 0xADDR [--enclave-challenge 0xADDR] --wallet-file F",
     "As the workerpool owner, authorize a worker for a task (offline): prints the EIP-191 "
     "signature of keccak256(worker || taskid || enclaveChallenge)."},
    {"task", "contribute", task_contribute,
     "cella task contribute TASKID --digest 0xSHA256|--result FILE --authorization 0xSIG "
     "[--enclave-challenge 0xADDR --enclave-sign 0xSIG] [--results URL] " CONN_USAGE,
     "As the worker (the wallet), contribute a result and finalize a trust-1 task "
     "(contributeAndFinalize): the owners are paid and the pool's stake unlocked. TEE deals "
     "need the enclave challenge and signature. --results: where the result is (a blob URL), "
     "shown with the task. --no-finalize: PoCo's contribute (any trust): only resultHash and "
     "resultSeal are sent, the deal's worker stake is locked, and the task goes REVEALING "
     "when the contributions make a consensus."},
    {"task", "reveal", task_reveal,
     "cella task reveal TASKID --digest 0xSHA256|--result FILE " CONN_USAGE,
     "As a worker whose contribution is the consensus, reveal its result digest (checked "
     "against the contribution's resultHash and resultSeal), before the reveal deadline."},
    {"task", "finalize", task_finalize, "cella task finalize TASKID [--results URL] " CONN_USAGE,
     "As the workerpool owner, finalize a task in consensus once every winner revealed (or "
     "after the reveal deadline with one reveal): owners paid, winners rewarded and their "
     "stakes unlocked, other contributors' stakes seized."},
    {"task", "reopen", task_reopen, "cella task reopen TASKID " CONN_USAGE,
     "As the workerpool owner, reopen a task whose consensus nobody revealed before the reveal "
     "deadline: those contributions are rejected and the task takes contributions again."},
    {"task", "watch", task_watch, "cella task watch TASKID [--timeout SECONDS] [--hub-url URL]",
     "Follow a task by the hub's event stream (long polls of GET /v1/events for this task), "
     "printing its status at the start and at each change on stderr (\"task ID: STATUS\"). "
     "Exits 0 when it is COMPLETED (printing \"ID COMPLETED [RESULTS]\"), non-zero with the reason when it FAILED, a worker "
     "reported an error, it is past its final deadline unfinished, or --timeout passed."},
    {"task", "claim", task_claim, "cella task claim TASKID [--hub-url URL]",
     "After the final deadline of an unfinished task: the task fails and the sponsor is "
     "refunded."},
    {"account", "show", account_show, "cella account show [ADDRESS] " CONN_USAGE,
     "Show the nRLC balance and locked funds of an account (default: the wallet's)."},
    {"account", "deposit", account_deposit,
     "cella account deposit AMOUNT [--to 0xADDR] " CONN_USAGE,
     "Credit nRLC from the hub's dev faucet (hub serve --dev-faucet) to the wallet's account."},
    {"account", "withdraw", account_withdraw, "cella account withdraw AMOUNT " CONN_USAGE,
     "Take AMOUNT nRLC out of the wallet's unlocked balance on the hub (signed by the wallet). "
     "Funds locked in deals cannot be withdrawn: beyond the unlocked balance the hub refuses "
     "with cella-hub-insufficient-balance."},
    {NULL, NULL, NULL, NULL, NULL},
};
