/* cella hub serve and hub call. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "hub_client.h"
#include "hub/hub.h"
#include "identity/eth.h"
#include "store/db.h"

/* ---- hub serve ---- */


static int hub_serve_cmd(int argc, char **argv)
{
    cli_opt o[] = {{"listen", true, NULL},      {"data", true, NULL}, {"db", true, NULL},
                   {"chain-id", true, NULL},    {"hub-address", true, NULL},
                   {"dev-faucet", false, NULL}, {"threads", true, NULL},
                   {"dev-timeref", true, NULL}, {"tls", false, NULL},
                   {"cas", true, NULL},         {"cas-fingerprint", true, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "hub serve");
    hub_options ho = {.listen = cli_get(o, NOPTS(o), "listen"),
                      .data_dir = cli_get(o, NOPTS(o), "data"),
                      .db = cli_get(o, NOPTS(o), "db"),
                      .chain_id = DEFAULT_CHAIN,
                      .dev_faucet = cli_get(o, NOPTS(o), "dev-faucet") != NULL,
                      .tls = cli_get(o, NOPTS(o), "tls") != NULL,
                      .cas_urls = cli_get(o, NOPTS(o), "cas"),
                      .cas_pins = cli_get(o, NOPTS(o), "cas-fingerprint")};
    if (!ho.data_dir)
        ho.data_dir = "hub-data";
    const char *c = cli_get(o, NOPTS(o), "chain-id"), *h = cli_get(o, NOPTS(o), "hub-address");
    if (cella_ok(r) && c)
        r = cli_parse_u64(c, "--chain-id", &ho.chain_id);
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
        r = cli_parse_u64(tr, "--dev-timeref", &ho.dev_timeref);
        if (cella_ok(r) && (ho.dev_timeref == 0 || ho.dev_timeref > 36000))
            r = cella_fail(CELLA_E_USAGE, "--dev-timeref", "between 1 and 36000 seconds");
    }
    if (cella_ok(r) && ho.db)
        r = cella_db_url_check(ho.db);
    if (cella_ok(r) && ho.cas_pins && !ho.cas_urls)
        r = cella_fail(CELLA_E_USAGE, "--cas-fingerprint", "only with --cas");
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
        r = cli_read_json_object(data + 1, (size_t)16 << 20, &body);
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
        r = hub_conn_open(&c, o, NOPTS(o));
    if (cella_ok(r) && sign)
        r = hub_conn_wallet(&c, o, NOPTS(o));
    if (cella_ok(r))
        r = hub_conn_call(&c, pos[0], pos[1], body, sign, &reply);
    if (cella_ok(r))
        cli_print_json(reply);
    json_decref(body);
    json_decref(reply);
    hub_conn_close(&c);
    return cli_report(r);
}

const cli_command cli_hub_commands[] = {
    {"hub", "serve", hub_serve_cmd,
     "cella hub serve [--listen 127.0.0.1:8080] [--data DIR] [--db sqlite:PATH|postgres://...] "
     "[--chain-id N] [--hub-address 0xADDR] "
     "[--dev-faucet] [--dev-timeref SECONDS] [--threads N] [--tls] "
     "[--cas URL[,URL...] --cas-fingerprint FP[,FP...]]",
     "Run the hub (loopback by default; plain HTTP, or with --tls HTTPS (TLS 1.3) with a "
     "self-signed identity made in DIR at first start, whose fingerprint it prints for "
     "clients to pin: --hub-fingerprint or \"hubFingerprint\" in cella.json): registries, order book, PoCo matchOrders, "
     "deals, tasks and accounts (docs/hub-api.md). Orders are EIP-712 for chain N (default "
     "421614) and the hub address (default iExec's on that chain). --dev-timeref (development "
     "only) replaces every category's timeref, so deadlines come in seconds. --db: the "
     "database, DIR/hub.db by default; hubs given one postgres:// database are replicas of "
     "one marketplace (libpq reads the password from PGPASSFILE; docs/deploy.md). Port 0 picks a "
     "free port; once listening it prints \"hub listening on URL\" (a port in use fails before "
     "DIR is touched). --cas: the cas the web page asks whether a dataset's key is in its SMS "
     "(HEAD /secrets/web3, existence only; cached, bounded: docs/web-page.md)."},
    {"hub", "call", hub_call_cmd, "cella hub call METHOD /PATH [--data JSON|@FILE] " CONN_USAGE,
     "Send one request to the hub (signed by the wallet when one is given) and print its JSON "
     "reply: for debugging and for endpoints without a verb of their own."},
    {NULL, NULL, NULL, NULL, NULL},
};
