/* The requester's verbs of the marketplace story: cella app run (make, sign
 * and match a request in one go, like `iexec app run`), cella result
 * download; and the whole stack on one host: cella up, cella demo. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "output.h"
#include "wallet_opts.h"
#include "blobs/client.h"
#include "casapi/casapi.h"
#include "commands.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/secure.h"
#include "identity/eip712.h"
#include "identity/eth.h"
#include "identity/wallet.h"
#include "project.h"
#include "task_watch.h"

#define NOPTS(o) ((int)(sizeof(o) / sizeof((o)[0])))
#define ZERO_ADDRESS "0x0000000000000000000000000000000000000000"
#define MAX_SECRETS 16

static cella_res get_json(const cella_http_client *h, const char *path, json_t **out)
{
    return cella_cas_call(h, "GET", path, cella_slice_of("", 0), out);
}

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* The cheapest open order of the book for a query, as the hub lists it. */
static cella_res best(const cella_http_client *h, const char *query, const char *what, json_t **entry)
{
    char path[600];
    snprintf(path, sizeof path, "/v1/orders?%s&limit=1", query);
    json_t *book = NULL;
    CELLA_TRY(get_json(h, path, &book));
    json_t *e = json_array_get(json_object_get(book, "orders"), 0);
    cella_res r = e ? CELLA_OK_RES
                    : cella_fail(CELLA_E_NOTFOUND, what, "no open order in the book matches (%s)", query);
    if (e)
        *entry = json_incref(e);
    json_decref(book);
    return r;
}

/* iexec_secrets {index: name} from every --secret value: INDEX=NAME, or
 * several separated by commas; repeats and the SDK's --secret 1=a 2=b merge,
 * and an index given twice is an error (never one silently dropped). */
static cella_res secrets_param(const cli_list *sec, json_t *params)
{
    json_t *m = json_object();
    CELLA_ENSURE(m, CELLA_E_NOMEM, "--secret", "out of memory");
    json_object_set_new(params, "iexec_secrets", m);
    for (int v = 0; v < sec->count; v++) {
        char buf[2048];
        CELLA_ENSURE(strlen(sec->values[v]) < sizeof buf, CELLA_E_USAGE, "--secret", "too long");
        snprintf(buf, sizeof buf, "%s", sec->values[v]);
        for (char *save = NULL, *it = strtok_r(buf, ",", &save); it;
             it = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(it, '=');
            char *end = NULL;
            long idx = eq ? strtol(it, &end, 10) : 0;
            CELLA_ENSURE(eq && end == eq && idx >= 1 && idx <= 99 && eq[1] && it[0] != '0',
                         CELLA_E_USAGE, "--secret", "expected INDEX=NAME (1..99), got '%s'", it);
            *eq = '\0';
            CELLA_ENSURE(!json_object_get(m, it), CELLA_E_USAGE, "--secret",
                         "secret index %s given twice ('%s' and '%s')", it,
                         json_string_value(json_object_get(m, it)), eq + 1);
            json_object_set_new(m, it, json_string(eq + 1));
        }
    }
    return CELLA_OK_RES;
}

/* The request's params, iExec's objParamsSchema: iexec_args, iexec_secrets
 * {index: name}, iexec_input_files, iexec_result_encryption. */
static cella_res make_params(const cli_opt *o, int n, const cli_list *secrets, bool encrypt,
                             char **out)
{
    json_t *p = json_object();
    CELLA_ENSURE(p, CELLA_E_NOMEM, "params", "out of memory");
    cella_res r = CELLA_OK_RES;
    const char *args = cli_get(o, n, "args");
    if (args)
        json_object_set_new(p, "iexec_args", json_string(args));
    if (secrets->count)
        r = secrets_param(secrets, p);
    const char *files = cli_get(o, n, "input-files");
    if (files) {
        json_t *a = json_array();
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", files);
        for (char *save = NULL, *it = strtok_r(buf, ",", &save); it; it = strtok_r(NULL, ",", &save))
            json_array_append_new(a, json_string(it));
        json_object_set_new(p, "iexec_input_files", a);
    }
    json_object_set_new(p, "iexec_result_encryption", json_boolean(encrypt));
    *out = cella_ok(r) ? json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(p);
    if (cella_ok(r) && !*out)
        r = cella_fail(CELLA_E_NOMEM, "params", "out of memory");
    return r;
}

/* The match failed after the request order was published: cancel the order
 * (PoCo's CLOSE, signed by the requester), so that a failed run leaves nothing
 * open in the book that a later match could consume, and say so in the error.
 * When the cancel fails too, the error says the order is still open and how to
 * cancel it. Returns the failure to report. */
static cella_res cancel_request(const cli_hub *hub, const uint8_t *key, const char *hash,
                                const char *wallet)
{
    cella_code code = cella_error_code();
    if (!hash) /* the hub named no order: nothing to cancel, the failure stands */
        return (cella_res){code};
    const char *where = cella_error_where();
    char first[320], why[200];
    snprintf(first, sizeof first, "%.250s%s%.60s%s", cella_error_what(), *where ? " (" : "", where,
             *where ? ")" : "");
    json_t *body = json_pack("{s:s}", "orderHash", hash), *reply = NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    cella_res c = text ? cella_cas_signed_call(&hub->http, key, "POST", "/v1/orders/cancel",
                                               cella_slice_of(text, strlen(text)), "application/json",
                                               &reply)
                       : cella_fail(CELLA_E_NOMEM, "app run", "out of memory");
    free(text);
    json_decref(body);
    json_decref(reply);
    if (cella_ok(c))
        return cella_fail(code, "app run", "%s; request order %s cancelled", first, hash);
    snprintf(why, sizeof why, "%.190s", cella_error_what());
    return cella_fail(code, "app run",
                      "%s; request order %s is still open (the cancel failed: %s): cancel it "
                      "with `cella order cancel %s --wallet-file %.200s --hub-url %.200s%s%s`",
                      first, hash, why, hash, wallet,
                      hub->url, hub->fingerprint[0] ? " --hub-fingerprint " : "", hub->fingerprint);
}

static int app_run(int argc, char **argv)
{
    cli_opt o[] = {{"hub-url", true, NULL},     {"hub-fingerprint", true, NULL},
                   CLI_WALLET_OPTS,             {"dataset", true, NULL},
                   {"workerpool", true, NULL},  {"tag", true, NULL},
                   {"category", true, NULL},    {"args", true, NULL},
                   {"secret", true, NULL},      {"input-files", true, NULL},
                   {"beneficiary", true, NULL}, {"trust", true, NULL},
                   {"no-result-encryption", false, NULL}, {"watch", false, NULL},
                   {"volume", true, NULL}};
    const char *pos[1];
    int np;
    cli_hub hub = {0};
    cli_list secrets = {.name = "secret"};
    cella_res r = cli_parse_lists(argc, argv, o, NOPTS(o), &secrets, 1, pos, 1, &np, "app run");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "app run",
                       "usage: cella app run 0xAPP [--dataset 0xD] [--workerpool 0xW] [--tag tee] "
                       "[--args \"...\"] [--secret 1=NAME] [--watch] --wallet-file W");
    uint8_t a20[20];
    if (cella_ok(r))
        r = cella_eth_address_parse(a20, pos[0], "app");
    if (cella_ok(r))
        r = cli_hub_open(o, NOPTS(o), &hub);
    cella_http_client h = hub.http;
    uint8_t *key = cella_secure_alloc(32), me[20];
    if (cella_ok(r) && !key)
        r = cella_fail(CELLA_E_NOMEM, "wallet", "out of memory");
    if (cella_ok(r))
        r = cli_wallet_open(o, NOPTS(o), key, me);
    char wallet[4096]; /* the file, for the cancel command in an error */
    if (cella_ok(r))
        r = cli_wallet_path(o, NOPTS(o), wallet, sizeof wallet);
    json_t *health = NULL, *ao = NULL, *dso = NULL, *wpo = NULL, *body = NULL, *deal = NULL;
    cella_domain d = {0};
    if (cella_ok(r))
        r = get_json(&h, "/v1/health", &health);
    if (cella_ok(r)) {
        d.chain_id = (uint64_t)json_integer_value(json_object_get(health, "chainId"));
        r = cella_eth_address_parse(d.hub, jstr(health, "hub") ? jstr(health, "hub") : "", "hub");
    }
    /* The tag: --tag, else TEE (a confidential run is the point). */
    uint8_t tag[32];
    const char *tagtext = cli_get(o, NOPTS(o), "tag");
    if (cella_ok(r))
        r = cella_tag_parse(tagtext ? tagtext : "tee", tag, "--tag");
    char q[600], taghex[67];
    taghex[0] = '0';
    taghex[1] = 'x';
    cella_hex_encode(taghex + 2, tag, 32, false);
    if (cella_ok(r)) {
        snprintf(q, sizeof q, "kind=apporder&app=%s", pos[0]);
        r = best(&h, q, "app order", &ao);
    }
    const char *ds = cli_get(o, NOPTS(o), "dataset");
    uint8_t d20[20];
    if (cella_ok(r) && ds)
        r = cella_eth_address_parse(d20, ds, "--dataset");
    if (cella_ok(r) && ds) {
        snprintf(q, sizeof q, "kind=datasetorder&dataset=%s", ds);
        r = best(&h, q, "dataset order", &dso);
    }
    /* The pool must offer every tag bit the deal will carry. */
    uint8_t need[32];
    memcpy(need, tag, 32);
    for (int i = 0; cella_ok(r) && i < 2; i++) {
        const json_t *ord = json_object_get(i ? dso : ao, "order");
        uint8_t t[32];
        if (!ord)
            continue;
        r = cella_tag_parse(jstr(ord, "tag") ? jstr(ord, "tag") : "0x0", t, "order tag");
        for (int b = 0; cella_ok(r) && b < 32; b++)
            need[b] |= i && b == 31 ? (uint8_t)(t[b] & ~0x0E) : t[b];
    }
    char needhex[67] = "0x";
    cella_hex_encode(needhex + 2, need, 32, false);
    const char *wp = cli_get(o, NOPTS(o), "workerpool"), *cat = cli_get(o, NOPTS(o), "category");
    /* Checked before they go into the query: q holds an address and a number. */
    uint8_t a[20];
    if (cella_ok(r) && wp)
        r = cella_eth_address_parse(a, wp, "--workerpool");
    if (cella_ok(r) && cat && (!*cat || strlen(cat) > 20 || strspn(cat, "0123456789") != strlen(cat)))
        r = cella_fail(CELLA_E_USAGE, "--category", "expected a category number, got '%s'", cat);
    if (cella_ok(r)) {
        int k = snprintf(q, sizeof q, "kind=workerpoolorder&mintag=%s", needhex);
        if (wp)
            k += snprintf(q + k, sizeof q - (size_t)k, "&workerpool=%s", wp);
        if (cat)
            snprintf(q + k, sizeof q - (size_t)k, "&category=%s", cat);
        r = best(&h, q, "workerpool order", &wpo);
    }
    char *params = NULL;
    if (cella_ok(r))
        r = make_params(o, NOPTS(o), &secrets, !cli_get(o, NOPTS(o), "no-result-encryption"),
                        &params);
    cella_order req;
    cella_order_init(&req, CELLA_ORDER_REQUEST);
    if (cella_ok(r)) {
        char meh[43];
        cella_eth_address_checksum(meh, me);
        const json_t *A = json_object_get(ao, "order"), *D = json_object_get(dso, "order"),
                     *W = json_object_get(wpo, "order");
        const char *ben = cli_get(o, NOPTS(o), "beneficiary"), *trust = cli_get(o, NOPTS(o), "trust");
        json_t *rj = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "app",
            pos[0], "appmaxprice", jstr(A, "appprice") ? jstr(A, "appprice") : "0", "dataset",
            D ? jstr(D, "dataset") : ZERO_ADDRESS, "datasetmaxprice",
            D && jstr(D, "datasetprice") ? jstr(D, "datasetprice") : "0", "workerpool",
            wp ? wp : ZERO_ADDRESS, "workerpoolmaxprice",
            jstr(W, "workerpoolprice") ? jstr(W, "workerpoolprice") : "0", "requester", meh,
            "volume", cli_get(o, NOPTS(o), "volume") ? cli_get(o, NOPTS(o), "volume") : "1",
            "tag", taghex, "category",
            jstr(W, "category") ? jstr(W, "category") : "0", "trust", trust ? trust : "0",
            "beneficiary", ben ? ben : meh, "callback", ZERO_ADDRESS, "params", params, "salt",
            "0x0000000000000000000000000000000000000000000000000000000000000000");
        r = rj ? cella_order_from_json(rj, CELLA_ORDER_REQUEST, false, &req)
               : cella_fail(CELLA_E_PARSE, "request order", "an order of the book is malformed");
        json_decref(rj);
    }
    if (cella_ok(r))
        r = cella_order_sign(&d, &req, key, true);
    /* Published first, so every order of the deal can be looked up by its
     * hash (cas re-checks the orders' restrictions before it releases keys). */
    json_t *pub = NULL;
    if (cella_ok(r)) {
        json_t *rj = cella_order_to_json(&req);
        char *text = rj ? json_dumps(rj, JSON_COMPACT) : NULL;
        r = text ? cella_cas_call(&h, "POST", "/v1/orders", cella_slice_of(text, strlen(text)), &pub)
                 : cella_fail(CELLA_E_NOMEM, "app run", "out of memory");
        free(text);
        json_decref(rj);
    }
    if (cella_ok(r)) {
        body = json_pack("{s:O, s:O, s:O}", "apporder", json_object_get(ao, "orderHash"),
                         "workerpoolorder", json_object_get(wpo, "orderHash"), "requestorder",
                         json_object_get(pub, "orderHash"));
        if (body && dso)
            json_object_set(body, "datasetorder", json_object_get(dso, "orderHash"));
        char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        r = text ? cella_cas_call(&h, "POST", "/v1/deals", cella_slice_of(text, strlen(text)), &deal)
                 : cella_fail(CELLA_E_NOMEM, "app run", "out of memory");
        free(text);
        if (!cella_ok(r))
            r = cancel_request(&hub, key, jstr(pub, "orderHash"), wallet);
    }
    const char *tid = NULL;
    if (cella_ok(r)) {
        const char *k;
        json_t *v;
        printf("deal %s\n", jstr(deal, "dealid"));
        json_t *tasks = json_array();
        json_object_foreach(json_object_get(json_object_get(deal, "deal"), "tasks"), k, v) {
            tid = json_string_value(v);
            printf("task %s\n", tid ? tid : "?");
            json_array_append(tasks, v);
        }
        cli_json_set_str("deal", jstr(deal, "dealid"));
        cli_json_set_str("requestorder", jstr(pub, "orderHash"));
        cli_json_set("tasks", tasks);
        fflush(stdout);
        if (!tid)
            r = cella_fail(CELLA_E_PARSE, "app run", "the hub made a deal without a task");
    }
    if (cella_ok(r) && cli_get(o, NOPTS(o), "watch"))
        r = cli_task_watch(&h, tid, stderr, 0, NULL);
    cella_order_free(&req);
    json_decref(pub);
    free(params);
    json_decref(health);
    json_decref(ao);
    json_decref(dso);
    json_decref(wpo);
    json_decref(body);
    json_decref(deal);
    if (key)
        cella_secure_free(key, 32);
    return cli_report(r);
}

/* ---- result download ---------------------------------------------------------------- */

static int result_download(int argc, char **argv)
{
    cli_opt o[] = {{"hub-url", true, NULL},
                   {"hub-fingerprint", true, NULL},
                   {"output", true, NULL},
                   {"blobs", true, NULL}};
    const char *pos[1];
    int np;
    cli_hub hub = {0};
    char path[160], out[300], store[1024] = "";
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "result download");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "result download",
                       "usage: cella result download 0xTASKID [-o FILE]");
    uint8_t tid[32];
    if (cella_ok(r))
        r = strlen(pos[0]) == 66 && !strncmp(pos[0], "0x", 2)
                ? cella_hex_decode(tid, 32, pos[0] + 2, 64, "task id")
                : cella_fail(CELLA_E_USAGE, "task id", "expected 0x + 64 hex digits");
    if (cella_ok(r))
        r = cli_hub_open(o, NOPTS(o), &hub);
    cella_http_client h = hub.http;
    json_t *t = NULL;
    if (cella_ok(r)) {
        snprintf(path, sizeof path, "/v1/tasks/%s", pos[0]);
        r = get_json(&h, path, &t);
    }
    const char *url = cella_ok(r) ? jstr(t, "results") : NULL;
    if (cella_ok(r) && !url)
        r = cella_fail(CELLA_E_NOTFOUND, pos[0], "the task has no result yet (status %s%s%s)",
                       jstr(t, "status") ? jstr(t, "status") : "?", jstr(t, "error") ? ": " : "",
                       jstr(t, "error") ? jstr(t, "error") : "");
    uint8_t sha[32];
    char base[1024];
    if (cella_ok(r))
        r = cella_blob_parse_url(url, "results", base, sizeof base, sha);
    /* By content address: the store configured here first (the stack may have
     * moved since the worker recorded the URL), then the recorded URL. */
    if (cella_ok(r))
        r = cli_project_url(o, NOPTS(o), "blobs", "blobsUrl", "", store, sizeof store);
    if (cella_ok(r)) {
        const char *op = cli_get(o, NOPTS(o), "output");
        snprintf(out, sizeof out, "%s", op ? op : "");
        if (!op)
            snprintf(out, sizeof out, "%s.zip", pos[0]);
        r = cella_blob_fetch_file(store, url, sha, out); /* checks the SHA-256 */
    }
    if (cella_ok(r))
        printf("%s\n", out);
    json_decref(t);
    return cli_report(r);
}

const cli_command cli_market_commands[] = {
    {"app", "run", app_run,
     "cella app run 0xAPP [--dataset 0xD] [--workerpool 0xW] [--tag tee] [--category N] "
     "[--args \"...\"] [--secret 1=NAME [2=NAME...]]... [--input-files URL,...] "
     "[--beneficiary 0x..] [--volume N] [--no-result-encryption] [--watch] [--hub-url URL "
     "[--hub-fingerprint FP]] " CLI_WALLET_USAGE,
     "Buy a run of an app, like `iexec app run`: take the cheapest matching app, dataset and "
     "workerpool orders of the book, make and sign the request order (params iexec_args, "
     "iexec_secrets, iexec_result_encryption) and match them; --volume N buys a bag of N tasks. "
     "--secret maps an index to a requester secret's name: repeated, or as the SDK takes it "
     "(--secret 1=a 2=b), the mappings merge; an index given twice is an error. "
     "If the match fails, the published request order is cancelled (the error says so). "
     "Prints the deal and task ids; --watch follows the (last) task by the hub's event stream, "
     "as cella task watch does (status lines on stderr), until it completes or fails "
     "(exit 0 only if completed)."},
    {"result", "download", result_download,
     "cella result download 0xTASKID [-o FILE] [--blobs URL] [--hub-url URL [--hub-fingerprint FP]]",
     "Download a completed task's result (checked against its SHA-256) to FILE (default "
     "<taskid>.zip): by its SHA-256 from the blob store --blobs, else \"blobsUrl\" of ./cella.json, "
     "then from the URL the worker recorded. Decrypt it with `cella result decrypt`."},
    {NULL, NULL, NULL, NULL, NULL},
};
