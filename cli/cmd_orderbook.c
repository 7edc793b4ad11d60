/* cella order publish|book|show|cancel|fill and deal show: the hub's order book and
 * PoCo matchOrders. */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub_client.h"
#include "output.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "hub/match.h"
#include "identity/eip712.h"
#include "identity/eth.h"

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
        r = hub_conn_open(&c, o, NOPTS(o));
    /* all or nothing on stdout: print the hashes once every order is in */
    char lines[CELLA_ORDER__COUNT][128] = {{0}};
    for (int k = 0; cella_ok(r) && k < CELLA_ORDER__COUNT; k++) {
        if (!chosen[k])
            continue;
        json_t *oj = cella_order_to_json(&set.o[k]);
        json_t *body = oj ? json_pack("{s:o}", cella_order_key((cella_order_kind)k), oj) : NULL;
        json_t *reply = NULL;
        r = body ? hub_conn_call(&c, "POST", "/v1/orders", body, false, &reply)
                 : cella_fail(CELLA_E_NOMEM, "order", "out of memory");
        if (cella_ok(r))
            snprintf(lines[k], sizeof lines[k], "%s %s", cella_order_key((cella_order_kind)k),
                     json_string_value(json_object_get(reply, "orderHash")));
        json_decref(body);
        json_decref(reply);
    }
    json_t *hashes = json_object();
    if (cella_ok(r))
        for (int k = 0; k < CELLA_ORDER__COUNT; k++)
            if (chosen[k]) {
                printf("%s\n", lines[k]);
                json_object_set_new(hashes, cella_order_key((cella_order_kind)k),
                                    json_string(strchr(lines[k], ' ') + 1));
            }
    cli_json_set("orders", hashes);
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
        r = hub_get_print(o, NOPTS(o), path);
    return cli_report(r);
}



static int order_show(int argc, char **argv) { return hub_show_by_id(argc, argv, "order show", "orders"); }
static int deal_show(int argc, char **argv) { return hub_show_by_id(argc, argv, "deal show", "deals"); }


static int order_cancel(int argc, char **argv)
{
    hub_conn c;
    const char *arg = NULL;
    char id[67];
    cella_res r = hub_signed_one_arg(argc, argv, "order cancel",
                                 "order cancel ORDERHASH --wallet-file F", &c, &arg);
    if (cella_ok(r))
        r = cli_hash_arg(arg, "order hash", id);
    json_t *reply = NULL, *body = NULL;
    if (cella_ok(r)) {
        body = json_pack("{s:s}", "orderHash", id);
        /* closing an order twice closes it: safe to repeat on another replica */
        c.hub.http.repeatable = true;
        r = hub_conn_call(&c, "POST", "/v1/orders/cancel", body, true, &reply);
    }
    if (cella_ok(r))
        printf("%s cancelled\n", id);
    json_decref(body);
    json_decref(reply);
    hub_conn_close(&c);
    return cli_report(r);
}

/* The cheapest open order of the book for a query, as its hash (NULL: none). */
static cella_res best_order(hub_conn *c, const char *query, json_t **hash)
{
    json_t *reply = NULL;
    char path[512];
    snprintf(path, sizeof path, "/v1/orders?%s&limit=1", query);
    CELLA_TRY(hub_conn_call(c, "GET", path, NULL, false, &reply));
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

/* A published request order, by its hash (order fill --request HASH). */
static cella_res published_request(hub_conn *c, const char *hash, cella_order_set *set)
{
    char path[128];
    json_t *reply = NULL;
    snprintf(path, sizeof path, "/v1/orders/%s", hash);
    CELLA_TRY(hub_conn_call(c, "GET", path, NULL, false, &reply));
    const char *kind = json_string_value(json_object_get(reply, "kind"));
    cella_res r = kind && !strcmp(kind, "requestorder")
                      ? cella_order_from_json(json_object_get(reply, "order"), CELLA_ORDER_REQUEST,
                                              false, &set->o[CELLA_ORDER_REQUEST])
                      : cella_fail(CELLA_E_USAGE, "--request", "%s is a published %s, not a "
                                   "requestorder", hash, kind ? kind : "?");
    set->present[CELLA_ORDER_REQUEST] = cella_ok(r);
    json_decref(reply);
    return r;
}

/* The orders given by hash (--app, --dataset, --workerpool, --request HASH:
 * published orders of the book), as the SDK's `order fill`; checked as hashes
 * here, and by the hub as orders. */
static cella_res hash_opts(const cli_opt *o, int n, char hashes[CELLA_ORDER__COUNT][67])
{
    static const char *const names[CELLA_ORDER__COUNT] = {"app", "dataset", "workerpool",
                                                          "request"};
    for (int k = 0; k < CELLA_ORDER__COUNT; k++) {
        const char *h = cli_get(o, n, names[k]);
        char flag[32];
        snprintf(flag, sizeof flag, "--%s", names[k]);
        hashes[k][0] = '\0';
        if (h)
            CELLA_TRY(cli_hash_arg(h, flag, hashes[k]));
    }
    return CELLA_OK_RES;
}

static int order_fill(int argc, char **argv)
{
    cli_opt o[] = {HUB_URL_OPTS,        {"file", true, NULL},       {"app", true, NULL},
                   {"dataset", true, NULL}, {"workerpool", true, NULL}, {"request", true, NULL}};
    const char *pos[1];
    int np;
    char hashes[CELLA_ORDER__COUNT][67];
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "order fill");
    if (cella_ok(r))
        r = hash_opts(o, NOPTS(o), hashes);
    const char *file = cli_get(o, NOPTS(o), "file");
    if (!file)
        file = ORDERS_FILE;
    cella_order_set set;
    memset(&set, 0, sizeof set);
    hub_conn c;
    if (cella_ok(r))
        r = hub_conn_open(&c, o, NOPTS(o));
    bool by_hash = hashes[CELLA_ORDER_REQUEST][0];
    if (cella_ok(r))
        r = by_hash ? published_request(&c, hashes[CELLA_ORDER_REQUEST], &set)
                    : load_orders(file, &set);
    if (cella_ok(r) && !set.present[CELLA_ORDER_REQUEST])
        r = cella_fail(CELLA_E_NOTFOUND, file, "no signed requestorder to fill");
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
        if (hashes[k][0]) {
            v = json_string(hashes[k]); /* the hub takes a published order's hash */
        } else if (set.present[k]) {
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
        r = hub_conn_call(&c, "POST", "/v1/deals", body, false, &reply);
    if (cella_ok(r)) {
        json_t *deal = json_object_get(reply, "deal");
        printf("deal %s\n", json_string_value(json_object_get(reply, "dealid")));
        const char *key;
        json_t *tid;
        json_object_foreach(json_object_get(deal, "tasks"), key, tid) {
            printf("task %s %s\n", key, json_string_value(tid));
        }
        cli_json_set("deal", json_incref(json_object_get(reply, "dealid")));
        cli_json_set("tasks", json_incref(json_object_get(deal, "tasks")));
    }
    json_decref(reply);
    json_decref(body);
    cella_order_set_free(&set);
    return cli_report(r);
}

const cli_command cli_orderbook_commands[] = {
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
    {"order", "fill", order_fill,
     "cella order fill [--file orders.json] [--app HASH] [--dataset HASH] [--workerpool HASH] "
     "[--request HASH] [--hub-url URL]",
     "Match a request order with app, dataset and workerpool orders (PoCo matchOrders): each "
     "given by the hash of a published order (as the SDK's order fill), else taken from FILE, "
     "else the cheapest published one the request can use; --request HASH fills a published "
     "request instead of FILE's. Prints the deal id and its task ids."},
    {"deal", "show", deal_show, "cella deal show DEALID [--hub-url URL]", "Show a deal."},
    {NULL, NULL, NULL, NULL, NULL},
};
