/* cella orderbook app|dataset|workerpool|requester: the iExec SDK's order book
 * views, as aligned tables for people (--json: the entries). The hub filters
 * by kind, resource, required tag, price and category; the restrictions,
 * exact tag, volume and trust are filtered here. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hub_client.h"
#include "output.h"
#include "table.h"
#include "core/encoding.h"
#include "identity/eip712.h"
#include "identity/eth.h"

typedef struct {
    const char *name;        /* the verb, and the order's resource field */
    const char *kind;        /* the order's kind */
    const char *price;       /* its price field */
    bool address_required;
} book_view;

static const book_view v_app = {"app", "apporder", "appprice", true};
static const book_view v_dataset = {"dataset", "datasetorder", "datasetprice", true};
static const book_view v_workerpool = {"workerpool", "workerpoolorder", "workerpoolprice", false};
static const book_view v_requester = {"requester", "requestorder", "workerpoolmaxprice", false};

static const char *const k_others[] = {"app", "dataset", "workerpool", "requester"};

static const char *field(const json_t *order, const char *k)
{
    return json_string_value(json_object_get(order, k));
}

/* A decimal field that may come as a JSON string or number. */
static unsigned long long num(const json_t *order, const char *k)
{
    const json_t *v = json_object_get(order, k);
    return json_is_integer(v) ? (unsigned long long)json_integer_value(v)
                              : strtoull(json_string_value(v) ? json_string_value(v) : "0", NULL,
                                         10);
}

/* The hub's query: kind, resource, required tag, price, category. */
static cella_res book_query(const book_view *v, const cli_opt *o, int n, const char *addr,
                            char *path, size_t cap)
{
    size_t used =
        (size_t)snprintf(path, cap, "/v1/orders?kind=%s&limit=%d", v->kind, HUB_API_LIST_MAX);
    char a[43];
    uint8_t raw[20];
    if (addr) {
        CELLA_TRY(cella_eth_address_parse(raw, addr, "address"));
        cella_eth_address_checksum(a, raw);
        used += (size_t)snprintf(path + used, cap - used, "&%s=%s", v->name, a);
    }
    const char *req = cli_get(o, n, "require-tag"), *max = cli_get(o, n, "max-price"),
               *cat = cli_get(o, n, "category");
    if (req) {
        uint8_t t[32];
        char hex[67] = "0x";
        CELLA_TRY(cella_tag_parse(req, t, "--require-tag"));
        cella_hex_encode(hex + 2, t, 32, false);
        used += (size_t)snprintf(path + used, cap - used, "&mintag=%s", hex);
    }
    unsigned long long x;
    if (max) {
        CELLA_TRY(cli_parse_uint(max, "--max-price", ~0ull, &x));
        used += (size_t)snprintf(path + used, cap - used, "&maxprice=%llu", x);
    }
    if (cat) {
        CELLA_TRY(cli_parse_uint(cat, "--category", ~0ull, &x));
        used += (size_t)snprintf(path + used, cap - used, "&category=%llu", x);
    }
    if (cli_get(o, n, "all"))
        snprintf(path + used, cap - used, "&all=1");
    return CELLA_OK_RES;
}

/* The filters the hub does not apply, parsed once from the flags (so a bad
 * flag is an error even on an empty book). */
typedef struct {
    bool has_tag, has_volume, has_trust;
    uint8_t tag[32];
    unsigned long long min_volume, min_trust;
    bool has_who[4], strict[4];
    uint8_t who[4][20];
} book_filter;

static cella_res filter_parse(const book_view *v, const cli_opt *o, int n, book_filter *f)
{
    memset(f, 0, sizeof *f);
    const char *tag = cli_get(o, n, "tag"), *vol = cli_get(o, n, "min-volume"),
               *trust = cli_get(o, n, "min-trust");
    if ((f->has_tag = tag != NULL))
        CELLA_TRY(cella_tag_parse(tag, f->tag, "--tag"));
    if ((f->has_volume = vol != NULL))
        CELLA_TRY(cli_parse_uint(vol, "--min-volume", ~0ull, &f->min_volume));
    if ((f->has_trust = trust != NULL))
        CELLA_TRY(cli_parse_uint(trust, "--min-trust", ~0ull, &f->min_trust));
    for (size_t i = 0; i < 4; i++) {
        const char *given = cli_get(o, n, k_others[i]);
        char strict[40];
        snprintf(strict, sizeof strict, "%s-strict", k_others[i]);
        f->strict[i] = cli_get(o, n, strict) != NULL;
        if ((f->has_who[i] = given && strcmp(k_others[i], v->name) != 0))
            CELLA_TRY(cella_eth_address_parse(f->who[i], given, k_others[i]));
    }
    return CELLA_OK_RES;
}

/* Whether an order passes the filter. For a request, --app/--dataset/
 * --workerpool name its resources; for the others they are restrictions,
 * which an order meets when it has none (0) or that one, and with
 * --X-strict only when it names that one. */
static bool keep(const book_view *v, const book_filter *f, const json_t *e)
{
    const json_t *order = json_object_get(e, "order");
    uint8_t have_tag[32];
    if (f->has_tag && (!cella_ok(cella_tag_parse(field(order, "tag") ? field(order, "tag") : "0x0",
                                                 have_tag, "tag")) ||
                       memcmp(f->tag, have_tag, 32) != 0))
        return false;
    if (f->has_volume && num(e, "remaining") < f->min_volume)
        return false;
    if (f->has_trust && num(order, "trust") < f->min_trust)
        return false;
    bool request = !strcmp(v->name, "requester");
    for (size_t i = 0; i < 4; i++) {
        if (!f->has_who[i])
            continue;
        char fname[32];
        uint8_t have[20] = {0}, zero[20] = {0};
        snprintf(fname, sizeof fname, request ? "%s" : "%srestrict", k_others[i]);
        const char *h = field(order, fname);
        if (h && !cella_ok(cella_eth_address_parse(have, h, fname)))
            return false;
        bool same = !memcmp(f->who[i], have, 20), open = !memcmp(have, zero, 20);
        if (!(same || (!request && open && !f->strict[i])))
            return false;
    }
    return true;
}

static void add_row(cli_table *t, const book_view *v, const json_t *e, int64_t now)
{
    const json_t *order = json_object_get(e, "order");
    char price[48], left[48], tag[128], when[80];
    uint8_t tb[32];
    snprintf(price, sizeof price, "%llu nRLC", num(order, v->price));
    snprintf(left, sizeof left, "%llu/%llu", num(e, "remaining"), num(order, "volume"));
    if (cella_ok(cella_tag_parse(field(order, "tag") ? field(order, "tag") : "0x0", tb, "tag")))
        cella_tag_names(tb, tag, sizeof tag);
    else
        snprintf(tag, sizeof tag, "?");
    cli_time_text(json_integer_value(json_object_get(e, "publicationTimestamp")), now, when,
                  sizeof when);
    const char *cells[] = {field(e, "orderHash"), price, left, tag[0] ? tag : "-", when};
    cli_table_add(t, cells);
}

static cella_res book_view_run(const book_view *v, const cli_opt *o, int n, const char *addr)
{
    CELLA_ENSURE(addr || !v->address_required, CELLA_E_USAGE, "orderbook",
                 "usage: cella orderbook %s ADDRESS", v->name);
    char path[1024];
    book_filter f;
    CELLA_TRY(filter_parse(v, o, n, &f));
    CELLA_TRY(book_query(v, o, n, addr, path, sizeof path));
    hub_conn c;
    CELLA_TRY(hub_conn_open(&c, o, n));
    json_t *book = NULL;
    CELLA_TRY(hub_conn_call(&c, "GET", path, NULL, false, &book));
    json_t *kept = json_array();
    const char *heads[] = {"ORDER HASH", "PRICE", "LEFT", "TAG", "PUBLISHED"};
    cli_table t;
    cli_table_init(&t, 5, heads);
    int64_t now = (int64_t)time(NULL);
    size_t i;
    json_t *e;
    cella_res r = CELLA_OK_RES;
    json_array_foreach(json_object_get(book, "orders"), i, e) {
        if (keep(v, &f, e)) {
            json_array_append(kept, e);
            add_row(&t, v, e, now);
        }
    }
    if (cella_ok(r)) {
        if (t.rows)
            cli_table_print(&t, stdout);
        fprintf(stderr, "cella: %zu %s%s\n", t.rows, v->kind, t.rows == 1 ? "" : "s");
        cli_json_set("count", json_integer((json_int_t)t.rows));
        cli_json_set("orders", json_incref(kept));
    }
    cli_table_free(&t);
    json_decref(kept);
    json_decref(book);
    return r;
}

#define BOOK_OPTS                                                                             \
    HUB_URL_OPTS, {"app", true, NULL}, {"dataset", true, NULL}, {"workerpool", true, NULL},   \
        {"requester", true, NULL}, {"app-strict", false, NULL}, {"dataset-strict", false, NULL}, \
        {"workerpool-strict", false, NULL}, {"requester-strict", false, NULL},                \
        {"tag", true, NULL}, {"require-tag", true, NULL}, {"min-volume", true, NULL},         \
        {"max-price", true, NULL}, {"category", true, NULL}, {"min-trust", true, NULL},       \
        { "all", false, NULL }

static int book_cmd(int argc, char **argv, const book_view *v)
{
    cli_opt o[] = {BOOK_OPTS};
    const char *pos[1] = {NULL};
    int np;
    char verb[40];
    snprintf(verb, sizeof verb, "orderbook %s", v->name);
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, verb);
    if (cella_ok(r))
        r = book_view_run(v, o, NOPTS(o), pos[0]);
    return cli_report(r);
}

static int book_app(int argc, char **argv) { return book_cmd(argc, argv, &v_app); }
static int book_dataset(int argc, char **argv) { return book_cmd(argc, argv, &v_dataset); }
static int book_workerpool(int argc, char **argv) { return book_cmd(argc, argv, &v_workerpool); }
static int book_requester(int argc, char **argv) { return book_cmd(argc, argv, &v_requester); }

#define BOOK_FILTERS                                                                          \
    "[--tag TAGS] [--require-tag TAGS] [--min-volume N] [--max-price N] [--all] [--hub-url URL]"
#define BOOK_HELP(what)                                                                       \
    "The open " what " of the hub's order book as a table, cheapest first: hash, price, "    \
    "volume left, tag, publication time (--json: the entries). --require-tag: every bit set; " \
    "--tag: exactly that tag; --min-volume: at least N left; --max-price; --all: consumed "   \
    "ones too. --app, --dataset, --workerpool, --requester: orders that allow that resource " \
    "(no restriction, or that one); with --X-strict, only orders restricted to it."

const cli_command cli_book_commands[] = {
    {"orderbook", "app", book_app,
     "cella orderbook app 0xAPP [--dataset A] [--workerpool A] [--requester A] "
     "[--dataset-strict] [--workerpool-strict] [--requester-strict] " BOOK_FILTERS,
     BOOK_HELP("app orders of an app")},
    {"orderbook", "dataset", book_dataset,
     "cella orderbook dataset 0xDATASET [--app A] [--workerpool A] [--requester A] "
     "[--app-strict] [--workerpool-strict] [--requester-strict] " BOOK_FILTERS,
     BOOK_HELP("dataset orders of a dataset")},
    {"orderbook", "workerpool", book_workerpool,
     "cella orderbook workerpool [0xPOOL] [--category N] [--min-trust N] [--app A] [--dataset A] "
     "[--requester A] [--app-strict] [--dataset-strict] [--requester-strict] " BOOK_FILTERS,
     BOOK_HELP("workerpool orders (of a pool, or all)")},
    {"orderbook", "requester", book_requester,
     "cella orderbook requester [0xREQUESTER] [--app A] [--dataset A] [--workerpool A] "
     "[--category N] " BOOK_FILTERS,
     BOOK_HELP("request orders (of a requester, or all)")},
    {NULL, NULL, NULL, NULL, NULL},
};
