/* cella app run: buy a run of an app like `iexec app run`, in steps: what to
 * run (the app and dataset, or the ones cella.json records as deployed), the
 * request's params, the hub's domain and the cheapest matching orders of the
 * book while a preflight asks cas (the secrets and the result key the run
 * will need exist), the signed request order, then publish and match; a
 * match that fails cancels the published request. With --watch it follows
 * the task, and with --download/--decrypt fetches its result, as `task show`
 * does (result_files.h). */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cas_client.h"
#include "casapi/casapi.h"
#include "commands.h"
#include "core/encoding.h"
#include "core/log.h"
#include "core/secure.h"
#include "hub_client.h"
#include "identity/eip712.h"
#include "identity/eth.h"
#include "iexec/sms.h"
#include "output.h"
#include "project.h"
#include "result_files.h"
#include "task_watch.h"
#include "wallet_opts.h"

#define NOPTS(o) ((int)(sizeof(o) / sizeof((o)[0])))
#define ZERO_ADDRESS "0x0000000000000000000000000000000000000000"
#define RESULT_KEY_NAME "iexec-result-encryption-public-key"

typedef struct {
    const cli_opt *o;
    int n;
    const cli_list *secrets;
    cli_hub hub;
    uint8_t *key; /* the requester's, secure memory */
    char me[43], wallet[4096];
    cella_domain d;
    char app[43], dataset[43]; /* dataset "" when none */
    uint8_t tag[32];
    json_t *ao, *dso, *wpo; /* the orders of the book matched */
    json_t *params;         /* the request's params object */
    cella_order req;
    json_t *pub, *deal;
} app_run_ctx;

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const char *opt(const app_run_ctx *x, const char *name) { return cli_get(x->o, x->n, name); }

static cella_res hub_get(const app_run_ctx *x, const char *path, json_t **out)
{
    return cella_cas_call(&x->hub.http, "GET", path, cella_slice_of("", 0), out);
}

static cella_res hub_post(const app_run_ctx *x, const char *path, const json_t *body, json_t **out)
{
    char *text = json_dumps(body, JSON_COMPACT);
    CELLA_ENSURE(text, CELLA_E_NOMEM, "app run", "out of memory");
    cella_res r = cella_cas_call(&x->hub.http, "POST", path, cella_slice_of(text, strlen(text)), out);
    free(text);
    return r;
}

/* ---- what to run ---- */

/* ADDRESS as given, else cella.json's "deployed" resource of that kind. */
static cella_res address_or_deployed(const char *given, const char *kind, const char *what,
                                     char out[43])
{
    if (given && strcmp(given, "deployed") != 0) {
        uint8_t a[20];
        CELLA_TRY(cella_eth_address_parse(a, given, what));
        cella_eth_address_checksum(out, a);
        return CELLA_OK_RES;
    }
    char hint[40];
    snprintf(hint, sizeof hint, "cella %s deploy", kind);
    return cli_project_deployed(kind, hint, out);
}

static cella_res run_target(app_run_ctx *x, const char *app_arg)
{
    CELLA_TRY(address_or_deployed(app_arg, "app", "app", x->app));
    const char *ds = opt(x, "dataset");
    if (ds)
        CELLA_TRY(address_or_deployed(ds, "dataset", "--dataset", x->dataset));
    /* The tag: --tag, else TEE (a confidential run is the point). */
    const char *tag = opt(x, "tag");
    return cella_tag_parse(tag ? tag : "tee", x->tag, "--tag");
}

/* ---- the orders of the book ---- */

/* Whether a dataset order may go with app `app`: its apprestrict is the zero
 * address or the app (PoCo's check; the SDK asks the order book the same). */
static bool allows_app(const json_t *entry, const char *app)
{
    static const uint8_t any[20];
    uint8_t r[20], a[20];
    const char *s = jstr(json_object_get(entry, "order"), "apprestrict");
    if (!s)
        return true;
    bool ok = cella_ok(cella_eth_address_parse(r, s, "apprestrict")) &&
              cella_ok(cella_eth_address_parse(a, app, "app")) &&
              (!memcmp(r, any, 20) || !memcmp(r, a, 20));
    cella_error_clear();
    return ok;
}

/* The cheapest open order of the book for a query, as the hub lists it; with
 * `app`, the cheapest that allows it (a dataset sold to several apps has one
 * order per app). */
static cella_res best(const app_run_ctx *x, const char *query, const char *what, const char *app,
                      json_t **entry)
{
    char path[600];
    snprintf(path, sizeof path, "/v1/orders?%s&limit=%d", query, app ? 100 : 1);
    json_t *book = NULL;
    CELLA_TRY(hub_get(x, path, &book));
    json_t *orders = json_object_get(book, "orders"), *e = NULL;
    for (size_t i = 0; !e && i < json_array_size(orders); i++)
        if (!app || allows_app(json_array_get(orders, i), app))
            e = json_array_get(orders, i);
    cella_res r = e     ? CELLA_OK_RES
                  : app ? cella_fail(CELLA_E_NOTFOUND, what,
                                     "no open order in the book matches (%s) and allows app %s",
                                     query, app)
                        : cella_fail(CELLA_E_NOTFOUND, what,
                                     "no open order in the book matches (%s)", query);
    if (e)
        *entry = json_incref(e);
    json_decref(book);
    return r;
}

/* The tag bits the workerpool must offer: the request's, the app's and the
 * dataset's (less the framework bits a dataset cannot require), as PoCo. */
static cella_res needed_tag(const app_run_ctx *x, char hex[67])
{
    uint8_t need[32];
    memcpy(need, x->tag, 32);
    for (int i = 0; i < 2; i++) {
        const json_t *ord = json_object_get(i ? x->dso : x->ao, "order");
        uint8_t t[32];
        if (!ord)
            continue;
        CELLA_TRY(cella_tag_parse(jstr(ord, "tag") ? jstr(ord, "tag") : "0x0", t, "order tag"));
        for (int b = 0; b < 32; b++)
            need[b] |= i && b == 31 ? (uint8_t)(t[b] & ~0x0E) : t[b];
    }
    hex[0] = '0';
    hex[1] = 'x';
    cella_hex_encode(hex + 2, need, 32, false);
    return CELLA_OK_RES;
}

static cella_res run_orders(app_run_ctx *x)
{
    char q[600], need[67];
    snprintf(q, sizeof q, "kind=apporder&app=%s", x->app);
    CELLA_TRY(best(x, q, "app order", NULL, &x->ao));
    if (x->dataset[0]) {
        snprintf(q, sizeof q, "kind=datasetorder&dataset=%s", x->dataset);
        CELLA_TRY(best(x, q, "dataset order", x->app, &x->dso));
    }
    CELLA_TRY(needed_tag(x, need));
    const char *wp = opt(x, "workerpool"), *cat = opt(x, "category");
    /* Checked before they go into the query: q holds an address and a number. */
    uint8_t a[20];
    if (wp)
        CELLA_TRY(cella_eth_address_parse(a, wp, "--workerpool"));
    CELLA_ENSURE(!cat || (*cat && strlen(cat) <= 20 && strspn(cat, "0123456789") == strlen(cat)),
                 CELLA_E_USAGE, "--category", "expected a category number, got '%s'", cat);
    int k = snprintf(q, sizeof q, "kind=workerpoolorder&mintag=%s", need);
    if (wp)
        k += snprintf(q + k, sizeof q - (size_t)k, "&workerpool=%s", wp);
    if (cat)
        snprintf(q + k, sizeof q - (size_t)k, "&category=%s", cat);
    return best(x, q, "workerpool order", NULL, &x->wpo);
}

/* ---- params ---- */

/* iexec_secrets {index: name} from every --secret value: INDEX=NAME, or
 * several separated by commas; repeats and the SDK's --secret 1=a 2=b merge,
 * and an index given twice is an error (never one silently dropped). */
static cella_res secrets_param(const cli_list *sec, json_t *m)
{
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

/* Sets params[key] from a flag; a key --params set too is an error. */
static cella_res set_param(json_t *params, const char *key, json_t *v, const char *flag)
{
    CELLA_ENSURE(v, CELLA_E_NOMEM, flag, "out of memory");
    if (json_object_get(params, key)) {
        json_decref(v);
        return cella_fail(CELLA_E_USAGE, flag, "%s is given by --params too", key);
    }
    json_object_set_new(params, key, v);
    return CELLA_OK_RES;
}

/* The request's params, iExec's objParamsSchema: --params JSON as the base,
 * then iexec_args, iexec_secrets, iexec_input_files and
 * iexec_result_encryption from their flags. */
static cella_res run_params(app_run_ctx *x)
{
    const char *base = opt(x, "params");
    json_error_t je;
    x->params = base ? json_loads(base, JSON_REJECT_DUPLICATES, &je) : json_object();
    CELLA_ENSURE(json_is_object(x->params), CELLA_E_USAGE, "--params", "not a JSON object%s%s",
                 base ? ": " : "", base ? je.text : "");
    if (opt(x, "args"))
        CELLA_TRY(set_param(x->params, "iexec_args", json_string(opt(x, "args")), "--args"));
    if (x->secrets->count) {
        json_t *m = json_object();
        CELLA_TRY(set_param(x->params, "iexec_secrets", m, "--secret"));
        CELLA_TRY(secrets_param(x->secrets, m));
    }
    const char *files = opt(x, "input-files");
    if (files) {
        json_t *a = json_array();
        CELLA_TRY(set_param(x->params, "iexec_input_files", a, "--input-files"));
        char buf[4096];
        CELLA_ENSURE(strlen(files) < sizeof buf, CELLA_E_USAGE, "--input-files", "too long");
        snprintf(buf, sizeof buf, "%s", files);
        for (char *save = NULL, *it = strtok_r(buf, ",", &save); it;
             it = strtok_r(NULL, ",", &save))
            json_array_append_new(a, json_string(it));
    }
    /* iexec_secrets, from the flags or --params: names iExec accepts (they
     * go into cas paths in the preflight and to the worker's session). */
    const char *idx;
    const json_t *name;
    json_object_foreach(json_object_get(x->params, "iexec_secrets"), idx, name) {
        CELLA_ENSURE(json_is_string(name) && cella_iexec_secret_name_ok(json_string_value(name)),
                     CELLA_E_USAGE, "--secret",
                     "secret %s: a requester secret name is 1 to %d of A-Z a-z 0-9 - _", idx,
                     CELLA_IEXEC_SECRET_NAME_MAX);
    }
    CELLA_ENSURE(!json_object_get(x->params, "iexec_secrets") ||
                     json_is_object(json_object_get(x->params, "iexec_secrets")),
                 CELLA_E_USAGE, "--params", "iexec_secrets must be an object {index: name}");
    if (!json_object_get(x->params, "iexec_result_encryption"))
        json_object_set_new(x->params, "iexec_result_encryption",
                            json_boolean(!opt(x, "no-result-encryption")));
    return CELLA_OK_RES;
}

/* ---- preflight ---- */

/* HEAD path on cas: whether the secret exists (never its value). */
static cella_res cas_exists(cas_conn *c, const char *path, bool *exists)
{
    cella_http_response resp;
    CELLA_TRY(cella_http_call(&c->http, "HEAD", path, NULL, cella_slice_of("", 0), &resp));
    long st = resp.status;
    cella_http_response_free(&resp);
    *exists = st >= 200 && st < 300;
    CELLA_ENSURE(*exists || st == 404, CELLA_E_IO, c->url, "HEAD %s: HTTP %ld", path, st);
    return CELLA_OK_RES;
}

/* What the SDK's preflight checks before it spends anything: each requester
 * secret the request names exists on cas, and with result encryption so does
 * the beneficiary's result key. Without a cas configured (--cas, or cella.json),
 * a warning says the checks did not run. */
static cella_res run_preflight(app_run_ctx *x, const char *beneficiary)
{
    if (opt(x, "skip-preflight-check"))
        return CELLA_OK_RES;
    const json_t *secrets = json_object_get(x->params, "iexec_secrets");
    bool encrypt = json_is_true(json_object_get(x->params, "iexec_result_encryption"));
    if (!json_object_size(secrets) && !encrypt)
        return CELLA_OK_RES;
    cas_conn c;
    if (!cella_ok(cas_conn_open(&c, x->o, x->n))) {
        cella_warn("no cas configured (--cas, or \"cas\" in cella.json): the requester secrets "
                   "and the result key were not checked before the run");
        return CELLA_OK_RES;
    }
    char path[512];
    bool exists;
    const char *idx;
    const json_t *name;
    json_object_foreach((json_t *)secrets, idx, name) { /* names checked by run_params */
        snprintf(path, sizeof path, "/requesters/%s/secrets/%s", x->me, json_string_value(name));
        CELLA_TRY(cas_exists(&c, path, &exists));
        CELLA_ENSURE(exists, CELLA_E_NOTFOUND, "--secret",
                     "requester secret '%s' (index %s) is not on cas: push it with `cella "
                     "requester push-secret %s`, or give --skip-preflight-check",
                     json_string_value(name), idx, json_string_value(name));
    }
    if (encrypt) {
        snprintf(path, sizeof path, "/secrets/web2?ownerAddress=%s&secretName=%s", beneficiary,
                 RESULT_KEY_NAME);
        CELLA_TRY(cas_exists(&c, path, &exists));
        CELLA_ENSURE(exists, CELLA_E_NOTFOUND, "result encryption",
                     "the beneficiary %s has no result encryption key on cas: push one with "
                     "`cella result push-encryption-key`, run with --no-result-encryption, or "
                     "give --skip-preflight-check",
                     beneficiary);
    }
    return CELLA_OK_RES;
}

/* The preflight on a thread of its own, while the main thread asks the hub
 * for its domain and the orders: its TLS handshake with cas no longer adds
 * to theirs. Joined (and its failure reported) before anything is signed;
 * it only reads x->params, x->me and x->o, which nothing changes meanwhile. */
typedef struct {
    app_run_ctx *x;
    const char *beneficiary;
    pthread_t th;
    bool running;
    cella_code code;
    char where[256], what[768];
} preflight_job;

static void *preflight_main(void *arg)
{
    preflight_job *j = arg;
    cella_res r = run_preflight(j->x, j->beneficiary);
    j->code = r.code;
    if (!cella_ok(r)) { /* the error is thread-local: carried to the joiner */
        snprintf(j->where, sizeof j->where, "%s", cella_error_where());
        snprintf(j->what, sizeof j->what, "%s", cella_error_what());
    }
    return NULL;
}

static cella_res preflight_start(preflight_job *j)
{
    int rc = pthread_create(&j->th, NULL, preflight_main, j);
    CELLA_ENSURE(rc == 0, CELLA_E_INTERNAL, "app run", "cannot start a thread: %s", strerror(rc));
    j->running = true;
    return CELLA_OK_RES;
}

/* Waits for the preflight; its failure, if any, becomes this thread's. */
static cella_res preflight_join(preflight_job *j)
{
    if (j->running)
        pthread_join(j->th, NULL);
    j->running = false;
    if (j->code == CELLA_OK)
        return CELLA_OK_RES;
    return cella_fail(j->code, j->where, "%s", j->what);
}

/* The domain and the orders from the hub while the preflight runs; errors
 * come in the order the steps had when they ran one after the other: the
 * hub's domain, the preflight, the orders. */
static cella_res run_book(app_run_ctx *x, const char *beneficiary)
{
    preflight_job pf = {.x = x, .beneficiary = beneficiary};
    CELLA_TRY(preflight_start(&pf));
    cella_res d = hub_domain_get(&x->hub, &x->d);
    cella_res o = cella_ok(d) ? run_orders(x) : d;
    /* a failure of the main thread is its error until the join reports another */
    char where[256], what[768];
    snprintf(where, sizeof where, "%s", cella_error_where());
    snprintf(what, sizeof what, "%s", cella_error_what());
    cella_res p = preflight_join(&pf);
    if (!cella_ok(d))
        return cella_fail(d.code, where, "%s", what);
    if (!cella_ok(p))
        return p;
    return cella_ok(o) ? o : cella_fail(o.code, where, "%s", what);
}

/* ---- the request order ---- */

static cella_res run_request(app_run_ctx *x, const char *beneficiary)
{
    const json_t *A = json_object_get(x->ao, "order"), *D = json_object_get(x->dso, "order"),
                 *W = json_object_get(x->wpo, "order");
    const char *wp = opt(x, "workerpool"), *trust = opt(x, "trust"), *vol = opt(x, "volume");
    char taghex[67] = "0x";
    cella_hex_encode(taghex + 2, x->tag, 32, false);
    char *params = json_dumps(x->params, JSON_COMPACT | JSON_SORT_KEYS);
    CELLA_ENSURE(params, CELLA_E_NOMEM, "params", "out of memory");
    json_t *rj = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "app",
        x->app, "appmaxprice", jstr(A, "appprice") ? jstr(A, "appprice") : "0", "dataset",
        D ? jstr(D, "dataset") : ZERO_ADDRESS, "datasetmaxprice",
        D && jstr(D, "datasetprice") ? jstr(D, "datasetprice") : "0", "workerpool",
        wp ? wp : ZERO_ADDRESS, "workerpoolmaxprice",
        jstr(W, "workerpoolprice") ? jstr(W, "workerpoolprice") : "0", "requester", x->me,
        "volume", vol ? vol : "1", "tag", taghex, "category",
        jstr(W, "category") ? jstr(W, "category") : "0", "trust", trust ? trust : "0",
        "beneficiary", beneficiary, "callback", ZERO_ADDRESS, "params", params, "salt",
        "0x0000000000000000000000000000000000000000000000000000000000000000");
    free(params);
    cella_res r = rj ? cella_order_from_json(rj, CELLA_ORDER_REQUEST, false, &x->req)
                     : cella_fail(CELLA_E_PARSE, "request order", "an order of the book is malformed");
    json_decref(rj);
    CELLA_TRY(r);
    return cella_order_sign(&x->d, &x->req, x->key, true);
}

/* ---- publish and match ---- */

/* The match failed after the request order was published: cancel the order
 * (PoCo's CLOSE, signed by the requester), so that a failed run leaves nothing
 * open in the book that a later match could consume, and say so in the error.
 * When the cancel fails too, the error says the order is still open and how to
 * cancel it. Returns the failure to report. */
static cella_res cancel_request(const app_run_ctx *x, const char *hash)
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
    cella_http_client hub = x->hub.http;
    hub.repeatable = true; /* closing an order twice closes it */
    cella_res c = text ? cella_cas_signed_call(&hub, x->key, "POST", "/v1/orders/cancel",
                                               cella_slice_of(text, strlen(text)),
                                               "application/json", &reply)
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
                      first, hash, why, hash, x->wallet, x->hub.url,
                      x->hub.fingerprint[0] ? " --hub-fingerprint " : "", x->hub.fingerprint);
}

/* Published first, so every order of the deal can be looked up by its hash
 * (cas re-checks the orders' restrictions before it releases keys). */
static cella_res run_match(app_run_ctx *x)
{
    json_t *rj = cella_order_to_json(&x->req);
    CELLA_ENSURE(rj, CELLA_E_NOMEM, "app run", "out of memory");
    cella_res r = hub_post(x, "/v1/orders", rj, &x->pub);
    json_decref(rj);
    CELLA_TRY(r);
    json_t *body = json_pack("{s:O, s:O, s:O}", "apporder", json_object_get(x->ao, "orderHash"),
                             "workerpoolorder", json_object_get(x->wpo, "orderHash"),
                             "requestorder", json_object_get(x->pub, "orderHash"));
    CELLA_ENSURE(body, CELLA_E_NOMEM, "app run", "out of memory");
    if (x->dso)
        json_object_set(body, "datasetorder", json_object_get(x->dso, "orderHash"));
    r = hub_post(x, "/v1/deals", body, &x->deal);
    json_decref(body);
    if (!cella_ok(r))
        r = cancel_request(x, jstr(x->pub, "orderHash"));
    return r;
}

/* Prints the deal and its tasks; *last: the last task's id. */
static cella_res run_print(const app_run_ctx *x, const char **last)
{
    const char *k;
    json_t *v, *tasks = json_array();
    printf("deal %s\n", jstr(x->deal, "dealid"));
    *last = NULL;
    json_object_foreach(json_object_get(json_object_get(x->deal, "deal"), "tasks"), k, v) {
        *last = json_string_value(v);
        printf("task %s\n", *last ? *last : "?");
        json_array_append(tasks, v);
    }
    fflush(stdout);
    cli_json_set_str("deal", jstr(x->deal, "dealid"));
    cli_json_set_str("requestorder", jstr(x->pub, "orderHash"));
    cli_json_set("tasks", tasks);
    CELLA_ENSURE(*last, CELLA_E_PARSE, "app run", "the hub made a deal without a task");
    return CELLA_OK_RES;
}

/* --download/--decrypt: one task's result, and what would refuse it checked
 * before anything is bought. */
static cella_res result_options(const app_run_ctx *x)
{
    if (!cli_result_wanted(x->o, x->n)) {
        static const char *const need[] = {"output", "decrypted", "blobs", "key",
                                           "beneficiary-key-file", "secrets-dir",
                                           "beneficiary-keystoredir"};
        for (size_t i = 0; i < sizeof need / sizeof *need; i++)
            CELLA_ENSURE(!opt(x, need[i]), CELLA_E_USAGE, "app run",
                         "--%s goes with --download or --decrypt", need[i]);
        return CELLA_OK_RES;
    }
    const char *vol = opt(x, "volume");
    CELLA_ENSURE(!vol || !strcmp(vol, "1"), CELLA_E_USAGE, "--download",
                 "a result is downloaded for one task: not with --volume %s (cella task show "
                 "TASKID --download fetches each)",
                 vol);
    return cli_result_preflight(x->o, x->n, NULL);
}

static cella_res run_steps(app_run_ctx *x, const char *app_arg)
{
    CELLA_TRY(run_target(x, app_arg));
    CELLA_TRY(result_options(x));
    CELLA_TRY(cli_hub_open(x->o, x->n, &x->hub));
    /* one connection to the hub for every call (each would make its own) */
    x->hub.http.reuse = cella_http_pool_new();
    CELLA_ENSURE(x->hub.http.reuse, CELLA_E_NOMEM, "app run", "out of memory");
    x->key = cella_secure_alloc(32);
    CELLA_ENSURE(x->key, CELLA_E_NOMEM, "wallet", "out of memory");
    uint8_t me[20];
    CELLA_TRY(cli_wallet_open(x->o, x->n, x->key, me));
    cella_eth_address_checksum(x->me, me);
    CELLA_TRY(cli_wallet_path(x->o, x->n, x->wallet, sizeof x->wallet));
    const char *ben = opt(x, "beneficiary");
    char beneficiary[43];
    if (ben) {
        uint8_t b[20];
        CELLA_TRY(cella_eth_address_parse(b, ben, "--beneficiary"));
        cella_eth_address_checksum(beneficiary, b);
    } else {
        snprintf(beneficiary, sizeof beneficiary, "%s", x->me);
    }
    CELLA_TRY(run_params(x));
    CELLA_TRY(run_book(x, beneficiary));
    CELLA_TRY(run_request(x, beneficiary));
    CELLA_TRY(run_match(x));
    const char *task;
    CELLA_TRY(run_print(x, &task));
    bool result = cli_result_wanted(x->o, x->n);
    if (!opt(x, "watch") && !result)
        return CELLA_OK_RES;
    json_t *done = NULL; /* the task as the hub shows it COMPLETED */
    CELLA_TRY(cli_task_watch(&x->hub.http, task, stderr, 0, &done));
    cella_res r = result ? cli_result_download(x->o, x->n, &x->hub, task, done) : CELLA_OK_RES;
    json_decref(done);
    return r;
}

static int app_run(int argc, char **argv)
{
    cli_opt o[] = {{"hub-url", true, NULL},       {"hub-fingerprint", true, NULL},
                   CLI_WALLET_OPTS,               {"cas", true, NULL},
                   {"cas-fingerprint", true, NULL}, {"dataset", true, NULL},
                   {"workerpool", true, NULL},    {"tag", true, NULL},
                   {"category", true, NULL},      {"args", true, NULL},
                   {"secret", true, NULL},        {"input-files", true, NULL},
                   {"params", true, NULL},        {"beneficiary", true, NULL},
                   {"trust", true, NULL},         {"no-result-encryption", false, NULL},
                   {"skip-preflight-check", false, NULL}, {"watch", false, NULL},
                   {"volume", true, NULL},        CLI_RESULT_DOWNLOAD_OPTS};
    const char *pos[1] = {NULL};
    int np;
    cli_list secrets = {.name = "secret"};
    app_run_ctx x = {.o = o, .n = NOPTS(o), .secrets = &secrets};
    cella_order_init(&x.req, CELLA_ORDER_REQUEST);
    cella_res r = cli_parse_lists(argc, argv, o, NOPTS(o), &secrets, 1, pos, 1, &np, "app run");
    if (cella_ok(r))
        r = run_steps(&x, pos[0]);
    cella_order_free(&x.req);
    json_decref(x.ao);
    json_decref(x.dso);
    json_decref(x.wpo);
    json_decref(x.params);
    json_decref(x.pub);
    json_decref(x.deal);
    if (x.key)
        cella_secure_free(x.key, 32);
    cella_http_pool_free(x.hub.http.reuse);
    return cli_report(r);
}

const cli_command cli_apprun_commands[] = {
    {"app", "run", app_run,
     "cella app run [0xAPP] [--dataset 0xD|deployed] [--workerpool 0xW] [--tag tee] "
     "[--category N] [--trust N] [--args \"...\"] [--secret 1=NAME [2=NAME...]]... "
     "[--input-files URL,...] [--params JSON] [--beneficiary 0x..] [--volume N] "
     "[--no-result-encryption] [--skip-preflight-check] [--watch] [--download [-o FILE] "
     "[--blobs URL]] [--decrypt [--decrypted FILE] [--key FILE]] [--hub-url URL "
     "[--hub-fingerprint FP]] [--cas URL --cas-fingerprint FP] " CLI_WALLET_USAGE,
     "Buy a run of an app, like `iexec app run`: take the cheapest matching app, dataset and "
     "workerpool orders of the book (a dataset order only if its apprestrict allows the app), "
     "make and sign the request order and match them. The app "
     "(and with --dataset deployed, the dataset) defaults to the one cella.json records as "
     "deployed. The request's params are --params (a JSON object, as the SDK's), with "
     "iexec_args, iexec_secrets, iexec_input_files and iexec_result_encryption from their "
     "flags (a key given both ways is an error). --secret maps an index to a requester "
     "secret's name: repeated, or as the SDK takes it (--secret 1=a 2=b), the mappings merge; "
     "an index given twice is an error. --trust N asks for N-fold replication (PoCo's trust; "
     "0 or 1: one worker). --volume N buys a bag of N tasks. Before anything is signed, a "
     "preflight asks cas that each named requester secret and, with result encryption, the "
     "beneficiary's result key exist (--skip-preflight-check skips it). If the match fails, "
     "the published request order is cancelled (the error says so). Prints the deal and task "
     "ids; --watch follows the (last) task by the hub's event stream, as cella task watch "
     "does (status lines on stderr), until it completes or fails (exit 0 only if completed). "
     "--download and --decrypt (each implies --watch; one task only) then fetch and decrypt "
     "its result in the same command, with the options and files of `cella task show "
     "--download --decrypt`: the result to -o FILE (default <taskid>.zip), decrypted with the "
     "beneficiary key (--key, --beneficiary-key-file, --secrets-dir, "
     "--beneficiary-keystoredir; default the only key in .secrets/beneficiary) to --decrypted "
     "FILE (default results.zip); each file is written whole or not at all and never "
     "replaces one. A missing key, or an output that already exists, is refused before "
     "anything is bought; a task that fails is an error and writes nothing."},
    {NULL, NULL, NULL, NULL, NULL},
};
