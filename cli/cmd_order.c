/* cella order hash|verify|sign: iExec PoCo orders (EIP-712), in the SDK's JSON. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "casapi/casapi.h"
#include "commands.h"
#include "project.h"
#include "wallet_opts.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"
#include "identity/eip712.h"
#include "identity/eth.h"
#include "identity/wallet.h"
#include "net/http_client.h"

#define PROJECT_CONF "cella.json"
#define ORDERS_FILE "orders.json"
#define NOPTS(o) ((int)(sizeof(o) / sizeof((o)[0])))

/* Hubs of chains the iExec SDK knows, used when --hub is not given. */
static const struct {
    uint64_t chain_id;
    const char *hub;
} g_known_hubs[] = {
    {421614, "0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E"}, /* Arbitrum Sepolia (SDK 9 default) */
};

static cella_res parse_chain_id(const char *s, uint64_t *out)
{
    uint8_t w[32];
    CELLA_TRY(cella_u256_parse(s, w, "--chain-id"));
    for (int i = 0; i < 24; i++)
        CELLA_ENSURE(w[i] == 0, CELLA_E_USAGE, "--chain-id", "chain id too large");
    uint64_t v = 0;
    for (int i = 24; i < 32; i++)
        v = (v << 8) | w[i];
    CELLA_ENSURE(v > 0, CELLA_E_USAGE, "--chain-id", "chain id must be positive");
    *out = v;
    return CELLA_OK_RES;
}

/* Chain id and hub from ./cella.json, when it exists: {"chainId": N, "hub": "0x.."}. */
static cella_res project_domain(uint64_t *chain_id, uint8_t hub[20], bool *have_hub)
{
    struct stat st;
    *have_hub = false;
    if (stat(PROJECT_CONF, &st) != 0)
        return CELLA_OK_RES;
    uint8_t *data;
    size_t len;
    CELLA_TRY(cella_read_file(AT_FDCWD, PROJECT_CONF, CELLA_ORDER_MAX_JSON, false, &data, &len));
    json_error_t err;
    json_t *j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &err);
    free(data);
    CELLA_ENSURE(j && json_is_object(j), CELLA_E_PARSE, PROJECT_CONF, "malformed JSON: %s",
                 j ? "not an object" : err.text);
    cella_res r = CELLA_OK_RES;
    json_t *c = json_object_get(j, "chainId");
    if (c && !*chain_id) {
        if (json_is_integer(c) && json_integer_value(c) > 0)
            *chain_id = (uint64_t)json_integer_value(c);
        else if (json_is_string(c))
            r = parse_chain_id(json_string_value(c), chain_id);
        else
            r = cella_fail(CELLA_E_PARSE, PROJECT_CONF, "chainId is not a positive integer");
    }
    json_t *h = json_object_get(j, "hub");
    if (cella_ok(r) && h) {
        if (json_is_string(h))
            r = cella_eth_address_parse(hub, json_string_value(h), "hub");
        else
            r = cella_fail(CELLA_E_PARSE, PROJECT_CONF, "hub is not an address");
        *have_hub = cella_ok(r);
    }
    json_decref(j);
    if (!cella_ok(r))
        cella_error_set_where(PROJECT_CONF);
    return r;
}

/* The EIP-712 domain: --chain-id/--hub, else ./cella.json, else the chain id
 * the orders file is keyed by and the SDK's hub for it. */
static cella_res resolve_domain(const cli_opt *o, int n, uint64_t file_chain, cella_domain *d)
{
    memset(d, 0, sizeof *d);
    const char *c = cli_get(o, n, "chain-id");
    const char *h = cli_get(o, n, "hub");
    if (c)
        CELLA_TRY(parse_chain_id(c, &d->chain_id));
    bool have_hub = false;
    if (h) {
        CELLA_TRY(cella_eth_address_parse(d->hub, h, "--hub"));
        have_hub = true;
    }
    if (!d->chain_id || !have_hub) {
        uint8_t ph[20];
        bool php;
        uint64_t pc = d->chain_id;
        CELLA_TRY(project_domain(&pc, ph, &php));
        d->chain_id = pc;
        if (!have_hub && php) {
            memcpy(d->hub, ph, 20);
            have_hub = true;
        }
    }
    if (!d->chain_id)
        d->chain_id = file_chain;
    if (!have_hub)
        for (size_t i = 0; i < sizeof g_known_hubs / sizeof g_known_hubs[0]; i++)
            if (g_known_hubs[i].chain_id == d->chain_id) {
                CELLA_TRY(cella_eth_address_parse(d->hub, g_known_hubs[i].hub, "hub"));
                have_hub = true;
            }
    CELLA_ENSURE(d->chain_id && have_hub, CELLA_E_USAGE, "order",
                 "the EIP-712 domain is unknown: give --chain-id N and --hub 0xADDRESS");
    return CELLA_OK_RES;
}

static cella_res load_orders(const char *path, bool templates, uint64_t *chain_id,
                             cella_order_set *set)
{
    uint8_t *data;
    size_t len;
    CELLA_TRY(cella_read_file(AT_FDCWD, path, CELLA_ORDER_MAX_JSON, false, &data, &len));
    cella_res r = cella_orders_parse(data, len, templates, chain_id, set);
    free(data);
    if (!cella_ok(r)) {
        char where[512];
        snprintf(where, sizeof where, "%s: %s", path, cella_error_where());
        cella_error_set_where(where);
    }
    return r;
}

static int count_orders(const cella_order_set *set)
{
    int n = 0;
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        n += set->present[k];
    return n;
}

static void hex32(char out[67], const uint8_t h[32])
{
    out[0] = '0';
    out[1] = 'x';
    cella_hex_encode(out + 2, h, 32, false);
}

static int order_hash(int argc, char **argv)
{
    cli_opt o[] = {{"chain-id", true, NULL}, {"hub", true, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, 2, pos, 1, &np, "order hash");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "order hash",
                       "usage: cella order hash FILE.json [--chain-id N --hub 0xADDR]");
    if (!cella_ok(r))
        return cli_report(r);
    cella_order_set set;
    uint64_t chain = 0;
    if (cli_get(o, 2, "chain-id"))
        r = parse_chain_id(cli_get(o, 2, "chain-id"), &chain);
    if (cella_ok(r))
        r = load_orders(pos[0], false, &chain, &set);
    if (!cella_ok(r))
        return cli_report(r);
    cella_domain d;
    r = resolve_domain(o, 2, chain, &d);
    if (cella_ok(r)) {
        bool many = count_orders(&set) > 1;
        for (int k = 0; k < CELLA_ORDER__COUNT; k++) {
            if (!set.present[k])
                continue;
            uint8_t h[32];
            char text[67];
            cella_order_hash(&d, &set.o[k], h);
            hex32(text, h);
            if (many)
                printf("%s %s\n", cella_order_key((cella_order_kind)k), text);
            else
                printf("%s\n", text);
        }
    }
    cella_order_set_free(&set);
    return cli_report(r);
}

/* The owner of an app, dataset or workerpool order's resource, as the hub
 * knows it (GET /v1/{apps,datasets,workerpools}/ADDR). */
static cella_res resource_owner(const cli_hub *hub, const cella_order *ord, uint8_t owner[20])
{
    static const char *const field[] = {"app", "dataset", "workerpool"};
    const char *what = field[ord->kind];
    uint8_t word[32];
    CELLA_TRY(cella_order_word(ord, what, word));
    char addr[43], path[128];
    cella_eth_address_checksum(addr, word + 12);
    snprintf(path, sizeof path, "/v1/%ss/%s", what, addr);
    json_t *reply = NULL;
    cella_res r = cella_cas_call(&hub->http, "GET", path, cella_slice_of("", 0), &reply);
    if (r.code == CELLA_E_NOTFOUND)
        r = cella_fail(CELLA_E_AUTH, cella_order_key(ord->kind),
                       "%s %s is not registered on the hub %s, so no one may sign its order", what,
                       addr, hub->url);
    const char *o = json_string_value(json_object_get(reply, "owner"));
    if (cella_ok(r))
        r = o ? cella_eth_address_parse(owner, o, "hub reply owner")
              : cella_fail(CELLA_E_PARSE, hub->url, "the hub's %s has no owner", what);
    json_decref(reply);
    return r;
}

/* Who may sign each order: --signer for all of them; else an app, dataset or
 * workerpool order's resource owner on the configured hub (--hub-url, or
 * cella.json's hubUrl). A request order must also be signed by its own
 * requester (cella_order_verify). Without --signer or a hub, an order other
 * than a request cannot be judged, and that is a usage error: printing the
 * address a signature recovers to would call any signature valid. */
static cella_res verify_signers(const cli_opt *o, int n, const cella_order_set *set,
                                const cella_domain *d, uint8_t who[][20])
{
    uint8_t signer[20];
    const char *s = cli_get(o, n, "signer");
    if (s)
        CELLA_TRY(cella_eth_address_parse(signer, s, "--signer"));
    char url[CELLA_ENDPOINTS_TEXT_MAX];
    CELLA_TRY(cli_project_urls(o, n, "hub-url", "hubUrl", "", url, sizeof url));
    cli_hub hub = {0};
    bool owners = !s && url[0];
    if (owners)
        CELLA_TRY(cli_hub_open(o, n, &hub));
    cella_res r = CELLA_OK_RES;
    for (int k = 0; cella_ok(r) && k < CELLA_ORDER__COUNT; k++) {
        if (!set->present[k])
            continue;
        const cella_order *ord = &set->o[k];
        bool request = ord->kind == CELLA_ORDER_REQUEST;
        uint8_t owner[20];
        if (!s && !owners && !request)
            r = cella_fail(CELLA_E_USAGE, "order verify",
                           "cannot tell who may sign the %s: give --signer 0xADDR, or a hub that "
                           "knows its owner (--hub-url URL, or hubUrl in cella.json)",
                           cella_order_key(ord->kind));
        if (cella_ok(r) && owners && !request)
            r = resource_owner(&hub, ord, owner);
        if (cella_ok(r))
            r = cella_order_verify(d, ord, s ? signer : owners && !request ? owner : NULL, who[k]);
    }
    return r;
}

static int order_verify(int argc, char **argv)
{
    cli_opt o[] = {{"chain-id", true, NULL}, {"hub", true, NULL}, {"signer", true, NULL},
                   {"hub-url", true, NULL},  {"hub-fingerprint", true, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "order verify");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "order verify",
                       "usage: cella order verify FILE.json --chain-id N --hub 0xADDR "
                       "[--signer 0xADDR | --hub-url URL]");
    uint64_t chain = 0;
    if (cella_ok(r) && cli_get(o, NOPTS(o), "chain-id"))
        r = parse_chain_id(cli_get(o, NOPTS(o), "chain-id"), &chain);
    if (!cella_ok(r))
        return cli_report(r);
    cella_order_set set;
    r = load_orders(pos[0], false, &chain, &set);
    if (!cella_ok(r))
        return cli_report(r);
    cella_domain d;
    r = resolve_domain(o, NOPTS(o), chain, &d);
    /* all or nothing: either every order is valid and each is listed, or the
     * first invalid one is the one error line */
    uint8_t who[CELLA_ORDER__COUNT][20];
    if (cella_ok(r))
        r = verify_signers(o, NOPTS(o), &set, &d, who);
    for (int k = 0; cella_ok(r) && k < CELLA_ORDER__COUNT; k++) {
        if (!set.present[k])
            continue;
        uint8_t h[32];
        char text[43], htext[67];
        cella_order_hash(&d, &set.o[k], h);
        hex32(htext, h);
        cella_eth_address_checksum(text, who[k]);
        printf("%s %s valid, signed by %s\n", cella_order_key((cella_order_kind)k), htext, text);
    }
    cella_order_set_free(&set);
    return cli_report(r);
}

/* Merges the signed orders into orders.json as the SDK keeps it:
 * {"<chainId>": {"apporder": {...}, ...}}. */
static cella_res save_signed(const char *path, uint64_t chain_id, const cella_order_set *set,
                             const bool *chosen)
{
    json_t *root = NULL;
    struct stat st;
    if (stat(path, &st) == 0) {
        uint8_t *data;
        size_t len;
        CELLA_TRY(cella_read_file(AT_FDCWD, path, CELLA_ORDER_MAX_JSON, false, &data, &len));
        json_error_t err;
        root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &err);
        free(data);
        CELLA_ENSURE(root && json_is_object(root), CELLA_E_PARSE, path,
                     "existing orders file is not a JSON object");
    } else {
        root = json_object();
        CELLA_ENSURE(root, CELLA_E_NOMEM, path, "out of memory");
    }
    char key[24];
    snprintf(key, sizeof key, "%llu", (unsigned long long)chain_id);
    json_t *chain = json_object_get(root, key);
    if (!json_is_object(chain)) {
        chain = json_object();
        json_object_set_new(root, key, chain);
    }
    int bad = 0;
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        if (chosen[k]) {
            json_t *oj = cella_order_to_json(&set->o[k]);
            bad |= !oj || json_object_set_new(chain, cella_order_key((cella_order_kind)k), oj);
        }
    char *text = bad ? NULL : json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    CELLA_ENSURE(text, CELLA_E_NOMEM, path, "cannot serialise the orders");
    size_t n = strlen(text);
    char *withnl = malloc(n + 2);
    if (!withnl) {
        free(text);
        return cella_fail(CELLA_E_NOMEM, path, "out of memory");
    }
    memcpy(withnl, text, n);
    withnl[n] = '\n';
    free(text);
    cella_res r = cella_write_file_atomic(AT_FDCWD, path, withnl, n + 1, 0644, false);
    free(withnl);
    return r;
}

static int order_sign(int argc, char **argv)
{
    cli_opt o[] = {
        {"app", false, NULL},          {"dataset", false, NULL}, {"workerpool", false, NULL},
        {"request", false, NULL},      {"order", true, NULL},    CLI_WALLET_OPTS,
        {"chain-id", true, NULL},      {"hub", true, NULL},      {"out", true, NULL},
        {"tag", true, NULL}};
    const int no = (int)(sizeof o / sizeof o[0]);
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, no, pos, 0, &np, "order sign");
    bool chosen[CELLA_ORDER__COUNT] = {
        cli_get(o, no, "app") != NULL, cli_get(o, no, "dataset") != NULL,
        cli_get(o, no, "workerpool") != NULL, cli_get(o, no, "request") != NULL};
    if (cella_ok(r) && !(chosen[0] || chosen[1] || chosen[2] || chosen[3]))
        r = cella_fail(CELLA_E_USAGE, "order sign",
                       "choose what to sign: --app, --dataset, --workerpool and/or --request");
    if (!cella_ok(r))
        return cli_report(r);
    const char *src = cli_get(o, no, "order");
    if (!src)
        src = PROJECT_CONF;
    const char *out = cli_get(o, no, "out");
    if (!out)
        out = ORDERS_FILE;
    uint64_t chain = 0;
    if (cli_get(o, no, "chain-id"))
        r = parse_chain_id(cli_get(o, no, "chain-id"), &chain);
    cella_order_set set;
    if (cella_ok(r))
        r = load_orders(src, true, &chain, &set);
    if (!cella_ok(r))
        return cli_report(r);
    cella_domain d;
    r = resolve_domain(o, no, chain, &d);
    for (int k = 0; cella_ok(r) && k < CELLA_ORDER__COUNT; k++)
        if (chosen[k] && !set.present[k])
            r = cella_fail(CELLA_E_NOTFOUND, src, "no %s to sign in this file",
                           cella_order_key((cella_order_kind)k));
    CELLA_KEY32(priv);
    uint8_t addr[20];
    if (cella_ok(r))
        r = cli_wallet_open(o, no, priv.b, addr);
    for (int k = 0; cella_ok(r) && k < CELLA_ORDER__COUNT; k++) {
        if (!chosen[k])
            continue;
        cella_order *ord = &set.o[k];
        if (k == CELLA_ORDER_REQUEST) {
            uint8_t req[32], zero[32] = {0};
            r = cella_order_word(ord, "requester", req);
            if (cella_ok(r) && !memcmp(req, zero, 32)) {
                memcpy(req + 12, addr, 20);
                r = cella_order_set_word(ord, "requester", req);
            }
            /* like the SDK's template: no beneficiary means the requester */
            uint8_t ben[32];
            if (cella_ok(r))
                r = cella_order_word(ord, "beneficiary", ben);
            if (cella_ok(r) && !memcmp(ben, zero, 32))
                r = cella_order_set_word(ord, "beneficiary", req);
        }
        if (cella_ok(r) && cli_get(o, no, "tag")) {
            uint8_t tag[32];
            r = cella_tag_parse(cli_get(o, no, "tag"), tag, "--tag");
            if (cella_ok(r))
                r = cella_order_set_word(ord, "tag", tag);
        }
        if (cella_ok(r))
            r = cella_order_sign(&d, ord, priv.b, true);
    }
    if (cella_ok(r))
        r = save_signed(out, d.chain_id, &set, chosen);
    if (cella_ok(r)) {
        char signer[43];
        cella_eth_address_checksum(signer, addr);
        for (int k = 0; k < CELLA_ORDER__COUNT; k++)
            if (chosen[k]) {
                uint8_t h[32];
                char text[67];
                cella_order_hash(&d, &set.o[k], h);
                hex32(text, h);
                printf("%s %s\n", cella_order_key((cella_order_kind)k), text);
            }
        fprintf(stderr, "cella: signed by %s for chain %llu, written to %s\n", signer,
                (unsigned long long)d.chain_id, out);
    }
    cella_order_set_free(&set);
    return cli_report(r);
}

/* ---- cella init, cella order init ---- */

/* The key each cas replica presents now (trust on first use), announced for
 * the user to compare with cas serve's line: one string when they share a
 * key, else one per URL. */
static cella_res tofu_pins(const cella_endpoints *e, json_t **pins)
{
    char fp[CELLA_ENDPOINTS_MAX][65];
    bool shared = true;
    *pins = NULL;
    for (unsigned i = 0; i < e->n; i++) {
        if (!cella_ok(cella_tls_fetch_fingerprint(e->at[i].url, 10, fp[i])))
            return cella_fail(CELLA_E_IO, "--cas",
                              "cannot reach %s to pin its key (%s); give --cas-fingerprint",
                              e->at[i].url, cella_error_what());
        fprintf(stderr, "cella: pinned cas fingerprint %s%s%s (trust on first use: check that "
                        "cas serve printed the same)\n", fp[i], e->n > 1 ? " for " : "",
                e->n > 1 ? e->at[i].url : "");
        shared &= !strcmp(fp[i], fp[0]);
    }
    *pins = shared ? json_string(fp[0]) : json_array();
    for (unsigned i = 0; !shared && *pins && i < e->n; i++)
        json_array_append_new(*pins, json_string(fp[i]));
    CELLA_ENSURE(*pins, CELLA_E_NOMEM, "--cas", "out of memory");
    return CELLA_OK_RES;
}

static int cmd_init(int argc, char **argv)
{
    cli_opt o[] = {{"chain-id", true, NULL},
                   {"hub", true, NULL},
                   {"hub-url", true, NULL},
                   {"cas", true, NULL},
                   {"cas-fingerprint", true, NULL},
                   {"blobs", true, NULL}};
    const int no = (int)(sizeof o / sizeof o[0]);
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, no, pos, 0, &np, "init");
    uint64_t chain = 421614;
    uint8_t hub[20];
    const char *c = cli_get(o, no, "chain-id"), *h = cli_get(o, no, "hub");
    const char *cas = cli_get(o, no, "cas"), *fp = cli_get(o, no, "cas-fingerprint");
    if (cella_ok(r) && c)
        r = parse_chain_id(c, &chain);
    if (cella_ok(r) && h)
        r = cella_eth_address_parse(hub, h, "--hub");
    /* cas's replicas and their pins are checked as every client will read them */
    static cella_endpoints cas_ep;
    const cella_endpoints_spec cas_spec = {"cas", "--cas", "--cas-fingerprint", true};
    if (cella_ok(r) && cas)
        r = cella_endpoints_parse(&cas_ep, cas, fp, &cas_spec);
    json_t *conf = NULL;
    if (cella_ok(r))
        r = cli_project_load(&conf);
    char urls[CELLA_ENDPOINTS_TEXT_MAX] = "https://127.0.0.1:8081";
    const json_t *had = json_object_get(json_object_get(conf, "cas"), "url");
    if (cella_ok(r) && fp && !cas && had) /* new pins for the URLs cella.json has */
        r = cella_endpoints_json_text(had, PROJECT_CONF " cas.url", urls, sizeof urls);
    if (cella_ok(r) && fp && !cas)
        r = cella_endpoints_parse(&cas_ep, urls, fp, &cas_spec);
    if (!cella_ok(r)) {
        json_decref(conf);
        return cli_report(r);
    }
    bool fresh = json_object_size(conf) == 0;
    int bad = 0;
    char text[43];
    if (c || fresh)
        bad |= json_object_set_new(conf, "chainId", json_integer((json_int_t)chain));
    if (h) {
        cella_eth_address_checksum(text, hub);
        bad |= json_object_set_new(conf, "hub", json_string(text));
    } else if (fresh || c) {
        /* the SDK's hub for a chain it knows */
        for (size_t i = 0; i < sizeof g_known_hubs / sizeof g_known_hubs[0]; i++)
            if (g_known_hubs[i].chain_id == chain)
                bad |= json_object_set_new(conf, "hub", json_string(g_known_hubs[i].hub));
    }
    if (cli_get(o, no, "hub-url"))
        bad |= json_object_set_new(conf, "hubUrl", cli_project_list(cli_get(o, no, "hub-url")));
    if (cli_get(o, no, "blobs"))
        bad |= json_object_set_new(conf, "blobsUrl", json_string(cli_get(o, no, "blobs")));
    /* --cas without a fingerprint: pin what each replica presents now (trust
     * on first use), and say so, so the user compares it with cas serve's line. */
    json_t *pins = NULL;
    if (cas && !fp) {
        r = tofu_pins(&cas_ep, &pins);
        if (!cella_ok(r)) {
            json_decref(conf);
            return cli_report(r);
        }
    } else if (fp) {
        pins = cli_project_list(fp);
    }
    if (cas || fp || fresh) {
        json_t *cj = json_object_get(conf, "cas");
        if (!json_is_object(cj)) {
            cj = json_object();
            bad |= json_object_set_new(conf, "cas", cj);
        }
        if (cas || fresh)
            bad |= json_object_set_new(cj, "url", cas ? cli_project_list(cas)
                                                      : json_string("https://127.0.0.1:8081"));
        if (pins)
            bad |= json_object_set_new(cj, "fingerprint", json_incref(pins));
    }
    r = bad ? cella_fail(CELLA_E_NOMEM, PROJECT_CONF, "cannot build JSON") : cli_project_save(conf);
    json_decref(conf);
    json_decref(pins);
    if (cella_ok(r))
        fprintf(stderr, "cella: %s %s\n", fresh ? "wrote" : "updated", PROJECT_CONF);
    return cli_report(r);
}

/* The SDK's order templates (cli/utils/templates.js), resources left zero. */
/* The resource each template names, filled from "deployed" in cella.json
 * (written by `cella app|dataset|workerpool deploy`), as the SDK does. */
static const char *const g_resource_field[CELLA_ORDER__COUNT] = {"app", "dataset", "workerpool",
                                                                 "app"};

/* --set FIELD=VALUE[,FIELD=VALUE...]: each field must be one of the template's. */
static cella_res apply_sets(json_t *t, const char *sets)
{
    char buf[4096];
    CELLA_ENSURE(strlen(sets) < sizeof buf, CELLA_E_USAGE, "--set", "too long");
    strcpy(buf, sets);
    for (char *save = NULL, *it = strtok_r(buf, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(it, '=');
        CELLA_ENSURE(eq && eq != it, CELLA_E_USAGE, "--set", "expected FIELD=VALUE, got '%s'", it);
        *eq = '\0';
        CELLA_ENSURE(json_object_get(t, it), CELLA_E_USAGE, "--set", "the order has no field '%s'",
                     it);
        CELLA_ENSURE(json_object_set_new(t, it, json_string(eq + 1)) == 0, CELLA_E_NOMEM, "--set",
                     "out of memory");
    }
    return CELLA_OK_RES;
}

static int order_init(int argc, char **argv)
{
    cli_opt o[] = {{"app", false, NULL},     {"dataset", false, NULL}, {"workerpool", false, NULL},
                   {"request", false, NULL}, {"tag", true, NULL},      {"set", true, NULL}};
    const int no = (int)(sizeof o / sizeof o[0]);
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, no, pos, 0, &np, "order init");
    uint8_t tag[32];
    char tag_hex[67];
    const char *tag_text = cli_get(o, no, "tag"), *sets = cli_get(o, no, "set");
    if (cella_ok(r) && tag_text)
        r = cella_tag_parse(tag_text, tag, "--tag");
    if (cella_ok(r) && tag_text)
        hex32(tag_hex, tag);
    bool chosen[CELLA_ORDER__COUNT];
    bool any = false;
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        any |= chosen[k] = cli_get(o, 4, o[k].name) != NULL;
    if (cella_ok(r) && !any)
        r = cella_fail(CELLA_E_USAGE, "order init",
                       "choose templates: --app, --dataset, --workerpool and/or --request");
    json_t *conf = NULL;
    if (cella_ok(r))
        r = cli_project_load(&conf);
    if (!cella_ok(r))
        return cli_report(r);
    json_t *ord = json_object_get(conf, "order");
    const json_t *deployed = json_object_get(conf, "deployed");
    int bad = 0;
    if (!json_is_object(ord)) {
        ord = json_object();
        bad |= json_object_set_new(conf, "order", ord);
    }
    bool filled = true;
    for (int k = 0; cella_ok(r) && k < CELLA_ORDER__COUNT; k++)
        if (chosen[k]) {
            json_t *t = cella_order_template((cella_order_kind)k);
            const json_t *addr = json_object_get(deployed, g_resource_field[k]);
            if (t && json_is_string(addr))
                bad |= json_object_set(t, g_resource_field[k], (json_t *)addr);
            else if (k != CELLA_ORDER_REQUEST)
                filled = false;
            if (t && tag_text)
                bad |= json_object_set_new(t, "tag", json_string(tag_hex));
            if (t && sets)
                r = apply_sets(t, sets);
            bad |= !t || json_object_set_new(ord, cella_order_key((cella_order_kind)k), t);
        }
    if (cella_ok(r))
        r = bad ? cella_fail(CELLA_E_NOMEM, PROJECT_CONF, "cannot build JSON") : cli_project_save(conf);
    json_decref(conf);
    if (cella_ok(r))
        fprintf(stderr, "cella: order templates written to %s (\"order\")%s, then: cella order sign\n",
                PROJECT_CONF, filled ? "" : "; fill in the resource addresses");
    return cli_report(r);
}

const cli_command cli_order_commands[] = {
    {NULL, "init", cmd_init,
     "cella init [--chain-id N] [--hub 0xADDR] [--hub-url URL] [--cas URL] [--cas-fingerprint HEX] "
     "[--blobs URL]",
     "Write (or update) ./cella.json: chain id and hub address (the EIP-712 domain of orders; "
     "default Arbitrum Sepolia 421614 and its iExec hub), hub, cas and blob store URLs. "
     "--hub-url and --cas may list replicas (A,B: written as arrays; docs/failover.md); "
     "without --cas-fingerprint, the key each cas replica presents is pinned (trust on first "
     "use)."},
    {"order", "init", order_init,
     "cella order init --app|--dataset|--workerpool|--request [--tag TAGS] [--set FIELD=VALUE,...]",
     "Add order templates (the SDK's defaults) under \"order\" in ./cella.json, naming the "
     "resource recorded under \"deployed\" by `cella app|dataset|workerpool deploy`. TAGS: names "
     "(tee,scone,gramine,tdx,gpu,snp) or a bytes32 hex. --set changes fields of the templates "
     "(volume=100,apprestrict=0x..)."},
    {"order", "hash", order_hash, "cella order hash FILE.json [--chain-id N --hub 0xADDR]",
     "Print the EIP-712 order hash of each order in FILE.json (one order, an object keyed "
     "apporder/datasetorder/workerpoolorder/requestorder, or the SDK's orders.json). The "
     "domain comes from the options, else ./cella.json, else the chain id in orders.json."},
    {"order", "verify", order_verify,
     "cella order verify FILE.json --chain-id N --hub 0xADDR [--signer 0xADDR | --hub-url URL "
     "[--hub-fingerprint FP]]",
     "Check the signature of each order: by --signer when given; else an app, dataset or "
     "workerpool order by its resource's owner on the hub (--hub-url, or hubUrl in cella.json), "
     "and a request by its requester. Without --signer or a hub, only request orders can be "
     "judged (exit 2 for the others). Exit 0 only if all are valid."},
    {"order", "sign", order_sign,
     "cella order sign --app|--dataset|--workerpool|--request [--order FILE] [--wallet-file F "
     "--password-file F] --chain-id N --hub 0xADDR [--tag TAGS] [--out orders.json]",
     "Sign order templates from FILE (default ./cella.json, its \"order\" object) with a fresh "
     "random salt and write them, SDK-style keyed by chain id, into orders.json (atomically). "
     "--tag (names like tee,tdx or hex) replaces the templates' tag. Prints each order hash."},
    {NULL, NULL, NULL, NULL, NULL},
};
