/* cella account show|deposit|withdraw: nRLC accounts on the hub. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "hub_client.h"
#include "output.h"
#include "identity/eth.h"

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
        r = hub_conn_open(&c, o, NOPTS(o));
    if (cella_ok(r) && np == 1)
        r = cella_eth_address_parse(a, pos[0], "address");
    else if (cella_ok(r)) {
        r = hub_conn_wallet(&c, o, NOPTS(o));
        memcpy(a, c.addr, 20);
    }
    json_t *reply = NULL;
    char path[128], at[43];
    if (cella_ok(r)) {
        cella_eth_address_checksum(at, a);
        snprintf(path, sizeof path, "/v1/accounts/%s", at);
        r = hub_conn_call(&c, "GET", path, NULL, false, &reply);
    }
    if (cella_ok(r)) {
        printf("%s balance %s locked %s (nRLC)\n", at,
               json_string_value(json_object_get(reply, "balance")),
               json_string_value(json_object_get(reply, "locked")));
        cli_json_set_str("address", at);
        cli_json_set("balance", json_incref(json_object_get(reply, "balance")));
        cli_json_set("locked", json_incref(json_object_get(reply, "locked")));
    }
    json_decref(reply);
    hub_conn_close(&c);
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
        r = cli_parse_u64(pos[0], "amount", &amount);
    hub_conn c;
    memset(&c, 0, sizeof c);
    uint8_t a[20];
    const char *to = cli_get(o, NOPTS(o), "to");
    if (cella_ok(r))
        r = hub_conn_open(&c, o, NOPTS(o));
    if (cella_ok(r) && to)
        r = cella_eth_address_parse(a, to, "--to");
    else if (cella_ok(r)) {
        r = hub_conn_wallet(&c, o, NOPTS(o));
        memcpy(a, c.addr, 20);
    }
    json_t *reply = NULL, *body = NULL;
    char at[43], am[24];
    if (cella_ok(r)) {
        cella_eth_address_checksum(at, a);
        snprintf(am, sizeof am, "%llu", (unsigned long long)amount);
        body = json_pack("{s:s, s:s}", "address", at, "amount", am);
        r = hub_conn_call(&c, "POST", "/v1/accounts/deposit", body, false, &reply);
    }
    if (cella_ok(r))
        printf("%s balance %s (nRLC)\n", at, json_string_value(json_object_get(reply, "balance")));
    json_decref(body);
    json_decref(reply);
    hub_conn_close(&c);
    return cli_report(r);
}

/* POST /v1/accounts/withdraw, signed by the wallet (the account's owner). */
static int account_withdraw(int argc, char **argv)
{
    hub_conn c;
    const char *arg = NULL;
    uint64_t amount = 0;
    cella_res r = hub_signed_one_arg(argc, argv, "account withdraw",
                                 "account withdraw AMOUNT --wallet-file F", &c, &arg);
    if (cella_ok(r))
        r = cli_parse_u64(arg, "amount", &amount);
    json_t *reply = NULL, *body = NULL;
    char am[24];
    if (cella_ok(r)) {
        snprintf(am, sizeof am, "%llu", (unsigned long long)amount);
        body = json_pack("{s:s}", "amount", am);
        r = hub_conn_call(&c, "POST", "/v1/accounts/withdraw", body, true, &reply);
    }
    if (cella_ok(r))
        printf("%s withdrew %s balance %s locked %s (nRLC)\n",
               json_string_value(json_object_get(reply, "address")),
               json_string_value(json_object_get(reply, "withdrawn")),
               json_string_value(json_object_get(reply, "balance")),
               json_string_value(json_object_get(reply, "locked")));
    json_decref(body);
    json_decref(reply);
    hub_conn_close(&c);
    return cli_report(r);
}

const cli_command cli_account_commands[] = {
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
