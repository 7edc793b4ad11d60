/* Unit tests for cas's per-task TEE sessions, the pure part (cas/task_policy.c):
 * reading the hub's task and deal, the task checks, every order check done again
 * (hash, signer, resources, the ten restrictions, tag, params), iExec params, and
 * the session document with its environment. The server part is tested
 * end to end by tests/cli/cas_task.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* cas/ is a program folder, not a library: compile its pure file in. */
#include "../../cas/task_policy.c"

#include "core/encoding.h"
#include "hub/match.h"
#include "identity/eth.h"
#include "testutil.h"

static cella_domain g_dom = {.chain_id = 421614};
static uint8_t g_priv[4][32]; /* app owner, dataset owner, pool owner, requester */
static char g_owner[4][43];
static const char *const APP = "0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
                         *const DS = "0xd5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5",
                         *const WP = "0x3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b",
                         *const OTHER = "0x9999999999999999999999999999999999999999",
                         *const ZERO = "0x0000000000000000000000000000000000000000";
#define TAG_TEE "0x0000000000000000000000000000000000000000000000000000000000000001"
#define TAG_NONE "0x0000000000000000000000000000000000000000000000000000000000000000"
#define PARAMS "{\"iexec_args\":\"a b\",\"iexec_secrets\":{\"1\":\"s1\",\"2\":\"s2\"}}"
#define INPUT1_NAME "0x32e97537943bb49aa70e037d269957b5722beb1ff398649072cfbe54e3469a56"

/* The four orders (templates, unsigned) and what is made of them. */
typedef struct {
    json_t *tpl[CELLA_ORDER__COUNT];
    json_t *signed_[CELLA_ORDER__COUNT];
    json_t *deal;
    cas_deal d;
    bool no_dataset;
} fixture;

static int group_setup(void **state)
{
    (void)state;
    test_unhex(g_dom.hub, 20, "B2157BF2fAb286b2A4170E3491Ac39770111Da3E");
    for (int i = 0; i < 4; i++) {
        uint8_t a[20];
        assert_succeeds(cella_eth_privkey_generate(g_priv[i]));
        assert_succeeds(cella_eth_address_from_privkey(g_priv[i], a));
        cella_eth_address_checksum(g_owner[i], a);
    }
    return 0;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->tpl[CELLA_ORDER_APP] = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "app", APP, "appprice", "0", "volume", "10", "tag",
        TAG_TEE, "datasetrestrict", DS, "workerpoolrestrict", ZERO, "requesterrestrict", ZERO);
    fx->tpl[CELLA_ORDER_DATASET] = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "dataset", DS, "datasetprice", "0", "volume", "10",
        "tag", TAG_NONE, "apprestrict", APP, "workerpoolrestrict", WP, "requesterrestrict",
        g_owner[3]);
    fx->tpl[CELLA_ORDER_WORKERPOOL] = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "workerpool", WP, "workerpoolprice", "0",
        "volume", "10", "tag", TAG_TEE, "category", "0", "trust", "1", "apprestrict", ZERO,
        "datasetrestrict", ZERO, "requesterrestrict", ZERO);
    fx->tpl[CELLA_ORDER_REQUEST] = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "app", APP,
        "appmaxprice", "0", "dataset", DS, "datasetmaxprice", "0", "workerpool", WP,
        "workerpoolmaxprice", "0", "requester", g_owner[3], "volume", "1", "tag", TAG_TEE,
        "category", "0", "trust", "0", "beneficiary", g_owner[3], "callback", ZERO, "params",
        PARAMS);
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        assert_non_null(fx->tpl[k]);
    *state = fx;
    return 0;
}

static void drop_made(fixture *fx)
{
    for (int k = 0; k < CELLA_ORDER__COUNT; k++) {
        json_decref(fx->signed_[k]);
        fx->signed_[k] = NULL;
    }
    json_decref(fx->deal);
    fx->deal = NULL;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    drop_made(fx);
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        json_decref(fx->tpl[k]);
    free(fx);
    return 0;
}

static void set(fixture *fx, cella_order_kind k, const char *field, const char *value)
{
    assert_int_equal(json_object_set_new(fx->tpl[k], field, json_string(value)), 0);
}

static json_t *hex_j(const uint8_t *p, size_t n)
{
    char t[2 * 32 + 3] = "0x";
    cella_hex_encode(t + 2, p, n, false);
    return json_string(t);
}

/* Signs the templates (order k by signer[k]) and writes the deal the hub would
 * show for them, then parses it into fx->d. */
static void make_signed_by(fixture *fx, const int signer[4])
{
    drop_made(fx);
    uint8_t hash[CELLA_ORDER__COUNT][32] = {{0}};
    for (int k = 0; k < CELLA_ORDER__COUNT; k++) {
        if (k == CELLA_ORDER_DATASET && fx->no_dataset)
            continue;
        cella_order o;
        assert_succeeds(cella_order_from_json(fx->tpl[k], (cella_order_kind)k, true, &o));
        assert_succeeds(cella_order_sign(&g_dom, &o, g_priv[signer[k]], true));
        cella_order_hash(&g_dom, &o, hash[k]);
        fx->signed_[k] = cella_order_to_json(&o);
        cella_order_free(&o);
    }
    uint8_t dealid[32] = {0xde, 0xa1};
    json_t *orders = json_pack("{s:o, s:o, s:o, s:o}", "apporder", hex_j(hash[0], 32),
                               "datasetorder", fx->no_dataset ? json_null() : hex_j(hash[1], 32),
                               "workerpoolorder", hex_j(hash[2], 32), "requestorder",
                               hex_j(hash[3], 32));
    fx->deal = json_pack(
        "{s:o, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s, s:o}",
        "dealid", hex_j(dealid, 32), "app", "pointer", APP, "owner", g_owner[0], "dataset",
        "pointer", fx->no_dataset ? ZERO : DS, "owner", fx->no_dataset ? ZERO : g_owner[1],
        "workerpool", "pointer", WP, "owner", g_owner[2], "tag", TAG_TEE, "requester", g_owner[3],
        "beneficiary", g_owner[3], "params",
        json_string_value(json_object_get(fx->tpl[CELLA_ORDER_REQUEST], "params")), "botFirst",
        "0", "botSize", "2", "orders", orders);
    assert_non_null(fx->deal);
    assert_succeeds(cas_deal_parse(fx->deal, &fx->d));
}

static void make(fixture *fx)
{
    static const int own[4] = {0, 1, 2, 3};
    make_signed_by(fx, own);
}

static cella_res check(fixture *fx)
{
    return cas_deal_check_orders(&fx->d, (const json_t *const *)fx->signed_, &g_dom);
}

/* The refusal is a policy refusal whose text contains `what`. */
static void assert_refused(fixture *fx, const char *what)
{
    assert_fails_with(check(fx), CELLA_E_POLICY);
    if (!strstr(cella_error_what(), what) && !strstr(cella_error_where(), what))
        fail_msg("refusal \"%s (%s)\" does not name %s", cella_error_what(), cella_error_where(),
                 what);
}

/* ---- task and deal ---- */

static void test_names(void **state)
{
    (void)state;
    uint8_t t[32];
    memset(t, 0xab, 32);
    char n[73];
    cas_task_session_name(n, t);
    assert_string_equal(n, "iexec-0xabababababababababababababababababababababababababababababababab");
    uint8_t m[32], k[32];
    cas_task_challenge_message(m, t);
    cella_keccak256(k, t, 32);
    assert_memory_equal(m, k, 32);
}

static void task_of(fixture *fx, uint64_t idx, const char *status, json_t **tj, uint8_t id[32])
{
    hub_task_id(fx->d.dealid, idx, id);
    char ix[24];
    snprintf(ix, sizeof ix, "%llu", (unsigned long long)idx);
    *tj = json_pack("{s:o, s:O, s:s, s:s}", "taskid", hex_j(id, 32), "dealid",
                    json_object_get(fx->deal, "dealid"), "idx", ix, "status", status);
    assert_non_null(*tj);
}

static void test_task_checks(void **state)
{
    fixture *fx = *state;
    make(fx);
    json_t *tj;
    uint8_t id[32], other[32] = {1};
    cas_task t;
    task_of(fx, 1, "ACTIVE", &tj, id);
    assert_succeeds(cas_task_parse(tj, id, &t));
    assert_int_equal(t.idx, 1);
    assert_succeeds(cas_task_check(&t, &fx->d));
    /* the hub answering about another task */
    assert_fails_with(cas_task_parse(tj, other, &t), CELLA_E_PARSE);
    json_decref(tj);
    /* a finished task */
    task_of(fx, 0, "COMPLETED", &tj, id);
    assert_succeeds(cas_task_parse(tj, id, &t));
    assert_fails_with(cas_task_check(&t, &fx->d), CELLA_E_POLICY);
    assert_non_null(strstr(cella_error_what(), "COMPLETED, not ACTIVE"));
    json_decref(tj);
    /* outside the bag of tasks (botFirst 0, botSize 2) */
    task_of(fx, 2, "ACTIVE", &tj, id);
    assert_succeeds(cas_task_parse(tj, id, &t));
    assert_fails_with(cas_task_check(&t, &fx->d), CELLA_E_PARSE);
    json_decref(tj);
    /* an id that is not keccak256(dealid, idx) */
    task_of(fx, 0, "ACTIVE", &tj, id);
    assert_succeeds(cas_task_parse(tj, id, &t));
    t.taskid[5] ^= 1;
    assert_fails_with(cas_task_check(&t, &fx->d), CELLA_E_PARSE);
    t.taskid[5] ^= 1;
    /* another deal */
    t.dealid[0] ^= 1;
    assert_fails_with(cas_task_check(&t, &fx->d), CELLA_E_PARSE);
    t.dealid[0] ^= 1;
    /* not a TEE deal */
    fx->d.tag[31] = 0;
    assert_fails_with(cas_task_check(&t, &fx->d), CELLA_E_POLICY);
    assert_non_null(strstr(cella_error_what(), "not a TEE task"));
    json_decref(tj);
}

static void test_deal_parse_refuses_garbage(void **state)
{
    fixture *fx = *state;
    make(fx);
    cas_deal d;
    static const char *const keys[] = {"dealid", "app", "workerpool", "tag", "requester",
                                       "beneficiary", "params", "botFirst", "botSize", "orders"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *j = json_deep_copy(fx->deal);
        json_object_set_new(j, keys[i], json_integer(-1));
        assert_fails_with(cas_deal_parse(j, &d), CELLA_E_PARSE);
        json_object_del(j, keys[i]);
        assert_fails_with(cas_deal_parse(j, &d), CELLA_E_PARSE);
        json_decref(j);
    }
    json_t *arr = json_array();
    assert_fails_with(cas_deal_parse(arr, &d), CELLA_E_PARSE);
    json_decref(arr);
    cas_task t;
    uint8_t id[32] = {0};
    assert_fails_with(cas_task_parse(NULL, id, &t), CELLA_E_PARSE);
}

/* ---- orders, checked again ---- */

static void test_orders_ok(void **state)
{
    fixture *fx = *state;
    make(fx);
    assert_succeeds(check(fx));
    assert_true(fx->d.has_dataset);
    assert_string_equal(fx->d.params, PARAMS);
}

static void test_orders_ok_without_dataset(void **state)
{
    fixture *fx = *state;
    fx->no_dataset = true;
    set(fx, CELLA_ORDER_REQUEST, "dataset", ZERO);
    set(fx, CELLA_ORDER_APP, "datasetrestrict", ZERO);
    make(fx);
    assert_false(fx->d.has_dataset);
    assert_succeeds(check(fx));
}

static void test_order_hash_and_signer(void **state)
{
    fixture *fx = *state;
    make(fx);
    /* the hub sends an order that is not the deal's */
    json_t *saved = fx->signed_[CELLA_ORDER_APP];
    fx->signed_[CELLA_ORDER_APP] = json_deep_copy(saved);
    json_object_set_new(fx->signed_[CELLA_ORDER_APP], "appprice", json_string("1"));
    assert_refused(fx, "does not hash to the deal's order hash");
    json_decref(fx->signed_[CELLA_ORDER_APP]);
    fx->signed_[CELLA_ORDER_APP] = saved;
    /* a deal hash that is not its order's */
    fx->d.order[CELLA_ORDER_WORKERPOOL][0] ^= 1;
    assert_refused(fx, "does not hash");
    /* each order signed by someone else than its owner */
    for (int k = 0; k < 3; k++) {
        int by[4] = {0, 1, 2, 3};
        by[k] = (k + 1) % 3;
        make_signed_by(fx, by);
        assert_refused(fx, "not signed by its owner");
    }
    /* a missing order */
    make(fx);
    json_decref(fx->signed_[CELLA_ORDER_DATASET]);
    fx->signed_[CELLA_ORDER_DATASET] = NULL;
    assert_fails_with(check(fx), CELLA_E_PARSE);
    /* garbage in place of an order */
    fx->signed_[CELLA_ORDER_DATASET] = json_string("x");
    assert_fails_with(check(fx), CELLA_E_PARSE);
}

static void test_orders_name_the_deal(void **state)
{
    fixture *fx = *state;
    make(fx);
    /* the hub's deal says another requester, beneficiary or params than the orders */
    json_object_set_new(fx->deal, "beneficiary", json_string(OTHER));
    assert_succeeds(cas_deal_parse(fx->deal, &fx->d));
    assert_refused(fx, "beneficiary");
    make(fx);
    json_object_set_new(fx->deal, "params", json_string("{}"));
    assert_succeeds(cas_deal_parse(fx->deal, &fx->d));
    assert_refused(fx, "params differ");
    make(fx);
    json_object_set_new(json_object_get(fx->deal, "app"), "pointer", json_string(OTHER));
    assert_succeeds(cas_deal_parse(fx->deal, &fx->d));
    assert_refused(fx, "app order");
    make(fx);
    json_object_set_new(fx->deal, "tag",
                        json_string("0x0000000000000000000000000000000000000000000000000000000000000003"));
    assert_succeeds(cas_deal_parse(fx->deal, &fx->d));
    assert_refused(fx, "deal.tag");
}

static void test_restrictions(void **state)
{
    fixture *fx = *state;
    static const struct {
        cella_order_kind k;
        const char *field;
    } r[] = {
        {CELLA_ORDER_REQUEST, "workerpool"},         {CELLA_ORDER_APP, "datasetrestrict"},
        {CELLA_ORDER_APP, "workerpoolrestrict"},     {CELLA_ORDER_APP, "requesterrestrict"},
        {CELLA_ORDER_DATASET, "apprestrict"},        {CELLA_ORDER_DATASET, "workerpoolrestrict"},
        {CELLA_ORDER_DATASET, "requesterrestrict"},  {CELLA_ORDER_WORKERPOOL, "apprestrict"},
        {CELLA_ORDER_WORKERPOOL, "datasetrestrict"}, {CELLA_ORDER_WORKERPOOL, "requesterrestrict"},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        json_t *was = json_incref(json_object_get(fx->tpl[r[i].k], r[i].field));
        set(fx, r[i].k, r[i].field, OTHER);
        make(fx);
        assert_refused(fx, r[i].field);
        /* zero allows anyone */
        set(fx, r[i].k, r[i].field, ZERO);
        make(fx);
        assert_succeeds(check(fx));
        json_object_set_new(fx->tpl[r[i].k], r[i].field, was);
    }
    /* the pool's tag must cover the deal's */
    set(fx, CELLA_ORDER_WORKERPOOL, "tag", TAG_NONE);
    make(fx);
    assert_refused(fx, "pool's tag");
}

/* ---- params ---- */

static void test_params(void **state)
{
    (void)state;
    cas_params p;
    assert_succeeds(cas_params_parse("", &p));
    assert_string_equal(p.args, "");
    assert_int_equal(p.ninputs + p.nsecrets, 0);
    assert_false(p.result_encryption);
    cas_params_free(&p);
    assert_succeeds(cas_params_parse(
        "{\"iexec_args\":\"x y\",\"iexec_input_files\":[\"https://a\",\"https://b\"],"
        "\"iexec_secrets\":{\"1\":\"one\",\"12\":\"two-2_\"},\"iexec_result_encryption\":true,"
        "\"iexec_result_storage_provider\":\"ipfs\"}",
        &p));
    assert_string_equal(p.args, "x y");
    assert_int_equal(p.ninputs, 2);
    assert_string_equal(p.inputs[1], "https://b");
    assert_int_equal(p.nsecrets, 2);
    assert_true(p.result_encryption);
    cas_params_free(&p);
    static const char *const bad[] = {
        "not json",
        "[1]",
        "{\"iexec_args\": 3}",
        "{\"iexec_input_files\": \"x\"}",
        "{\"iexec_input_files\": [\"\"]}",
        "{\"iexec_input_files\": [3]}",
        "{\"iexec_secrets\": [\"a\"]}",
        "{\"iexec_secrets\": {\"0\": \"a\"}}",
        "{\"iexec_secrets\": {\"01\": \"a\"}}",
        "{\"iexec_secrets\": {\"x\": \"a\"}}",
        "{\"iexec_secrets\": {\"1\": \"a b\"}}",
        "{\"iexec_secrets\": {\"1\": 5}}",
        "{\"iexec_result_encryption\": \"true\"}",
        "{\"iexec_args\": \"a\", \"iexec_args\": \"b\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_fails_with(cas_params_parse(bad[i], &p), CELLA_E_POLICY);
        cas_params_free(&p);
    }
    /* more input files than the cap */
    json_t *many = json_array();
    for (int i = 0; i <= CAS_TASK_MAX_INPUT_FILES; i++)
        json_array_append_new(many, json_string("https://x"));
    json_t *o = json_pack("{s:o}", "iexec_input_files", many);
    char *s = json_dumps(o, 0);
    assert_fails_with(cas_params_parse(s, &p), CELLA_E_POLICY);
    cas_params_free(&p);
    free(s);
    json_decref(o);
}

/* ---- the session ---- */

typedef struct {
    cas_task task;
    cas_params params;
    uint8_t priv[32];
    cas_task_inputs in;
} session_inputs;

static void inputs(fixture *fx, session_inputs *s, const char *params)
{
    memset(s, 0, sizeof *s);
    make(fx);
    s->task.idx = 1;
    hub_task_id(fx->d.dealid, 1, s->task.taskid);
    memcpy(s->task.dealid, fx->d.dealid, 32);
    snprintf(s->task.status, sizeof s->task.status, "ACTIVE");
    assert_succeeds(cas_params_parse(params, &s->params));
    memset(s->priv, 0x42, 32);
    s->in.task = &s->task;
    s->in.deal = &fx->d;
    s->in.params = &s->params;
    s->in.measurement = "3B62fef269341bc93238580b516d2d934e1264e7442e484d4d459a9abc519a76";
    s->in.dataset_url = "https://blobs/x";
    s->in.dataset_checksum = "0x1d64";
    s->in.dataset_key = cella_slice_of("S0VZa2V5", 8);
    for (size_t i = 0; i < s->params.nsecrets; i++)
        s->in.requester_secret[i] = cella_slice_of("line one\nline two", 17);
    s->in.result_key = cella_slice_of("UEVN", 4);
    s->in.challenge_priv = s->priv;
    memset(s->in.worker, 0x77, 20);
    s->in.allow_sim = true;
}

static const char *env_of(const json_t *doc, const char *name)
{
    const json_t *svc = cella_session_service(doc, CAS_TASK_SERVICE);
    return json_string_value(json_object_get(json_object_get(svc, "environment"), name));
}

static void test_session_document(void **state)
{
    fixture *fx = *state;
    session_inputs s;
    inputs(fx, &s,
           "{\"iexec_args\":\"a b\",\"iexec_input_files\":[\"https://in/1\"],"
           "\"iexec_secrets\":{\"1\":\"s1\",\"3\":\"s3\"},\"iexec_result_encryption\":true}");
    json_t *doc = NULL;
    assert_succeeds(cas_task_session(&s.in, &doc));
    char name[73], hex[67] = "0x";
    cas_task_session_name(name, s.task.taskid);
    assert_string_equal(json_string_value(json_object_get(doc, "name")), name);
    /* normalised: a fixed point of the session language */
    json_t *again = NULL;
    assert_succeeds(cella_session_normalize(doc, &again));
    assert_true(json_equal(doc, again));
    json_decref(again);
    const json_t *svc = cella_session_service(doc, "app");
    assert_non_null(svc);
    assert_string_equal(json_string_value(json_array_get(json_object_get(svc, "mrenclaves"), 0)),
                        "3b62fef269341bc93238580b516d2d934e1264e7442e484d4d459a9abc519a76");
    const json_t *ap = json_object_get(doc, "access_policy");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ap, "read"), 0)), "NONE");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ap, "update"), 0)), "NONE");
    assert_true(json_is_true(json_object_get(json_object_get(doc, "security"), "allow_sim")));
    cella_hex_encode(hex + 2, s.task.taskid, 32, false);
    assert_string_equal(env_of(doc, "IEXEC_TASK_ID"), hex);
    assert_string_equal(env_of(doc, "IEXEC_TASK_INDEX"), "1");
    assert_string_equal(env_of(doc, "IEXEC_BOT_SIZE"), "2");
    assert_string_equal(env_of(doc, "IEXEC_BOT_FIRST_INDEX"), "0");
    assert_string_equal(env_of(doc, "IEXEC_BOT_TASK_INDEX"), "1");
    assert_string_equal(env_of(doc, "IEXEC_APP_ARGS"), "a b");
    assert_string_equal(env_of(doc, "IEXEC_INPUT_FILES_NUMBER"), "1");
    assert_string_equal(env_of(doc, "IEXEC_INPUT_FILE_URL_1"), "https://in/1");
    /* printf '%s' https://in/1 | sha256sum */
    assert_string_equal(env_of(doc, "IEXEC_INPUT_FILE_NAME_1"), INPUT1_NAME);
    assert_string_equal(env_of(doc, "IEXEC_INPUT_FILES_FOLDER"), "/iexec_in");
    assert_string_equal(env_of(doc, "IEXEC_DATASET_ADDRESS"), DS);
    assert_string_equal(env_of(doc, "IEXEC_DATASET_FILENAME"), DS);
    assert_string_equal(env_of(doc, "IEXEC_DATASET_KEY"), "S0VZa2V5");
    assert_string_equal(env_of(doc, "IEXEC_DATASET_URL"), "https://blobs/x");
    assert_string_equal(env_of(doc, "IEXEC_REQUESTER_SECRET_3"), "line one\nline two");
    assert_null(env_of(doc, "IEXEC_REQUESTER_SECRET_2"));
    assert_null(env_of(doc, "IEXEC_APP_DEVELOPER_SECRET"));
    assert_string_equal(env_of(doc, "RESULT_ENCRYPTION"), "true");
    assert_string_equal(env_of(doc, "RESULT_ENCRYPTION_PUBLIC_KEY"), "UEVN");
    assert_string_equal(env_of(doc, "SIGN_TEE_CHALLENGE_PRIVATE_KEY"),
                        "0x4242424242424242424242424242424242424242424242424242424242424242");
    assert_string_equal(env_of(doc, "IEXEC_REQUESTER"), g_owner[3]);
    assert_string_equal(env_of(doc, "IEXEC_BENEFICIARY"), g_owner[3]);
    /* wiping overwrites the values in place */
    cas_task_session_wipe(doc);
    assert_int_not_equal(strcmp(env_of(doc, "IEXEC_DATASET_KEY"), "S0VZa2V5"), 0);
    json_decref(doc);
    cas_params_free(&s.params);
}

static void test_session_without_dataset(void **state)
{
    fixture *fx = *state;
    fx->no_dataset = true;
    set(fx, CELLA_ORDER_REQUEST, "dataset", ZERO);
    session_inputs s;
    inputs(fx, &s, "");
    s.in.app_secret = cella_slice_of("dev", 3);
    s.in.allow_sim = false;
    json_t *doc = NULL;
    assert_succeeds(cas_task_session(&s.in, &doc));
    static const char *const absent[] = {"IEXEC_DATASET_URL", "IEXEC_DATASET_CHECKSUM",
                                         "IEXEC_DATASET_KEY", "RESULT_ENCRYPTION_PUBLIC_KEY",
                                         "IEXEC_INPUT_FILE_URL_1", "IEXEC_INPUT_FILES_FOLDER"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        assert_null(env_of(doc, absent[i]));
    /* iExec always sets the dataset variables: the zero address without one */
    assert_string_equal(env_of(doc, "IEXEC_DATASET_ADDRESS"), ZERO);
    assert_string_equal(env_of(doc, "IEXEC_DATASET_FILENAME"), ZERO);
    assert_string_equal(env_of(doc, "IS_DATASET_REQUIRED"), "false");
    assert_string_equal(env_of(doc, "RESULT_ENCRYPTION"), "false");
    assert_string_equal(env_of(doc, "IEXEC_APP_ARGS"), "");
    assert_string_equal(env_of(doc, "IEXEC_INPUT_FILES_NUMBER"), "0");
    assert_string_equal(env_of(doc, "IEXEC_APP_DEVELOPER_SECRET"), "dev");
    assert_string_equal(env_of(doc, "IEXEC_APP_DEVELOPER_SECRET_1"), "dev");
    assert_false(json_is_true(json_object_get(json_object_get(doc, "security"), "allow_sim")));
    json_decref(doc);
    cas_params_free(&s.params);
}

/* A pushed secret the session cannot carry is refused naming the variable, never the value. */
static void test_session_refuses_bad_secrets(void **state)
{
    fixture *fx = *state;
    static const struct {
        const char *v;
        size_t n;
    } bad[] = {
        {"pre $$CELLA::leak$$ post", 24},
        {"pre $$SCONE::leak$$", 19},
        {"leak\0x", 6},
        {"leak\xff\xfe", 6},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        session_inputs s;
        inputs(fx, &s, "{\"iexec_secrets\":{\"1\":\"s1\"}}");
        s.in.requester_secret[0] = cella_slice_of(bad[i].v, bad[i].n);
        json_t *doc = NULL;
        assert_fails_with(cas_task_session(&s.in, &doc), CELLA_E_POLICY);
        assert_null(doc);
        assert_string_equal(cella_error_where(), "IEXEC_REQUESTER_SECRET_1");
        assert_null(strstr(cella_error_what(), "leak"));
        cas_params_free(&s.params);
    }
    /* a bad measurement is the session language's refusal */
    session_inputs s;
    inputs(fx, &s, "");
    s.in.measurement = "zz";
    json_t *doc = NULL;
    assert_fails_with(cas_task_session(&s.in, &doc), CELLA_E_PARSE);
    /* a 48-byte one (TDX MRTD, SNP measurement) is kept as it is */
    static const char m48[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
                              "00112233445566778899aabbccddeeff";
    s.in.measurement = m48;
    assert_succeeds(cas_task_session(&s.in, &doc));
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(cella_session_service(doc, "app"), "mrenclaves"), 0)),
                        m48);
    json_decref(doc);
    cas_params_free(&s.params);
}

/* The tee list of the session made for a deal whose last tag bytes are `hi`, `lo`. */
static void tee_list(fixture *fx, uint8_t hi, uint8_t lo, bool allow_sim, char *out, size_t cap)
{
    session_inputs s;
    inputs(fx, &s, "");
    s.in.allow_sim = allow_sim;
    fx->d.tag[29] = hi;
    fx->d.tag[31] = lo;
    json_t *doc = NULL;
    out[0] = '\0';
    if (cella_ok(cas_task_session(&s.in, &doc))) {
        size_t i;
        const json_t *v;
        json_array_foreach(json_object_get(json_object_get(doc, "security"), "tee"), i, v)
            snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? "," : "",
                     json_string_value(v));
    } else {
        snprintf(out, cap, "refused: %s", cella_error_what());
    }
    json_decref(doc);
    cas_params_free(&s.params);
    fx->d.tag[29] = 0;
}

/* Tags mean evidence: the deal's tag decides the session's TEE kinds (the
 * list cas checks the evidence kind against), sim only where cas allows it. */
static void test_session_tee_kinds_follow_the_tag(void **state)
{
    fixture *fx = *state;
    char got[200];
    tee_list(fx, 0, 0x09, false, got, sizeof got); /* tee,tdx: what SDK 9 signs */
    assert_string_equal(got, "tdx");
    tee_list(fx, 0, 0x09, true, got, sizeof got); /* a development stack: sim too */
    assert_string_equal(got, "tdx,sim");
    tee_list(fx, 0, 0x03, false, got, sizeof got); /* tee,scone */
    assert_string_equal(got, "sgx");
    tee_list(fx, 0, 0x05, false, got, sizeof got); /* tee,gramine */
    assert_string_equal(got, "sgx");
    tee_list(fx, 0x01, 0x01, false, got, sizeof got); /* tee,snp (cella's bit 16) */
    assert_string_equal(got, "snp");
    tee_list(fx, 0, 0x01, false, got, sizeof got); /* tee alone: any hardware */
    assert_string_equal(got, "sgx,tdx,snp");
    tee_list(fx, 0, 0x0b, true, got, sizeof got); /* scone and tdx at once */
    assert_non_null(strstr(got, "refused: the deal's tag asks for more than one TEE technology"));
    /* the session language agrees: tdx listed, no sim */
    tee_list(fx, 0, 0x09, false, got, sizeof got);
    cella_tag_names(fx->d.tag, got, sizeof got);
    assert_string_equal(got, "tee,tdx");
    uint8_t t[32];
    assert_succeeds(cella_tag_parse("tee,snp", t, "tag"));
    assert_int_equal(t[29], 0x01);
    assert_int_equal(t[31], 0x01);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        T(test_task_checks),
        T(test_deal_parse_refuses_garbage),
        T(test_orders_ok),
        T(test_orders_ok_without_dataset),
        T(test_order_hash_and_signer),
        T(test_orders_name_the_deal),
        T(test_restrictions),
        cmocka_unit_test(test_params),
        T(test_session_document),
        T(test_session_without_dataset),
        T(test_session_refuses_bad_secrets),
        T(test_session_tee_kinds_follow_the_tag),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
