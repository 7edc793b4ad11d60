/* cella app|dataset|workerpool deploy|show|count: the hub's registries. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hub_client.h"
#include "output.h"
#include "identity/eip712.h"
#include "identity/eth.h"

static cella_res read_json_file(const char *path, json_t **out)
{
    return cli_read_json_object(path, CELLA_ORDER_MAX_JSON, out);
}

/* ---- registries ---- */

static int deploy_kind(int argc, char **argv, const char *kind)
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
    snprintf(verb, sizeof verb, "%s deploy", kind);
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
        const json_t *in = conf ? json_object_get(conf, kind) : NULL;
        obj = json_is_object(in) ? json_deep_copy(in) : flags ? json_object() : NULL;
        if (!obj)
            r = cella_fail(CELLA_E_NOTFOUND, file ? file : PROJECT_CONF,
                           "no \"%s\" object to deploy (or give --name, --multiaddr, --checksum)",
                           kind);
    }
    for (size_t i = 0; cella_ok(r) && i < sizeof fields / sizeof *fields; i++) {
        const char *v = cli_get(o, NOPTS(o), fields[i]);
        if (v && json_object_set_new(obj, fields[i], json_string(v)) != 0)
            r = cella_fail(CELLA_E_NOMEM, verb, "out of memory");
    }
    if (cella_ok(r))
        r = hub_conn_open(&c, o, NOPTS(o));
    if (cella_ok(r))
        r = hub_conn_wallet(&c, o, NOPTS(o));
    char path[64];
    snprintf(path, sizeof path, "/v1/%ss", kind);
    if (cella_ok(r))
        r = hub_conn_call(&c, "POST", path, obj, true, &reply);
    const char *addr = cella_ok(r) ? json_string_value(json_object_get(reply, "address")) : NULL;
    /* Recorded under "deployed" for `cella order init`, as the SDK's deployed.json. */
    json_t *proj = NULL;
    if (addr && !file && cella_ok(r = cli_project_load(&proj))) {
        json_t *d = json_object_get(proj, "deployed");
        if (!json_is_object(d)) {
            d = json_object();
            json_object_set_new(proj, "deployed", d);
        }
        r = d && json_object_set_new(d, kind, json_string(addr)) == 0
                ? cli_project_save(proj)
                : cella_fail(CELLA_E_NOMEM, PROJECT_CONF, "out of memory");
    }
    if (cella_ok(r)) {
        printf("%s\n", addr);
        cli_json_set_str("address", addr);
        cli_json_set_str("kind", kind);
        cli_json_set("created", json_boolean(json_is_true(json_object_get(reply, "created"))));
        fprintf(stderr, "cella: %s %s\n", kind,
                json_is_true(json_object_get(reply, "created")) ? "deployed"
                                                               : "already deployed (same address)");
    }
    json_decref(proj);
    json_decref(obj);
    json_decref(reply);
    json_decref(conf);
    hub_conn_close(&c);
    return cli_report(r);
}

static int app_deploy(int argc, char **argv) { return deploy_kind(argc, argv, "app"); }
static int dataset_deploy(int argc, char **argv) { return deploy_kind(argc, argv, "dataset"); }
static int workerpool_deploy(int argc, char **argv)
{
    return deploy_kind(argc, argv, "workerpool");
}

/* The resource `cella KIND show` means: ADDRESS as given; INDEX (decimal),
 * the wallet's INDEX-th resource of that kind (oldest first, from 0), as the
 * SDK counts them; nothing, the one cella.json records under "deployed". */
static cella_res which_resource(hub_conn *c, const cli_opt *o, int n, const char *kind,
                                const char *arg, char at[43])
{
    uint8_t a[20];
    if (arg && !strncmp(arg, "0x", 2)) {
        CELLA_TRY(cella_eth_address_parse(a, arg, "address"));
        cella_eth_address_checksum(at, a);
        return CELLA_OK_RES;
    }
    if (arg) {
        unsigned long long idx;
        CELLA_TRY(cli_parse_uint(arg, "INDEX", 1000000, &idx));
        CELLA_TRY(cli_wallet_address(o, n, a));
        char owner[43], path[200];
        cella_eth_address_checksum(owner, a);
        snprintf(path, sizeof path, "/v1/%ss?owner=%s&offset=%llu&limit=1", kind, owner, idx);
        json_t *page = NULL;
        CELLA_TRY(hub_conn_call(c, "GET", path, NULL, false, &page));
        char plural[32];
        snprintf(plural, sizeof plural, "%ss", kind);
        const char *addr = json_string_value(
            json_object_get(json_array_get(json_object_get(page, plural), 0), "address"));
        json_int_t total = json_integer_value(json_object_get(page, "total"));
        cella_res r = addr ? CELLA_OK_RES
                           : cella_fail(CELLA_E_NOTFOUND, kind, "%s owns %lld %s%s: no index %llu",
                                        owner, (long long)total, kind, total == 1 ? "" : "s", idx);
        if (addr)
            snprintf(at, 43, "%s", addr);
        json_decref(page);
        return r;
    }
    return cli_project_deployed(kind, "give its ADDRESS, or an INDEX among the wallet's", at);
}

static int show_kind(int argc, char **argv, const char *kind)
{
    cli_opt o[] = {HUB_URL_OPTS, CLI_WALLET_OPTS};
    const char *pos[1] = {NULL};
    int np;
    char verb[64];
    snprintf(verb, sizeof verb, "%s show", kind);
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, verb);
    hub_conn c;
    json_t *reply = NULL;
    if (cella_ok(r))
        r = hub_conn_open(&c, o, NOPTS(o));
    char path[128], at[43];
    if (cella_ok(r))
        r = which_resource(&c, o, NOPTS(o), kind, pos[0], at);
    if (cella_ok(r)) {
        snprintf(path, sizeof path, "/v1/%ss/%s", kind, at);
        r = hub_conn_call(&c, "GET", path, NULL, false, &reply);
    }
    if (cella_ok(r))
        cli_print_json(reply);
    json_decref(reply);
    return cli_report(r);
}

/* Gives a resource to another owner, as the SDK's transfer: signed by the
 * current owner (the wallet); the resource given, else the deployed one. */
static int transfer_kind(int argc, char **argv, const char *kind)
{
    cli_opt o[] = {HUB_CONN_OPTS, {"to", true, NULL}};
    const char *pos[1] = {NULL};
    int np;
    char verb[64];
    snprintf(verb, sizeof verb, "%s transfer", kind);
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, verb);
    const char *to = cli_get(o, NOPTS(o), "to");
    if (cella_ok(r) && !to)
        r = cella_fail(CELLA_E_USAGE, verb, "usage: cella %s transfer [ADDRESS] --to 0xNEWOWNER",
                       kind);
    uint8_t t[20];
    if (cella_ok(r))
        r = cella_eth_address_parse(t, to, "--to");
    hub_conn c;
    memset(&c, 0, sizeof c);
    json_t *reply = NULL, *body = NULL;
    char at[43], path[160], tt[43];
    if (cella_ok(r))
        r = hub_conn_open(&c, o, NOPTS(o));
    if (cella_ok(r))
        r = which_resource(&c, o, NOPTS(o), kind, pos[0], at);
    if (cella_ok(r))
        r = hub_conn_wallet(&c, o, NOPTS(o));
    if (cella_ok(r)) {
        cella_eth_address_checksum(tt, t);
        snprintf(path, sizeof path, "/v1/%ss/%s/transfer", kind, at);
        body = json_pack("{s:s}", "to", tt);
        r = body ? hub_conn_call(&c, "POST", path, body, true, &reply)
                 : cella_fail(CELLA_E_NOMEM, verb, "out of memory");
    }
    if (cella_ok(r)) {
        printf("%s %s now belongs to %s\n", kind, at, tt);
        cli_json_set_str("address", at);
        cli_json_set_str("owner", tt);
    }
    json_decref(body);
    json_decref(reply);
    hub_conn_close(&c);
    return cli_report(r);
}

static int app_transfer(int argc, char **argv) { return transfer_kind(argc, argv, "app"); }
static int dataset_transfer(int argc, char **argv) { return transfer_kind(argc, argv, "dataset"); }
static int workerpool_transfer(int argc, char **argv)
{
    return transfer_kind(argc, argv, "workerpool");
}

static int app_show(int argc, char **argv) { return show_kind(argc, argv, "app"); }
static int dataset_show(int argc, char **argv) { return show_kind(argc, argv, "dataset"); }
static int workerpool_show(int argc, char **argv) { return show_kind(argc, argv, "workerpool"); }

static int count_kind(int argc, char **argv, const char *kind)
{
    cli_opt o[] = {HUB_URL_OPTS, {"owner", true, NULL}};
    const char *pos[1];
    int np;
    char verb[64];
    snprintf(verb, sizeof verb, "%s count", kind);
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, verb);
    const char *owner = cli_get(o, NOPTS(o), "owner");
    uint8_t a[20];
    if (cella_ok(r) && owner)
        r = cella_eth_address_parse(a, owner, "--owner");
    hub_conn c;
    json_t *reply = NULL;
    if (cella_ok(r))
        r = hub_conn_open(&c, o, NOPTS(o));
    char path[160], at[43];
    if (cella_ok(r)) {
        if (owner) {
            cella_eth_address_checksum(at, a);
            snprintf(path, sizeof path, "/v1/%ss/count?owner=%s", kind, at);
        } else
            snprintf(path, sizeof path, "/v1/%ss/count", kind);
        r = hub_conn_call(&c, "GET", path, NULL, false, &reply);
    }
    if (cella_ok(r))
        printf("%lld\n", (long long)json_integer_value(json_object_get(reply, "count")));
    json_decref(reply);
    return cli_report(r);
}

static int app_count(int argc, char **argv) { return count_kind(argc, argv, "app"); }
static int dataset_count(int argc, char **argv) { return count_kind(argc, argv, "dataset"); }
static int workerpool_count(int argc, char **argv)
{
    return count_kind(argc, argv, "workerpool");
}

const cli_command cli_registry_commands[] = {
    {"app", "deploy", app_deploy,
     "cella app deploy [--file cella.json] [--name N] [--multiaddr URL] [--checksum 0x..] "
     "[--measurement HEX] " CONN_USAGE,
     "Register the \"app\" object of cella.json (name, multiaddr, checksum, measurement; the "
     "flags replace its fields) on the hub, signed by the wallet (the owner). Prints the "
     "deterministic address and records it under \"deployed\" in cella.json."},
    {"app", "show", app_show, "cella app show [ADDRESS|INDEX] [--hub-url URL] [--wallet-file F]", "Show an app of the hub: ADDRESS, the wallet's INDEX-th app (from 0, oldest first), "
     "or by default the one cella.json records as deployed."},
    {"app", "count", app_count, "cella app count [--owner 0xADDR] [--hub-url URL]",
     "Count the apps of the hub (of an owner)."},
    {"dataset", "deploy", dataset_deploy,
     "cella dataset deploy [--file cella.json] [--name N] [--multiaddr URL] [--checksum 0x..] " CONN_USAGE,
     "Register the \"dataset\" object of cella.json (name, multiaddr, checksum; the flags "
     "replace its fields) on the hub. Prints the address and records it under \"deployed\"."},
    {"dataset", "show", dataset_show, "cella dataset show [ADDRESS|INDEX] [--hub-url URL] [--wallet-file F]",
     "Show a dataset of the hub: ADDRESS, the wallet's INDEX-th (from 0), or by default the "
     "one cella.json records as deployed."},
    {"dataset", "count", dataset_count, "cella dataset count [--owner 0xADDR] [--hub-url URL]",
     "Count the datasets of the hub (of an owner)."},
    {"workerpool", "deploy", workerpool_deploy,
     "cella workerpool deploy [--file cella.json] " CONN_USAGE,
     "Register the \"workerpool\" object of cella.json (name or description; or --name) on the "
     "hub. Prints the address and records it under \"deployed\"."},
    {"workerpool", "show", workerpool_show, "cella workerpool show [ADDRESS|INDEX] [--hub-url URL] [--wallet-file F]",
     "Show a workerpool of the hub: ADDRESS, the wallet's INDEX-th (from 0), or by default "
     "the one cella.json records as deployed."},
    {"workerpool", "count", workerpool_count,
     "cella workerpool count [--owner 0xADDR] [--hub-url URL]",
     "Count the workerpools of the hub (of an owner)."},
    {"app", "transfer", app_transfer, "cella app transfer [0xAPP] --to 0xNEWOWNER " CONN_USAGE,
     "Give an app to another owner (signed by its owner, the wallet), as the SDK's transfer: "
     "its address stays; orders signed by the former owner no longer match."},
    {"dataset", "transfer", dataset_transfer,
     "cella dataset transfer [0xDATASET] --to 0xNEWOWNER " CONN_USAGE,
     "Give a dataset to another owner (signed by its owner): its address stays; pushing its "
     "key to cas is then the new owner's to sign."},
    {"workerpool", "transfer", workerpool_transfer,
     "cella workerpool transfer [0xPOOL] --to 0xNEWOWNER " CONN_USAGE,
     "Give a workerpool to another owner (signed by its owner): its address stays."},
    {NULL, NULL, NULL, NULL, NULL},
};
