/* The registries: POST /v1/{apps,datasets,workerpools} (deploy, signed by
 * the owner), GET .../ADDRESS and .../count, POST .../ADDRESS/transfer. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/encoding.h"
#include "hub/server_int.h"
#include "hub/store.h"
#include "identity/eth.h"
#include "net/http_server.h"

/* ---- registries ---- */

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

void deploy(hub_thread *t, cella_http_req *req, hub_kind k)
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
void resource_transfer(hub_thread *t, cella_http_req *req, hub_kind k, const char *addr_s)
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

void resource_show(hub_thread *t, cella_http_req *req, hub_kind k, const char *addr_s)
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

void resource_count(hub_thread *t, cella_http_req *req, hub_kind k)
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
