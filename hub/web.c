/* The hub's web page and the read-only list endpoints behind it (hub/web.h). */
#include "hub/web.h"
#include "identity/eth.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* The page runs only its own files: no inline script or style, no other
 * origin, no framing, no forms posted anywhere. */
static const char *const g_page_headers[] = {
    "Content-Security-Policy",
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options", "nosniff",
    "X-Frame-Options", "DENY",
    "Referrer-Policy", "no-referrer",
    "Cache-Control", "no-cache",
    NULL,
};

static const hub_web_asset *asset_find(const char *path)
{
    for (size_t i = 0; i < hub_web_asset_count; i++)
        if (!strcmp(hub_web_assets[i].path, path))
            return &hub_web_assets[i];
    return NULL;
}

static void serve_asset(cella_http_req *req, const char *path)
{
    const hub_web_asset *a = asset_find(path);
    if (!a) {
        cella_http_error(req, 404, "not_found", "no such file: %s", path);
        return;
    }
    cella_http_reply_bytes(req, 200, a->type, a->data, a->len, g_page_headers);
}

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

static void reply_page(cella_http_req *req, cella_res r, const char *key, json_t *items,
                       uint64_t total, size_t offset)
{
    if (!cella_ok(r)) {
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
    const char *o = cella_http_query(req, "owner");
    json_t *items = NULL;
    cella_res r = query_page(req, &offset, &limit);
    if (cella_ok(r) && o)
        r = cella_eth_address_parse(owner, o, "owner");
    if (cella_ok(r))
        r = hub_store_resource_list(st, k, o ? owner : NULL, offset, limit, &items, &total);
    reply_page(req, r, key, items, total, offset);
}

/* GET /v1/deals?offset=N&limit=N */
static void deal_list(hub_store *st, cella_http_req *req)
{
    size_t offset = 0, limit = 0;
    uint64_t total = 0;
    json_t *items = NULL;
    cella_res r = query_page(req, &offset, &limit);
    if (cella_ok(r))
        r = hub_store_deal_list(st, offset, limit, &items, &total);
    reply_page(req, r, "deals", items, total, offset);
}

bool hub_web_route(hub_store *st, cella_http_req *req)
{
    const char *m = cella_http_method(req), *p = cella_http_path(req);
    bool get = !strcmp(m, "GET");
    bool page = !strcmp(p, "/") || !strncmp(p, "/ui/", 4);
    static const struct {
        const char *path;
        hub_kind kind;
        const char *key;
    } lists[] = {{"/v1/apps", HUB_APP, "apps"},
                 {"/v1/datasets", HUB_DATASET, "datasets"},
                 {"/v1/workerpools", HUB_WORKERPOOL, "workerpools"}};
    if (page && !get) {
        cella_http_error(req, 405, "method", "method %s not allowed on %s", m, p);
        return true;
    }
    if (page) {
        serve_asset(req, !strcmp(p, "/") ? "/ui/index.html" : p);
        return true;
    }
    if (!get)
        return false; /* POST /v1/apps (deploy), /v1/deals (match): the API */
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        if (!strcmp(p, lists[i].path)) {
            resource_list(st, req, lists[i].kind, lists[i].key);
            return true;
        }
    if (!strcmp(p, "/v1/deals")) {
        deal_list(st, req);
        return true;
    }
    return false;
}
