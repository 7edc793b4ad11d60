/* cella app|dataset|workerpool deploy|show|count: the hub's registries. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hub_client.h"
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

static int show_kind(int argc, char **argv, const char *kind)
{
    cli_opt o[] = {HUB_URL_OPTS};
    const char *pos[1];
    int np;
    char verb[64];
    snprintf(verb, sizeof verb, "%s show", kind);
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, verb);
    uint8_t a[20];
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, verb, "usage: cella %s show ADDRESS", kind);
    if (cella_ok(r))
        r = cella_eth_address_parse(a, pos[0], "address");
    hub_conn c;
    json_t *reply = NULL;
    if (cella_ok(r))
        r = hub_conn_open(&c, o, NOPTS(o));
    char path[128], at[43];
    if (cella_ok(r)) {
        cella_eth_address_checksum(at, a);
        snprintf(path, sizeof path, "/v1/%ss/%s", kind, at);
        r = hub_conn_call(&c, "GET", path, NULL, false, &reply);
    }
    if (cella_ok(r))
        cli_print_json(reply);
    json_decref(reply);
    return cli_report(r);
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
    {"app", "show", app_show, "cella app show ADDRESS [--hub-url URL]", "Show an app of the hub."},
    {"app", "count", app_count, "cella app count [--owner 0xADDR] [--hub-url URL]",
     "Count the apps of the hub (of an owner)."},
    {"dataset", "deploy", dataset_deploy,
     "cella dataset deploy [--file cella.json] [--name N] [--multiaddr URL] [--checksum 0x..] " CONN_USAGE,
     "Register the \"dataset\" object of cella.json (name, multiaddr, checksum; the flags "
     "replace its fields) on the hub. Prints the address and records it under \"deployed\"."},
    {"dataset", "show", dataset_show, "cella dataset show ADDRESS [--hub-url URL]",
     "Show a dataset of the hub."},
    {"dataset", "count", dataset_count, "cella dataset count [--owner 0xADDR] [--hub-url URL]",
     "Count the datasets of the hub (of an owner)."},
    {"workerpool", "deploy", workerpool_deploy,
     "cella workerpool deploy [--file cella.json] " CONN_USAGE,
     "Register the \"workerpool\" object of cella.json (name or description; or --name) on the "
     "hub. Prints the address and records it under \"deployed\"."},
    {"workerpool", "show", workerpool_show, "cella workerpool show ADDRESS [--hub-url URL]",
     "Show a workerpool of the hub."},
    {"workerpool", "count", workerpool_count,
     "cella workerpool count [--owner 0xADDR] [--hub-url URL]",
     "Count the workerpools of the hub (of an owner)."},
    {NULL, NULL, NULL, NULL, NULL},
};
