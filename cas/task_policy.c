/* Per-task TEE sessions, the pure part: see task_policy.h. */
#include "task_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iexec/sms.h"
#include "iexec/task_env.h"

#include "core/encoding.h"
#include "core/secure.h"
#include "hub/match.h"
#include "identity/eip712.h"
#include "identity/eth.h"
#include "identity/keccak.h"
#include "policy/session.h"

void cas_task_session_name(char out[73], const uint8_t taskid[32])
{
    memcpy(out, CAS_TASK_SESSION_PREFIX "0x", 8);
    cella_hex_encode(out + 8, taskid, 32, false);
}

void cas_task_challenge_message(uint8_t out[32], const uint8_t taskid[32])
{
    cella_keccak256(out, taskid, 32);
}

/* ---- reading the hub's JSON ---------------------------------------------------------- */

static cella_res j_str(const json_t *o, const char *key, const char *what, const char **out)
{
    *out = json_string_value(json_object_get(o, key));
    CELLA_ENSURE(*out, CELLA_E_PARSE, what, "the hub sent no string \"%s\"", key);
    return CELLA_OK_RES;
}

static cella_res j_hex32(const json_t *o, const char *key, const char *what, uint8_t out[32])
{
    const char *s;
    CELLA_TRY(j_str(o, key, what, &s));
    return cella_hex_decode(out, 32, s, strlen(s), key);
}

static cella_res j_addr(const json_t *o, const char *key, uint8_t out[20])
{
    const char *s;
    CELLA_TRY(j_str(o, key, key, &s));
    return cella_eth_address_parse(out, s, key);
}

/* A uint64 given as a decimal string (the hub's way) or a JSON integer. */
static cella_res j_u64(const json_t *o, const char *key, uint64_t *out)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return CELLA_OK_RES;
    }
    const char *s = json_string_value(v);
    CELLA_ENSURE(s && *s && strlen(s) <= 19 && strspn(s, "0123456789") == strlen(s),
                 CELLA_E_PARSE, key, "the hub sent no decimal \"%s\"", key);
    *out = strtoull(s, NULL, 10);
    return CELLA_OK_RES;
}

/* {"pointer", "owner"} of the deal's app, dataset or workerpool. */
static cella_res j_resource(const json_t *deal, const char *kind, uint8_t ptr[20], uint8_t owner[20])
{
    const json_t *r = json_object_get(deal, kind);
    CELLA_ENSURE(json_is_object(r), CELLA_E_PARSE, kind, "the deal has no \"%s\" object", kind);
    CELLA_TRY(j_addr(r, "pointer", ptr));
    return j_addr(r, "owner", owner);
}

static bool zero20(const uint8_t a[20])
{
    static const uint8_t z[20] = {0};
    return memcmp(a, z, 20) == 0;
}

cella_res cas_task_parse(const json_t *j, const uint8_t taskid[32], cas_task *t)
{
    memset(t, 0, sizeof *t);
    CELLA_ENSURE(json_is_object(j), CELLA_E_PARSE, "task", "the hub's task is not an object");
    CELLA_TRY(j_hex32(j, "taskid", "task", t->taskid));
    CELLA_ENSURE(!memcmp(t->taskid, taskid, 32), CELLA_E_PARSE, "task",
                 "the hub answered with another task");
    CELLA_TRY(j_hex32(j, "dealid", "task", t->dealid));
    CELLA_TRY(j_u64(j, "idx", &t->idx));
    const char *st;
    CELLA_TRY(j_str(j, "status", "task", &st));
    snprintf(t->status, sizeof t->status, "%s", st);
    return CELLA_OK_RES;
}

cella_res cas_deal_parse(const json_t *j, cas_deal *d)
{
    memset(d, 0, sizeof *d);
    CELLA_ENSURE(json_is_object(j), CELLA_E_PARSE, "deal", "the hub's deal is not an object");
    CELLA_TRY(j_hex32(j, "dealid", "deal", d->dealid));
    CELLA_TRY(j_resource(j, "app", d->app, d->app_owner));
    CELLA_TRY(j_resource(j, "workerpool", d->pool, d->pool_owner));
    if (json_is_object(json_object_get(j, "dataset")))
        CELLA_TRY(j_resource(j, "dataset", d->dataset, d->dataset_owner));
    d->has_dataset = !zero20(d->dataset);
    CELLA_TRY(j_hex32(j, "tag", "deal", d->tag));
    CELLA_TRY(j_addr(j, "requester", d->requester));
    CELLA_TRY(j_addr(j, "beneficiary", d->beneficiary));
    CELLA_TRY(j_str(j, "params", "deal", &d->params));
    CELLA_TRY(j_u64(j, "botFirst", &d->bot_first));
    CELLA_TRY(j_u64(j, "botSize", &d->bot_size));
    const json_t *orders = json_object_get(j, "orders");
    CELLA_ENSURE(json_is_object(orders), CELLA_E_PARSE, "deal", "the deal has no \"orders\"");
    for (int k = 0; k < CELLA_ORDER__COUNT; k++) {
        if (k == CELLA_ORDER_DATASET && !d->has_dataset)
            continue;
        CELLA_TRY(j_hex32(orders, cella_order_key((cella_order_kind)k), "deal.orders", d->order[k]));
    }
    return CELLA_OK_RES;
}

cella_res cas_task_check(const cas_task *t, const cas_deal *d)
{
    char tid[67] = "0x";
    cella_hex_encode(tid + 2, t->taskid, 32, false);
    CELLA_ENSURE(!memcmp(t->dealid, d->dealid, 32), CELLA_E_PARSE, tid,
                 "the hub's task and deal do not belong together");
    uint8_t want[32];
    hub_task_id(d->dealid, t->idx, want);
    CELLA_ENSURE(t->idx >= d->bot_first && t->idx - d->bot_first < d->bot_size &&
                     !memcmp(want, t->taskid, 32),
                 CELLA_E_PARSE, tid, "the task id is not keccak256(dealid, idx) of a task of its deal");
    CELLA_ENSURE(!strcmp(t->status, "ACTIVE"), CELLA_E_POLICY, tid,
                 "the task is %s, not ACTIVE", t->status);
    CELLA_ENSURE(cella_tag_has(d->tag, CELLA_TAG_TEE), CELLA_E_POLICY, tid,
                 "not a TEE task: its deal's tag lacks the TEE bit");
    const char *kinds[3];
    size_t n;
    return cas_deal_tee_kinds(d, kinds, &n);
}

cella_res cas_deal_tee_kinds(const cas_deal *d, const char *kinds[3], size_t *n)
{
    *n = 0;
    bool sgx = cella_tag_has(d->tag, CELLA_TAG_SCONE) || cella_tag_has(d->tag, CELLA_TAG_GRAMINE);
    bool tdx = cella_tag_has(d->tag, CELLA_TAG_TDX), snp = cella_tag_has(d->tag, CELLA_TAG_SNP);
    CELLA_ENSURE(cella_tag_has(d->tag, CELLA_TAG_TEE), CELLA_E_POLICY, "deal.tag",
                 "not a TEE deal: its tag lacks the TEE bit");
    CELLA_ENSURE((int)sgx + (int)tdx + (int)snp <= 1, CELLA_E_POLICY, "deal.tag",
                 "the deal's tag asks for more than one TEE technology (%s%s%s): no enclave is "
                 "both", sgx ? "SGX (scone/gramine) " : "", tdx ? "TDX " : "", snp ? "SEV-SNP" : "");
    if (sgx || !(tdx || snp))
        kinds[(*n)++] = "sgx";
    if (tdx || !(sgx || snp))
        kinds[(*n)++] = "tdx";
    if (snp || !(sgx || tdx))
        kinds[(*n)++] = "snp";
    return CELLA_OK_RES;
}

/* ---- the orders ------------------------------------------------------------------------ */

static const char *const g_order_names[CELLA_ORDER__COUNT] = {"app order", "dataset order",
                                                               "workerpool order", "request order"};

/* The address in an order's address field. */
static void order_addr(const cella_order *o, const char *field, uint8_t out[20])
{
    uint8_t w[32];
    if (!cella_ok(cella_order_word(o, field, w)))
        memset(w, 0xff, 32); /* a field the kind lacks: matches nothing */
    memcpy(out, w + 12, 20);
}

/* The order's address `field` must be `want`; a restriction (`is_restriction`) also
 * allows zero, meaning anyone (no ERC-734 groups). */
static cella_res addr_field(const cella_order *o, cella_order_kind k, const char *field,
                            const uint8_t want[20], bool is_restriction)
{
    uint8_t a[20];
    order_addr(o, field, a);
    if (!memcmp(a, want, 20) || (is_restriction && zero20(a)))
        return CELLA_OK_RES;
    char x[43], y[43];
    cella_eth_address_checksum(x, a);
    cella_eth_address_checksum(y, want);
    return is_restriction ? cella_fail(CELLA_E_POLICY, g_order_names[k],
                                       "%s allows only %s, and the deal has %s", field, x, y)
                          : cella_fail(CELLA_E_POLICY, g_order_names[k],
                                       "its %s is %s but the deal's is %s", field, x, y);
}

static cella_res check_orders(const cas_deal *d, const cella_order o[CELLA_ORDER__COUNT],
                              const cella_domain *dom)
{
    const uint8_t *owner[CELLA_ORDER__COUNT] = {d->app_owner, d->dataset_owner, d->pool_owner,
                                                d->requester};
    for (int k = 0; k < CELLA_ORDER__COUNT; k++) {
        if (k == CELLA_ORDER_DATASET && !d->has_dataset)
            continue;
        uint8_t h[32];
        cella_order_hash(dom, &o[k], h);
        CELLA_ENSURE(!memcmp(h, d->order[k], 32), CELLA_E_POLICY, g_order_names[k],
                     "the order the hub sent does not hash to the deal's order hash");
        cella_res r = cella_order_verify(dom, &o[k], owner[k], NULL);
        if (!cella_ok(r))
            return cella_fail(CELLA_E_POLICY, g_order_names[k], "not signed by its owner: %s",
                              cella_error_what());
    }
    /* The orders name the deal's resources and accounts (exactly), and every
     * restriction allows the deal's account (zero: anyone). */
    enum { APP, DATASET, POOL, REQUESTER, BENEFICIARY };
    const uint8_t *acct[] = {d->app, d->dataset, d->pool, d->requester, d->beneficiary};
    static const struct {
        cella_order_kind k;
        const char *field;
        int account;
        bool is_restriction;
    } rules[] = {
        {CELLA_ORDER_APP, "app", APP, false},
        {CELLA_ORDER_DATASET, "dataset", DATASET, false},
        {CELLA_ORDER_WORKERPOOL, "workerpool", POOL, false},
        {CELLA_ORDER_REQUEST, "app", APP, false},
        {CELLA_ORDER_REQUEST, "dataset", DATASET, false},
        {CELLA_ORDER_REQUEST, "requester", REQUESTER, false},
        {CELLA_ORDER_REQUEST, "beneficiary", BENEFICIARY, false},
        {CELLA_ORDER_REQUEST, "workerpool", POOL, true},
        {CELLA_ORDER_APP, "datasetrestrict", DATASET, true},
        {CELLA_ORDER_APP, "workerpoolrestrict", POOL, true},
        {CELLA_ORDER_APP, "requesterrestrict", REQUESTER, true},
        {CELLA_ORDER_DATASET, "apprestrict", APP, true},
        {CELLA_ORDER_DATASET, "workerpoolrestrict", POOL, true},
        {CELLA_ORDER_DATASET, "requesterrestrict", REQUESTER, true},
        {CELLA_ORDER_WORKERPOOL, "apprestrict", APP, true},
        {CELLA_ORDER_WORKERPOOL, "datasetrestrict", DATASET, true},
        {CELLA_ORDER_WORKERPOOL, "requesterrestrict", REQUESTER, true},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        cella_order_kind k = rules[i].k;
        if (k == CELLA_ORDER_DATASET && !d->has_dataset)
            continue;
        CELLA_TRY(addr_field(&o[k], k, rules[i].field, acct[rules[i].account],
                             rules[i].is_restriction));
    }
    const cella_order *app = &o[CELLA_ORDER_APP], *wp = &o[CELLA_ORDER_WORKERPOOL],
                      *req = &o[CELLA_ORDER_REQUEST];
    CELLA_ENSURE(!strcmp(req->params ? req->params : "", d->params), CELLA_E_POLICY,
                 "request order", "its params differ from the deal's");
    /* The tag: PoCo's app | (dataset & ~0x0E) | request, all within the pool's. */
    uint8_t ta[32], td[32] = {0}, tw[32], tr[32];
    CELLA_TRY(cella_order_word(app, "tag", ta));
    if (d->has_dataset)
        CELLA_TRY(cella_order_word(&o[CELLA_ORDER_DATASET], "tag", td));
    CELLA_TRY(cella_order_word(wp, "tag", tw));
    CELLA_TRY(cella_order_word(req, "tag", tr));
    td[31] &= (uint8_t)~0x0E;
    for (int i = 0; i < 32; i++) {
        uint8_t t = (uint8_t)(ta[i] | td[i] | tr[i]);
        CELLA_ENSURE(t == d->tag[i], CELLA_E_POLICY, "deal.tag",
                     "the deal's tag is not the one its orders give");
        CELLA_ENSURE(!(t & ~tw[i]), CELLA_E_POLICY, "workerpool order",
                     "the pool's tag lacks bits the deal needs");
    }
    return CELLA_OK_RES;
}

cella_res cas_deal_check_orders(const cas_deal *d, const json_t *const orders[CELLA_ORDER__COUNT],
                                const cella_domain *dom)
{
    cella_order o[CELLA_ORDER__COUNT];
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        cella_order_init(&o[k], (cella_order_kind)k);
    cella_res r = CELLA_OK_RES;
    for (int k = 0; cella_ok(r) && k < CELLA_ORDER__COUNT; k++) {
        if (k == CELLA_ORDER_DATASET && !d->has_dataset)
            continue;
        if (!orders[k])
            r = cella_fail(CELLA_E_PARSE, g_order_names[k], "the hub sent no such order");
        else {
            cella_order_free(&o[k]);
            r = cella_order_from_json(orders[k], (cella_order_kind)k, false, &o[k]);
        }
    }
    if (cella_ok(r))
        r = check_orders(d, o, dom);
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        cella_order_free(&o[k]);
    return r;
}

/* ---- params ------------------------------------------------------------------------------ */

cella_res cas_params_parse(const char *params, cas_params *p)
{
    memset(p, 0, sizeof *p);
    p->args = "";
    if (!params || !*params)
        return CELLA_OK_RES;
    json_error_t je;
    p->root = json_loads(params, JSON_REJECT_DUPLICATES, &je);
    CELLA_ENSURE(json_is_object(p->root), CELLA_E_POLICY, "params",
                 "the deal's params are not a JSON object");
    const json_t *v = json_object_get(p->root, "iexec_args");
    if (v) {
        CELLA_ENSURE(json_is_string(v), CELLA_E_POLICY, "params.iexec_args", "not a string");
        p->args = json_string_value(v);
    }
    v = json_object_get(p->root, "iexec_input_files");
    if (v) {
        CELLA_ENSURE(json_is_array(v) && json_array_size(v) <= CAS_TASK_MAX_INPUT_FILES,
                     CELLA_E_POLICY, "params.iexec_input_files",
                     "not a list of at most %d URLs", CAS_TASK_MAX_INPUT_FILES);
        size_t i;
        const json_t *u;
        json_array_foreach(v, i, u) {
            CELLA_ENSURE(json_is_string(u) && json_string_length(u) > 0, CELLA_E_POLICY,
                         "params.iexec_input_files", "entry %zu is not a URL", i + 1);
            p->inputs[p->ninputs++] = json_string_value(u);
        }
    }
    v = json_object_get(p->root, "iexec_secrets");
    if (v) {
        CELLA_ENSURE(json_is_object(v) && json_object_size(v) <= CAS_TASK_MAX_SECRETS,
                     CELLA_E_POLICY, "params.iexec_secrets",
                     "not an object of at most %d {index: name}", CAS_TASK_MAX_SECRETS);
        const char *k;
        const json_t *n;
        json_object_foreach((json_t *)v, k, n) {
            size_t kl = strlen(k);
            CELLA_ENSURE(kl >= 1 && kl <= 6 && k[0] != '0' && strspn(k, "0123456789") == kl,
                         CELLA_E_POLICY, "params.iexec_secrets",
                         "a key is not a positive index");
            CELLA_ENSURE(json_is_string(n) && cella_iexec_secret_name_ok(json_string_value(n)),
                         CELLA_E_POLICY, "params.iexec_secrets",
                         "secret %s is not a name [A-Za-z0-9-_]{1,64}", k);
            p->secrets[p->nsecrets].index = (unsigned)strtoul(k, NULL, 10);
            p->secrets[p->nsecrets++].name = json_string_value(n);
        }
    }
    v = json_object_get(p->root, "iexec_result_encryption");
    if (v) {
        CELLA_ENSURE(json_is_boolean(v), CELLA_E_POLICY, "params.iexec_result_encryption",
                     "not a boolean");
        p->result_encryption = json_is_true(v);
    }
    return CELLA_OK_RES;
}

void cas_params_free(cas_params *p)
{
    json_decref(p->root);
    p->root = NULL;
}

/* ---- the session --------------------------------------------------------------------------- */

static cella_res env_set(json_t *env, const char *name, const char *value)
{
    json_t *v = json_string(value);
    CELLA_ENSURE(v && !json_object_set_new(env, name, v), CELLA_E_NOMEM, name, "out of memory");
    return CELLA_OK_RES;
}

static cella_res env_addr(json_t *env, const char *name, const uint8_t a[20])
{
    char t[43];
    cella_eth_address_checksum(t, a);
    return env_set(env, name, t);
}

/* A pushed secret must suit the session language too: it would read
 * "$$CELLA::x$$" as a reference. Refuse rather than mangle, naming the
 * variable, never the value (task_env refuses NUL bytes and non-UTF-8). */
static cella_res secret_check(const char *name, cella_slice s)
{
    CELLA_ENSURE(s.len > 0 && !memchr(s.p, 0, s.len), CELLA_E_POLICY, name,
                 "the pushed secret is empty or holds a NUL byte");
    for (size_t i = 0; i + 9 <= s.len; i++)
        CELLA_ENSURE(memcmp(s.p + i, "$$SCONE::", 9) && memcmp(s.p + i, "$$CELLA::", 9),
                     CELLA_E_POLICY, name,
                     "the pushed secret contains a session secret reference ($$SCONE:: or "
                     "$$CELLA::)");
    return CELLA_OK_RES;
}

static cella_res env_secret(json_t *env, const char *name, cella_slice s)
{
    CELLA_TRY(secret_check(name, s));
    json_t *v = json_stringn((const char *)s.p, s.len);
    CELLA_ENSURE(v, CELLA_E_POLICY, name, "the pushed secret is not valid UTF-8 text");
    CELLA_ENSURE(!json_object_set_new(env, name, v), CELLA_E_NOMEM, name, "out of memory");
    return CELLA_OK_RES;
}

/* The task's facts for iExec's environment (lib/iexec/task_env.h); `rs`
 * receives the requester secrets, each checked for the session language. */
static cella_res task_facts(const cas_task_inputs *in, cella_iexec_task_facts *f,
                            cella_iexec_env_secret rs[CAS_TASK_MAX_SECRETS])
{
    const cas_task *t = in->task;
    const cas_deal *d = in->deal;
    const cas_params *p = in->params;
    char name[64];
    *f = (cella_iexec_task_facts){.tee = true, .task_index = t->idx, .bot_first = d->bot_first,
                                  .bot_size = d->bot_size, .has_dataset = d->has_dataset,
                                  .input_urls = p->inputs, .ninputs = p->ninputs,
                                  .requester_secrets = rs, .nrequester_secrets = p->nsecrets,
                                  .developer_secret = in->app_secret,
                                  .dataset_url = in->dataset_url,
                                  .dataset_checksum = in->dataset_checksum,
                                  .dataset_key = in->dataset_key};
    memcpy(f->task_id, t->taskid, 32);
    memcpy(f->deal_id, d->dealid, 32);
    memcpy(f->dataset, d->dataset, 20);
    for (size_t i = 0; i < p->nsecrets; i++) {
        snprintf(name, sizeof name, "IEXEC_REQUESTER_SECRET_%u", p->secrets[i].index);
        CELLA_TRY(secret_check(name, in->requester_secret[i]));
        rs[i] = (cella_iexec_env_secret){p->secrets[i].index, in->requester_secret[i]};
    }
    if (in->app_secret.p)
        CELLA_TRY(secret_check("IEXEC_APP_DEVELOPER_SECRET", in->app_secret));
    if (d->has_dataset) {
        CELLA_ENSURE(in->dataset_url && in->dataset_checksum && in->dataset_key.p, CELLA_E_INTERNAL,
                     "dataset", "dataset inputs missing");
        CELLA_TRY(secret_check("IEXEC_DATASET_KEY", in->dataset_key));
    }
    return CELLA_OK_RES;
}

/* The session's environment: the app's variables and the pre-compute ones
 * (iExec's, lib/iexec/task_env.h), then what only the enclave itself uses
 * (args for the app's command line, result encryption, the challenge key,
 * the deal's accounts). The runtime gives the app the app's set only. */
static cella_res fill_env(const cas_task_inputs *in, json_t *env)
{
    const cas_deal *d = in->deal;
    const cas_params *p = in->params;
    cella_iexec_task_facts f;
    cella_iexec_env_secret rs[CAS_TASK_MAX_SECRETS];
    CELLA_TRY(task_facts(in, &f, rs));
    CELLA_TRY(cella_iexec_task_env_app(&f, env));
    CELLA_TRY(cella_iexec_task_env_pre(&f, env));
    CELLA_TRY(env_addr(env, "IEXEC_APP_ADDRESS", d->app));
    CELLA_TRY(env_set(env, "IEXEC_APP_ARGS", p->args));
    CELLA_TRY(env_set(env, "RESULT_ENCRYPTION", p->result_encryption ? "true" : "false"));
    if (p->result_encryption) {
        CELLA_ENSURE(in->result_key.p, CELLA_E_INTERNAL, "RESULT_ENCRYPTION_PUBLIC_KEY",
                     "result key missing");
        CELLA_TRY(env_secret(env, "RESULT_ENCRYPTION_PUBLIC_KEY", in->result_key));
    }
    char key[2 * 32 + 3] = "0x";
    cella_hex_encode(key + 2, in->challenge_priv, 32, false);
    cella_res r = env_set(env, "SIGN_TEE_CHALLENGE_PRIVATE_KEY", key);
    cella_wipe(key, sizeof key);
    CELLA_TRY(r);
    CELLA_TRY(env_addr(env, "SIGN_WORKER_ADDRESS", in->worker));
    CELLA_TRY(env_addr(env, "IEXEC_BENEFICIARY", d->beneficiary));
    return env_addr(env, "IEXEC_REQUESTER", d->requester);
}

cella_res cas_task_session(const cas_task_inputs *in, json_t **doc)
{
    *doc = NULL;
    char name[73];
    cas_task_session_name(name, in->task->taskid);
    /* The deal's tag decides the evidence kinds; sim only where cas allows it. */
    const char *kinds[3];
    size_t nk;
    CELLA_TRY(cas_deal_tee_kinds(in->deal, kinds, &nk));
    json_t *tee = json_array();
    for (size_t i = 0; tee && i < nk; i++)
        json_array_append_new(tee, json_string(kinds[i]));
    if (tee && in->allow_sim)
        json_array_append_new(tee, json_string("sim"));
    json_t *env = json_object();
    /* The runtime runs the app bundle's own entrypoint; the session's command
     * is a placeholder the session language requires. */
    json_t *raw = json_pack("{s:s, s:[{s:s, s:[s], s:[s], s:s, s:O}], s:{s:b, s:O}, s:{s:[s], s:[s]}}",
                            "name", name, "services", "name", CAS_TASK_SERVICE, "mrenclaves",
                            in->measurement, "command", "/app", "pwd", "/", "environment",
                            env, "security", "allow_sim", in->allow_sim, "tee", tee,
                            "access_policy", "read", "NONE", "update", "NONE");
    json_decref(tee);
    cella_res r = raw && env ? fill_env(in, env) : cella_fail(CELLA_E_NOMEM, name, "out of memory");
    if (cella_ok(r))
        r = cella_session_normalize(raw, doc);
    if (raw)
        cas_task_session_wipe(raw);
    json_decref(env);
    json_decref(raw);
    return r;
}

void cas_task_session_wipe(json_t *doc)
{
    size_t i;
    json_t *svc;
    json_array_foreach(json_object_get(doc, "services"), i, svc) {
        json_t *env = json_object_get(svc, "environment");
        const char *k;
        json_t *v;
        json_object_foreach(env, k, v) {
            if (json_is_string(v))
                cella_wipe((char *)json_string_value(v), json_string_length(v));
        }
    }
}
