/* The read-only endpoints the web page needs beyond the API's own (hub/web.h,
 * docs/hub-api.md "Lists" and "The web page"): resource and deal lists, names
 * of addresses, a search, a deal's or a pool's tasks, an account's orders,
 * deals and tasks. Every query parameter is parsed strictly: a bad value is a
 * 400 naming it, never a default. */
#include "hub/web.h"
#include "core/encoding.h"
#include "identity/eth.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ?offset=N (default 0) and ?limit=N (1 to HUB_LIST_MAX, default 100). */
static cella_res query_page(cella_http_req *req, size_t *offset, size_t *limit)
{
    static const struct {
        const char *key;
        unsigned long long min, max, def;
    } p[2] = {{"offset", 0, 1000000000000ULL, 0}, {"limit", 1, HUB_LIST_MAX, 100}};
    size_t *out[2] = {offset, limit};
    for (int i = 0; i < 2; i++) {
        const char *v = cella_http_query(req, p[i].key);
        *out[i] = (size_t)p[i].def;
        if (!v)
            continue;
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        CELLA_ENSURE(*v >= '0' && *v <= '9' && !*end && !errno && n >= p[i].min && n <= p[i].max,
                     CELLA_E_PARSE, p[i].key, "an integer from %llu to %llu", p[i].min, p[i].max);
        *out[i] = (size_t)n;
    }
    return CELLA_OK_RES;
}

/* An optional address parameter: *has false when absent. */
static cella_res query_addr(cella_http_req *req, const char *key, uint8_t a[20], bool *has)
{
    const char *v = cella_http_query(req, key);
    *has = v != NULL;
    return v ? cella_eth_address_parse(a, v, key) : CELLA_OK_RES;
}

/* ?all=1 (or 0, or absent) */
static cella_res query_flag(cella_http_req *req, const char *key, bool *on)
{
    const char *v = cella_http_query(req, key);
    *on = v && !strcmp(v, "1");
    CELLA_ENSURE(!v || !strcmp(v, "0") || !strcmp(v, "1"), CELLA_E_PARSE, key, "0 or 1");
    return CELLA_OK_RES;
}

static void reply_page(cella_http_req *req, cella_res r, const char *key, json_t *items,
                       uint64_t total, size_t offset)
{
    if (!cella_ok(r)) {
        json_decref(items);
        cella_http_reply_failure(req, r);
        return;
    }
    cella_http_reply(req, 200,
                     json_pack("{s:I, s:I, s:I, s:o}", "total", (json_int_t)total, "offset",
                               (json_int_t)offset, "count", (json_int_t)json_array_size(items),
                               key, items));
}

/* GET /v1/apps (datasets, workerpools)?owner=0x..&offset=N&limit=N */
static void resource_list(hub_store *st, cella_http_req *req, hub_kind k, const char *key)
{
    size_t offset = 0, limit = 0;
    uint64_t total = 0;
    uint8_t owner[20];
    bool has = false;
    json_t *items = NULL;
    cella_res r = query_page(req, &offset, &limit);
    if (cella_ok(r))
        r = query_addr(req, "owner", owner, &has);
    if (cella_ok(r))
        r = hub_store_resource_list(st, k, has ? owner : NULL, offset, limit, &items, &total);
    reply_page(req, r, key, items, total, offset);
}

/* GET /v1/deals?offset=N&limit=N, oldest first; with one of app=, dataset=,
 * workerpool= (the deal's resource) or account= (a party: requester,
 * beneficiary, an owner of its resources), that address's deals, newest first. */
static void deal_list(hub_store *st, cella_http_req *req)
{
    static const struct {
        const char *key;
        unsigned roles;
    } by[] = {{"app", HUB_ROLE_APP},
              {"dataset", HUB_ROLE_DATASET},
              {"workerpool", HUB_ROLE_WORKERPOOL},
              {"account", HUB_ROLE_REQUESTER | HUB_ROLE_OWNER}};
    size_t offset = 0, limit = 0, n = 0;
    uint64_t total = 0;
    uint8_t addr[20], a[20];
    unsigned roles = 0;
    json_t *items = NULL;
    cella_res r = query_page(req, &offset, &limit);
    for (size_t i = 0; i < sizeof by / sizeof by[0] && cella_ok(r); i++) {
        bool has = false;
        r = query_addr(req, by[i].key, a, &has);
        if (has) {
            memcpy(addr, a, 20);
            roles = by[i].roles;
            n++;
        }
    }
    if (cella_ok(r) && n > 1)
        r = cella_fail(CELLA_E_PARSE, "deals", "at most one of app, dataset, workerpool, account");
    if (cella_ok(r))
        r = n ? hub_store_deal_find(st, addr, roles, offset, limit, &items, &total)
              : hub_store_deal_list(st, offset, limit, &items, &total);
    reply_page(req, r, "deals", items, total, offset);
}

/* GET /v1/names?addresses=0x..,0x.. (1 to HUB_NAMES_MAX) → {"names": {addr: {kind, name}}} */
static void names(hub_store *st, cella_http_req *req)
{
    uint8_t addrs[HUB_NAMES_MAX][20];
    size_t n = 0;
    const char *v = cella_http_query(req, "addresses");
    cella_res r = hub_address_list_parse(cella_slice_of(v ? v : "", v ? strlen(v) : 0), addrs,
                                         HUB_NAMES_MAX, &n);
    json_t *out = NULL;
    if (cella_ok(r))
        r = hub_store_names(st, (const uint8_t(*)[20])addrs, n, &out);
    if (!cella_ok(r)) {
        cella_http_reply_failure(req, r);
        return;
    }
    cella_http_reply(req, 200, json_pack("{s:o}", "names", out));
}

/* One search hit: {"kind", "id", "name"?}. */
static void hit(json_t *arr, const char *kind, const char *id, const char *name)
{
    json_t *h = json_pack("{s:s, s:s}", "kind", kind, "id", id);
    if (h && name)
        json_object_set_new(h, "name", json_string(name));
    json_array_append_new(arr, h);
}

/* What a 32-byte hash names: a task, a deal, an order (each looked up). */
static cella_res search_hash(hub_store *st, const char *q, json_t *arr)
{
    uint8_t h[32];
    json_t *j = NULL;
    cella_order o;
    CELLA_TRY(cella_hex_decode(h, 32, q, strlen(q), "q"));
    if (cella_ok(hub_store_task_get(st, h, &j)))
        hit(arr, "task", q, NULL);
    json_decref(j);
    j = NULL;
    if (cella_ok(hub_store_deal_get(st, h, &j)))
        hit(arr, "deal", q, NULL);
    json_decref(j);
    j = NULL;
    if (cella_ok(hub_store_order_get(st, h, &o, NULL))) {
        hit(arr, "order", q, NULL);
        cella_order_free(&o);
    }
    return CELLA_OK_RES;
}

/* GET /v1/search?q=TEXT: an address (a resource, else an account), a hash (a
 * task, deal or order), or text searched in names → {"q", "results": [...]} */
static void search(hub_store *st, cella_http_req *req)
{
    const char *q = cella_http_query(req, "q");
    json_t *arr = json_array(), *found = NULL;
    size_t len = q ? strlen(q) : 0;
    /* 66: a hash; names are searched up to HUB_SEARCH_MAX bytes (the store checks) */
    cella_res r = len && len <= 66 ? CELLA_OK_RES : cella_fail(CELLA_E_PARSE, "q", "1 to 66 bytes");
    for (size_t i = 0; cella_ok(r) && i < len; i++)
        if ((unsigned char)q[i] < 0x20 || q[i] == 0x7f)
            r = cella_fail(CELLA_E_PARSE, "q", "a control character");
    uint8_t a[20];
    if (cella_ok(r) && len == 42 && cella_ok(cella_eth_address_parse(a, q, "q"))) {
        char ck[43];
        cella_eth_address_checksum(ck, a);
        r = hub_store_names(st, (const uint8_t(*)[20])a, 1, &found);
        json_t *e = cella_ok(r) ? json_object_get(found, ck) : NULL;
        if (e)
            hit(arr, json_string_value(json_object_get(e, "kind")), ck,
                json_string_value(json_object_get(e, "name")));
        hit(arr, "account", ck, NULL);
    } else if (cella_ok(r) && len == 66 && q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) {
        r = search_hash(st, q, arr);
    } else if (cella_ok(r)) {
        r = hub_store_resource_search(st, q, 50, &found);
        size_t i;
        json_t *v;
        json_array_foreach(found, i, v) hit(arr, json_string_value(json_object_get(v, "kind")),
                                            json_string_value(json_object_get(v, "address")),
                                            json_string_value(json_object_get(v, "name")));
    }
    json_decref(found);
    if (!cella_ok(r) || !arr) {
        json_decref(arr);
        cella_http_reply_failure(req, cella_ok(r) ? cella_fail(CELLA_E_NOMEM, "search", "out of memory") : r);
        return;
    }
    cella_http_reply(req, 200, json_pack("{s:s, s:o}", "q", q, "results", arr));
}

/* GET /v1/deals/ID/tasks (in index order) and /v1/workerpools/ADDR/tasks
 * (newest first), paged: {"offset", "count", "tasks"} */
static void task_page(hub_store *st, cella_http_req *req, const char *id, bool deal)
{
    uint8_t h[32], a[20];
    hub_task_filter f;
    memset(&f, 0, sizeof f);
    size_t offset = 0, limit = 0;
    json_t *tasks = NULL;
    cella_res r = deal ? cella_hex_decode(h, 32, id, strlen(id), "deal id")
                       : cella_eth_address_parse(a, id, "workerpool");
    if (cella_ok(r))
        r = query_page(req, &offset, &limit);
    f.dealid = deal ? h : NULL;
    f.workerpool = deal ? NULL : a;
    f.newest_first = !deal;
    f.offset = offset;
    f.limit = limit;
    int64_t now = 0;
    if (cella_ok(r))
        r = hub_store_now(st, &now);
    if (cella_ok(r))
        r = hub_store_task_list(st, &f, now, &tasks);
    if (!cella_ok(r)) {
        cella_http_reply_failure(req, r);
        return;
    }
    cella_http_reply(req, 200, json_pack("{s:I, s:I, s:o}", "offset", (json_int_t)offset, "count",
                                         (json_int_t)json_array_size(tasks), "tasks", tasks));
}

/* GET /v1/accounts/ADDR/orders[?all=1]: the orders it signed, cheapest first. */
static void account_orders(hub_store *st, cella_http_req *req, const uint8_t addr[20])
{
    hub_order_filter f;
    memset(&f, 0, sizeof f);
    f.kind = -1;
    f.signer = addr;
    json_t *orders = NULL;
    cella_res r = query_flag(req, "all", &f.include_closed);
    if (cella_ok(r))
        r = hub_store_order_list(st, &f, &orders);
    if (!cella_ok(r)) {
        cella_http_reply_failure(req, r);
        return;
    }
    cella_http_reply(req, 200, json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(orders),
                                         "orders", orders));
}

/* GET /v1/accounts/ADDR/tasks?offset=N&limit=N: the tasks of the deals it
 * requested (or is the beneficiary of), newest deal first, each deal's tasks
 * in index order, paged over that whole list. */
static void account_tasks(hub_store *st, cella_http_req *req, const uint8_t addr[20])
{
    size_t offset = 0, limit = 0;
    uint64_t total = 0;
    int64_t now = 0;
    json_t *tasks = NULL;
    cella_res r = query_page(req, &offset, &limit);
    if (cella_ok(r))
        r = hub_store_now(st, &now);
    if (cella_ok(r))
        r = hub_store_account_tasks(st, addr, offset, limit, now, &tasks, &total);
    reply_page(req, r, "tasks", tasks, total, offset);
}

/* "/v1/PREFIX/ID/SUFFIX" → ID (at most cap - 1 bytes, no '/'); false otherwise. */
static bool sub_path(const char *p, const char *prefix, const char *suffix, char *id, size_t cap)
{
    size_t np = strlen(prefix), ns = strlen(suffix), n = strlen(p);
    if (n <= np + ns || strncmp(p, prefix, np) || strcmp(p + n - ns, suffix))
        return false;
    size_t len = n - np - ns;
    if (len >= cap || memchr(p + np, '/', len))
        return false;
    memcpy(id, p + np, len);
    id[len] = '\0';
    return true;
}

bool hub_web_api_route(hub_store *st, hub_sms *sms, cella_http_req *req)
{
    const char *p = cella_http_path(req);
    static const struct {
        const char *path;
        hub_kind kind;
        const char *key;
    } lists[] = {{"/v1/apps", HUB_APP, "apps"},
                 {"/v1/datasets", HUB_DATASET, "datasets"},
                 {"/v1/workerpools", HUB_WORKERPOOL, "workerpools"}};
    char id[80];
    bool orders = false;
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        if (!strcmp(p, lists[i].path)) {
            resource_list(st, req, lists[i].kind, lists[i].key);
            return true;
        }
    if (!strcmp(p, "/v1/deals"))
        deal_list(st, req);
    else if (!strcmp(p, "/v1/names"))
        names(st, req);
    else if (!strcmp(p, "/v1/search"))
        search(st, req);
    else if (sub_path(p, "/v1/deals/", "/tasks", id, sizeof id))
        task_page(st, req, id, true);
    else if (sub_path(p, "/v1/workerpools/", "/tasks", id, sizeof id))
        task_page(st, req, id, false);
    else if (sub_path(p, "/v1/datasets/", "/key", id, sizeof id))
        hub_web_dataset_key(st, sms, req, id);
    else if ((orders = sub_path(p, "/v1/accounts/", "/orders", id, sizeof id)) ||
             sub_path(p, "/v1/accounts/", "/tasks", id, sizeof id)) {
        uint8_t a[20];
        cella_res r = cella_eth_address_parse(a, id, "account");
        if (!cella_ok(r))
            cella_http_reply_failure(req, r);
        else if (orders)
            account_orders(st, req, a);
        else
            account_tasks(st, req, a);
    } else
        return false;
    return true;
}
