/* Unit tests for lib/hub/task and the task lifecycle of lib/hub/store: the
 * PoCo contribution formulas on the shared vector, the enclave and
 * authorization checks, contribute-and-finalize with its payouts, double
 * finalize, another pool's worker, and claim after the final deadline; the
 * worker flow: runnable listing, leases, error reports, logs, results,
 * events, and a database made before the worker flow's columns. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "core/encoding.h"
#include "hub/store.h"
#include "hub/task.h"
#include "identity/eip712.h"
#include "identity/eth.h"
#include "testutil.h"

static const char *vget(const json_t *v, const char *a, const char *b)
{
    return json_string_value(json_object_get(b ? json_object_get(v, a) : v, b ? b : a));
}

/* The vector's contribution (a TEE one: challenge and enclave signature). */
static void vector_contribution(json_t *v, hub_contribution *c, uint8_t pool_owner[20])
{
    memset(c, 0, sizeof *c);
    json_t *in = json_object_get(v, "inputs");
    test_unhex(c->taskid, 32, vget(v, "taskid", "value"));
    assert_succeeds(cella_eth_address_parse(c->worker, vget(in, "worker", NULL), "worker"));
    assert_succeeds(cella_eth_address_parse(c->enclave_challenge,
                                            vget(in, "enclaveChallenge", NULL), "challenge"));
    assert_succeeds(cella_eth_address_parse(pool_owner, vget(in, "workerpoolOwner", NULL), "o"));
    test_unhex(c->digest, 32, vget(v, "resultDigest", "value"));
    test_unhex(c->authorization_sign, 65, vget(v, "authorization", "signature"));
    test_unhex(c->enclave_sign, 65, vget(v, "enclaveSign", "signature"));
    c->has_enclave_sign = true;
}

static void test_vector_formulas(void **state)
{
    (void)state;
    json_t *v = test_load_vector("iexec/orders/poco-deal-task-contribution.json");
    hub_contribution c;
    uint8_t owner[20], h[32], want[32];
    vector_contribution(v, &c, owner);
    hub_result_hash(c.taskid, c.digest, h);
    test_unhex(want, 32, vget(v, "resultHash", "value"));
    assert_memory_equal(h, want, 32);
    hub_result_seal(c.worker, c.taskid, c.digest, h);
    test_unhex(want, 32, vget(v, "resultSeal", "value"));
    assert_memory_equal(h, want, 32);
    hub_authorization_hash(c.worker, c.taskid, c.enclave_challenge, h);
    test_unhex(want, 32, vget(v, "authorization", "hash"));
    assert_memory_equal(h, want, 32);
    /* the vector's TEE contribution passes for a TEE deal of its pool owner */
    uint8_t tee[32] = {0};
    tee[31] = 0x03;
    hub_refusal why;
    if (!hub_contribution_check(&c, tee, owner, &why))
        fail_msg("%s: %s", why.code, why.reason);
    /* another pool's owner did not authorize this worker */
    uint8_t other[20];
    memset(other, 0x42, 20);
    assert_false(hub_contribution_check(&c, tee, other, &why));
    assert_string_equal(why.code, "cella-hub-task-authorization");
    /* a TEE deal without an enclave signature */
    c.has_enclave_sign = false;
    assert_false(hub_contribution_check(&c, tee, owner, &why));
    assert_string_equal(why.code, "cella-hub-task-enclave-signature");
    /* another result under the same enclave signature */
    c.has_enclave_sign = true;
    c.digest[0] ^= 1;
    assert_false(hub_contribution_check(&c, tee, owner, &why));
    assert_string_equal(why.code, "cella-hub-task-enclave-signature");
    json_decref(v);
}

static void test_tee_needs_challenge(void **state)
{
    (void)state;
    uint8_t pool_priv[32], pool[20], tee[32] = {0}, none[32] = {0}, h[32];
    memset(pool_priv, 0x33, 32);
    assert_succeeds(cella_eth_address_from_privkey(pool_priv, pool));
    tee[31] = 1;
    hub_contribution c;
    memset(&c, 0, sizeof c);
    memset(c.taskid, 0x7a, 32);
    memset(c.worker, 0x55, 20);
    hub_authorization_hash(c.worker, c.taskid, c.enclave_challenge, h);
    assert_succeeds(cella_eth_personal_sign(pool_priv, h, 32, c.authorization_sign));
    hub_refusal why;
    assert_false(hub_contribution_check(&c, tee, pool, &why));
    assert_string_equal(why.code, "cella-hub-task-enclave-challenge");
    assert_true(hub_contribution_check(&c, none, pool, &why)); /* standard deal: fine */
}

/* ---- the lifecycle in the store ---- */

typedef struct {
    char *dir;
    hub_store *s;
    cella_domain dom;
    uint8_t priv[6][32], addr[6][20]; /* app, dataset, pool, requester, worker, other pool */
    hub_deal deal;
} fx_t;

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

static uint64_t g_trust; /* the pool order's and request's trust (0: none) */

/* Matches a request of `volume` (for `beneficiary`, or none) with the
 * fixture's app, dataset and pool orders (volume `each`), at g_trust. */
static bool match_request_of(fx_t *fx, uint64_t volume, uint64_t each,
                             const uint8_t *beneficiary, int64_t now, hub_deal *deal)
{
    static const uint8_t A[20] = {0xa1}, D[20] = {0xd5}, W[20] = {0x3b};
    cella_order o[4];
    for (int k = 0; k < 4; k++)
        cella_order_init(&o[k], (cella_order_kind)k);
    set_a(&o[0], "app", A);
    set_u(&o[0], "appprice", 5);
    set_u(&o[0], "volume", each);
    set_a(&o[1], "dataset", D);
    set_u(&o[1], "datasetprice", 3);
    set_u(&o[1], "volume", each);
    set_a(&o[2], "workerpool", W);
    set_u(&o[2], "workerpoolprice", 100);
    set_u(&o[2], "volume", each);
    set_a(&o[3], "app", A);
    set_u(&o[3], "appmaxprice", 5);
    set_a(&o[3], "dataset", D);
    set_u(&o[3], "datasetmaxprice", 3);
    set_u(&o[3], "workerpoolmaxprice", 100);
    set_a(&o[3], "requester", fx->addr[3]);
    if (beneficiary)
        set_a(&o[3], "beneficiary", beneficiary);
    set_u(&o[3], "volume", volume);
    if (g_trust) {
        set_u(&o[2], "trust", g_trust);
        set_u(&o[3], "trust", g_trust);
    }
    for (int k = 0; k < 4; k++)
        assert_succeeds(cella_order_sign(&fx->dom, &o[k], fx->priv[k], false));
    const cella_order *po[4] = {&o[0], &o[1], &o[2], &o[3]};
    bool matched;
    hub_refusal why;
    assert_succeeds(hub_store_match(fx->s, &fx->dom, po, now, &matched, deal, &why));
    if (!matched)
        print_error("%s: %s\n", why.code, why.reason);
    for (int k = 0; k < 4; k++)
        cella_order_free(&o[k]);
    return matched;
}

static bool match_request(fx_t *fx, uint64_t volume, const uint8_t *beneficiary, int64_t now,
                          hub_deal *deal)
{
    return match_request_of(fx, volume, 10, beneficiary, now, deal);
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->dir = test_tmpdir();
    char path[1200];
    test_db_url(path, sizeof path, fx->dir);
    assert_succeeds(hub_store_open(path, &fx->s));
    fx->dom.chain_id = 65535;
    memset(fx->dom.hub, 0xab, 20);
    for (int i = 0; i < 6; i++) {
        memset(fx->priv[i], 0x11 * (i + 1), 32);
        assert_succeeds(cella_eth_address_from_privkey(fx->priv[i], fx->addr[i]));
    }
    static const uint8_t A[20] = {0xa1}, D[20] = {0xd5}, W[20] = {0x3b};
    const uint8_t *res[3] = {A, D, W};
    for (int k = 0; k < 3; k++) {
        hub_resource r;
        memset(&r, 0, sizeof r);
        r.kind = (hub_kind)k;
        memcpy(r.address, res[k], 20);
        memcpy(r.owner, fx->addr[k], 20);
        snprintf(r.name, sizeof r.name, "t");
        assert_succeeds(hub_store_register_at(fx->s, &r, 1));
    }
    uint64_t bal;
    assert_succeeds(hub_store_deposit(fx->s, fx->addr[3], 1000, &bal));
    assert_succeeds(hub_store_deposit(fx->s, fx->addr[2], 1000, &bal));
    assert_true(match_request(fx, 2, NULL, 1000, &fx->deal));
    *state = fx;
    return 0;
}

/* The largest bag cella takes (HUB_MAX_BOT tasks) matches in one
 * transaction, with its deal-created and every task-created event. */
static void test_largest_bag(void **state)
{
    fx_t *fx = *state;
    uint64_t bal;
    assert_succeeds(hub_store_deposit(fx->s, fx->addr[3], 2000000, &bal));
    assert_succeeds(hub_store_deposit(fx->s, fx->addr[2], 2000000, &bal));
    hub_deal deal;
    assert_true(match_request_of(fx, HUB_MAX_BOT, HUB_MAX_BOT, NULL, 2000, &deal));
    assert_int_equal(deal.bot_size, HUB_MAX_BOT);
    json_t *ev;
    int64_t last;
    assert_succeeds(hub_store_events(fx->s, 0, NULL, NULL, 0, &ev, &last));
    json_decref(ev);
    assert_succeeds(hub_store_events(fx->s, last - 1, NULL, NULL, 0, &ev, &last));
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 0), "type")),
                        "task-created");
    json_decref(ev);
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    hub_store_close(fx->s);
    test_rmdir(fx->dir);
    free(fx);
    return 0;
}

static void account(fx_t *fx, int who, uint64_t bal, uint64_t locked)
{
    uint64_t b, l;
    assert_succeeds(hub_store_account_get(fx->s, fx->addr[who], &b, &l));
    if (b != bal || l != locked)
        fail_msg("account %d: balance %llu locked %llu, expected %llu %llu", who,
                 (unsigned long long)b, (unsigned long long)l, (unsigned long long)bal,
                 (unsigned long long)locked);
}

static void contribution(fx_t *fx, uint64_t idx, int signer, hub_contribution *c)
{
    memset(c, 0, sizeof *c);
    hub_task_id(fx->deal.dealid, idx, c->taskid);
    memcpy(c->worker, fx->addr[4], 20);
    memset(c->digest, 0x1d, 32);
    uint8_t h[32];
    hub_authorization_hash(c->worker, c->taskid, c->enclave_challenge, h);
    assert_succeeds(cella_eth_personal_sign(fx->priv[signer], h, 32, c->authorization_sign));
}

static void test_contribute_and_finalize(void **state)
{
    fx_t *fx = *state;
    /* after the match: 216 locked for the sponsor, 60 staked by the pool owner */
    account(fx, 3, 1000 - 216, 216);
    account(fx, 2, 1000 - 60, 60);
    hub_contribution c;
    bool done;
    hub_refusal why;
    /* a worker authorized by another pool's owner is refused */
    contribution(fx, 0, 5, &c);
    assert_succeeds(hub_store_contribute_and_finalize(fx->s, &c, 1001, &done, &why));
    assert_false(done);
    assert_string_equal(why.code, "cella-hub-task-authorization");
    contribution(fx, 0, 2, &c);
    assert_succeeds(hub_store_contribute_and_finalize(fx->s, &c, 1001, &done, &why));
    if (!done)
        fail_msg("%s: %s", why.code, why.reason);
    /* payouts: app 5, dataset 3, worker 99, pool owner 1 + stake 30 back */
    account(fx, 3, 1000 - 216, 108);
    account(fx, 0, 5, 0);
    account(fx, 1, 3, 0);
    account(fx, 4, 99, 0);
    account(fx, 2, 1000 - 60 + 1 + 30, 30);
    json_t *t;
    assert_succeeds(hub_store_task_get(fx->s, c.taskid, &t));
    assert_string_equal(json_string_value(json_object_get(t, "status")), "COMPLETED");
    assert_non_null(json_object_get(t, "resultHash"));
    assert_null(json_object_get(t, "enclaveChallenge")); /* no enclave signed this one */
    json_decref(t);
    /* double finalize */
    assert_succeeds(hub_store_contribute_and_finalize(fx->s, &c, 1002, &done, &why));
    assert_false(done);
    assert_string_equal(why.code, "cella-hub-task-not-active");
    account(fx, 4, 99, 0);
    /* the second task: too late to contribute after its contribution deadline */
    contribution(fx, 1, 2, &c);
    assert_succeeds(hub_store_contribute_and_finalize(fx->s, &c, 1000 + 7 * 300, &done, &why));
    assert_false(done);
    assert_string_equal(why.code, "cella-hub-task-deadline");
    /* claim: not before the final deadline; then refund and stake to the kitty */
    assert_succeeds(hub_store_claim(fx->s, c.taskid, 1000 + 10 * 300 - 1, &done, &why));
    assert_false(done);
    assert_string_equal(why.code, "cella-hub-task-too-early");
    assert_succeeds(hub_store_claim(fx->s, c.taskid, 1000 + 10 * 300, &done, &why));
    assert_true(done);
    account(fx, 3, 1000 - 108, 0);
    account(fx, 2, 1000 - 60 + 1 + 30, 0);
    uint8_t kitty[20] = {0};
    uint64_t b, l;
    assert_succeeds(hub_store_account_get(fx->s, kitty, &b, &l));
    assert_int_equal(b, 30);
    assert_succeeds(hub_store_claim(fx->s, c.taskid, 1000 + 10 * 300 + 5, &done, &why));
    assert_false(done);
    assert_string_equal(why.code, "cella-hub-task-not-active");
    /* a completed task cannot be claimed */
    hub_task_id(fx->deal.dealid, 0, c.taskid);
    assert_succeeds(hub_store_claim(fx->s, c.taskid, 99999, &done, &why));
    assert_false(done);
    uint8_t unknown[32] = {9};
    assert_fails_with(hub_store_claim(fx->s, unknown, 99999, &done, &why), CELLA_E_NOTFOUND);
}

/* The ids of a JSON array of tasks (or events: "taskid") as "idx,idx,..." of the deal. */
static void expect_tasks(fx_t *fx, const hub_task_filter *f, int64_t now, const char *want)
{
    json_t *l;
    assert_succeeds(hub_store_task_list(fx->s, f, now, &l));
    char got[64] = "";
    size_t i;
    json_t *t;
    json_array_foreach(l, i, t) {
        size_t n = strlen(got);
        snprintf(got + n, sizeof got - n, "%s%lld", i ? "," : "",
                 (long long)json_integer_value(json_object_get(t, "idx")));
    }
    json_decref(l);
    assert_string_equal(got, want);
}

/* (done and why are read after the call that sets them) */
static void expect_refusal(cella_res r, const bool *done, const hub_refusal *why,
                           const char *code)
{
    assert_succeeds(r);
    assert_false(*done);
    assert_string_equal(why->code, code);
}

/* lease-next naming a worker never hands it a task it contributed to
 * (trust > 1: the pool's workers take the task one after the other); any
 * other worker, or none named, gets it. */
static void test_lease_next_skips_contributed(void **state)
{
    fx_t *fx = *state;
    static const uint8_t W[20] = {0x3b};
    static const char A[] = "0123456789abcdef0123456789abcdef",
                      B[] = "fedcba9876543210fedcba9876543210";
    const uint8_t *pool = fx->addr[2];
    bool done, found;
    hub_refusal why;
    int64_t until;
    uint8_t t[32], got[32];
    /* the fixture's two tasks are held by another holder */
    for (uint64_t i = 0; i < 2; i++) {
        hub_task_id(fx->deal.dealid, i, t);
        assert_succeeds(hub_store_lease(fx->s, t, pool, B, 600, 1001, &done, &why, &until));
        assert_true(done);
    }
    hub_deal deal;
    g_trust = 3;
    bool matched = match_request_of(fx, 1, 10, NULL, 1001, &deal);
    g_trust = 0;
    assert_true(matched);
    hub_contribution c;
    contribution(fx, 0, 2, &c);
    hub_task_id(deal.dealid, 0, c.taskid);
    uint8_t h[32];
    hub_authorization_hash(c.worker, c.taskid, c.enclave_challenge, h);
    assert_succeeds(cella_eth_personal_sign(fx->priv[2], h, 32, c.authorization_sign));
    c.sealed = true;
    hub_result_hash(c.taskid, c.digest, c.result_hash);
    hub_result_seal(c.worker, c.taskid, c.digest, c.result_seal);
    uint64_t bal;
    assert_succeeds(hub_store_deposit(fx->s, c.worker, 100, &bal));
    assert_succeeds(hub_store_contribute(fx->s, &c, 1002, &done, &why));
    if (!done)
        fail_msg("contribute: %s: %s", why.code, why.reason);
    /* the contributor: nothing; another worker and no worker named: the task */
    assert_succeeds(hub_store_lease_next(fx->s, W, pool, A, c.worker, 5, 1003, &found, got, &until));
    assert_false(found);
    assert_succeeds(hub_store_lease_next(fx->s, W, pool, A, fx->addr[5], 5, 1003, &found, got,
                                         &until));
    assert_true(found);
    assert_memory_equal(got, c.taskid, 32);
    assert_succeeds(hub_store_lease_next(fx->s, W, pool, B, NULL, 5, 1009, &found, got, &until));
    assert_true(found);
    assert_memory_equal(got, c.taskid, 32);
}

static void test_worker_flow(void **state)
{
    fx_t *fx = *state;
    static const char A[] = "0123456789abcdef0123456789abcdef",
                      B[] = "fedcba9876543210fedcba9876543210";
    static const uint8_t W[20] = {0x3b}, other[20] = {0x3c};
    uint8_t t0[32], t1[32];
    hub_task_id(fx->deal.dealid, 0, t0);
    hub_task_id(fx->deal.dealid, 1, t1);
    const uint8_t *pool = fx->addr[2], *req = fx->addr[3];
    hub_task_filter run = {.workerpool = W, .runnable = true}, all = {.workerpool = W},
                    none = {.workerpool = other};
    expect_tasks(fx, &run, 1001, "0,1");
    expect_tasks(fx, &none, 1001, "");
    bool done;
    hub_refusal why;
    int64_t until;
    /* leases: the pool owner only; a live lease of another holder is a conflict */
    assert_fails_with(hub_store_lease(fx->s, t0, req, A, 10, 1001, &done, &why, &until),
                      CELLA_E_PERM);
    assert_fails_with(hub_store_lease(fx->s, t0, pool, "0123", 10, 1001, &done, &why, &until),
                      CELLA_E_PARSE);
    assert_fails_with(hub_store_lease(fx->s, t0, pool, A, 601, 1001, &done, &why, &until),
                      CELLA_E_PARSE);
    assert_succeeds(hub_store_lease(fx->s, t0, pool, A, 10, 1001, &done, &why, &until));
    assert_true(done);
    assert_int_equal(until, 1011);
    expect_refusal(hub_store_lease(fx->s, t0, pool, B, 10, 1005, &done, &why, &until), &done, &why,
                   "cella-hub-task-leased");
    assert_non_null(strstr(why.reason, A));
    assert_succeeds(hub_store_lease(fx->s, t0, pool, A, 10, 1005, &done, &why, &until));
    assert_true(done); /* renewed */
    assert_int_equal(until, 1015);
    expect_tasks(fx, &run, 1005, "1");
    expect_tasks(fx, &all, 1005, "0,1");
    expect_tasks(fx, &run, 1015, "0,1"); /* expired */
    assert_succeeds(hub_store_lease(fx->s, t0, pool, B, 60, 1015, &done, &why, &until));
    assert_true(done);
    expect_refusal(hub_store_lease(fx->s, t0, pool, A, 0, 1016, &done, &why, &until), &done, &why,
                   "cella-hub-task-leased");
    /* error reports: the task stays ACTIVE, is not runnable, cannot be leased */
    assert_fails_with(hub_store_report(fx->s, t1, req, A, "boom", 1020, &done, &why),
                      CELLA_E_PERM);
    assert_succeeds(hub_store_report(fx->s, t1, pool, A, "the app exited with 3", 1020, &done,
                                     &why));
    assert_true(done);
    json_t *t;
    assert_succeeds(hub_store_task_get(fx->s, t1, &t));
    assert_string_equal(json_string_value(json_object_get(t, "status")), "ACTIVE");
    assert_string_equal(json_string_value(json_object_get(t, "error")), "the app exited with 3");
    assert_true(json_is_null(json_object_get(t, "lease")));
    json_decref(t);
    expect_refusal(hub_store_lease(fx->s, t1, pool, A, 10, 1021, &done, &why, &until), &done, &why,
                   "cella-hub-task-errored");
    expect_tasks(fx, &run, 1021, "");     /* t0 leased by B, t1 errored */
    expect_tasks(fx, &run, 1075, "0");
    /* logs: written by the pool owner, read by the requester */
    assert_fails_with(hub_store_logs_put(fx->s, t0, req, "x", 1, "", 0, 1022), CELLA_E_PERM);
    assert_succeeds(hub_store_logs_put(fx->s, t0, pool, "out\n", 4, "err", 3, 1022));
    json_t *lg;
    assert_fails_with(hub_store_logs_get(fx->s, t0, pool, &lg), CELLA_E_PERM);
    assert_succeeds(hub_store_logs_get(fx->s, t0, req, &lg));
    assert_string_equal(json_string_value(json_object_get(lg, "stdout")), "out\n");
    assert_string_equal(json_string_value(json_object_get(lg, "stderr")), "err");
    json_decref(lg);
    assert_fails_with(hub_store_logs_get(fx->s, t1, req, &lg), CELLA_E_NOTFOUND);
    /* past the contribution deadline: no lease */
    expect_refusal(hub_store_lease(fx->s, t0, pool, B, 10, 1000 + 7 * 300, &done, &why, &until),
                   &done, &why, "cella-hub-task-deadline");
    /* results, then events of everything */
    hub_contribution c;
    contribution(fx, 0, 2, &c);
    c.results = "http://blobs/r";
    /* A's lease lapsed and B holds t0: A's late contribution is refused */
    c.holder = "0123";
    assert_fails_with(hub_store_contribute_and_finalize(fx->s, &c, 1030, &done, &why),
                      CELLA_E_PARSE);
    c.holder = A;
    expect_refusal(hub_store_contribute_and_finalize(fx->s, &c, 1030, &done, &why), &done, &why,
                   "cella-hub-task-leased");
    assert_non_null(strstr(why.reason, B));
    c.holder = B;
    assert_succeeds(hub_store_contribute_and_finalize(fx->s, &c, 1030, &done, &why));
    assert_true(done);
    assert_succeeds(hub_store_task_get(fx->s, t0, &t));
    assert_string_equal(json_string_value(json_object_get(t, "results")), "http://blobs/r");
    assert_true(json_is_null(json_object_get(t, "lease")));
    json_decref(t);
    expect_refusal(hub_store_lease(fx->s, t0, pool, B, 10, 1031, &done, &why, &until), &done, &why,
                   "cella-hub-task-not-active");
    assert_succeeds(hub_store_claim(fx->s, t1, 1000 + 10 * 300, &done, &why));
    assert_true(done);
    json_t *ev;
    int64_t last;
    assert_succeeds(hub_store_events(fx->s, 0, W, NULL, 0, &ev, &last));
    static const char *const types[] = {"deal-created", "task-created", "task-created",
                                        "task-leased",  "task-leased",  "task-error",
                                        "task-completed", "task-failed"};
    assert_int_equal(json_array_size(ev), 8);
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(ev, i), "type")),
                            types[i]);
    assert_int_equal(last, 8);
    /* deal-created: the deal id, the four orders' hashes, the volume; no task */
    json_t *dc = json_array_get(ev, 0);
    char h[67];
    h[0] = '0';
    h[1] = 'x';
    cella_hex_encode(h + 2, fx->deal.dealid, 32, false);
    assert_string_equal(json_string_value(json_object_get(dc, "dealid")), h);
    assert_true(json_is_null(json_object_get(dc, "taskid")));
    assert_int_equal(json_integer_value(json_object_get(dc, "volume")), 2);
    static const char *const okeys[] = {"apporder", "datasetorder", "workerpoolorder",
                                        "requestorder"};
    for (int k = 0; k < CELLA_ORDER__COUNT; k++) {
        const json_t *oh = json_object_get(json_object_get(dc, "orders"), okeys[k]);
        if (k == CELLA_ORDER_DATASET && !fx->deal.has_dataset) {
            assert_true(json_is_null(oh));
            continue;
        }
        cella_hex_encode(h + 2, fx->deal.hash[k], 32, false);
        assert_string_equal(json_string_value(oh), h);
    }
    /* one task's events (what cella task watch follows) */
    size_t n_t0 = 0, i;
    json_t *e;
    cella_hex_encode(h + 2, t0, 32, false);
    json_array_foreach(ev, i, e) {
        const char *te = json_string_value(json_object_get(e, "taskid"));
        n_t0 += te && !strcmp(te, h);
    }
    assert_true(n_t0 >= 3);
    json_decref(ev);
    assert_succeeds(hub_store_events(fx->s, 0, NULL, t0, 0, &ev, &last));
    assert_int_equal(json_array_size(ev), n_t0);
    json_array_foreach(ev, i, e) {
        assert_string_equal(json_string_value(json_object_get(e, "taskid")), h);
    }
    assert_int_equal(last, 8);
    json_decref(ev);
    assert_succeeds(hub_store_events(fx->s, 2, NULL, NULL, 2, &ev, &last));
    assert_int_equal(json_array_size(ev), 2);
    assert_int_equal(last, 4);
    json_decref(ev);
    assert_succeeds(hub_store_events(fx->s, 0, other, NULL, 0, &ev, &last));
    assert_int_equal(json_array_size(ev), 0);
    assert_int_equal(last, 8); /* nothing for that pool up to the newest */
    json_decref(ev);
}

/* A database made before the worker flow: its tasks get the new columns and
 * their deal's workerpool at open, and the listing's index. */
static void test_old_database(void **state)
{
    fx_t *fx = *state;
    if (getenv("CELLA_TEST_PG"))
        skip(); /* an old SQLite file: nothing to migrate on PostgreSQL */
    hub_store_close(fx->s);
    char path[1200];
    test_db_url(path, sizeof path, fx->dir); /* SQLite's file */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "DROP INDEX tasks_pool_order; ALTER TABLE tasks DROP COLUMN workerpool;"
                                  " ALTER TABLE tasks DROP COLUMN lease_holder;"
                                  " ALTER TABLE tasks DROP COLUMN lease_until;"
                                  " ALTER TABLE tasks DROP COLUMN error;"
                                  " ALTER TABLE tasks DROP COLUMN results;"
                                  " DROP TABLE events; DROP TABLE task_logs;"
                                  " CREATE INDEX tasks_pool ON tasks(start, idx);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_succeeds(hub_store_open(path, &fx->s));
    /* the listing's index replaces the one it had */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT group_concat(name) FROM sqlite_master WHERE"
                                            " type = 'index' AND name LIKE 'tasks_pool%'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "tasks_pool_order");
    sqlite3_finalize(st);
    sqlite3_close(db);
    static const uint8_t W[20] = {0x3b};
    hub_task_filter run = {.workerpool = W, .runnable = true};
    expect_tasks(fx, &run, 1001, "0,1");
    uint8_t t0[32];
    hub_task_id(fx->deal.dealid, 0, t0);
    bool done;
    hub_refusal why;
    int64_t until;
    assert_succeeds(hub_store_lease(fx->s, t0, fx->addr[2], "0123456789abcdef0123456789abcdef",
                                    10, 1001, &done, &why, &until));
    assert_true(done);
}

/* A PostgreSQL database made before tasks had their tee and enclave columns:
 * the hub adds them at open, and tasks list again. */
static void test_old_pg_database(void **state)
{
    fx_t *fx = *state;
    if (!getenv("CELLA_TEST_PG"))
        skip(); /* SQLite's columns: test_old_database */
    hub_store_close(fx->s);
    char url[1200];
    test_db_url(url, sizeof url, fx->dir);
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *res = PQexec(c, "ALTER TABLE tasks DROP COLUMN tee, DROP COLUMN enclave");
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    PQfinish(c);
    assert_succeeds(hub_store_open(url, &fx->s));
    static const uint8_t W[20] = {0x3b};
    hub_task_filter run = {.workerpool = W, .runnable = true};
    expect_tasks(fx, &run, 1001, "0,1");
}

/* A task, listed or got, shows its deal's workerpool, requester, beneficiary
 * and tag (read from the deal's JSON once per deal): here two deals whose
 * beneficiaries differ, the first a bag of two tasks. */
static void test_task_deal_fields(void **state)
{
    fx_t *fx = *state;
    hub_deal second;
    assert_true(match_request(fx, 1, fx->addr[5], 1001, &second));
    static const char *const fields[4][2] = {
        {"workerpool", "pointer"}, {"requester", NULL}, {"beneficiary", NULL}, {"tag", NULL}};
    hub_task_filter f = {.status = "ACTIVE"};
    json_t *l;
    assert_succeeds(hub_store_task_list(fx->s, &f, 1001, &l));
    assert_int_equal(json_array_size(l), 3);
    size_t i;
    json_t *t;
    json_array_foreach(l, i, t) {
        uint8_t dealid[32], taskid[32];
        assert_succeeds(cella_hex_decode(dealid, 32, json_string_value(json_object_get(t, "dealid")) + 2,
                                         64, "dealid"));
        assert_memory_equal(dealid, i < 2 ? fx->deal.dealid : second.dealid, 32);
        assert_succeeds(cella_hex_decode(taskid, 32, json_string_value(json_object_get(t, "taskid")) + 2,
                                         64, "taskid"));
        json_t *d, *one;
        assert_succeeds(hub_store_deal_get(fx->s, dealid, &d));
        assert_succeeds(hub_store_task_get(fx->s, taskid, &one));
        for (int k = 0; k < 4; k++) {
            const json_t *want = json_object_get(d, fields[k][0]);
            if (fields[k][1])
                want = json_object_get(want, fields[k][1]);
            assert_non_null(json_string_value(want));
            assert_string_equal(json_string_value(json_object_get(t, fields[k][0])),
                                json_string_value(want));
            assert_string_equal(json_string_value(json_object_get(one, fields[k][0])),
                                json_string_value(want));
        }
        json_decref(d);
        json_decref(one);
    }
    json_decref(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_formulas),
        cmocka_unit_test(test_tee_needs_challenge),
        cmocka_unit_test_setup_teardown(test_contribute_and_finalize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_next_skips_contributed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_deal_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_pg_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_largest_bag, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
