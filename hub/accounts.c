/* Accounts of nRLC: GET /v1/accounts/ADDRESS, POST /v1/accounts/withdraw
 * (signed by the owner) and /v1/accounts/deposit (--dev-faucet only). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "hub/server_int.h"
#include "hub/store.h"
#include "identity/eip712.h"
#include "identity/eth.h"
#include "net/http_server.h"

static json_t *account_json(const uint8_t a[20], uint64_t bal, uint64_t locked);

void account_show(hub_thread *t, cella_http_req *req, const char *as)
{
    uint8_t a[20];
    uint64_t bal = 0, locked = 0;
    cella_res r = cella_eth_address_parse(a, as, "address");
    if (cella_ok(r))
        r = hub_store_account_get(t->st, a, &bal, &locked);
    if (!cella_ok(r)) {
        reply_err(req, r);
        return;
    }
    cella_http_reply(req, 200, account_json(a, bal, locked));
}

/* An amount of nRLC: a decimal string (or a JSON integer) below 2^64. */
static cella_res body_amount(const json_t *am, uint64_t *amount)
{
    uint8_t w[32];
    *amount = 0;
    if (json_is_integer(am) && json_integer_value(am) >= 0) {
        *amount = (uint64_t)json_integer_value(am);
        return CELLA_OK_RES;
    }
    CELLA_ENSURE(json_is_string(am), CELLA_E_PARSE, "amount", "a decimal amount of nRLC");
    CELLA_TRY(cella_u256_parse(json_string_value(am), w, "amount"));
    CELLA_ENSURE(hub_u256_to_u64(w, amount), CELLA_E_PARSE, "amount", "too large");
    return CELLA_OK_RES;
}

static json_t *account_json(const uint8_t a[20], uint64_t bal, uint64_t locked)
{
    char b[24], l[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)bal);
    snprintf(l, sizeof l, "%llu", (unsigned long long)locked);
    return json_pack("{s:o, s:s, s:s}", "address", addr_json(a), "balance", b, "locked", l);
}

/* {"amount": "123"} (nRLC), signed by the account's owner: out of its
 * unlocked balance (422 cella-hub-insufficient-balance beyond it). */
void withdraw(hub_thread *t, cella_http_req *req)
{
    static const char *const keys[] = {"amount", NULL};
    uint8_t who[20];
    json_t *body = NULL;
    uint64_t amount = 0, bal = 0, locked = 0;
    cella_res r = authenticate(t, req, who);
    if (cella_ok(r))
        r = parse_json_body(req, &body);
    if (cella_ok(r))
        r = only_keys(body, keys);
    if (cella_ok(r))
        r = json_object_get(body, "amount") ? body_amount(json_object_get(body, "amount"), &amount)
                                            : cella_fail(CELLA_E_PARSE, "amount", "missing");
    bool done = false;
    hub_refusal why;
    if (cella_ok(r))
        r = hub_store_withdraw(t->st, who, amount, &done, &why, &bal, &locked);
    json_decref(body);
    if (replied_unless_done(req, r, done, &why))
        return;
    char am[24];
    snprintf(am, sizeof am, "%llu", (unsigned long long)amount);
    json_t *j = account_json(who, bal, locked);
    json_object_set_new(j, "withdrawn", json_string(am));
    cella_http_reply(req, 200, j);
}

/* {"address": "0x..", "amount": "123"} (nRLC), only with --dev-faucet. */
void deposit(hub_thread *t, cella_http_req *req)
{
    json_t *body = NULL;
    uint8_t a[20];
    uint64_t amount = 0, bal = 0;
    cella_res r = t->app->opt.dev_faucet
                      ? CELLA_OK_RES
                      : cella_fail(CELLA_E_PERM, "deposit",
                                   "this hub has no dev faucet (start it with --dev-faucet)");
    if (cella_ok(r))
        r = parse_json_body(req, &body);
    const char *as = body ? json_string_value(json_object_get(body, "address")) : NULL;
    const json_t *am = body ? json_object_get(body, "amount") : NULL;
    if (cella_ok(r))
        r = as ? cella_eth_address_parse(a, as, "address")
               : cella_fail(CELLA_E_PARSE, "address", "missing");
    if (cella_ok(r))
        r = body_amount(am, &amount);
    if (cella_ok(r))
        r = hub_store_deposit(t->st, a, amount, &bal);
    json_decref(body);
    if (!cella_ok(r)) {
        reply_err(req, r);
        return;
    }
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)bal);
    cella_http_reply(req, 200, json_pack("{s:o, s:s}", "address", addr_json(a), "balance", b));
}
