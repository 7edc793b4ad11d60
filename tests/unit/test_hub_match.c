/* Unit tests for lib/hub/match: one test per PoCo matchOrders rule, each
 * refused with iExec's exact code, the happy path (deal, tasks, escrow), and
 * the deal and task ids of the shared PoCo vector. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/encoding.h"
#include "hub/match.h"
#include "identity/eip712.h"
#include "identity/eth.h"
#include "identity/keccak.h"
#include "testutil.h"

static cella_domain g_dom;
static uint8_t g_priv[4][32]; /* app owner, dataset owner, pool owner, requester */
static uint8_t g_addr[4][20];
static const uint8_t APP[20] = {0xa1, 0xa1, 0xa1}, DS[20] = {0xd5, 0xd5}, WP[20] = {0x3b, 0x3b},
                     OTHER[20] = {0x99, 0x99, 0x99, 0x99};

typedef struct {
    cella_order o[CELLA_ORDER__COUNT];
    hub_match_state st;
    bool no_dataset;
} fixture;

static void set_u(cella_order *o, const char *f, uint64_t v)
{
    uint8_t w[32];
    hub_u256_from_u64(w, v);
    assert_succeeds(cella_order_set_word(o, f, w));
}

static void set_a(cella_order *o, const char *f, const uint8_t a[20])
{
    uint8_t w[32] = {0};
    memcpy(w + 12, a, 20);
    assert_succeeds(cella_order_set_word(o, f, w));
}

static void sign_all(fixture *fx)
{
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        assert_succeeds(cella_order_sign(&g_dom, &fx->o[k], g_priv[k], false));
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    cella_order *a = &fx->o[CELLA_ORDER_APP], *d = &fx->o[CELLA_ORDER_DATASET],
                *w = &fx->o[CELLA_ORDER_WORKERPOOL], *r = &fx->o[CELLA_ORDER_REQUEST];
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        cella_order_init(&fx->o[k], (cella_order_kind)k);
    set_a(a, "app", APP);
    set_u(a, "appprice", 5);
    set_u(a, "volume", 10);
    set_u(a, "tag", 1);
    set_a(d, "dataset", DS);
    set_u(d, "datasetprice", 3);
    set_u(d, "volume", 10);
    set_u(d, "tag", 1);
    set_a(w, "workerpool", WP);
    set_u(w, "workerpoolprice", 100);
    set_u(w, "volume", 10);
    set_u(w, "tag", 3);
    set_u(w, "category", 0);
    set_u(w, "trust", 1);
    set_a(r, "app", APP);
    set_u(r, "appmaxprice", 5);
    set_a(r, "dataset", DS);
    set_u(r, "datasetmaxprice", 3);
    set_a(r, "workerpool", WP);
    set_u(r, "workerpoolmaxprice", 100);
    set_a(r, "requester", g_addr[3]);
    set_u(r, "volume", 2);
    set_u(r, "tag", 1);
    set_u(r, "category", 0);
    set_u(r, "trust", 1);
    set_a(r, "beneficiary", g_addr[3]);
    sign_all(fx);
    fx->st.app.registered = fx->st.dataset.registered = fx->st.workerpool.registered = true;
    memcpy(fx->st.app.owner, g_addr[0], 20);
    memcpy(fx->st.dataset.owner, g_addr[1], 20);
    memcpy(fx->st.workerpool.owner, g_addr[2], 20);
    fx->st.sponsor_balance = 1000;
    fx->st.pool_owner_balance = 1000;
    fx->st.worker_stake_ratio = HUB_DEFAULT_WORKER_STAKE_RATIO;
    fx->st.scheduler_reward_ratio = HUB_DEFAULT_SCHEDULER_REWARD_RATIO;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        cella_order_free(&fx->o[k]);
    free(fx);
    return 0;
}

static bool run(fixture *fx, hub_deal *deal, hub_refusal *why)
{
    const cella_order *o[CELLA_ORDER__COUNT] = {
        &fx->o[0], fx->no_dataset ? NULL : &fx->o[1], &fx->o[2], &fx->o[3]};
    return hub_match(&g_dom, o, &fx->st, deal, why);
}

static void expect_refused(fixture *fx, const char *code)
{
    hub_deal deal;
    hub_refusal why;
    if (run(fx, &deal, &why))
        fail_msg("expected refusal %s, but the orders matched", code);
    if (strcmp(why.code, code) != 0)
        fail_msg("expected %s, got %s: %s", code, why.code, why.reason);
    assert_true(strlen(why.reason) > 10);
}

static void expect_match(fixture *fx, hub_deal *deal)
{
    hub_refusal why;
    if (!run(fx, deal, &why))
        fail_msg("unexpected refusal %s: %s", why.code, why.reason);
}

/* ---- happy path ---- */

static void test_happy_path(void **state)
{
    fixture *fx = *state;
    hub_deal deal;
    expect_match(fx, &deal);
    assert_int_equal(deal.bot_size, 2);
    assert_int_equal(deal.bot_first, 0);
    assert_int_equal(deal.trust, 1);
    assert_int_equal(deal.sponsor_lock, (5 + 3 + 100) * 2);
    assert_int_equal(deal.pool_lock, 30 * 2);
    assert_int_equal(deal.worker_stake, 30);
    assert_true(deal.has_dataset);
    assert_int_equal(deal.tag[31], 1);
    assert_memory_equal(deal.workerpool_owner, g_addr[2], 20);
    assert_memory_equal(deal.sponsor, g_addr[3], 20);
    /* dealid = keccak256(requestHash || uint256 consumedBefore) */
    uint8_t h[32], buf[64] = {0}, id[32];
    cella_order_hash(&g_dom, &fx->o[CELLA_ORDER_REQUEST], h);
    assert_memory_equal(deal.hash[CELLA_ORDER_REQUEST], h, 32);
    memcpy(buf, h, 32);
    cella_keccak256(id, buf, 64);
    assert_memory_equal(deal.dealid, id, 32);
    /* after a first deal of 2 out of 2: the request is consumed */
    hub_u256_from_u64(fx->st.consumed[CELLA_ORDER_REQUEST], 1);
    expect_match(fx, &deal);
    assert_int_equal(deal.bot_first, 1);
    assert_int_equal(deal.bot_size, 1);
    buf[63] = 1;
    cella_keccak256(id, buf, 64);
    assert_memory_equal(deal.dealid, id, 32);
}

static void test_trust_zero_is_one(void **state)
{
    fixture *fx = *state;
    set_u(&fx->o[CELLA_ORDER_REQUEST], "trust", 0);
    sign_all(fx);
    hub_deal deal;
    expect_match(fx, &deal);
    assert_int_equal(deal.trust, 1);
}

static void test_no_dataset(void **state)
{
    fixture *fx = *state;
    static const uint8_t zero[20] = {0};
    fx->no_dataset = true;
    set_a(&fx->o[CELLA_ORDER_REQUEST], "dataset", zero);
    set_u(&fx->o[CELLA_ORDER_REQUEST], "datasetmaxprice", 0);
    sign_all(fx);
    fx->st.dataset.registered = false; /* 0x30/0x31 skipped without a dataset */
    hub_deal deal;
    expect_match(fx, &deal);
    assert_false(deal.has_dataset);
    assert_int_equal(deal.sponsor_lock, (5 + 100) * 2);
}

static void test_dataset_tag_mask(void **state)
{
    /* tag = app | (dataset & ~0x0E) | request: the dataset's framework bits
     * (scone, gramine, tdx) do not count */
    fixture *fx = *state;
    set_u(&fx->o[CELLA_ORDER_DATASET], "tag", 0x0F);
    set_u(&fx->o[CELLA_ORDER_WORKERPOOL], "tag", 0x01);
    sign_all(fx);
    hub_deal deal;
    expect_match(fx, &deal);
    assert_int_equal(deal.tag[31], 0x01);
    /* a high bit of the dataset tag does count (bytes32 arithmetic) */
    uint8_t w[32] = {0};
    w[0] = 0x80;
    w[31] = 0x01;
    assert_succeeds(cella_order_set_word(&fx->o[CELLA_ORDER_DATASET], "tag", w));
    sign_all(fx);
    expect_refused(fx, "iExecV5-matchOrders-0x06");
}

static void test_restriction_equal_passes(void **state)
{
    fixture *fx = *state;
    set_a(&fx->o[CELLA_ORDER_APP], "datasetrestrict", DS);
    set_a(&fx->o[CELLA_ORDER_APP], "workerpoolrestrict", WP);
    set_a(&fx->o[CELLA_ORDER_APP], "requesterrestrict", g_addr[3]);
    set_a(&fx->o[CELLA_ORDER_DATASET], "apprestrict", APP);
    set_a(&fx->o[CELLA_ORDER_WORKERPOOL], "requesterrestrict", g_addr[3]);
    sign_all(fx);
    hub_deal deal;
    expect_match(fx, &deal);
}

/* ---- one test per rule ---- */

#define RULE(name, code, body)                                                                 \
    static void name(void **state)                                                             \
    {                                                                                          \
        fixture *fx = *state;                                                                  \
        cella_order *A = &fx->o[CELLA_ORDER_APP], *D = &fx->o[CELLA_ORDER_DATASET],            \
                    *W = &fx->o[CELLA_ORDER_WORKERPOOL], *R = &fx->o[CELLA_ORDER_REQUEST];     \
        (void)A, (void)D, (void)W, (void)R;                                                    \
        body;                                                                                  \
        sign_all(fx);                                                                          \
        expect_refused(fx, code);                                                              \
    }

RULE(test_0x00_category, "iExecV5-matchOrders-0x00", set_u(R, "category", 1))
RULE(test_0x01_category_exists, "iExecV5-matchOrders-0x01",
     (set_u(R, "category", 7), set_u(W, "category", 7)))
RULE(test_0x02_trust, "iExecV5-matchOrders-0x02", set_u(R, "trust", 2))
RULE(test_0x03_appprice, "iExecV5-matchOrders-0x03", set_u(R, "appmaxprice", 4))
RULE(test_0x04_datasetprice, "iExecV5-matchOrders-0x04", set_u(R, "datasetmaxprice", 2))
RULE(test_0x05_workerpoolprice, "iExecV5-matchOrders-0x05", set_u(R, "workerpoolmaxprice", 99))
RULE(test_0x06_tag_subset, "iExecV5-matchOrders-0x06", set_u(R, "tag", 0x101))
RULE(test_0x07_tee_bit, "iExecV5-matchOrders-0x07", set_u(A, "tag", 0))
RULE(test_0x10_request_app, "iExecV5-matchOrders-0x10", set_a(R, "app", OTHER))
RULE(test_0x11_request_dataset, "iExecV5-matchOrders-0x11", set_a(R, "dataset", OTHER))
RULE(test_0x12_request_workerpool, "iExecV5-matchOrders-0x12", set_a(R, "workerpool", OTHER))
RULE(test_0x13_app_datasetrestrict, "iExecV5-matchOrders-0x13", set_a(A, "datasetrestrict", OTHER))
RULE(test_0x14_app_workerpoolrestrict, "iExecV5-matchOrders-0x14",
     set_a(A, "workerpoolrestrict", OTHER))
RULE(test_0x15_app_requesterrestrict, "iExecV5-matchOrders-0x15",
     set_a(A, "requesterrestrict", OTHER))
RULE(test_0x16_dataset_apprestrict, "iExecV5-matchOrders-0x16", set_a(D, "apprestrict", OTHER))
RULE(test_0x17_dataset_workerpoolrestrict, "iExecV5-matchOrders-0x17",
     set_a(D, "workerpoolrestrict", OTHER))
RULE(test_0x18_dataset_requesterrestrict, "iExecV5-matchOrders-0x18",
     set_a(D, "requesterrestrict", OTHER))
RULE(test_0x19_workerpool_apprestrict, "iExecV5-matchOrders-0x19", set_a(W, "apprestrict", OTHER))
RULE(test_0x1a_workerpool_datasetrestrict, "iExecV5-matchOrders-0x1a",
     set_a(W, "datasetrestrict", OTHER))
RULE(test_0x1b_workerpool_requesterrestrict, "iExecV5-matchOrders-0x1b",
     set_a(W, "requesterrestrict", OTHER))
RULE(test_0x20_app_registered, "iExecV5-matchOrders-0x20", fx->st.app.registered = false)
RULE(test_0x21_app_signature, "iExecV5-matchOrders-0x21", memcpy(fx->st.app.owner, OTHER, 20))
RULE(test_0x30_dataset_registered, "iExecV5-matchOrders-0x30", fx->st.dataset.registered = false)
RULE(test_0x31_dataset_signature, "iExecV5-matchOrders-0x31",
     memcpy(fx->st.dataset.owner, OTHER, 20))
RULE(test_0x40_workerpool_registered, "iExecV5-matchOrders-0x40",
     fx->st.workerpool.registered = false)
RULE(test_0x41_workerpool_signature, "iExecV5-matchOrders-0x41",
     memcpy(fx->st.workerpool.owner, OTHER, 20))
RULE(test_0x60_volume, "iExecV5-matchOrders-0x60",
     hub_u256_from_u64(fx->st.consumed[CELLA_ORDER_WORKERPOOL], 10))
RULE(test_0x60_dataset_volume, "iExecV5-matchOrders-0x60",
     hub_u256_from_u64(fx->st.consumed[CELLA_ORDER_DATASET], 11))
RULE(test_sponsor_balance, "cella-hub-insufficient-balance", fx->st.sponsor_balance = 215)
RULE(test_pool_owner_stake, "cella-hub-insufficient-balance", fx->st.pool_owner_balance = 59)

static void test_0x50_request_signature(void **state)
{
    fixture *fx = *state;
    /* a signature made for another order (replayed onto the request) */
    memcpy(fx->o[CELLA_ORDER_REQUEST].sign, fx->o[CELLA_ORDER_APP].sign, 65);
    expect_refused(fx, "iExecV5-matchOrders-0x50");
}

static void test_forged_signature(void **state)
{
    /* an order changed after signing no longer verifies for its owner */
    fixture *fx = *state;
    set_u(&fx->o[CELLA_ORDER_APP], "appprice", 4);
    expect_refused(fx, "iExecV5-matchOrders-0x21");
    fx->o[CELLA_ORDER_WORKERPOOL].has_sign = false;
    set_u(&fx->o[CELLA_ORDER_APP], "appprice", 5);
    expect_refused(fx, "iExecV5-matchOrders-0x41");
}

static void test_known_signature(void **state)
{
    /* a signature the hub recovered at publication is not recovered again,
     * but its signer must still be the owner */
    fixture *fx = *state;
    fx->st.sig_known[CELLA_ORDER_WORKERPOOL] = true;
    memcpy(fx->st.sig_signer[CELLA_ORDER_WORKERPOOL], OTHER, 20);
    expect_refused(fx, "iExecV5-matchOrders-0x41");
    memcpy(fx->st.sig_signer[CELLA_ORDER_WORKERPOOL], g_addr[2], 20);
    hub_deal deal;
    expect_match(fx, &deal);
    fx->st.sig_known[CELLA_ORDER_REQUEST] = true;
    memcpy(fx->st.sig_signer[CELLA_ORDER_REQUEST], g_addr[0], 20);
    expect_refused(fx, "iExecV5-matchOrders-0x50");
}

static void test_same_account_pays_and_stakes(void **state)
{
    /* requester == pool owner: one balance must cover both locks */
    fixture *fx = *state;
    memcpy(fx->st.workerpool.owner, g_addr[3], 20);
    assert_succeeds(cella_order_sign(&g_dom, &fx->o[CELLA_ORDER_WORKERPOOL], g_priv[3], false));
    fx->st.sponsor_balance = 216 + 59;
    expect_refused(fx, "cella-hub-insufficient-balance");
    fx->st.sponsor_balance = 216 + 60;
    hub_deal deal;
    expect_match(fx, &deal);
}

/* ---- the PoCo vector ---- */

static void test_vector_deal_task_ids(void **state)
{
    (void)state;
    json_t *v = test_load_vector("iexec/orders/poco-deal-task-contribution.json");
    json_t *in = json_object_get(v, "inputs");
    uint8_t req[32], before[32], deal[32], task[32], want[32];
    test_unhex(req, 32, json_string_value(json_object_get(in, "requestorderHash")));
    assert_string_equal(json_string_value(json_object_get(in, "consumedBefore")), "0");
    assert_string_equal(json_string_value(json_object_get(in, "taskIndex")), "0");
    hub_u256_from_u64(before, 0);
    hub_deal_id(req, before, deal);
    test_unhex(want, 32, json_string_value(json_object_get(json_object_get(v, "dealid"), "value")));
    assert_memory_equal(deal, want, 32);
    hub_task_id(deal, 0, task);
    test_unhex(want, 32, json_string_value(json_object_get(json_object_get(v, "taskid"), "value")));
    assert_memory_equal(task, want, 32);
    json_decref(v);
}

static void test_u256(void **state)
{
    (void)state;
    uint8_t a[32], b[32], c[32];
    memset(a, 0xff, 32);
    hub_u256_from_u64(b, 1);
    assert_false(hub_u256_add(c, a, b));
    assert_true(hub_u256_sub(c, a, b));
    assert_int_equal(c[31], 0xfe);
    assert_false(hub_u256_sub(c, b, a));
    uint64_t v;
    assert_false(hub_u256_to_u64(a, &v));
    hub_u256_from_u64(a, 0x0102030405060708ULL);
    assert_true(hub_u256_to_u64(a, &v));
    assert_true(v == 0x0102030405060708ULL);
}

int main(void)
{
    g_dom.chain_id = 421614;
    if (!cella_ok(cella_eth_address_parse(g_dom.hub, "0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E",
                                          "hub")))
        return 1;
    for (int i = 0; i < 4; i++) {
        memset(g_priv[i], 0x11 * (i + 1), 32);
        if (!cella_ok(cella_eth_address_from_privkey(g_priv[i], g_addr[i])))
            return 1;
    }
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_happy_path),
        T(test_trust_zero_is_one),
        T(test_no_dataset),
        T(test_dataset_tag_mask),
        T(test_restriction_equal_passes),
        T(test_0x00_category),
        T(test_0x01_category_exists),
        T(test_0x02_trust),
        T(test_0x03_appprice),
        T(test_0x04_datasetprice),
        T(test_0x05_workerpoolprice),
        T(test_0x06_tag_subset),
        T(test_0x07_tee_bit),
        T(test_0x10_request_app),
        T(test_0x11_request_dataset),
        T(test_0x12_request_workerpool),
        T(test_0x13_app_datasetrestrict),
        T(test_0x14_app_workerpoolrestrict),
        T(test_0x15_app_requesterrestrict),
        T(test_0x16_dataset_apprestrict),
        T(test_0x17_dataset_workerpoolrestrict),
        T(test_0x18_dataset_requesterrestrict),
        T(test_0x19_workerpool_apprestrict),
        T(test_0x1a_workerpool_datasetrestrict),
        T(test_0x1b_workerpool_requesterrestrict),
        T(test_0x20_app_registered),
        T(test_0x21_app_signature),
        T(test_0x30_dataset_registered),
        T(test_0x31_dataset_signature),
        T(test_0x40_workerpool_registered),
        T(test_0x41_workerpool_signature),
        T(test_0x50_request_signature),
        T(test_0x60_volume),
        T(test_0x60_dataset_volume),
        T(test_sponsor_balance),
        T(test_pool_owner_stake),
        T(test_forged_signature),
        T(test_same_account_pays_and_stakes),
        T(test_known_signature),
        cmocka_unit_test(test_vector_deal_task_ids),
        cmocka_unit_test(test_u256),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
