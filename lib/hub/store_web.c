/* Read-only queries for the web page (hub/web_api.c): names of addresses,
 * a search by name, the deals an account takes part in and the tasks it
 * requested. None writes. */
#include "hub/store_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/encoding.h"

cella_res hub_store_names(hub_store *s, const uint8_t (*addrs)[20], size_t n, json_t **out)
{
    *out = json_object();
    cella_res r = *out ? CELLA_OK_RES : cella_fail(CELLA_E_NOMEM, "names", "out of memory");
    for (size_t i = 0; i < n && cella_ok(r); i++) {
        hub_resource res;
        bool found = false;
        r = hs_resource_get_any(s, addrs[i], &res, &found);
        if (!cella_ok(r) || !found)
            continue;
        char a[43];
        cella_eth_address_checksum(a, addrs[i]);
        json_t *e = json_pack("{s:s, s:s}", "kind", hub_kind_name(res.kind), "name", res.name);
        if (!e || json_object_set_new(*out, a, e))
            r = cella_fail(CELLA_E_NOMEM, "names", "out of memory");
    }
    if (!cella_ok(r)) {
        json_decref(*out);
        *out = NULL;
    }
    return r;
}

/* text → a LIKE pattern matching it anywhere, lower-cased, with % _ and \
 * escaped (ESCAPE '\'): the search is for the text, never a pattern. */
static bool like_pattern(const char *text, char *out, size_t cap)
{
    size_t j = 0;
    if (cap < 3)
        return false;
    out[j++] = '%';
    for (const char *p = text; *p; p++) {
        if (j + 3 >= cap)
            return false;
        if (*p == '%' || *p == '_' || *p == '\\')
            out[j++] = '\\';
        out[j++] = (char)tolower((unsigned char)*p);
    }
    out[j++] = '%';
    out[j] = '\0';
    return true;
}

cella_res hub_store_resource_search(hub_store *s, const char *text, size_t limit, json_t **out)
{
    char pat[2 * HUB_SEARCH_MAX + 4];
    *out = NULL;
    CELLA_ENSURE(strlen(text) <= HUB_SEARCH_MAX && like_pattern(text, pat, sizeof pat),
                 CELLA_E_PARSE, "q", "at most %d bytes", HUB_SEARCH_MAX);
    /* lower() folds ASCII in both engines: a case-insensitive search for names */
    dbq q = db_prep(s->db, "SELECT " HS_RESOURCE_COLS " FROM resources"
                           " WHERE lower(name) LIKE ?1 ESCAPE '\\'"
                           " ORDER BY created, address LIMIT ?2");
    db_bt(&q, 1, pat);
    db_bi(&q, 2, (int64_t)hs_list_limit(limit));
    return hs_resource_rows(s, &q, "cannot search the resources", out);
}

/* Does the address (lower-case hex text) hold one of the roles in deal d? */
static bool deal_has(json_t *d, const char *hex, unsigned roles)
{
    static const struct {
        unsigned role;
        const char *obj, *key;
    } f[] = {{HUB_ROLE_REQUESTER, NULL, "requester"},   {HUB_ROLE_REQUESTER, NULL, "beneficiary"},
             {HUB_ROLE_APP, "app", "pointer"},           {HUB_ROLE_DATASET, "dataset", "pointer"},
             {HUB_ROLE_WORKERPOOL, "workerpool", "pointer"}, {HUB_ROLE_OWNER, "app", "owner"},
             {HUB_ROLE_OWNER, "dataset", "owner"},       {HUB_ROLE_OWNER, "workerpool", "owner"}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (!(roles & f[i].role))
            continue;
        json_t *o = f[i].obj ? json_object_get(d, f[i].obj) : d;
        const char *v = json_string_value(json_object_get(o, f[i].key));
        if (v && strlen(v) == 42 && !strncasecmp(v, hex, 42))
            return true;
    }
    return false;
}

/* Calls fn on each deal in which the address holds one of the roles, newest
 * first; fn takes the deal (its reference) and returns false when out of
 * memory. */
typedef bool (*deal_fn)(void *ctx, json_t *deal);

static cella_res deal_scan(hub_store *s, const uint8_t addr[20], unsigned roles, deal_fn fn,
                           void *ctx)
{
    /* Deals keep their parties inside their JSON: the SQL keeps the rows that
     * mention the address at all (a scan of the deals' text), and each is
     * then checked field by field, so a params text naming it matches none. */
    char hex[43] = "0x", pat[46];
    cella_hex_encode(hex + 2, addr, 20, false);
    snprintf(pat, sizeof pat, "%%%s%%", hex);
    dbq q = db_prep(s->db, "SELECT json FROM deals WHERE lower(json) LIKE ?1"
                           " ORDER BY created DESC, dealid DESC");
    db_bt(&q, 1, pat);
    bool mem = true;
    int rc = DB_DONE;
    while (mem && (rc = db_step(&q)) == DB_ROW) {
        json_error_t je;
        json_t *d = json_loads(db_col_text(&q, 0), 0, &je);
        if (d && deal_has(d, hex, roles))
            mem = fn(ctx, d);
        else
            json_decref(d);
    }
    db_done(&q);
    if (!mem)
        return cella_fail(CELLA_E_NOMEM, "deals", "out of memory");
    return rc == DB_DONE ? CELLA_OK_RES : db_failure(s->db, "cannot list the deals");
}

typedef struct {
    json_t *arr;
    size_t offset, limit;
    uint64_t total;
} deal_page;

static bool deal_page_add(void *ctx, json_t *d)
{
    deal_page *p = ctx;
    if (p->total++ >= p->offset && json_array_size(p->arr) < p->limit)
        return !json_array_append_new(p->arr, d);
    json_decref(d);
    return true;
}

cella_res hub_store_deal_find(hub_store *s, const uint8_t addr[20], unsigned roles, size_t offset,
                              size_t limit, json_t **out, uint64_t *total)
{
    deal_page p = {json_array(), offset, hs_list_limit(limit), 0};
    *out = NULL;
    *total = 0;
    CELLA_ENSURE(p.arr, CELLA_E_NOMEM, "deals", "out of memory");
    cella_res r = deal_scan(s, addr, roles, deal_page_add, &p);
    if (!cella_ok(r)) {
        json_decref(p.arr);
        return r;
    }
    *out = p.arr;
    *total = p.total;
    return CELLA_OK_RES;
}

/* The deals whose tasks fall in a page of an account's tasks: each deal's
 * tasks follow the newer deals' (its bag in index order). */
typedef struct {
    uint8_t dealid[32];
    size_t skip, take; /* of this deal's tasks */
} page_deal;

typedef struct {
    page_deal *at;
    size_t n;
    size_t offset, limit;
    uint64_t total; /* tasks of every deal so far */
} task_page;

static bool task_page_add(void *ctx, json_t *d)
{
    task_page *p = ctx;
    const char *id = json_string_value(json_object_get(d, "dealid"));
    const char *bs = json_string_value(json_object_get(d, "botSize"));
    uint64_t size = bs ? strtoull(bs, NULL, 10) : 0, first = p->total, end = p->offset + p->limit;
    uint8_t h[32];
    bool in_page = size && first < end && first + size > p->offset && id && p->n < p->limit;
    /* a deal id the hub wrote is hex; were it not, that deal is left out */
    if (in_page && !cella_ok(cella_hex_decode(h, 32, id, strlen(id), "dealid"))) {
        cella_error_clear();
        in_page = false;
    }
    if (in_page) {
        page_deal *e = &p->at[p->n++];
        memcpy(e->dealid, h, 32);
        e->skip = first < p->offset ? (size_t)(p->offset - first) : 0;
        uint64_t stop = first + size < end ? first + size : end;
        e->take = (size_t)(stop - first - e->skip);
    }
    p->total += size;
    json_decref(d);
    return true;
}

cella_res hub_store_account_tasks(hub_store *s, const uint8_t addr[20], size_t offset,
                                  size_t limit, int64_t now, json_t **out, uint64_t *total)
{
    task_page p = {.offset = offset, .limit = hs_list_limit(limit)};
    *out = NULL;
    *total = 0;
    p.at = calloc(p.limit, sizeof *p.at);
    json_t *arr = json_array();
    cella_res r = p.at && arr ? CELLA_OK_RES : cella_fail(CELLA_E_NOMEM, "tasks", "out of memory");
    if (cella_ok(r))
        r = deal_scan(s, addr, HUB_ROLE_REQUESTER, task_page_add, &p);
    for (size_t i = 0; i < p.n && cella_ok(r); i++) {
        hub_task_filter f = {.dealid = p.at[i].dealid, .offset = p.at[i].skip, .limit = p.at[i].take};
        json_t *some = NULL;
        r = hub_store_task_list(s, &f, now, &some);
        if (cella_ok(r) && json_array_extend(arr, some))
            r = cella_fail(CELLA_E_NOMEM, "tasks", "out of memory");
        json_decref(some);
    }
    free(p.at);
    if (!cella_ok(r)) {
        json_decref(arr);
        return r;
    }
    *out = arr;
    *total = p.total;
    return CELLA_OK_RES;
}
