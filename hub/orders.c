/* The order book and deals: POST /v1/orders (publish), GET /v1/orders (the
 * book) and /v1/orders/HASH, POST /v1/orders/cancel, POST /v1/deals
 * (matchOrders), GET /v1/deals/ID and /v1/tasks/ID. */
#include <jansson.h>
#include <string.h>

#include "hub/server_int.h"
#include "hub/store.h"
#include "identity/eip712.h"
#include "net/http_server.h"

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

void order_publish(hub_thread *t, cella_http_req *req)
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

void order_book(hub_thread *t, cella_http_req *req)
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

void order_show(hub_thread *t, cella_http_req *req, const char *hs)
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
void order_cancel(hub_thread *t, cella_http_req *req)
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

void deal_create(hub_thread *t, cella_http_req *req)
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

void deal_show(hub_thread *t, cella_http_req *req, const char *id, bool task)
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
