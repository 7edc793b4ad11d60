/* Unit tests for lib/hub/store: deterministic deploys, publication checks
 * (signature, owner, registration), cancel, and the SDK 8.24.0 vector orders
 * publishing and matching on a hub with their domain, their resources
 * registered to their signer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/encoding.h"
#include "hub/store.h"
#include "identity/eip712.h"
#include "identity/eth.h"
#include "identity/keccak.h"
#include "testutil.h"

typedef struct {
    char *dir;
    hub_store *s;
    cella_domain dom;
    json_t *vec;
    cella_order o[CELLA_ORDER__COUNT];
    uint8_t signer[20];
    uint8_t signer_priv[32];
} fx_t;

/* the vector entry with this label */
static json_t *entry(fx_t *fx, const char *label)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(fx->vec, "vectors"), i, e) {
        if (!strcmp(json_string_value(json_object_get(e, "label")), label))
            return e;
    }
    fail_msg("no vector %s", label);
    return NULL;
}

static void parse_entry(fx_t *fx, const char *label, cella_order_kind k)
{
    json_t *e = entry(fx, label);
    assert_succeeds(cella_order_from_json(json_object_get(e, "order"), k, false, &fx->o[k]));
    uint8_t want[32], got[32];
    test_unhex(want, 32, json_string_value(json_object_get(e, "orderHash")));
    cella_order_hash(&fx->dom, &fx->o[k], got);
    assert_memory_equal(got, want, 32);
}

static void reg(fx_t *fx, hub_kind k, const char *addr, const uint8_t owner[20])
{
    hub_resource r;
    memset(&r, 0, sizeof r);
    r.kind = k;
    assert_succeeds(cella_eth_address_parse(r.address, addr, "vector"));
    memcpy(r.owner, owner, 20);
    snprintf(r.name, sizeof r.name, "vector-%s", hub_kind_name(k));
    assert_succeeds(hub_store_register_at(fx->s, &r, 1000));
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->dir = test_tmpdir();
    char path[1200];
    test_db_url(path, sizeof path, fx->dir);
    assert_succeeds(hub_store_open(path, &fx->s));
    fx->vec = test_load_vector("iexec/orders/orders-sdk-8.24.0.json");
    json_t *dom = json_object_get(fx->vec, "domain");
    fx->dom.chain_id = (uint64_t)json_integer_value(json_object_get(dom, "chainId"));
    assert_int_equal(fx->dom.chain_id, 421614);
    assert_succeeds(cella_eth_address_parse(
        fx->dom.hub, json_string_value(json_object_get(dom, "verifyingContract")), "hub"));
    assert_succeeds(cella_eth_address_parse(
        fx->signer, json_string_value(json_object_get(fx->vec, "signerAddress")), "signer"));
    test_unhex(fx->signer_priv, 32, json_string_value(json_object_get(fx->vec, "signerPrivateKey")));
    parse_entry(fx, "apporder tag=tee,scone", CELLA_ORDER_APP);
    parse_entry(fx, "datasetorder tag=0x0000000000000000000000000000000000000000000000000000000000000000",
                CELLA_ORDER_DATASET);
    parse_entry(fx, "workerpoolorder tee", CELLA_ORDER_WORKERPOOL);
    parse_entry(fx, "requestorder tee", CELLA_ORDER_REQUEST);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        cella_order_free(&fx->o[k]);
    json_decref(fx->vec);
    hub_store_close(fx->s);
    test_rmdir(fx->dir);
    free(fx);
    return 0;
}

static void register_vector_resources(fx_t *fx)
{
    reg(fx, HUB_APP, "0x1111111111111111111111111111111111111111", fx->signer);
    reg(fx, HUB_DATASET, "0x2222222222222222222222222222222222222222", fx->signer);
    reg(fx, HUB_WORKERPOOL, "0x3333333333333333333333333333333333333333", fx->signer);
}

static size_t deals_found(fx_t *fx, const uint8_t a[20], unsigned roles, size_t offset,
                          uint64_t *total)
{
    json_t *d;
    assert_succeeds(hub_store_deal_find(fx->s, a, roles, offset, 10, &d, total));
    size_t n = json_array_size(d);
    json_decref(d);
    return n;
}

/* The web page's reads (lib/hub/store_web.c) on the matched vector deal:
 * names, a literal name search, deals by party and role, a deal's tasks
 * paged, an account's orders. */
static void web_reads(fx_t *fx)
{
    uint8_t addrs[2][20], other[20];
    uint64_t total;
    json_t *j;
    assert_succeeds(cella_eth_address_parse(addrs[0], "0x1111111111111111111111111111111111111111", "a"));
    memcpy(addrs[1], fx->signer, 20);
    assert_succeeds(hub_store_names(fx->s, (const uint8_t(*)[20])addrs, 2, &j));
    assert_int_equal(json_object_size(j), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j, "0x1111111111111111111111111111111111111111"), "name")),
                        "vector-app");
    json_decref(j);
    const char *const q[] = {"VECTOR-D", "%", "_", "\\", "vector"};
    const size_t want[] = {1, 0, 0, 0, 3};
    for (size_t i = 0; i < 5; i++) {
        assert_succeeds(hub_store_resource_search(fx->s, q[i], 10, &j));
        assert_int_equal(json_array_size(j), want[i]);
        json_decref(j);
    }
    char big[HUB_SEARCH_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_fails_with(hub_store_resource_search(fx->s, big, 10, &j), CELLA_E_PARSE);
    /* the signer is requester and owner of all; the app is the deal's app, not its pool */
    assert_int_equal(deals_found(fx, fx->signer, HUB_ROLE_REQUESTER, 0, &total), 1);
    assert_int_equal(total, 1);
    assert_int_equal(deals_found(fx, fx->signer, HUB_ROLE_REQUESTER, 1, &total), 0);
    assert_int_equal(total, 1);
    assert_int_equal(deals_found(fx, addrs[0], HUB_ROLE_APP, 0, &total), 1);
    assert_int_equal(deals_found(fx, addrs[0], HUB_ROLE_WORKERPOOL | HUB_ROLE_REQUESTER, 0, &total), 0);
    memcpy(other, fx->signer, 20);
    other[0] ^= 1;
    assert_int_equal(deals_found(fx, other, HUB_ROLE_REQUESTER | HUB_ROLE_OWNER, 0, &total), 0);
    uint8_t dealid[32];
    assert_succeeds(hub_store_deal_find(fx->s, fx->signer, HUB_ROLE_REQUESTER, 0, 1, &j, &total));
    const char *id = json_string_value(json_object_get(json_array_get(j, 0), "dealid"));
    assert_non_null(id);
    assert_succeeds(cella_hex_decode(dealid, 32, id, strlen(id), "dealid"));
    json_decref(j);
    hub_task_filter tf = {.dealid = dealid};
    assert_succeeds(hub_store_task_list(fx->s, &tf, 0, &j));
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);
    tf.offset = 1;
    assert_succeeds(hub_store_task_list(fx->s, &tf, 0, &j));
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    /* the requester's tasks, paged over all its deals: the one task, then past the end */
    const size_t at[] = {0, 1}, got[] = {1, 0};
    for (size_t i = 0; i < 2; i++) {
        assert_succeeds(hub_store_account_tasks(fx->s, fx->signer, at[i], 10, 0, &j, &total));
        assert_int_equal(total, 1);
        assert_int_equal(json_array_size(j), got[i]);
        json_decref(j);
    }
    assert_succeeds(hub_store_account_tasks(fx->s, other, 0, 10, 0, &j, &total));
    assert_int_equal(total, 0);
    json_decref(j);
    hub_order_filter mine = {.kind = -1, .signer = fx->signer, .include_closed = true};
    assert_succeeds(hub_store_order_list(fx->s, &mine, &j));
    assert_int_equal(json_array_size(j), 4);
    json_decref(j);
    mine.signer = other;
    assert_succeeds(hub_store_order_list(fx->s, &mine, &j));
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
}

static void test_vectors_publish_and_match(void **state)
{
    fx_t *fx = *state;
    register_vector_resources(fx);
    uint8_t hash[CELLA_ORDER__COUNT][32];
    for (int k = 0; k < CELLA_ORDER__COUNT; k++) {
        bool created;
        assert_succeeds(hub_store_order_publish(fx->s, &fx->dom, &fx->o[k], 2000, hash[k], &created));
        assert_true(created);
        assert_succeeds(hub_store_order_publish(fx->s, &fx->dom, &fx->o[k], 2001, hash[k], &created));
        assert_false(created); /* republishing is idempotent */
    }
    /* the book: one open order of each kind, with the vector's hash */
    hub_order_filter f = {.kind = CELLA_ORDER_APP};
    json_t *list;
    assert_succeeds(hub_store_order_list(fx->s, &f, &list));
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "orderHash")),
                        json_string_value(json_object_get(entry(fx, "apporder tag=tee,scone"),
                                                          "orderHash")));
    json_decref(list);
    uint8_t tee[32] = {0};
    tee[31] = 1;
    hub_order_filter g = {.kind = -1, .mintag = tee};
    assert_succeeds(hub_store_order_list(fx->s, &g, &list));
    assert_int_equal(json_array_size(list), 3); /* the dataset order has no TEE tag */
    json_decref(list);

    const cella_order *o[CELLA_ORDER__COUNT] = {&fx->o[0], &fx->o[1], &fx->o[2], &fx->o[3]};
    bool matched;
    hub_deal deal;
    hub_refusal why;
    /* a published order with other signature bytes is checked again (and fails) */
    uint8_t saved[65];
    memcpy(saved, fx->o[CELLA_ORDER_APP].sign, 65);
    memcpy(fx->o[CELLA_ORDER_APP].sign, fx->o[CELLA_ORDER_DATASET].sign, 65);
    assert_succeeds(hub_store_match(fx->s, &fx->dom, o, 3000, &matched, &deal, &why));
    assert_false(matched);
    assert_string_equal(why.code, "iExecV5-matchOrders-0x21");
    memcpy(fx->o[CELLA_ORDER_APP].sign, saved, 65);
    /* no funds yet: 1e9 + 1e8 to pay, 3e7 to stake */
    assert_succeeds(hub_store_match(fx->s, &fx->dom, o, 3000, &matched, &deal, &why));
    assert_false(matched);
    assert_string_equal(why.code, "cella-hub-insufficient-balance");
    uint64_t bal, locked;
    assert_succeeds(hub_store_deposit(fx->s, fx->signer, 2000000000ULL, &bal));
    assert_succeeds(hub_store_match(fx->s, &fx->dom, o, 3000, &matched, &deal, &why));
    if (!matched)
        fail_msg("refused: %s: %s", why.code, why.reason);
    assert_int_equal(deal.bot_size, 1);
    assert_int_equal(deal.tag[31], 3);
    assert_succeeds(hub_store_account_get(fx->s, fx->signer, &bal, &locked));
    assert_true(locked == 1100000000ULL + 30000000ULL);
    assert_true(bal == 2000000000ULL - locked);
    /* withdraw: the locked funds are not withdrawable, not even one nRLC of them */
    bool done;
    uint64_t b2, l2;
    assert_succeeds(hub_store_withdraw(fx->s, fx->signer, bal + 1, &done, &why, &b2, &l2));
    assert_false(done);
    assert_string_equal(why.code, "cella-hub-insufficient-balance");
    assert_true(b2 == bal && l2 == locked);
    assert_succeeds(hub_store_withdraw(fx->s, fx->signer, 70000000ULL, &done, &why, &b2, &l2));
    assert_true(done);
    assert_true(b2 == bal - 70000000ULL && l2 == locked);
    assert_succeeds(hub_store_withdraw(fx->s, fx->signer, b2, &done, &why, &b2, &l2));
    assert_true(done);
    assert_true(b2 == 0 && l2 == locked);
    assert_succeeds(hub_store_withdraw(fx->s, fx->signer, 1, &done, &why, &b2, &l2));
    assert_false(done);
    assert_string_equal(why.code, "cella-hub-insufficient-balance");
    assert_fails_with(hub_store_withdraw(fx->s, fx->signer, 0, &done, &why, &b2, &l2),
                      CELLA_E_PARSE);
    assert_succeeds(hub_store_account_get(fx->s, fx->signer, &bal, &locked));
    assert_true(bal == 0 && locked == 1100000000ULL + 30000000ULL);
    /* deal and task are stored, ids per PoCo */
    json_t *dj, *tj;
    assert_succeeds(hub_store_deal_get(fx->s, deal.dealid, &dj));
    assert_string_equal(json_string_value(json_object_get(dj, "botSize")), "1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(dj, "orders"),
                                                          "requestorder")),
                        json_string_value(json_object_get(entry(fx, "requestorder tee"),
                                                          "orderHash")));
    uint8_t tid[32];
    hub_task_id(deal.dealid, 0, tid);
    assert_succeeds(hub_store_task_get(fx->s, tid, &tj));
    assert_string_equal(json_string_value(json_object_get(tj, "status")), "ACTIVE");
    assert_int_equal(json_integer_value(json_object_get(tj, "finalDeadline")), 3000 + 10 * 300);
    json_decref(dj);
    json_decref(tj);
    /* every order consumed by the volume: the request (volume 1) is used up */
    uint8_t c[32];
    for (int k = 0; k < CELLA_ORDER__COUNT; k++) {
        assert_succeeds(hub_store_consumed(fx->s, hash[k], c));
        assert_int_equal(c[31], 1);
    }
    assert_succeeds(hub_store_match(fx->s, &fx->dom, o, 3001, &matched, &deal, &why));
    assert_false(matched);
    assert_string_equal(why.code, "iExecV5-matchOrders-0x60");
    /* the book no longer shows the request */
    hub_order_filter fr = {.kind = CELLA_ORDER_REQUEST};
    assert_succeeds(hub_store_order_list(fx->s, &fr, &list));
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    web_reads(fx);
}

static void test_publish_refusals(void **state)
{
    fx_t *fx = *state;
    uint8_t h[32];
    bool created;
    /* unregistered resource */
    assert_fails_with(hub_store_order_publish(fx->s, &fx->dom, &fx->o[CELLA_ORDER_APP], 1, h,
                                              &created),
                      CELLA_E_NOTFOUND);
    /* another owner's resource */
    uint8_t other[20];
    memset(other, 0x77, 20);
    reg(fx, HUB_APP, "0x1111111111111111111111111111111111111111", other);
    assert_fails_with(hub_store_order_publish(fx->s, &fx->dom, &fx->o[CELLA_ORDER_APP], 1, h,
                                              &created),
                      CELLA_E_PERM);
    /* the same address cannot be registered again by someone else */
    hub_resource r;
    memset(&r, 0, sizeof r);
    r.kind = HUB_APP;
    assert_succeeds(cella_eth_address_parse(r.address, "0x1111111111111111111111111111111111111111", "a"));
    memcpy(r.owner, fx->signer, 20);
    snprintf(r.name, sizeof r.name, "x");
    assert_fails_with(hub_store_register_at(fx->s, &r, 1), CELLA_E_EXISTS);
    /* a bad signature (garbage r||s) */
    reg(fx, HUB_WORKERPOOL, "0x3333333333333333333333333333333333333333", fx->signer);
    cella_order *w = &fx->o[CELLA_ORDER_WORKERPOOL];
    uint8_t saved[65];
    memcpy(saved, w->sign, 65);
    memset(w->sign, 0, 64);
    assert_fails_with(hub_store_order_publish(fx->s, &fx->dom, w, 1, h, &created), CELLA_E_AUTH);
    /* a tampered order: the signature recovers to someone else, not the owner */
    memcpy(w->sign, saved, 65);
    uint8_t v[32] = {0};
    v[31] = 4;
    assert_succeeds(cella_order_set_word(w, "volume", v));
    cella_res res = hub_store_order_publish(fx->s, &fx->dom, w, 1, h, &created);
    assert_true(res.code == CELLA_E_PERM || res.code == CELLA_E_AUTH);
    /* another domain (chain): the signature does not verify for its owner */
    v[31] = 3;
    assert_succeeds(cella_order_set_word(w, "volume", v));
    cella_domain d2 = fx->dom;
    d2.chain_id = 1;
    res = hub_store_order_publish(fx->s, &d2, w, 1, h, &created);
    assert_true(res.code == CELLA_E_PERM || res.code == CELLA_E_AUTH);
    assert_succeeds(hub_store_order_publish(fx->s, &fx->dom, w, 1, h, &created));
    /* cancel: only by the signer; then nothing is left */
    assert_fails_with(hub_store_order_cancel(fx->s, h, other, 5), CELLA_E_PERM);
    assert_succeeds(hub_store_order_cancel(fx->s, h, fx->signer, 5));
    hub_order_filter f = {.kind = CELLA_ORDER_WORKERPOOL};
    json_t *list;
    assert_succeeds(hub_store_order_list(fx->s, &f, &list));
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    hub_store_close(fx->s); /* reopen: the cancel is durable */
    char path[1200];
    test_db_url(path, sizeof path, fx->dir);
    assert_succeeds(hub_store_open(path, &fx->s));
    uint8_t c[32];
    assert_succeeds(hub_store_consumed(fx->s, h, c));
    assert_int_equal(c[31], 3);
    /* order-published then order-cancelled, with the hash, kind and pool (the
     * republish and the refused publications recorded nothing) */
    json_t *ev;
    int64_t last;
    assert_succeeds(hub_store_events(fx->s, 0, NULL, NULL, 0, &ev, &last));
    assert_int_equal(json_array_size(ev), 2);
    char hx[67] = "0x";
    cella_hex_encode(hx + 2, h, 32, false);
    static const char *const types[] = {"order-published", "order-cancelled"};
    for (size_t i = 0; i < 2; i++) {
        json_t *e = json_array_get(ev, i);
        assert_string_equal(json_string_value(json_object_get(e, "type")), types[i]);
        assert_string_equal(json_string_value(json_object_get(e, "orderHash")), hx);
        assert_string_equal(json_string_value(json_object_get(e, "orderKind")), "workerpoolorder");
        assert_true(json_is_null(json_object_get(e, "taskid")));
        assert_true(json_is_null(json_object_get(e, "dealid")));
        assert_string_equal(json_string_value(json_object_get(e, "workerpool")),
                            "0x3333333333333333333333333333333333333333");
        assert_int_equal(json_integer_value(json_object_get(e, "time")), i ? 5 : 1);
    }
    json_decref(ev);
    uint8_t unknown[32] = {1};
    assert_fails_with(hub_store_order_cancel(fx->s, unknown, fx->signer, 5), CELLA_E_NOTFOUND);
}

static void test_deploy_deterministic(void **state)
{
    fx_t *fx = *state;
    hub_resource a, b;
    memset(&a, 0, sizeof a);
    a.kind = HUB_DATASET;
    memcpy(a.owner, fx->signer, 20);
    snprintf(a.name, sizeof a.name, "my-dataset");
    snprintf(a.multiaddr, sizeof a.multiaddr, "/ipfs/QmW2WQi7j6c7UgJTarActp7tDNikE4B2qXtFCfLPdsgaTQ");
    a.checksum[0] = 0xab;
    b = a;
    bool created;
    assert_succeeds(hub_store_deploy(fx->s, &a, 10, &created));
    assert_true(created);
    assert_succeeds(hub_store_deploy(fx->s, &b, 20, &created));
    assert_false(created);
    assert_memory_equal(a.address, b.address, 20);
    assert_int_equal(b.created, 10);
    /* the formula, by hand */
    uint8_t content[32], outer[52], h[32];
    uint8_t buf[512];
    size_t n = 0;
    memcpy(buf + n, "dataset", 7), n += 7, buf[n++] = 0;
    memcpy(buf + n, a.name, strlen(a.name)), n += strlen(a.name), buf[n++] = 0;
    memcpy(buf + n, a.multiaddr, strlen(a.multiaddr)), n += strlen(a.multiaddr), buf[n++] = 0;
    memcpy(buf + n, a.checksum, 32), n += 32;
    cella_keccak256(content, buf, n);
    memcpy(outer, fx->signer, 20);
    memcpy(outer + 20, content, 32);
    cella_keccak256(h, outer, 52);
    assert_memory_equal(a.address, h + 12, 20);
    /* another owner, another address; a name change, another address */
    hub_resource c = a;
    c.owner[0] ^= 1;
    assert_succeeds(hub_store_deploy(fx->s, &c, 30, &created));
    assert_true(created);
    assert_memory_not_equal(c.address, a.address, 20);
    uint64_t cnt;
    assert_succeeds(hub_store_resource_count(fx->s, HUB_DATASET, fx->signer, &cnt));
    assert_int_equal(cnt, 1);
    assert_succeeds(hub_store_resource_count(fx->s, HUB_DATASET, NULL, &cnt));
    assert_int_equal(cnt, 2);
    assert_succeeds(hub_store_resource_count(fx->s, HUB_APP, NULL, &cnt));
    assert_int_equal(cnt, 0);
    hub_resource got;
    assert_succeeds(hub_store_resource_get(fx->s, HUB_DATASET, a.address, &got));
    assert_string_equal(got.multiaddr, a.multiaddr);
    assert_fails_with(hub_store_resource_get(fx->s, HUB_APP, a.address, &got), CELLA_E_NOTFOUND);
}

/* transfer: only the owner, never to zero, only an existing resource of that
 * kind; the address stays and the owner changes; counts follow. */
static void test_transfer(void **state)
{
    fx_t *fx = *state;
    hub_resource a;
    memset(&a, 0, sizeof a);
    a.kind = HUB_APP;
    memcpy(a.owner, fx->signer, 20);
    snprintf(a.name, sizeof a.name, "app");
    snprintf(a.multiaddr, sizeof a.multiaddr, "docker.io/x/y:1");
    bool created;
    assert_succeeds(hub_store_deploy(fx->s, &a, 10, &created));
    uint8_t other[20], zero[20] = {0};
    memcpy(other, fx->signer, 20);
    other[19] ^= 0x5a;
    assert_fails_with(hub_store_transfer(fx->s, HUB_APP, a.address, other, other, 11), CELLA_E_PERM);
    assert_fails_with(hub_store_transfer(fx->s, HUB_APP, a.address, fx->signer, zero, 11),
                      CELLA_E_PARSE);
    assert_fails_with(hub_store_transfer(fx->s, HUB_DATASET, a.address, fx->signer, other, 11),
                      CELLA_E_NOTFOUND);
    assert_succeeds(hub_store_transfer(fx->s, HUB_APP, a.address, fx->signer, other, 12));
    hub_resource got;
    assert_succeeds(hub_store_resource_get(fx->s, HUB_APP, a.address, &got));
    assert_memory_equal(got.owner, other, 20);
    uint64_t cnt;
    assert_succeeds(hub_store_resource_count(fx->s, HUB_APP, fx->signer, &cnt));
    assert_int_equal(cnt, 0);
    assert_succeeds(hub_store_resource_count(fx->s, HUB_APP, other, &cnt));
    assert_int_equal(cnt, 1);
    /* the former owner can no longer transfer it; the owner cannot give it to itself */
    uint8_t third[20];
    memcpy(third, other, 20);
    third[0] ^= 0x33;
    assert_fails_with(hub_store_transfer(fx->s, HUB_APP, a.address, fx->signer, third, 13),
                      CELLA_E_PERM);
    assert_fails_with(hub_store_transfer(fx->s, HUB_APP, a.address, other, other, 13),
                      CELLA_E_PARSE);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_vectors_publish_and_match),
        T(test_publish_refusals),
        T(test_deploy_deterministic),
        T(test_transfer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
