/* cella app|dataset|workerpool publish|unpublish, as the iExec SDK's: make,
 * sign and publish one order for a resource in one step (the order template
 * with the flags' values, signed for the hub's domain by the owner's wallet),
 * and cancel the last (or every) open order of the resource. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hub_client.h"
#include "output.h"
#include "core/encoding.h"
#include "core/secure.h"
#include "identity/eip712.h"
#include "identity/eth.h"

typedef struct {
    const char *kind;        /* "app", "dataset", "workerpool" */
    cella_order_kind order;  /* its order */
    const char *price_field; /* "appprice", ... */
} resource_kind;

static const resource_kind k_app = {"app", CELLA_ORDER_APP, "appprice"};
static const resource_kind k_dataset = {"dataset", CELLA_ORDER_DATASET, "datasetprice"};
static const resource_kind k_workerpool = {"workerpool", CELLA_ORDER_WORKERPOOL, "workerpoolprice"};

/* The resource: ADDRESS as given, else the one cella.json records as deployed. */
static cella_res resource_address(const resource_kind *rk, const char *given, char out[43])
{
    if (!given) {
        char hint[40];
        snprintf(hint, sizeof hint, "cella %s deploy", rk->kind);
        return cli_project_deployed(rk->kind, hint, out);
    }
    uint8_t a[20];
    CELLA_TRY(cella_eth_address_parse(a, given, rk->kind));
    cella_eth_address_checksum(out, a);
    return CELLA_OK_RES;
}

/* The template with the flags' values: the SDK's option names. */
static cella_res fill_template(const resource_kind *rk, const cli_opt *o, int n, const char *addr,
                               json_t *t)
{
    static const struct {
        const char *flag, *field;
    } map[] = {{"volume", "volume"},
               {"app-restrict", "apprestrict"},
               {"dataset-restrict", "datasetrestrict"},
               {"workerpool-restrict", "workerpoolrestrict"},
               {"requester-restrict", "requesterrestrict"},
               {"category", "category"},
               {"trust", "trust"}};
    json_object_set_new(t, rk->kind, json_string(addr));
    if (cli_get(o, n, "price"))
        json_object_set_new(t, rk->price_field, json_string(cli_get(o, n, "price")));
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        const char *v = cli_get(o, n, map[i].flag);
        if (!v)
            continue;
        CELLA_ENSURE(json_object_get(t, map[i].field), CELLA_E_USAGE, map[i].flag,
                     "%s orders have no %s", rk->kind, map[i].field);
        json_object_set_new(t, map[i].field, json_string(v));
    }
    const char *tag = cli_get(o, n, "tag");
    if (tag) {
        uint8_t w[32];
        char hex[67] = "0x";
        CELLA_TRY(cella_tag_parse(tag, w, "--tag"));
        cella_hex_encode(hex + 2, w, 32, false);
        json_object_set_new(t, "tag", json_string(hex));
    }
    return CELLA_OK_RES;
}

static cella_res publish(const resource_kind *rk, const cli_opt *o, int n, const char *given)
{
    char addr[43];
    CELLA_TRY(resource_address(rk, given, addr));
    hub_conn c;
    CELLA_TRY(hub_conn_open(&c, o, n));
    cella_domain d;
    CELLA_TRY(hub_domain_get(&c.hub, &d));
    json_t *t = cella_order_template(rk->order), *reply = NULL, *body = NULL;
    CELLA_ENSURE(t, CELLA_E_NOMEM, rk->kind, "out of memory");
    cella_order ord;
    cella_order_init(&ord, rk->order);
    cella_res r = fill_template(rk, o, n, addr, t);
    if (cella_ok(r))
        r = cella_order_from_json(t, rk->order, true, &ord); /* every value checked */
    if (cella_ok(r))
        r = hub_conn_wallet(&c, o, n);
    if (cella_ok(r))
        r = cella_order_sign(&d, &ord, c.priv, true);
    json_t *signed_order = cella_ok(r) ? cella_order_to_json(&ord) : NULL;
    if (cella_ok(r))
        body = signed_order ? json_pack("{s:o}", cella_order_key(rk->order), signed_order) : NULL;
    if (cella_ok(r))
        r = body ? hub_conn_call(&c, "POST", "/v1/orders", body, false, &reply)
                 : cella_fail(CELLA_E_NOMEM, rk->kind, "out of memory");
    const char *hash = json_string_value(json_object_get(reply, "orderHash"));
    if (cella_ok(r)) {
        printf("%s %s\n", cella_order_key(rk->order), hash);
        cli_json_set_str("orderHash", hash);
        cli_json_set_str(rk->kind, addr);
    }
    json_decref(reply);
    json_decref(body);
    json_decref(t);
    cella_order_free(&ord);
    hub_conn_close(&c);
    return r;
}

/* The resource's open orders signed by the wallet, newest last. */
static cella_res open_orders(hub_conn *c, const resource_kind *rk, const char *addr,
                             json_t **orders)
{
    char path[256];
    json_t *book = NULL;
    snprintf(path, sizeof path, "/v1/orders?kind=%s&%s=%s&limit=%d",
             cella_order_key(rk->order), rk->kind, addr, HUB_API_LIST_MAX);
    CELLA_TRY(hub_conn_call(c, "GET", path, NULL, false, &book));
    char me[43];
    cella_eth_address_checksum(me, c->addr);
    *orders = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(book, "orders"), i, e) {
        const char *signer = json_string_value(json_object_get(e, "signer"));
        if (signer && !strcasecmp(signer, me))
            json_array_append(*orders, e);
    }
    json_decref(book);
    return CELLA_OK_RES;
}

static int64_t published_at(const json_t *e)
{
    return json_integer_value(json_object_get(e, "publicationTimestamp"));
}

/* Cancels the newest open order of the resource (or with --all every one),
 * signed by the wallet: PoCo's CLOSE, as the SDK's unpublish. */
static cella_res unpublish(const resource_kind *rk, const cli_opt *o, int n, const char *given)
{
    char addr[43];
    CELLA_TRY(resource_address(rk, given, addr));
    hub_conn c;
    CELLA_TRY(hub_conn_open(&c, o, n));
    json_t *orders = NULL;
    cella_res r = hub_conn_wallet(&c, o, n);
    if (cella_ok(r))
        r = open_orders(&c, rk, addr, &orders);
    size_t count = json_array_size(orders), newest = 0;
    if (cella_ok(r) && !count)
        r = cella_fail(CELLA_E_NOTFOUND, rk->kind, "no open %s of %s signed by this wallet",
                       cella_order_key(rk->order), addr);
    for (size_t i = 1; i < count; i++)
        if (published_at(json_array_get(orders, i)) >= published_at(json_array_get(orders, newest)))
            newest = i;
    bool all = cli_get(o, n, "all") != NULL;
    json_t *done = json_array();
    for (size_t i = 0; cella_ok(r) && i < count; i++) {
        if (!all && i != newest)
            continue;
        json_t *hash = json_object_get(json_array_get(orders, i), "orderHash");
        json_t *body = json_pack("{s:O}", "orderHash", hash), *reply = NULL;
        r = body ? hub_conn_call(&c, "POST", "/v1/orders/cancel", body, true, &reply)
                 : cella_fail(CELLA_E_NOMEM, rk->kind, "out of memory");
        if (cella_ok(r)) {
            printf("%s %s cancelled\n", cella_order_key(rk->order), json_string_value(hash));
            json_array_append(done, hash);
        }
        json_decref(body);
        json_decref(reply);
    }
    cli_json_set("cancelled", done);
    json_decref(orders);
    hub_conn_close(&c);
    return r;
}

#define PUBLISH_OPTS                                                                       \
    HUB_CONN_OPTS, {"price", true, NULL}, {"volume", true, NULL}, {"tag", true, NULL},     \
        {"app-restrict", true, NULL}, {"dataset-restrict", true, NULL},                    \
        {"workerpool-restrict", true, NULL}, {"requester-restrict", true, NULL},           \
        {"category", true, NULL}, { "trust", true, NULL }

static int publish_cmd(int argc, char **argv, const resource_kind *rk)
{
    cli_opt o[] = {PUBLISH_OPTS};
    const char *pos[1] = {NULL};
    int np;
    char verb[40];
    snprintf(verb, sizeof verb, "%s publish", rk->kind);
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, verb);
    if (cella_ok(r))
        r = publish(rk, o, NOPTS(o), pos[0]);
    return cli_report(r);
}

static int unpublish_cmd(int argc, char **argv, const resource_kind *rk)
{
    cli_opt o[] = {HUB_CONN_OPTS, {"all", false, NULL}};
    const char *pos[1] = {NULL};
    int np;
    char verb[40];
    snprintf(verb, sizeof verb, "%s unpublish", rk->kind);
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, verb);
    if (cella_ok(r))
        r = unpublish(rk, o, NOPTS(o), pos[0]);
    return cli_report(r);
}

static int app_publish(int argc, char **argv) { return publish_cmd(argc, argv, &k_app); }
static int dataset_publish(int argc, char **argv) { return publish_cmd(argc, argv, &k_dataset); }
static int workerpool_publish(int argc, char **argv)
{
    return publish_cmd(argc, argv, &k_workerpool);
}
static int app_unpublish(int argc, char **argv) { return unpublish_cmd(argc, argv, &k_app); }
static int dataset_unpublish(int argc, char **argv)
{
    return unpublish_cmd(argc, argv, &k_dataset);
}
static int workerpool_unpublish(int argc, char **argv)
{
    return unpublish_cmd(argc, argv, &k_workerpool);
}

#define PUBLISH_HELP(what)                                                                   \
    "Make, sign and publish one " what " order in one step, as the SDK's publish: the "      \
    "resource given, else the one cella.json records as deployed; the SDK's order template " \
    "with --price (nRLC), --volume, --tag (names like tee,tdx or bytes32 hex) and the "      \
    "restrictions given; signed by the wallet (the owner) for the hub's domain. Prints the " \
    "order hash."
#define UNPUBLISH_HELP(what)                                                                 \
    "Cancel the newest open " what " order of the resource signed by the wallet (--all: "   \
    "every one), as the SDK's unpublish (PoCo's CLOSE): its volume is used up."

const cli_command cli_publish_commands[] = {
    {"app", "publish", app_publish,
     "cella app publish [0xAPP] [--price N] [--volume N] [--tag TAGS] [--dataset-restrict A] "
     "[--workerpool-restrict A] [--requester-restrict A] " CONN_USAGE,
     PUBLISH_HELP("app")},
    {"app", "unpublish", app_unpublish, "cella app unpublish [0xAPP] [--all] " CONN_USAGE,
     UNPUBLISH_HELP("app")},
    {"dataset", "publish", dataset_publish,
     "cella dataset publish [0xDATASET] [--price N] [--volume N] [--tag TAGS] [--app-restrict A] "
     "[--workerpool-restrict A] [--requester-restrict A] " CONN_USAGE,
     PUBLISH_HELP("dataset")},
    {"dataset", "unpublish", dataset_unpublish,
     "cella dataset unpublish [0xDATASET] [--all] " CONN_USAGE, UNPUBLISH_HELP("dataset")},
    {"workerpool", "publish", workerpool_publish,
     "cella workerpool publish [0xPOOL] [--price N] [--volume N] [--tag TAGS] [--category N] "
     "[--trust N] [--app-restrict A] [--dataset-restrict A] [--requester-restrict A] " CONN_USAGE,
     PUBLISH_HELP("workerpool")},
    {"workerpool", "unpublish", workerpool_unpublish,
     "cella workerpool unpublish [0xPOOL] [--all] " CONN_USAGE, UNPUBLISH_HELP("workerpool")},
    {NULL, NULL, NULL, NULL, NULL},
};
